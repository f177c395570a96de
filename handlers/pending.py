"""/pending: organisers approve or reject requests to join, and the person is told."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from bot.i18n import _, ngettext, use_locale
from bot.services import onboarding
from bot.services.enums import Role
from handlers.common import answer, guarded, reply, requires, show
from handlers.context import Ctx
from handlers.people_buttons import JoinRequestDecision
from handlers.profile_texts import city_label, help_text, name_label, pending_keyboard, pending_text

log = logging.getLogger(__name__)


@requires(Role.ORGANISER)
@guarded
async def cmd_pending(update: Update, context: Ctx) -> None:
    """Lists requests to join, each with Approve / Reject."""
    pending = await onboarding.pending_requests(context.deps, context.who.tg_user_id)
    if not pending:
        await reply(update, _("No requests are waiting."))
        return
    for p in pending[:20]:
        await reply(update, pending_text(p), pending_keyboard(p))
    if len(pending) > 20:
        await reply(
            update,
            ngettext(
                "{count} more request is waiting; decide on these first.",
                "{count} more requests are waiting; decide on these first.",
                len(pending) - 20,
            ).format(count=len(pending) - 20),
        )


@requires(Role.ORGANISER)
@guarded
async def on_pending(update: Update, context: Ctx) -> None:
    """Approves or rejects a request and tells the person."""
    query = update.callback_query
    assert query is not None
    pressed = JoinRequestDecision.decode(query.data)
    decision = await onboarding.decide(
        context.deps, context.who.tg_user_id, pressed.official_id, pressed.verdict == "approve"
    )
    p = decision.official
    await answer(query)
    done = _("Approved: {name}, {city}") if decision.approved else _("Rejected: {name}, {city}")
    await show(update, done.format(name=name_label(p), city=city_label(p.city)))
    with use_locale(p.locale):
        if decision.approved:
            text = (
                _("Your request was approved. Welcome to City Exchange!")
                + "\n\n"
                + help_text(p.role)
            )
        else:
            text = _("Sorry, your request to join for {city} was not approved.").format(
                city=city_label(p.city)
            )
    try:
        await context.bot.send_message(p.chat_id, text)
    except TelegramError as exc:
        log.info("decision notice failed official_id=%s error=%s", p.official_id, exc)
