"""The outbox sender: pacing, 429 / 5xx / timeout / 400 / 403, leases, two senders at once."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from telegram.ext import ExtBot

from bot.db import outbox
from bot.db.models import AuditLog, Delivery, DeliveryStatus, Official, OfficialStatus
from bot.telegram_io.pacing import Pacer, SharedWindow, pacer_for
from bot.telegram_io.send_outcomes import backoff
from bot.telegram_io.sender import Sender
from tests.conftest import TEST_TOKEN
from tests.factories import make_city, make_official
from tests.harness.outbox import FakeTimer, drain
from tests.harness.updates import Harness, TgUser

# ---- pacing, on a fake clock ---------------------------------------------------------------


def simulate(pacer: Pacer, chats: list[int], seconds: float) -> list[tuple[float, int]]:
    """Send greedily, as soon as the pacer allows, for `seconds`; returns (time, chat) sends."""
    t, sent, queue = 0.0, [], list(chats)
    while queue and t < seconds:
        chat = next((c for c in queue if pacer.chat_ready_at(c) <= t), None)
        ready = pacer.ready_at()
        if chat is None or ready > t:
            later = [x for x in [ready] + [pacer.chat_ready_at(c) for c in queue[:50]] if x > t]
            t = min(later) if later else t + 1e-6
            continue
        queue.remove(chat)
        if chat >= 0:
            queue.append(chat)  # chats >= 0 receive again and again
        pacer.record(chat, t)
        sent.append((t, chat))
    return sent


def max_in_window(times: list[float], window: float = 1.0) -> int:
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_pacer_never_exceeds_the_window_and_has_no_initial_burst() -> None:
    pacer = Pacer(rate=30, per_chat_rate=1)
    sends = simulate(pacer, [-(i + 1) for i in range(1000)], seconds=10)
    times = [t for t, _ in sends]
    assert max_in_window(times) <= 30
    assert sum(1 for t in times if t < 0.1) <= 4  # no burst of a whole window at the start
    assert len(times) >= 0.95 * 30 * 10


def test_pacer_spaces_sends_to_one_chat_and_keeps_others_going() -> None:
    pacer = Pacer(rate=30, per_chat_rate=1)
    sends = simulate(pacer, [7, 8] + [-(i + 1) for i in range(20)], seconds=3.5)
    for chat in (7, 8):
        times = [t for t, c in sends if c == chat]
        assert len(times) >= 3
        assert all(b - a >= 1.0 for a, b in zip(times, times[1:], strict=False))
    assert max_in_window([t for t, _ in sends]) <= 30


def test_pacer_pause_holds_every_send() -> None:
    pacer = Pacer(rate=30, per_chat_rate=1)
    pacer.record(1, 0.0)
    pacer.pause(3.5)
    assert pacer.ready_at() >= 3.5


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    rng = random.Random(4)
    assert 1.0 <= backoff(1, 2.0, 300.0, rng) <= 2.0
    assert 8.0 <= backoff(4, 2.0, 300.0, rng) <= 16.0
    assert backoff(30, 2.0, 300.0, rng) <= 300.0


# ---- through the harness ---------------------------------------------------------------------


async def recipients(h: Harness, n: int) -> list[Official]:
    city = await make_city(h.deps.db, "Gabès")
    return [await make_official(h.deps.db, city, name=f"Official {i}") for i in range(n)]


async def enqueue_copies(h: Harness, officials: list[Official], key: str = "t") -> None:
    now = h.deps.clock.now()
    async with h.deps.db.transaction() as s:
        await outbox.enqueue(
            s,
            [
                outbox.delivery_row(
                    dedupe_key=f"{key}:{o.id}",
                    source="broadcast",
                    chat_id=o.chat_id,
                    now=now,
                    recipient_id=o.id,
                    from_chat_id=42,
                    message_id=7,
                )
                for o in officials
            ],
        )


async def rows(h: Harness) -> dict[int, Delivery]:
    async with h.deps.db.transaction() as s:
        return {d.chat_id: d for d in (await s.scalars(select(Delivery))).all()}


async def test_copies_and_texts_reach_every_recipient_once(harness: Harness) -> None:
    h = harness
    people = await recipients(h, 5)
    await enqueue_copies(h, people[:3])
    now = h.deps.clock.now()
    async with h.deps.db.transaction() as s:
        await outbox.enqueue(
            s,
            [
                outbox.delivery_row(
                    dedupe_key=f"r:{o.id}",
                    source="reminder",
                    chat_id=o.chat_id,
                    now=now,
                    recipient_id=o.id,
                    text="Workshop <b>tomorrow</b>",
                    reply_markup={
                        "inline_keyboard": [[{"text": "Open", "url": "https://example.org"}]]
                    },
                )
                for o in people[3:]
            ],
        )

    stats = await drain(h)

    assert stats.sent == 5
    for o in people[:3]:
        [copy] = h.tg.of("copyMessage", o.chat_id)
        assert (copy.params["from_chat_id"], copy.params["message_id"]) == (42, 7)
    for o in people[3:]:
        [msg] = h.tg.of("sendMessage", o.chat_id)
        assert msg.text == "Workshop <b>tomorrow</b>" and msg.params["parse_mode"] == "HTML"
        assert msg.buttons == [[("Open", "https://example.org")]]
    got = await rows(h)
    assert all(
        r.status == DeliveryStatus.SENT
        and r.sent_message_id
        and r.attempts == 1
        and r.claimed_by is None
        for r in got.values()
    )
    assert (await drain(h)).sent == 0  # nothing is sent twice


async def test_429_pauses_for_retry_after_and_goes_on(harness: Harness) -> None:
    h = harness
    people = await recipients(h, 4)
    await enqueue_copies(h, people)
    h.tg.rate_limit(retry_after=3, chat_id=people[1].chat_id)
    timer = FakeTimer(h.deps.clock)

    stats = await drain(h, timer=timer)

    assert stats.rate_limited == 1 and stats.sent == 4
    assert timer.slept >= 3
    assert len(h.tg.of("copyMessage", people[1].chat_id)) == 2
    got = await rows(h)
    assert got[people[1].chat_id].status == DeliveryStatus.SENT
    assert got[people[1].chat_id].attempts == 1  # a 429 is not an attempt


async def test_server_error_and_timeout_are_retried_with_backoff(harness: Harness) -> None:
    h = harness
    people = await recipients(h, 3)
    await enqueue_copies(h, people)
    h.tg.server_error(chat_id=people[0].chat_id)
    h.tg.time_out(chat_id=people[1].chat_id)

    first = await drain(h)
    assert first.sent == 1 and first.retried == 2
    got = await rows(h)
    for o in people[:2]:
        row = got[o.chat_id]
        assert row.status == DeliveryStatus.PENDING and row.attempts == 1 and row.last_error
        assert row.next_attempt_at > h.deps.clock.now()
    assert (await drain(h)).sent == 0  # not before the backoff

    h.deps.clock.advance(seconds=h.deps.settings.send_backoff_base_seconds + 1)
    assert (await drain(h)).sent == 2
    got = await rows(h)
    assert {r.status for r in got.values()} == {DeliveryStatus.SENT}
    assert got[people[0].chat_id].attempts == 2


async def test_a_row_that_keeps_failing_is_failed_after_max_attempts(harness: Harness) -> None:
    h = harness
    [person] = await recipients(h, 1)
    await enqueue_copies(h, [person])
    h.tg.fail(502, "Bad Gateway", chat_id=person.chat_id, times=None)

    for _ in range(h.deps.settings.send_max_attempts):
        await drain(h)
        h.deps.clock.advance(seconds=h.deps.settings.send_backoff_max_seconds)

    row = (await rows(h))[person.chat_id]
    assert row.status == DeliveryStatus.FAILED
    assert row.attempts == h.deps.settings.send_max_attempts
    assert row.last_error == "Bad Gateway"
    assert len(h.tg.of("copyMessage", person.chat_id)) == h.deps.settings.send_max_attempts


async def test_400_fails_that_row_only(harness: Harness) -> None:
    h = harness
    people = await recipients(h, 3)
    await enqueue_copies(h, people)
    h.tg.fail(400, "Bad Request: chat not found", chat_id=people[2].chat_id)

    stats = await drain(h)

    assert stats.sent == 2 and stats.failed == 1
    row = (await rows(h))[people[2].chat_id]
    assert (
        row.status == DeliveryStatus.FAILED and "chat not found" in (row.last_error or "").lower()
    )
    assert len(h.tg.of("copyMessage", people[2].chat_id)) == 1


async def test_403_marks_row_and_official_unreachable_until_they_come_back(
    harness: Harness,
) -> None:
    h = harness
    people = await recipients(h, 2)
    await enqueue_copies(h, people)
    blocked = people[0]
    h.tg.block(blocked.chat_id)

    stats = await drain(h)

    assert stats.unreachable == 1 and stats.sent == 1 and stats.failed == 0
    assert (await rows(h))[blocked.chat_id].status == DeliveryStatus.UNREACHABLE
    async with h.deps.db.transaction() as s:
        official = await s.get(Official, blocked.id)
        assert official is not None and official.status == OfficialStatus.UNREACHABLE
        assert (
            await s.scalar(
                select(func.count())
                .select_from(AuditLog)
                .where(AuditLog.action == "official.unreachable", AuditLog.target_id == blocked.id)
            )
            == 1
        )

    h.tg.unblock(blocked.chat_id)
    await h.command(TgUser(blocked.tg_user_id), "/start")
    async with h.deps.db.transaction() as s:
        official = await s.get(Official, blocked.id)
        assert official is not None and official.status == OfficialStatus.ACTIVE


async def test_a_dead_workers_claims_expire_and_are_sent_by_another(harness: Harness) -> None:
    h = harness
    people = await recipients(h, 3)
    await enqueue_copies(h, people)
    now = h.deps.clock.now()
    lease = timedelta(seconds=h.deps.settings.send_lease_seconds)
    async with h.deps.db.transaction() as s:
        assert len(await outbox.claim(s, "dead-worker", now, now + lease, 10)) == 3

    assert (await drain(h)).sent == 0  # still leased to the dead worker
    h.deps.clock.advance(lease + timedelta(seconds=1))
    assert (await drain(h)).sent == 3
    assert all(len(h.tg.of("copyMessage", o.chat_id)) == 1 for o in people)


async def test_two_senders_send_each_row_once(harness: Harness) -> None:
    h = harness
    h.deps.settings.send_claim_batch = 4
    people = await recipients(h, 40)
    await enqueue_copies(h, people)
    timer = FakeTimer(h.deps.clock)
    one = Sender(h.deps, h.app.bot, worker="w1", timer=timer)
    two = Sender(h.deps, h.app.bot, worker="w2", timer=timer)

    a, b = await asyncio.gather(one.run_once(), two.run_once())

    # Which worker wins each claim depends on scheduling; what must hold is "each row once".
    assert a.sent + b.sent == 40
    assert sorted(c.chat_id for c in h.tg.of("copyMessage")) == sorted(o.chat_id for o in people)
    assert {r.status for r in (await rows(h)).values()} == {DeliveryStatus.SENT}


# ---- the bot's replies share the outbox's window ------------------------------------------------


async def test_a_reply_during_a_broadcast_takes_a_free_slot_instead_of_a_429() -> None:
    timer = FakeTimer()
    pacer = Pacer(rate=30, per_chat_rate=1)
    limiter = SharedWindow(pacer, timer)
    sends: list[float] = []

    async def outbox_sends(n: int) -> None:  # the sender at full speed
        for i in range(n):
            if (wait := pacer.ready_at() - timer.now()) > 0:
                await timer.sleep(wait)
            pacer.record(-(len(sends) + i + 1), timer.now())
            sends.append(timer.now())

    async def reply(*_args: Any, **_kwargs: Any) -> dict[str, Any]:
        sends.append(timer.now())
        return {"message_id": 1}

    async def answer(*_args: Any, **_kwargs: Any) -> bool:
        return True

    await outbox_sends(45)
    await limiter.process_request(reply, (), {}, "sendMessage", {"chat_id": 42}, None)
    reply_at = sends[-1]
    next_slot = pacer.ready_at()
    await limiter.process_request(answer, (), {}, "answerCallbackQuery", {}, None)
    assert (pacer.ready_at(), timer.now()) == (next_slot, reply_at)  # not a message: no slot
    await outbox_sends(45)

    assert max_in_window(sorted(sends)) <= 30
    assert pacer.chat_ready_at(42) >= reply_at + 1.0  # the outbox waits before writing to them


async def test_the_senders_own_sends_through_the_shared_bot_count_once(harness: Harness) -> None:
    h = harness
    await enqueue_copies(h, await recipients(h, 60))
    timer = FakeTimer(h.deps.clock)
    pacer = pacer_for(h.deps.settings)  # 30 a second
    bot = ExtBot(
        TEST_TOKEN, request=h.tg, get_updates_request=h.tg, rate_limiter=SharedWindow(pacer, timer)
    )
    await bot.initialize()

    stats = await Sender(h.deps, bot, timer=timer, pacer=pacer).run_once()

    assert stats.sent == 60
    assert timer.slept < 2.5  # 60 sends at 30 a second; counted twice they would take 4 s


# ---- issue 13: slow answers, lost claims --------------------------------------------------------


def delivered(h: Harness) -> int:
    return sum(1 for c in h.tg.of("copyMessage") if c.ok)


async def test_slow_answers_do_not_hold_back_the_other_sends(harness: Harness) -> None:
    """Eight sends wait on answers that do not come (twice SEND_CONCURRENCY): every other row
    still goes out meanwhile, and the slow ones are recorded when answered."""
    h = harness
    people = await recipients(h, 30)
    await enqueue_copies(h, people)
    slow = people[:8]
    assert len(slow) == 2 * h.deps.settings.send_concurrency
    holds = [h.tg.hold(method="copyMessage", chat_id=o.chat_id).hold for o in slow]
    sender = Sender(h.deps, h.app.bot, worker="w1", timer=FakeTimer(h.deps.clock))
    running = asyncio.create_task(sender.run_once())
    try:
        await h.tg.until(lambda: delivered(h) == len(people) - len(slow), within=30)
        assert all(hold is not None and hold.count == 1 for hold in holds)
    finally:
        for hold in holds:
            assert hold is not None
            hold.release()
    stats = await running

    assert stats.sent == 30
    assert sorted(c.chat_id for c in h.tg.of("copyMessage")) == sorted(o.chat_id for o in people)
    assert {r.status for r in (await rows(h)).values()} == {DeliveryStatus.SENT}


async def test_a_sender_that_lost_its_claim_records_nothing(harness: Harness) -> None:
    """w1's answer comes after its lease ran out and w2 took the row: what w1 learns late is
    not written over w2's record (the row keeps the message w2 sent)."""
    h = harness
    # Renewals every quarter lease in real time: none within this test.
    h.deps.settings.send_lease_seconds = 600
    [person] = await recipients(h, 1)
    await enqueue_copies(h, [person])
    hold = h.tg.hold(method="copyMessage", chat_id=person.chat_id).hold
    assert hold is not None
    first = Sender(h.deps, h.app.bot, worker="w1", timer=FakeTimer(h.deps.clock))
    running = asyncio.create_task(first.run_once())
    await asyncio.wait_for(hold.arrived.wait(), 30)

    # The lease runs out while w1 waits on Telegram (as if its renewals could not reach the
    # database); w2 takes the row and sends it.
    h.deps.clock.advance(seconds=h.deps.settings.send_lease_seconds + 1)
    assert (await drain(h, worker="w2")).sent == 1
    recorded = (await rows(h))[person.chat_id]
    hold.release()
    late = await running

    row = (await rows(h))[person.chat_id]
    assert row.status == DeliveryStatus.SENT
    assert row.sent_message_id == recorded.sent_message_id
    copies = h.tg.of("copyMessage", person.chat_id)
    # w1's copy went out late, after w2's; the database only knows w2's.
    assert sorted(c.result["message_id"] for c in copies) == [
        recorded.sent_message_id,
        recorded.sent_message_id + 1,
    ]
    assert late.lost == 1 and late.sent == 1
