"""The application's bot: sends with the bot's defaults, returns the new message's id, and
raises Telegram's errors (handlers.common.send_text, the way handlers send text)."""

from __future__ import annotations

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, RetryAfter

from bot.app import build_application
from handlers.common import send_text
from tests.harness.outbox import FakeTimer
from tests.harness.telegram import RecordingRequest

CHAT = 424242


@pytest.fixture
async def sent(deps):
    tg = RecordingRequest()
    timer = FakeTimer()
    app = build_application(deps, request=tg, get_updates_request=tg, background=False, timer=timer)
    await app.initialize()
    yield app.bot, tg, timer
    await app.shutdown()


async def test_send_text_sends_with_the_bots_defaults_and_returns_the_id(sent) -> None:
    bot, tg, _timer = sent
    kb = InlineKeyboardMarkup([[InlineKeyboardButton("Réponse", callback_data="qr:7")]])
    first = await send_text(bot, CHAT, "<b>Gabès</b> &amp; Nice", kb)
    second = await send_text(bot, CHAT, "again")
    calls = tg.of("sendMessage", CHAT)
    assert [c.message_id for c in calls] == [first, second] and first != second
    assert calls[0].params["parse_mode"] == "HTML"
    assert calls[0].params["link_preview_options"] == {"is_disabled": True}
    assert calls[0].buttons == [[("Réponse", "qr:7")]]
    assert "reply_markup" not in calls[1].params  # None values are dropped, as PTB does


async def test_send_text_raises_telegrams_errors(sent) -> None:
    bot, tg, timer = sent
    with pytest.raises(BadRequest, match="unescaped"):
        await send_text(bot, CHAT, "a < b")  # refused by the fake as by Telegram (HTML)
    tg.rate_limit(60, chat_id=CHAT)  # longer than a reply may wait (REPLY_MAX_WAIT_SECONDS)
    with pytest.raises(RetryAfter):
        await send_text(bot, CHAT, "hello")
    tg.rate_limit(1, chat_id=CHAT, times=3)  # as often as a reply is tried (REPLY_MAX_ATTEMPTS)
    with pytest.raises(RetryAfter):
        await send_text(bot, CHAT, "hello")
    assert tg.texts(CHAT) == [] and 2.0 <= timer.slept < 2.1  # waited twice, then gave up
    tg.block(CHAT)
    with pytest.raises(Forbidden):
        await send_text(bot, CHAT, "hello")
