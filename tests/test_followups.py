"""Unanswered questions: one nudge after the nudge delay, the next cities after the escalation
delay, then the organisers; quiet hours respected; nothing done twice, even by two processes."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.db.engine import Database
from bot.db.models import (
    Delivery,
    ExchangeKind,
    ExchangeMessage,
    Official,
    Question,
    QuestionStatus,
    Routing,
    RoutingStatus,
)
from bot.runtime import Deps
from handlers.followups import follow_up
from tests.harness.outbox import drain
from tests.harness.updates import Harness, TgUser
from tests.test_exchange import QUESTION, ask, question_calls, rows, world


async def nudges(h: Harness) -> list[Delivery]:
    return list(await rows(h, Delivery, Delivery.source == "nudge"))


async def tick(h: Harness, **delta: float) -> None:
    h.deps.clock.advance(**delta)
    await follow_up(h.app.bot, h.deps)


async def test_one_nudge_after_the_delay_then_answer_from_it(harness: Harness) -> None:
    h = harness
    w = await world(h)
    await ask(h, w.asker)
    await tick(h, hours=23)
    assert await nudges(h) == []
    await tick(h, hours=2)
    queued = await nudges(h)
    assert sorted(d.chat_id for d in queued) == sorted(
        u.id for u in (w.nice1, w.nice2, w.potenza, w.madrid)
    )
    await tick(h, hours=1)
    assert len(await nudges(h)) == 4  # once only

    await drain(h)
    got = h.last_text(w.potenza)
    assert got.startswith("⏰ A colleague in Gabès is waiting for your answer on Flood risk.")
    assert QUESTION in got and "Amina &lt;Ben&gt; &amp; Salah" in got
    await h.press(w.potenza, "Answer")
    await h.send(w.potenza, "We use battery-backed sirens.")
    assert "We use battery-backed sirens." in h.last_text(w.asker)
    assert len(await rows(h, ExchangeMessage, ExchangeMessage.kind == ExchangeKind.NUDGE)) == 4


async def test_answered_and_resolved_questions_are_left_alone(harness: Harness) -> None:
    h = harness
    w = await world(h)
    await ask(h, w.asker)
    await h.press(w.nice1, "Answer")
    await h.send(w.nice1, "Sirens on solar panels.")
    await tick(h, hours=25)
    await tick(h, hours=100)
    assert await nudges(h) == []
    (q,) = await rows(h, Question)
    assert q.round == 1 and q.escalated_at is None and q.organisers_notified_at is None

    await ask(h, w.asker, text="A second question about levees and dykes?")
    async with h.deps.db.transaction() as s:
        second = (await s.scalars(select(Question).order_by(Question.id.desc()))).first()
        assert second is not None
        second.status = QuestionStatus.RESOLVED
    before = len(h.tg.calls)
    await tick(h, hours=200)
    assert await nudges(h) == []
    assert [c.method for c in h.tg.calls[before:]] == []


def torino_questions(h: Harness, w) -> list:  # type: ignore[no-untyped-def]
    return question_calls(h, w.torino)


async def test_nudge_waits_for_the_end_of_quiet_hours(harness: Harness) -> None:
    h = harness
    w = await world(h)
    async with h.deps.db.transaction() as s:
        potenza = (
            await s.scalars(select(Official).where(Official.tg_user_id == w.potenza.id))
        ).one()
        potenza.quiet_start, potenza.quiet_end = 0, 23 * 60 + 59  # nearly all day, Rome time
    await ask(h, w.asker)
    await tick(h, hours=25)
    by_chat = {d.chat_id: d for d in await nudges(h)}
    now = h.deps.clock.now()
    assert by_chat[w.nice1.id].next_attempt_at == now
    assert by_chat[w.potenza.id].next_attempt_at > now
    await drain(h)
    assert not any("⏰" in t for t in h.texts(w.potenza))
    assert any("⏰" in t for t in h.texts(w.nice1))


async def test_escalation_to_next_cities_then_organisers(harness: Harness) -> None:
    h = harness
    w = await world(h)
    await ask(h, w.asker)
    assert torino_questions(h, w) == []
    await tick(h, hours=71)
    assert torino_questions(h, w) == []
    await tick(h, hours=2)
    assert len(torino_questions(h, w)) == 1
    assert h.last_text(w.asker) == (
        "No answer yet to your question on Flood risk, so it was also sent to officials in Torino."
    )
    (q,) = await rows(h, Question)
    assert q.round == 2 and q.escalated_at is not None
    assert {r.round for r in await rows(h, Routing, Routing.city_id.isnot(None))} == {1, 2}

    await tick(h, hours=71)
    assert "Unanswered" not in "\n".join(h.texts(w.organiser))
    await tick(h, hours=2)
    notice = h.tg.last(w.organiser.id)
    assert "Unanswered for 144 hours" in notice.text and f"Question #{q.id}" in notice.text
    assert any("Route to a city" == t for row in notice.buttons for t, _ in row)
    assert "organisers have been asked" in h.last_text(w.asker)
    before = len(h.tg.calls)
    await tick(h, hours=500)
    assert [c for c in h.tg.calls[before:] if c.method == "sendMessage"] == []

    await h.press(w.organiser, "Route to a city")
    assert "Rosso" in str(h.tg.last(w.organiser.id).buttons)


async def test_undelivered_routing_rows_are_delivered_later(harness: Harness) -> None:
    h = harness
    w = await world(h)
    await ask(h, w.asker)
    async with h.deps.db.transaction() as s:
        routing = (
            await s.scalars(
                select(Routing)
                .join(Official, Official.id == Routing.recipient_id)
                .where(Official.tg_user_id == w.madrid.id)
            )
        ).one()
        routing.status = RoutingStatus.PENDING  # as if the bot died before sending it
        routing.delivered_at = None
    h.tg.clear()
    await tick(h, minutes=6)
    (got,) = question_calls(h, w.madrid)
    assert QUESTION in got.text
    (routing,) = await rows(h, Routing, Routing.id == routing.id)
    assert routing.status == RoutingStatus.DELIVERED
    await tick(h, minutes=10)
    assert len(question_calls(h, w.madrid)) == 1


async def test_two_processes_nudge_and_escalate_once(harness: Harness) -> None:
    h = harness
    w = await world(h)
    await ask(h, w.asker)
    other_db = Database(h.deps.db.url)
    other = Deps(settings=h.deps.settings, db=other_db, clock=h.deps.clock)
    try:
        h.deps.clock.advance(hours=25)
        await asyncio.gather(follow_up(h.app.bot, h.deps), follow_up(h.app.bot, other))
        assert len(await nudges(h)) == 4
        nudged = await rows(h, ExchangeMessage, ExchangeMessage.kind == ExchangeKind.NUDGE)
        assert len(nudged) == 4
        h.deps.clock.advance(hours=48)
        await asyncio.gather(follow_up(h.app.bot, h.deps), follow_up(h.app.bot, other))
        assert len(torino_questions(h, w)) == 1
        assert (
            len(await rows(h, ExchangeMessage, ExchangeMessage.kind == ExchangeKind.ESCALATION))
            == 1
        )
    finally:
        await other_db.dispose()


async def test_nudge_in_the_recipients_language(harness: Harness) -> None:
    from tests.harness.updates import tr

    h = harness
    w = await world(h)
    async with h.deps.db.transaction() as s:
        madrid = (await s.scalars(select(Official).where(Official.tg_user_id == w.madrid.id))).one()
        madrid.locale = "es"
    await ask(h, w.asker)
    await tick(h, hours=25)
    await drain(h)
    expected = tr("es", "⏰ A colleague in {city} is waiting for your answer on {topic}.").format(
        city="Gabès", topic="Flood risk"
    )
    assert h.last_text(TgUser(w.madrid.id)).startswith(expected)
    assert expected != "⏰ A colleague in Gabès is waiting for your answer on Flood risk."
