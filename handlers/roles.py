"""/promote and /demote: admins make officials organisers and back; the person is told."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from bot.i18n import _, use_locale
from bot.services import roles
from bot.services.enums import Role
from bot.services.errors import NotFound
from handlers.common import esc, guarded, reply, requires
from handlers.context import Ctx
from handlers.user_text import isolate

log = logging.getLogger(__name__)


async def change_role(update: Update, context: Ctx, role: Role) -> None:
    if not context.args or len(context.args) != 1:
        usage = (
            _("Usage: /promote <Telegram user id or official number>")
            if role == Role.ORGANISER
            else _("Usage: /demote <Telegram user id or official number>")
        )
        await reply(update, esc(usage))
        return
    try:
        target = int(context.args[0].lstrip("#"))
    except ValueError:
        await reply(
            update, _("That is not a number. Send the Telegram user id or the official's number.")
        )
        return
    try:
        profile = await roles.set_role(context.deps, context.who.tg_user_id, target, role)
    except NotFound:
        await reply(update, _("No registered official has that id."))
        return
    text = (
        _("{name} is now an organiser.")
        if role == Role.ORGANISER
        else _("{name} is now an official.")
    ).format(name=isolate(profile.name or "—"))
    await reply(update, text)
    with use_locale(profile.locale):
        note = (
            _("You are now an organiser. Send /help to see what you can do.")
            if role == Role.ORGANISER
            else _("You are no longer an organiser.")
        )
    try:
        await context.bot.send_message(profile.chat_id, note)
    except TelegramError as exc:
        log.info("role notice failed official_id=%s error=%s", profile.official_id, exc)


@requires(Role.ADMIN)
@guarded
async def cmd_promote(update: Update, context: Ctx) -> None:
    """Makes an official an organiser."""
    await change_role(update, context, Role.ORGANISER)


@requires(Role.ADMIN)
@guarded
async def cmd_demote(update: Update, context: Ctx) -> None:
    """Makes an organiser an official again."""
    await change_role(update, context, Role.OFFICIAL)
