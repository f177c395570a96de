"""/help: what this person can do, by role."""

from __future__ import annotations

from telegram import Update

from bot.i18n import _
from bot.services.enums import Role
from handlers.common import reply
from handlers.context import Ctx
from handlers.profile_texts import help_text
from handlers.user_text import line


async def cmd_help(update: Update, context: Ctx) -> None:
    """Lists what this person can do, by role."""
    if not context.who.registered and context.who.role != Role.ADMIN:
        await reply(
            update,
            _(
                "City Exchange connects officials of partner cities. Open the invite link from "
                "your organiser to register, or send /start to ask to join."
            )
            + "\n"
            + line("/language — " + _("change the language")),
        )
        return
    await reply(update, help_text(context.who.role))
