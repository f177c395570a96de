"""Fair service: the bot's replies survive a 429, and one person's flood does not hold up others.

Replies (messages, edits, button answers) are sent by handlers directly, not through the
outbox: after a 429 they wait `retry_after` and go again; the broadcast preview's two messages
keep the chat's one-a-second spacing. A person who sends faster than the bot answers has the
excess dropped, is told once to slow down, and nobody else waits behind them.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Coroutine
from typing import Any

from telegram import Update
from telegram.ext import ExtBot

from bot.db.models import Role
from bot.telegram_io.pacing import Pacer, SharedWindow, outbox_send
from tests.conftest import ADMIN_TG_ID, TEST_TOKEN
from tests.factories import make_city, make_official, make_topic, next_tg_id
from tests.harness.bot_api_core import BotApiCore
from tests.harness.outbox import FakeTimer
from tests.harness.telegram import RecordingRequest
from tests.harness.updates import Harness, TgUser, tr

SLOW_DOWN = (
    "Please slow down: you are sending messages faster than I can answer, so I skipped "
    "some of them. Wait for my answers, then send again what is missing."
)
APOLOGY = "Sorry, something went wrong on our side"


class SteppedTimer:
    """Monotonic time shared by several tasks that only wait on it: each sleeper wakes at its
    deadline, earliest first (ties in the order they went to sleep); `run` moves the time to
    the next deadline once every task is asleep."""

    def __init__(self) -> None:
        self.t = 1000.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + max(seconds, 0.0), next(self._order), woken))
        await woken

    async def run(self, *coros: Coroutine[Any, Any, None]) -> None:
        tasks = [asyncio.ensure_future(c) for c in coros]
        while live := [t for t in tasks if not t.done()]:
            if len(self._sleepers) < len(live):
                await asyncio.sleep(0)  # a woken task has not gone back to sleep yet
                continue
            at, _, woken = heapq.heappop(self._sleepers)
            self.t = max(self.t, at)
            woken.set_result(None)
        await asyncio.gather(*tasks)


def catch_errors(h: Harness) -> list[BaseException]:
    """Everything that reaches the application's error handlers from now on."""
    errors: list[BaseException] = []

    async def spy(_update: object, context: Any) -> None:
        errors.append(context.error)

    h.app.add_error_handler(spy)
    return errors


async def organiser_with_audience(h: Harness) -> TgUser:
    db = h.deps.db
    gabes = await make_city(db, "Gabès")
    flood = await make_topic(db, "flood-risk", names={"en": "Flood risk"})
    org_tg = next_tg_id()
    await make_official(db, gabes, tg_id=org_tg, role=Role.ORGANISER, topics=[flood])
    for _ in range(3):
        await make_official(db, gabes, topics=[flood])
    return TgUser(org_tg, "Leila")


def no_error_shown(h: Harness, errors: list[BaseException], org: TgUser) -> None:
    assert errors == [], h.transcript()
    assert not any(APOLOGY in t for t in h.texts(org))
    assert h.tg.sent(ADMIN_TG_ID) == []  # no alert to the admins


async def test_the_preview_arrives_under_a_strict_one_a_second_per_chat(
    harness: Harness, timer: FakeTimer
) -> None:
    h = harness
    h.tg.core.chat_rate = 1.0  # strict: a second message in a chat within a second is a 429
    h.tg.core.clock = timer.now
    errors = catch_errors(h)
    org = await organiser_with_audience(h)

    await h.command(org, "/broadcast")
    await timer.sleep(5)  # the organiser reads, then types: the time of a person
    source = await h.send(org, "Workshop in Gabès on 12 May")
    await timer.sleep(5)
    await h.press(org, "Everyone")
    await timer.sleep(5)
    mark = len(h.tg.calls)
    await h.press(org, "Preview")

    preview = [c for c in h.tg.calls[mark:] if c.chat_id == org.id and c.method != "getMe"]
    assert [(c.method, c.ok) for c in preview] == [("copyMessage", True), ("sendMessage", True)]
    assert preview[0].params["message_id"] == source["message_id"]
    assert preview[1].at - preview[0].at >= 1.0  # paced for the chat, not refused
    assert "exactly as recipients will see it" in preview[1].text
    h.tg.find_button(org.id, "Send now")  # the buttons arrived
    assert h.tg.core.limited[org.id] == 0
    no_error_shown(h, errors, org)


async def test_a_reply_an_edit_and_an_answer_wait_out_a_429_and_go(
    harness: Harness, timer: FakeTimer
) -> None:
    h = harness
    errors = catch_errors(h)
    org = await organiser_with_audience(h)
    await h.command(org, "/broadcast")
    await h.send(org, "Workshop in Gabès on 12 May")

    h.tg.rate_limit(retry_after=3, method="answerCallbackQuery")
    h.tg.rate_limit(retry_after=2, method="editMessageText", chat_id=org.id)
    await h.press(org, "Countries")
    h.tg.rate_limit(retry_after=4, method="sendMessage", chat_id=org.id)
    await h.press(org, "Back")
    await h.press(org, "Preview")

    refused = [c.method for c in h.tg.calls if c.status == 429]
    assert refused == ["answerCallbackQuery", "editMessageText", "sendMessage"]
    edits = [c.text or "" for c in h.tg.of("editMessageText", org.id) if c.ok]
    assert "Tap to add or remove" in edits[0]  # the countries went through after the 429
    assert len([c for c in h.tg.of("answerCallbackQuery") if c.ok]) == 3
    h.tg.find_button(org.id, "Send now")
    assert timer.slept >= 2 + 3 + 4  # each waited its retry_after
    no_error_shown(h, errors, org)


async def test_one_persons_flood_gets_one_slow_down_and_others_are_served(
    harness: Harness,
) -> None:
    h = harness
    cap = h.deps.settings.max_queued_updates_per_person
    errors = catch_errors(h)
    gabes = await make_city(h.deps.db, "Gabès")
    other_tg = next_tg_id()
    await make_official(h.deps.db, gabes, tg_id=other_tg, name="Nadia")
    flooder, other = TgUser(next_tg_id(), "Flood", language_code="fr"), TgUser(other_tg, "Nadia")

    updates: list[Update] = [
        h.update({"message": h.message_dict(flooder, "/help")}) for _ in range(200)
    ]
    updates.append(h.update({"message": h.message_dict(other, "/help")}))
    # As polling hands them over: into the application's queue, through its update processor.
    await h.app.start()
    try:
        for update in updates:
            await h.app.update_queue.put(update)
        await h.app.update_queue.join()
    finally:
        await h.app.stop()

    slow_down = tr("fr", SLOW_DOWN)
    texts = h.texts(flooder)
    assert texts.count(slow_down) == 1, h.transcript()
    assert slow_down != SLOW_DOWN  # in the flooder's language
    handled = [t for t in texts if t != slow_down]
    finished_before = texts.index(slow_down)  # answered before the notice went out
    assert 1 <= len(handled) <= cap + finished_before
    assert all("/start" in t for t in handled)  # each handled one was answered in full
    assert any("/ask" in t for t in h.texts(other))  # Nadia's /help: her commands
    assert errors == []


async def test_replies_take_the_next_slot_before_the_outbox() -> None:
    timer = SteppedTimer()
    pacer = Pacer(rate=30, per_chat_rate=1)
    limiter = SharedWindow(pacer, timer)
    outbox: list[float] = []
    replies: list[tuple[float, float]] = []  # (asked, sent)

    async def sender(n: int) -> None:  # as bot/telegram_io/sender.py takes its slots
        for i in range(n):
            while (wait := pacer.ready_at() - timer.now()) > 0:
                await timer.sleep(wait)
            pacer.record(-(i + 1), timer.now())
            outbox.append(timer.now())

    async def person(chat_id: int, after: float) -> None:
        await timer.sleep(after)
        asked = timer.now()

        async def send() -> dict[str, Any]:
            replies.append((asked, timer.now()))
            return {"message_id": 1}

        await limiter.process_request(send, (), {}, "sendMessage", {"chat_id": chat_id}, None)

    await timer.run(sender(150), *(person(100 + k, 0.505 + 0.37 * k) for k in range(10)))

    assert len(outbox) == 150 and len(replies) == 10
    for asked, sent in replies:
        assert not [t for t in outbox if asked <= t < sent]  # no broadcast send went first
        assert sent - asked <= pacer.interval + 1e-9
    every = sorted(outbox + [sent for _, sent in replies])
    assert max(sum(1 for u in every if t - 1.0 < u <= t) for t in every) <= 30


async def test_a_reply_right_after_an_outbox_send_to_the_chat_waits_instead_of_a_429() -> None:
    timer = FakeTimer()
    core = BotApiCore(chat_rate=1.0, clock=timer.now)  # strict: one message a second per chat
    pacer = Pacer(rate=30, per_chat_rate=1)
    limiter = SharedWindow(pacer, timer)
    bot = ExtBot(TEST_TOKEN, request=RecordingRequest(core), rate_limiter=limiter)
    await bot.initialize()
    mark = outbox_send.set(True)  # as the sender sends a reminder to chat 42
    pacer.record(42, timer.now())
    await bot.send_message(42, "Reminder: workshop tomorrow")
    outbox_send.reset(mark)
    await timer.sleep(0.2)

    await bot.send_message(43, "Your answer")  # another chat: at once
    await bot.send_message(42, "Your answer")  # this chat: once its second is over

    sent = [(c.chat_id, c.ok, round(c.at - 1000.0, 2)) for c in core.of("sendMessage")]
    assert sent == [(42, True, 0.0), (43, True, 0.2), (42, True, 1.0)]
    assert core.limited == {}
    await bot.shutdown()
