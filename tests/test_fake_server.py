"""The fake Bot API server answers like Telegram, failures included."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.request import HTTPXRequest

from tests.harness.fake_server import FakeTelegram, ThreadedFakeTelegram
from tests.harness.updates import TgUser

TOKEN = "123456789:AAE-fake-token-abcdefghijklmnopqrstuv"
USER = TgUser(4242, "Amina", "en")
OTHER = TgUser(4343, "Marco", "it")


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN, rate=3, chat_rate=None, clock=clock) as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    request = HTTPXRequest(read_timeout=2.0, connect_timeout=2.0)
    async with Bot(
        TOKEN, base_url=fake.api_url, base_file_url=f"{fake.base_url}/file/bot", request=request
    ) as b:
        yield b


async def raw(
    fake: FakeTelegram, method: str, token: str = TOKEN, **params: object
) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"{fake.base_url}/bot{token}/{method}", json=params) as resp,
    ):
        return resp.status, await resp.json()


async def test_ptb_bot_sends_edits_uploads_and_downloads(fake: FakeTelegram, bot: Bot) -> None:
    assert bot.username == "CityExchangeTestBot"
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes <b>", callback_data="reg:yes")]])
    sent = await bot.send_message(USER.id, "Hello & welcome", reply_markup=keyboard)
    assert sent.message_id == 1 and sent.text == "Hello & welcome"
    assert fake.last(USER).buttons == [("Yes <b>", "reg:yes")]

    edited = await bot.edit_message_text("Edited", chat_id=USER.id, message_id=sent.message_id)
    assert edited.text == "Edited"  # type: ignore[union-attr]
    assert fake.last(USER).text == "Edited" and fake.last(USER).buttons == []
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text("Edited", chat_id=USER.id, message_id=sent.message_id)

    doc = await bot.send_document(
        USER.id, b"col1,col2\n1,2\n", filename="log.csv", caption="Export"
    )
    assert doc.document is not None and doc.document.file_name == "log.csv"
    file = await bot.get_file(doc.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"col1,col2\n1,2\n"

    copy = await bot.copy_message(OTHER.id, USER.id, doc.message_id)
    copied = fake.last(OTHER)
    assert copied.message_id == copy.message_id and copied.copy_of == (USER.id, doc.message_id)
    assert copied.caption == "Export"
    assert await bot.send_chat_action(USER.id, "typing") is True
    assert await bot.delete_message(USER.id, sent.message_id) is True
    chat = await bot.get_chat(USER.id)
    assert chat.id == USER.id
    assert fake.count(USER) == 2 and fake.count(OTHER) == 1
    assert [c.method for c in fake.calls if c.method.startswith("send")] == [
        "sendMessage",
        "sendDocument",
        "sendChatAction",
    ]


async def test_long_polling_answers_when_an_update_arrives(fake: FakeTelegram, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=15, read_timeout=20))
    await fake.wait_polling()
    await fake.command(USER, "/start abc")
    updates = await asyncio.wait_for(poll, 10)
    assert [u.message.text for u in updates] == ["/start abc"]  # type: ignore[union-attr]
    assert updates[0].effective_user.language_code == "en"  # type: ignore[union-attr]
    # the update stays until confirmed by offset
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [updates[0].update_id]
    assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == ()
    await fake.wait_confirmed()
    assert await bot.get_updates(timeout=0) == ()


async def test_press_builds_a_callback_query_on_the_bots_message(
    fake: FakeTelegram, bot: Bot
) -> None:
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Flood risk", callback_data="tp:t:1:0"),
                InlineKeyboardButton("Done", callback_data="tp:done"),
            ]
        ]
    )
    sent = await bot.send_message(USER.id, "Which topics?", reply_markup=keyboard)
    mark = await fake.press(USER, "Done")
    (update,) = await bot.get_updates(timeout=0)
    query = update.callback_query
    assert query is not None and query.data == "tp:done"
    assert query.message.message_id == sent.message_id  # type: ignore[union-attr]
    assert await query.answer("Saved") is True
    with pytest.raises(BadRequest, match="[Qq]uery is too old"):
        await query.answer("Twice")
    await bot.edit_message_text("Thanks", chat_id=USER.id, message_id=sent.message_id)
    assert (await fake.wait_for(USER, contains="Thanks", since=mark)).edits == 1
    assert fake.alerts() == ["Saved"]
    with pytest.raises(AssertionError, match="no button"):
        await fake.press(USER, "Nope")


async def test_rate_limit_over_one_second_window(
    fake: FakeTelegram, bot: Bot, clock: ManualClock
) -> None:
    for i in range(3):
        await bot.send_message(USER.id, f"m{i}")
    with pytest.raises(RetryAfter):
        await bot.send_message(OTHER.id, "too many")
    assert fake.calls[-1].description == "Too Many Requests: retry after 1"
    assert fake.count(OTHER) == 0 and fake.limited[OTHER.id] == 1 and fake.stats["429"] == 1
    clock.now += 0.5
    with pytest.raises(RetryAfter):
        await bot.send_message(OTHER.id, "still too many")
    clock.now += 0.6  # the first three leave the window
    await bot.send_message(OTHER.id, "now it goes")
    assert fake.texts(OTHER) == ["now it goes"]
    status, body = await raw(fake, "sendMessage", chat_id=USER.id, text="x")
    assert status == 200
    status, body = await raw(fake, "sendMessage", chat_id=USER.id, text="x")
    status, body = await raw(fake, "sendMessage", chat_id=USER.id, text="x")
    assert status == 429 and body["parameters"]["retry_after"] >= 1
    assert body["description"].startswith("Too Many Requests: retry after")


async def test_rate_limit_per_chat(clock: ManualClock) -> None:
    async with FakeTelegram(TOKEN, rate=30, chat_rate=1, clock=clock) as fake:
        assert (await raw(fake, "sendMessage", chat_id=USER.id, text="a"))[0] == 200
        assert (await raw(fake, "sendMessage", chat_id=OTHER.id, text="b"))[0] == 200
        status, body = await raw(fake, "sendMessage", chat_id=USER.id, text="c")
        assert status == 429 and body["parameters"] == {"retry_after": 1}
        clock.now += 1.0
        assert (await raw(fake, "sendMessage", chat_id=USER.id, text="c"))[0] == 200
        assert fake.texts(USER) == ["a", "c"] and fake.limited == {USER.id: 1}


async def test_blocked_unknown_chat_wrong_token_unknown_method(
    fake: FakeTelegram, bot: Bot
) -> None:
    fake.block(USER)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER.id, "hi")
    fake.forget_chat(OTHER)
    with pytest.raises(BadRequest, match="[Cc]hat not found"):
        await bot.send_message(OTHER.id, "hi")
    assert fake.count(USER) == 0 and fake.count(OTHER) == 0

    status, body = await raw(fake, "getMe", token="123456789:AAE-wrong-token-abcdefghijklmnopqr")
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    with pytest.raises(InvalidToken):
        async with Bot("123456789:AAE-wrong-token-abcdefghijklmnopqr", base_url=fake.api_url):
            pass
    status, body = await raw(fake, "frobnicate")
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})


async def test_strict_chats_know_only_users_who_wrote(clock: ManualClock) -> None:
    async with FakeTelegram(TOKEN, strict_chats=True, clock=clock) as fake:
        assert (await raw(fake, "sendMessage", chat_id=USER.id, text="a"))[1][
            "description"
        ] == "Bad Request: chat not found"
        await fake.send(USER, "hello")
        assert (await raw(fake, "sendMessage", chat_id=USER.id, text="a"))[0] == 200


async def test_scripted_server_error_and_delay(fake: FakeTelegram, bot: Bot) -> None:
    fake.server_error(502, method="sendMessage", times=1)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(USER.id, "first")
    await bot.send_message(USER.id, "second")
    fake.delay(1.0, method="sendMessage", chat_id=USER.id)
    with pytest.raises(TimedOut):
        await bot.send_message(USER.id, "late", read_timeout=0.1)
    # as on Telegram, a request that timed out on the client may still arrive
    await fake.wait_for(USER, contains="late", within=10)
    assert fake.texts(USER) == ["second", "late"]
    assert fake.of("sendMessage")[0].status == 502


async def test_form_and_multipart_bodies_and_json(fake: FakeTelegram) -> None:
    markup = json.dumps({"inline_keyboard": [[{"text": "OK", "callback_data": "x:1"}]]})
    async with aiohttp.ClientSession() as s:
        async with s.post(
            f"{fake.api_url}{TOKEN}/sendMessage",
            data={"chat_id": str(USER.id), "text": "[1] not json", "reply_markup": markup},
        ) as r:
            assert r.status == 200
        form = aiohttp.FormData()
        form.add_field("chat_id", str(USER.id))
        form.add_field("photo", b"\x89PNG...", filename="map.png", content_type="image/png")
        async with s.post(f"{fake.api_url}{TOKEN}/sendPhoto", data=form) as r:
            body = await r.json()
            assert r.status == 200 and body["result"]["photo"][0]["file_size"] == 7
        async with s.get(f"{fake.api_url}{TOKEN}/getMe") as r:
            assert (await r.json())["result"]["username"] == "CityExchangeTestBot"
    assert fake.texts(USER)[0] == "[1] not json"
    assert fake.sent(USER)[0].buttons == [("OK", "x:1")]


async def test_second_poller_ends_the_first_with_conflict(fake: FakeTelegram, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=15, read_timeout=20))
    await fake.wait_polling()
    async with Bot(TOKEN, base_url=fake.api_url) as replica:
        second = asyncio.create_task(replica.get_updates(timeout=15, read_timeout=20))
        with pytest.raises(Conflict, match="terminated by other getUpdates"):
            await asyncio.wait_for(first, 10)
        await fake.send(USER, "hi")
        assert len(await asyncio.wait_for(second, 10)) == 1


def test_threaded_server_serves_synchronous_code() -> None:
    with ThreadedFakeTelegram(token=TOKEN) as fake:
        req = urllib.request.Request(
            f"{fake.api_url}{TOKEN}/sendMessage",
            method="POST",
            data=json.dumps({"chat_id": USER.id, "text": "sync"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert json.load(resp)["result"]["text"] == "sync"
        assert fake.texts(USER) == ["sync"]


async def test_webhook_receives_updates_with_secret(fake: FakeTelegram, bot: Bot) -> None:
    received: list[tuple[dict, str | None]] = []
    arrived = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (await request.json(), request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        )
        arrived.set()
        return web.Response()

    app = web.Application()
    app.router.add_post("/telegram", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/telegram", secret_token="s3cret")
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates(timeout=0)
        await fake.send(USER, "via webhook")
        await asyncio.wait_for(arrived.wait(), 10)
        ((update, secret),) = received
        assert update["message"]["text"] == "via webhook" and secret == "s3cret"
        await fake.until(lambda: fake.confirmed_offset > update["update_id"], within=10)
        assert await bot.delete_webhook()
        assert await bot.get_updates(timeout=0) == ()
    finally:
        await runner.cleanup()
