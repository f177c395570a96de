"""/privacy and /deleteme: what is stored about a person, and erasing it."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot.i18n import _
from bot.services import absences, erasure
from bot.services.profile import get_profile_any
from handlers.away_texts import view_text
from handlers.common import answer, guarded, raise_bad, reply, show
from handlers.context import Ctx
from handlers.keyboards import button, markup
from handlers.people_buttons import EraseMyData
from handlers.profile_texts import privacy_notice, profile_text, withdrawn_notice


@guarded
async def cmd_privacy(update: Update, context: Ctx) -> None:
    """Shows what is stored about this person and how to erase it."""
    if context.who.official_id is None:
        await reply(update, privacy_notice())
        return
    profile = await get_profile_any(context.deps, context.who.tg_user_id)
    text = (
        privacy_notice()
        + "\n\n"
        + _("<b>What we store about you</b>")
        + "\n"
        + _("Telegram id: {tg_id}").format(tg_id=profile.tg_user_id)
        + "\n"
        + profile_text(profile)
    )
    away = await absences.mine(context.deps, context.who.tg_user_id)
    if away is not None:
        text += "\n" + view_text(away)
    await reply(update, text, markup([button(_("Erase my data"), EraseMyData("ask"))]))


async def cmd_deleteme(update: Update, context: Ctx) -> None:
    """Asks for confirmation before erasing the person's data."""
    if context.who.official_id is None:
        await reply(update, _("We store nothing about you."))
        return
    await reply(update, deleteme_question(), deleteme_keyboard())


def deleteme_question() -> str:
    return _(
        "This erases your name, position, topics, languages, Telegram id and everything you "
        "wrote from City Exchange. Your questions still waiting for answers are withdrawn (the "
        "officials who received them are told), and broadcasts and reminders you scheduled are "
        "cancelled. Questions and answers you exchanged stay in the log (dates, cities, topics) "
        "without your name or their text. This cannot be undone. Erase your data?"
    )


def deleteme_keyboard() -> InlineKeyboardMarkup:
    return markup(
        [button(_("Yes, erase my data"), EraseMyData("yes"))],
        [button(_("No, keep it"), EraseMyData("no"))],
    )


@guarded
async def on_delete(update: Update, context: Ctx) -> None:
    """Erases the data on confirmation."""
    query = update.callback_query
    assert query is not None
    choice = EraseMyData.decode(query.data).choice
    await answer(query)
    if choice == "ask":
        await reply(update, deleteme_question(), deleteme_keyboard())
    elif choice == "yes":
        if context.who.official_id is None:
            await show(update, _("We store nothing about you."))
            return
        await erasure.erase(context.deps, context.who.tg_user_id, withdrawn_notice)
        await show(
            update,
            _("Your data has been erased. Goodbye! You can join again with a new invite link."),
        )
    elif choice == "no":
        await show(update, _("Nothing was erased."))
    else:
        raise_bad()
