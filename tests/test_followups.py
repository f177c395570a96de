"""Unanswered questions: one nudge after the nudge delay, the next cities after the escalation
delay, then the organisers; quiet hours respected; nothing done twice, even by two processes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.db.engine import Database
from bot.db.models import (
    Delivery,
    DeliveryStatus,
    ExchangeKind,
    ExchangeMessage,
    Official,
    Question,
    QuestionStatus,
    Role,
    Routing,
    RoutingStatus,
)
from bot.runtime import Deps
from handlers.followups import follow_up
from tests.factories import make_city
from tests.harness.outbox import drain
from tests.harness.updates import Harness, TgUser
from tests.test_exchange import QUESTION, ask, person, question_calls, rows, world

LEVEES = "Which <b>levee</b> designs & pumps held during the 2023 storms in your coastal districts?"
# The first words, cut on a word boundary under 60 characters, escaped after the cut (as read:
# the isolation marks around them are invisible, test_question_words checks them).
LEVEES_SHORT = "“Which &lt;b&gt;levee&lt;/b&gt; designs &amp; pumps held during the 2023…”"
SIRENS_SHORT = "“" + QUESTION + "”"


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
        f"No answer yet to your question on Flood risk ({SIRENS_SHORT}), so it was also sent "
        "to officials in Torino."
    )
    (q,) = await rows(h, Question)
    assert q.round == 2 and q.escalated_at is not None
    assert {r.round for r in await rows(h, Routing, Routing.city_id.isnot(None))} == {1, 2}

    # Escalated on Thursday at 11:00 in Torino: its 24 working hours (8 a day, not at the
    # weekend) end on Tuesday at 11:00, 120 hours later.
    await tick(h, hours=119)
    assert "Unanswered" not in "\n".join(h.texts(w.organiser))
    await tick(h, hours=2)
    notice = h.tg.last(w.organiser.id)
    assert notice.text.startswith(
        "<b>Unanswered for 1 week</b>\n"
    )  # 194 hours: 8 days, said in weeks and f"Question #{q.id}" in notice.text
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


@pytest.mark.parametrize("settings_overrides", [{"escalation_delay_hours": 0.25}])
async def test_routing_by_hand_after_escalations_names_only_the_new_city(
    harness: Harness,
) -> None:
    """Two rounds, then the organisers (after 32 minutes, said so in each reader's words); an
    organiser routes it by hand to Kasserine: organiser and asker hear of Kasserine alone."""
    h = harness
    w = await world(h)
    kasserine = await make_city(h.deps.db, "Kasserine")
    heat_only = await person(h, kasserine, "Hedi Trabelsi", [w.other_topic])
    arabic = await person(h, kasserine, "Org Arabic", [w.other_topic], role=Role.ORGANISER)
    async with h.deps.db.transaction() as s:
        (
            await s.scalars(select(Official).where(Official.tg_user_id == arabic.id))
        ).one().locale = "ar"
    await ask(h, w.asker)
    await tick(h, minutes=16)
    assert len(torino_questions(h, w)) == 1
    await tick(h, minutes=16)
    (q,) = await rows(h, Question)
    assert h.tg.last(w.organiser.id).text.startswith("<b>Unanswered for 32 minutes</b>\n")
    assert "32 دقيقة" in h.tg.last(arabic.id).text  # Arabic, in Arabic words and plural form

    await h.press(w.organiser, "Route to a city")
    await h.press(w.organiser, "Kasserine")
    assert len(question_calls(h, heat_only)) == 1
    assert h.last_text(w.organiser) == "Sent to officials in Kasserine."
    told = h.last_text(w.asker)
    assert told.startswith("An organiser sent your question on Flood risk")
    assert told.endswith(" to officials in Kasserine."), told
    assert not any(city in told for city in ("Nice", "Potenza", "Madrid", "Torino"))


async def test_follow_ups_say_which_question_by_its_first_words(harness: Harness) -> None:
    """An asker with two open questions on one topic: each notice about either (escalation,
    organisers, routing by hand, thanks) quotes the first words of its own question."""
    h = harness
    w = await world(h)
    kasserine = await make_city(h.deps.db, "Kasserine")
    await person(h, kasserine, "Hedi Trabelsi", [w.other_topic])
    await ask(h, w.asker)
    await tick(h, hours=1)
    await ask(h, w.asker, text=LEVEES)
    sirens, levees = await rows(h, Question)

    await tick(h, hours=71.5)
    assert h.last_text(w.asker) == (
        f"No answer yet to your question on Flood risk ({SIRENS_SHORT}), so it was also sent "
        "to officials in Torino."
    )
    await tick(h, hours=1)
    assert h.last_text(w.asker) == (
        f"No answer yet to your question on Flood risk ({LEVEES_SHORT}), so it was also sent "
        "to officials in Madrid."
    )

    await tick(h, hours=121)  # 24 working hours in Torino and Madrid, over a weekend
    told = h.texts(w.asker)[-2:]
    assert told == [
        f"No answer yet to your question on Flood risk ({short}). The organisers have been "
        "asked to find someone who can help."
        for short in (SIRENS_SHORT, LEVEES_SHORT)
    ]
    notices = h.texts(w.organiser)[-2:]
    assert notices == [
        f"<b>Unanswered for 1 week</b>\nQuestion #{q.id} on Flood risk ({short}) from "
        "Amina &lt;Ben&gt; &amp; Salah, Head of civil protection, Gabès has no answer yet."
        for q, short in ((sirens, SIRENS_SHORT), (levees, LEVEES_SHORT))
    ]

    await h.press(w.organiser, "Route to a city")  # the newest notice: the levees question
    shown = h.last_text(w.organiser)
    assert shown.startswith(
        f"Question #{levees.id} on Flood risk ({LEVEES_SHORT}): choose the city to send it to."
    )
    # The cities it went to, with their record on the topic: asked twice, answered neither.
    assert "\nNice: answered 0 of 2 similar questions" in shown.replace("\u2068", "").replace(
        "\u2069", ""
    )
    await h.press(w.organiser, "Kasserine")
    assert h.last_text(w.asker) == (
        f"An organiser sent your question on Flood risk ({LEVEES_SHORT}) to officials in Kasserine."
    )

    await h.press(w.madrid, "Answer")  # Madrid's newest question: the levees one (round 2)
    await h.send(w.madrid, "Sheet piles and mobile pumps.")
    await h.press(w.asker, "Mark resolved")
    await h.press(w.asker, "Thank the helpers")
    assert h.last_text(w.madrid) == (
        f"🙏 Amina &lt;Ben&gt; &amp; Salah, Gabès marked their question on Flood risk "
        f"({LEVEES_SHORT}) resolved and thanks you for your help."
    )


def test_a_question_is_named_by_its_first_words_and_a_wait_in_words() -> None:
    """The quote: cut on a word, escaped after the cut, one line, isolated (a person's own bidi
    controls dropped so none can end the isolate); bare media by its label. The wait: in the
    largest whole unit, in the reader's language and plural forms."""
    from datetime import timedelta

    from bot.i18n import format_duration, use_locale
    from handlers.exchange_render import question_words

    assert question_words("x" * 55 + " & then more words than fit", "text") == (
        "“\u2068" + "x" * 55 + " &amp;…\u2069”"
    )
    assert question_words("a" * 100, "text") == "“\u2068" + "a" * 60 + "…\u2069”"
    assert question_words("Two\nlines, \u2069\u202eturned?", "text") == (
        "“\u2068Two lines, turned?\u2069”"
    )
    assert question_words(None, "photo") == "[photo]"
    assert question_words(" \n", "document") == "[document]"
    with use_locale("fr"):
        assert question_words("Digues ?", "text") == "«\u00a0\u2068Digues ?\u2069\u00a0»"

    waits = [timedelta(minutes=45), timedelta(minutes=61), timedelta(hours=3), timedelta(hours=146)]
    assert [format_duration(t) for t in waits] == ["45 minutes", "1 hour", "3 hours", "6 days"]
    with use_locale("ar"):
        assert format_duration(timedelta(days=2)) == "يومان"  # the dual form
        assert format_duration(timedelta(hours=3)) == "3 ساعات"


async def test_a_removed_askers_question_is_withdrawn_not_nudged_escalated_or_answered(
    harness: Harness,
) -> None:
    """An organiser removes an official whose question is still open ("They will get no more
    questions and can no longer use the bot"): the question is withdrawn as when a person
    erases their data. Its recipients are told; nobody is nudged or escalated to; the removed
    person hears nothing more; an Answer pressed on it says it is closed."""
    h = harness
    w = await world(h)
    await ask(h, w.asker)
    (delivered,) = question_calls(h, w.potenza)
    answer_data = next(d for row in delivered.buttons for t, d in row if t == "Answer")
    (asker,) = await rows(h, Official, Official.tg_user_id == w.asker.id)
    await h.callback(w.organiser, f"cities:remove:{asker.id}")
    await h.press(w.organiser, "Yes, remove")
    await drain(h)
    (question,) = await rows(h, Question)
    assert question.status == QuestionStatus.WITHDRAWN
    assert {r.status for r in await rows(h, Routing)} == {RoutingStatus.CLOSED}
    for recipient in (w.nice1, w.potenza, w.madrid):
        assert "was withdrawn: the person who asked it has left" in h.last_text(recipient)
    h.tg.clear()

    for _ in range(8):  # four days: past the nudge and the escalation delays
        h.deps.clock.advance(hours=12)
        await follow_up(h.app.bot, h.deps)
        await drain(h)

    assert await nudges(h) == []
    assert question_calls(h, w.torino) == []
    assert {r.round for r in await rows(h, Routing)} == {1}
    assert h.texts(w.asker) == []
    await h.callback(w.potenza, answer_data)
    assert "closed" in h.tg.alerts()[-1]


async def test_a_nudge_held_by_quiet_hours_is_not_sent_for_a_question_closed_meanwhile(
    harness: Harness,
) -> None:
    """Claire keeps quiet 08:00–20:00 (Nice time). Her nudge is written on Tuesday morning and
    held until 20:00; at noon Madrid answers and the asker marks the question resolved. At 20:00
    she must not be told a colleague is waiting for her answer on a closed question."""
    h = harness
    w = await world(h)
    await h.command(w.nice1, "/quiet 08:00-20:00")
    await ask(h, w.asker)  # Monday 2 March, 10:00 in Nice
    h.deps.clock.set(datetime(2026, 3, 3, 10, 0, tzinfo=UTC))  # Tuesday, nudges due
    await follow_up(h.app.bot, h.deps)
    await drain(h)
    assert any("waiting for your answer" in t for t in h.texts(w.madrid))
    assert not any("waiting for your answer" in t for t in h.texts(w.nice1))  # held

    h.deps.clock.set(datetime(2026, 3, 3, 11, 0, tzinfo=UTC))
    await h.press(w.madrid, "Answer")
    await h.send(w.madrid, "Batteries in every siren.")
    await h.press(w.asker, "Mark resolved")
    assert "is marked resolved" in h.last_text(w.asker)

    h.deps.clock.set(datetime(2026, 3, 3, 18, 59, tzinfo=UTC))  # the job runs every minute
    await follow_up(h.app.bot, h.deps)
    h.deps.clock.set(datetime(2026, 3, 3, 19, 1, tzinfo=UTC))  # 20:01 in Nice
    await drain(h)
    assert not any("waiting for your answer" in t for t in h.texts(w.nice1))
    (held,) = await rows(h, Delivery, Delivery.source == "nudge", Delivery.chat_id == w.nice1.id)
    assert held.status == DeliveryStatus.CANCELLED
