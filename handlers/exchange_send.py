"""Sending exchange messages live: content under its header and buttons, albums, a question to
its routed officials (failed cities replaced), notices, and taking buttons off a message.

Sends here are live and few (a question to ~3-10 officials, one relayed answer), so they
happen in the handler or job; mass traffic goes through the outbox instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from telegram import Bot, InlineKeyboardMarkup, Update
from telegram.constants import MessageLimit
from telegram.error import Forbidden, TelegramError

from bot.i18n import use_locale
from bot.runtime import Deps
from bot.services.catalogue import CityName
from bot.services.exchange import delivery_records
from bot.services.exchange.translating import with_translations
from bot.services.exchange.types import Content, Outgoing, Person, Sent
from handlers.common import send_text
from handlers.exchange_render import CAPTIONABLE, header, keyboard, plain_length
from handlers.translation_render import relayed_words

log = logging.getLogger(__name__)


async def send_content(
    bot: Bot,
    chat_id: int,
    content: Content,
    head: str,
    kb: InlineKeyboardMarkup | None,
    words: str | None = None,
) -> int:
    """Send header + content; buttons go on the message a reply is expected to. Its id.
    `words`: the content's words as this reader gets them (HTML), if not as written."""
    body = words if words is not None else relayed_words(content.text or "", None)
    text = head + ("\n\n" + body if body else "")
    if content.album:
        return (await send_album(bot, chat_id, content, text, kb))[0]
    if content.content_type == "text":
        return await send_text(bot, chat_id, text, kb)
    assert content.chat_id is not None and content.message_id is not None
    if content.content_type in CAPTIONABLE and plain_length(text) <= MessageLimit.CAPTION_LENGTH:
        copied = await bot.copy_message(
            chat_id, content.chat_id, content.message_id, caption=text, reply_markup=kb
        )
        return copied.message_id
    # No room (or no such thing) as a caption: the words first, then the copy with the buttons.
    if text:
        await send_text(bot, chat_id, text)
    if content.content_type in CAPTIONABLE:
        copied = await bot.copy_message(
            chat_id, content.chat_id, content.message_id, caption="", reply_markup=kb
        )
    else:
        copied = await bot.copy_message(
            chat_id, content.chat_id, content.message_id, reply_markup=kb
        )
    return copied.message_id


async def copy_album(bot: Bot, chat_id: int, content: Content) -> list[int]:
    assert content.chat_id is not None
    copies = await bot.copy_messages(chat_id, content.chat_id, list(content.album))
    return [c.message_id for c in copies]


async def send_album(
    bot: Bot, chat_id: int, content: Content, text: str, kb: InlineKeyboardMarkup | None
) -> tuple[int, list[int]]:
    """Header (with the caption and the buttons: copyMessages carries neither), then the album
    copied whole. The header's id is the one a reply threads on; then the copies' ids."""
    head_id = await send_text(bot, chat_id, text, kb)
    return head_id, await copy_album(bot, chat_id, content)


async def deliver(bot: Bot, deps: Deps, outgoing: Sequence[Outgoing]) -> list[Sent]:
    """Send each message, translated for its reader where due (before the first send); a 403
    (blocked) or other failure is reported, the rest still go."""
    results: list[Sent] = []
    for o in await with_translations(deps, outgoing):
        with use_locale(o.recipient.locale):
            head, kb = ("", None) if o.quiet else (header(o), keyboard(o))
            words = relayed_words(o.content.text or "", o.translation)
        try:
            message_id = await send_content(bot, o.recipient.chat_id, o.content, head, kb, words)
            results.append(Sent(o, message_id))
        except Forbidden as exc:
            log.info(
                "relay blocked kind=%s question_id=%s official_id=%s",
                o.kind,
                o.question_id,
                o.recipient.official_id,
            )
            results.append(Sent(o, None, str(exc), blocked=True))
        except TelegramError as exc:
            log.warning(
                "relay failed kind=%s question_id=%s official_id=%s error=%s",
                o.kind,
                o.question_id,
                o.recipient.official_id,
                exc,
            )
            results.append(Sent(o, None, str(exc)))
    return results


async def deliver_question(bot: Bot, deps: Deps, outgoing: list[Outgoing]) -> list[CityName]:
    """Deliver to the routed officials; cities that fail entirely are replaced. The cities
    these sends reached (replacements included), not those of earlier rounds."""
    cities: list[CityName] = []
    while outgoing:
        recorded = await delivery_records.record_deliveries(
            deps, await deliver(bot, deps, outgoing)
        )
        cities += [c for c in recorded.cities if c not in cities]
        outgoing = recorded.more
    return cities


async def notify(
    bot: Bot, person: Person, text: str, kb: InlineKeyboardMarkup | None = None
) -> None:
    try:
        await send_text(bot, person.chat_id, text, kb)
    except TelegramError as exc:
        log.info("notice failed official_id=%s error=%s", person.official_id, exc)


async def drop_buttons(update: Update) -> None:
    query = update.callback_query
    if query is None or query.message is None:
        return
    try:
        await query.edit_message_reply_markup(None)
    except TelegramError as exc:  # an old message can no longer be edited; nothing to undo
        log.debug("could not remove buttons: %s", exc)
