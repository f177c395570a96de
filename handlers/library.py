"""The library's buttons: the asker adds a resolved exchange (or keeps it private), anyone
reads an entry, a person withdraws their words, organisers pin, retitle or remove; and the
title an organiser types."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot.i18n import _, current_locale, use_locale
from bot.services import library
from bot.services.dialog import Step
from bot.services.library_types import Shared
from handlers.callbacks import BadCallback
from handlers.common import answer, esc, guarded, reply
from handlers.context import Ctx
from handlers.exchange_render import question_words
from handlers.exchange_send import drop_buttons, notify
from handlers.keyboards import button, markup
from handlers.library_buttons import (
    LibPin,
    LibPrivate,
    LibraryButton,
    LibRead,
    LibRemove,
    LibShare,
    LibTitle,
    LibWithdraw,
)
from handlers.library_render import entry_buttons, entry_text


async def tell_contributors(context: Ctx, shared: Shared) -> None:
    """Everyone whose words are in the new entry is told, and may withdraw them."""
    for person in shared.others:
        with use_locale(person.locale):
            text = _(
                "📚 The exchange on {topic} ({question}) is now in the network's library, "
                "with your words in it. You can withdraw them at any time."
            ).format(
                topic=esc(shared.topic.name(current_locale())),
                question=question_words(shared.title, "text"),
            )
            kb = markup(
                [
                    button(_("Read it"), LibRead(shared.entry_id)),
                    button(_("Withdraw my words"), LibWithdraw(shared.entry_id)),
                ]
            )
        await notify(context.bot, person, text, kb)


@guarded
async def on_library(update: Update, context: Ctx) -> None:
    """Every library button: share or not, read, withdraw, pin, title, remove."""
    query = update.callback_query
    assert query is not None
    deps, user_id = context.deps, context.who.tg_user_id
    match LibraryButton.decode(query.data):
        case LibShare(question_id):
            shared = await library.share(deps, user_id, question_id)
            await answer(query)
            await drop_buttons(update)
            await reply(
                update,
                _("Added to the library. Officials in every city can now find it with /search."),
                markup([button(_("Read it"), LibRead(shared.entry_id))]),
            )
            await tell_contributors(context, shared)
        case LibPrivate(_question_id):
            await answer(query)
            await drop_buttons(update)
            await reply(update, _("Kept private: it will not appear in the library."))
        case LibRead(entry_id):
            view = await library.read(deps, user_id, entry_id)
            await answer(query)
            await reply(update, entry_text(view), InlineKeyboardMarkup(entry_buttons(view)))
        case LibWithdraw(entry_id):
            whole = await library.withdraw(deps, user_id, entry_id)
            await answer(query)
            await drop_buttons(update)
            await reply(
                update,
                _("Your question and its exchange have left the library.")
                if whole
                else _("Your words have been taken out of this exchange in the library."),
            )
        case LibPin(entry_id):
            pinned = await library.toggle_pin(deps, user_id, entry_id)
            await answer(query, _("Pinned.") if pinned else _("Unpinned."))
            view = await library.read(deps, user_id, entry_id)
            await reply(update, entry_text(view), InlineKeyboardMarkup(entry_buttons(view)))
        case LibTitle(entry_id):
            await library.begin_title(deps, user_id, entry_id)
            await answer(query)
            await reply(update, _("Send the new title of this exchange. /cancel to stop."))
        case LibRemove(entry_id):
            await library.remove(deps, user_id, entry_id)
            await answer(query)
            await drop_buttons(update)
            await reply(update, _("The exchange was removed from the library."))
        case _:
            raise BadCallback(query.data)


@guarded
async def step_title(update: Update, context: Ctx, state: Step) -> None:
    """The organiser's new title for an entry."""
    message = update.effective_message
    entry_id = await library.set_title(
        context.deps, context.who.tg_user_id, (message.text if message else None) or ""
    )
    view = await library.read(context.deps, context.who.tg_user_id, entry_id)
    await reply(update, _("Title changed."))
    await reply(update, entry_text(view), InlineKeyboardMarkup(entry_buttons(view)), spaced=True)
