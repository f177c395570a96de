"""What every feature uses: the identity guard, replies and refusals (the error handler is in
`handlers.error_alerts`)."""

from __future__ import annotations

import functools
import html
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telegram import Bot, CallbackQuery, InlineKeyboardMarkup, Update
from telegram.constants import ChatType, MessageLimit
from telegram.error import BadRequest, TelegramError
from telegram.ext import ApplicationHandlerStop, ExtBot

from bot.i18n import _, set_locale, use_locale
from bot.runtime import Deps
from bot.services import audit, identity
from bot.services.enums import Role
from bot.services.errors import ServiceError
from bot.telegram_io.pacing import ReplySpacing
from handlers.callbacks import BadCallback
from handlers.context import Ctx
from handlers.error_texts import error_text

log = logging.getLogger(__name__)

Callback = Callable[..., Awaitable[None]]
F = TypeVar("F", bound=Callback)

esc = html.escape


async def identify(update: Update, context: Ctx) -> None:
    """Find who is writing and in which language to answer; private chats only."""
    chat = update.effective_chat
    user = update.effective_user
    if user is None or user.is_bot:
        raise ApplicationHandlerStop
    if chat is not None and chat.type != ChatType.PRIVATE and update.my_chat_member is None:
        raise ApplicationHandlerStop
    context.me = await identity.whoami(context.deps, user.id, user.language_code)
    set_locale(context.me.locale)
    query = update.callback_query
    if query is not None and query.message is None:
        # A button on a message sent in inline mode (it carries inline_message_id): this bot
        # sends none, so the press is forged or foreign, and no feature could edit its message.
        await answer(query, _("This button is no longer active."), alert=True)
        raise ApplicationHandlerStop


async def send_text(
    bot: Bot,
    chat_id: int,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    *,
    spaced: bool = False,
) -> int:
    """Text over as many messages as Telegram's limit needs, the buttons on the last; its id.

    A part that follows another keeps the chat's one-a-second spacing, and so does the first
    when `spaced` (it follows a message just sent to the same chat)."""
    parts = split_text(text)
    message_id = 0
    for i, part in enumerate(parts):
        keyboard = markup if i == len(parts) - 1 else None
        if (spaced or i) and isinstance(bot, ExtBot) and bot.rate_limiter is not None:
            sent = await bot.send_message(
                chat_id, part, reply_markup=keyboard, rate_limit_args=ReplySpacing.CHAT
            )
        else:
            sent = await bot.send_message(chat_id, part, reply_markup=keyboard)
        message_id = sent.message_id
    return message_id


async def slow_down(deps: Deps, update: Update) -> None:
    """Tells a person sending faster than the bot can answer, once per burst, that some of their
    messages were skipped (the update processor drops them; see bot/telegram_io/update_order)."""
    chat = update.effective_chat
    user = update.effective_user
    if chat is None or user is None or user.is_bot or chat.type != ChatType.PRIVATE:
        return
    me = await identity.whoami(deps, user.id, user.language_code)
    with use_locale(me.locale):
        text = _(
            "Please slow down: you are sending messages faster than I can answer, so I skipped "
            "some of them. Wait for my answers, then send again what is missing."
        )
    try:
        await update.get_bot().send_message(chat.id, text)
    except TelegramError as exc:
        log.info("slow-down notice not sent user_id=%s error=%s", user.id, exc)


def raise_bad() -> None:
    """Button data that parsed but holds a value no button sends (old or forged)."""
    raise BadCallback("unexpected value")


async def reply(
    update: Update, text: str, markup: InlineKeyboardMarkup | None = None, *, spaced: bool = False
) -> int | None:
    """Answer in the chat the update came from (long text split); the last message's id."""
    chat = update.effective_chat
    if chat is None:
        return None
    return await send_text(update.get_bot(), chat.id, text, markup, spaced=spaced)


async def show(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Edit the message a button belongs to, or send a new one when there is none."""
    query = update.callback_query
    if (
        query is not None
        and query.message is not None
        and len(text) <= MessageLimit.MAX_TEXT_LENGTH
    ):
        try:
            await query.edit_message_text(text, reply_markup=markup)
            return
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return
            log.info("edit failed, sending anew update_id=%s error=%s", update.update_id, exc)
    await reply(update, text, markup)


async def answer(query: CallbackQuery | None, text: str | None = None, alert: bool = False) -> None:
    if query is None:
        return
    try:
        await query.answer(text, show_alert=alert)
    except TelegramError as exc:  # an old query can no longer be answered; nothing to do
        log.debug("answerCallbackQuery failed: %s", exc)


# A tag or an entity of the HTML the bot sends: a part of a long text never ends inside one.
_MARKUP = re.compile(r"<(/?)([a-zA-Z][\w-]*)[^>]*>|&#?\w+;")
# Room kept at the end of a part to close the tags still open there.
_CLOSING_ROOM = 64


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Split at line breaks (then spaces) so every part fits one Telegram message.

    The text is HTML: a part never ends inside a tag or an entity (`&amp;`), and the tags still
    open where it ends are closed there and opened again at the start of the next part, so
    Telegram can parse each part on its own."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    carried: list[tuple[str, str]] = []  # (name, opening tag) of the tags open at the last cut
    rest = text
    while True:
        head = "".join(tag for _name, tag in carried)
        if len(head) + len(rest) <= limit:
            parts.append(head + rest)
            return parts
        room = max(limit - len(head) - _CLOSING_ROOM, limit // 2)
        cut = rest.rfind("\n", 0, room)
        if cut < room // 2:
            cut = rest.rfind(" ", 0, room)
        if cut < room // 2:
            cut = room
        open_tags = list(carried)
        for m in _MARKUP.finditer(rest):
            if m.end() > cut:
                if m.start() < cut and m.start() > 0:
                    cut = m.start()  # not inside it: the part ends before it
                break
            closing, name = m.group(1), m.group(2)
            if name and closing:
                if open_tags and open_tags[-1][0] == name.lower():
                    open_tags.pop()
            elif name:
                open_tags.append((name.lower(), m.group(0)))
        closing_tags = "".join(f"</{name}>" for name, _tag in reversed(open_tags))
        parts.append(head + rest[:cut] + closing_tags)
        carried = open_tags
        rest = rest[cut:].lstrip("\n ")


def requires(role: Role) -> Callable[[F], F]:
    """Refuse, in the user's language, a command their role does not allow; log the attempt."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        async def wrapper(update: Update, context: Ctx, *rest: Any) -> None:
            if not context.who.has_role(role):
                await refuse(update, context, func.__name__)
                return
            await func(update, context, *rest)  # step handlers also get their Step

        wrapper.required_role = role  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


async def refuse(update: Update, context: Ctx, what: str) -> None:
    await audit.denied(context.deps, context.who.tg_user_id, what)
    log.info("refused action=%s user_id=%s role=%s", what, context.who.tg_user_id, context.who.role)
    text = _("You are not allowed to do that.")
    if update.callback_query:
        await answer(update.callback_query, text, alert=True)
    else:
        await reply(update, text)


def guarded(func: F) -> F:
    """Turn a ServiceError or forged callback data into a clear answer instead of a crash."""

    @functools.wraps(func)
    async def wrapper(update: Update, context: Ctx, *rest: Any) -> None:
        try:
            await func(update, context, *rest)  # step handlers also get their Step
        except BadCallback:
            log.info(
                "bad callback data user_id=%s",
                update.effective_user and update.effective_user.id,
            )
            await answer(update.callback_query, _("This button is no longer active."), alert=True)
        except ServiceError as exc:
            text = error_text(exc)
            if update.callback_query:
                await answer(update.callback_query, text, alert=True)
            else:
                await reply(update, text)

    return wrapper  # type: ignore[return-value]
