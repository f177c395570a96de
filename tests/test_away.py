"""/away: days by buttons or typed, a deputy chosen by button; while away their questions go to
the deputy (or the city's other officials), nudges and digests pause, an asker writing into a
thread with them is told; one summary on return; an organiser sets it for someone; erasure.
A controlled clock (Monday 2 March 2026, 09:00 UTC, to start); both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.db.models import Absence, Delivery, Official
from bot.services import digest
from handlers.away import returns_job
from handlers.digest import digest_notice
from handlers.followups import follow_up
from tests.factories import make_city
from tests.harness.outbox import drain
from tests.harness.updates import Harness, TgUser
from tests.test_digest import opt_in
from tests.test_exchange import World, ask, person, question_calls, rows, world


async def with_deputy(h: Harness) -> tuple[World, TgUser]:
    w = await world(h)
    async with h.deps.db.read() as s:
        potenza_city = (
            await s.scalars(select(Official.city_id).where(Official.tg_user_id == w.potenza.id))
        ).one()
    from bot.db.models import City

    async with h.deps.db.read() as s:
        city = await s.get(City, potenza_city)
    # A colleague in Potenza who does not cover the topic: only a deputy would get it.
    deputy = await person(h, city, "Paola Verdi", [w.other_topic])
    return w, deputy


async def go_away(h: Harness, user: TgUser, until_label: str, deputy: str) -> None:
    await h.command(user, "/away")
    await h.press(user, "Today")
    await h.press(user, until_label)
    await h.press(user, deputy)


async def test_away_with_a_deputy_a_thread_reply_and_the_return_summary(harness: Harness) -> None:
    h = harness
    w, deputy = await with_deputy(h)
    await ask(h, w.asker)
    await h.press(w.potenza, "Answer")
    await h.send(w.potenza, "Sirens on batteries, tested monthly.")
    relayed_answer = h.tg.last(w.asker.id)
    assert "Sirens on batteries" in relayed_answer.text

    h.deps.clock.advance(hours=1)  # type: ignore[attr-defined]
    await h.command(w.potenza, "/away")
    assert h.last_text(w.potenza) == (
        "From which day will you be away? Choose, or type a date like 20/04/2026."
    )
    await h.press(w.potenza, "Today")
    assert h.last_text(w.potenza).startswith("Away from Monday 2 March. What is the last day")
    await h.press(w.potenza, "Sun 8 Mar")
    assert "Away from Monday 2 March to Sunday 8 March. Who answers" in h.last_text(w.potenza)
    await h.press(w.potenza, "Paola Verdi")
    assert h.last_text(w.potenza) == (
        "You are away from Monday 2 March to Sunday 8 March. Your questions go to Paola Verdi "
        "meanwhile; reminders and the weekly digest pause."
    )
    await h.command(w.potenza, "/privacy")  # what is stored about them says so too
    assert "\nYou are away from Monday 2 March to Sunday 8 March." in h.last_text(w.potenza)

    # A new question: Paola gets it for Marco; Marco does not.
    await ask(h, w.asker, text="How often do you test the sirens in winter?")
    assert len(question_calls(h, deputy)) == 1
    assert len(question_calls(h, w.potenza)) == 1  # the first question only
    # The asker writes into the thread with Marco: relayed, and told who has it now.
    await h.press(w.asker, "Reply")
    await h.send(w.asker, "Which batteries do you use?")
    assert h.last_text(w.asker) == (
        "Sent to Marco Rossi, Potenza.\n\nMarco Rossi is away until Sunday 8 March: Paola Verdi "
        "has their questions meanwhile. Your message waits for their return."
    )
    # The same with a Telegram reply to Marco's answer (its own lookup says he is away).
    await h.send(w.asker, "And how long do they last?", reply_to=relayed_answer.message_id)
    assert h.last_text(w.asker) == (
        "Sent to Marco Rossi, Potenza.\n\nMarco Rossi is away until Sunday 8 March: Paola Verdi "
        "has their questions meanwhile. Your message waits for their return."
    )
    assert "And how long do they last?" in h.tg.last(w.potenza.id).text
    # Nudges pause: Nice and Madrid are reminded of the second question, Marco of nothing.
    h.deps.clock.advance(hours=30)  # type: ignore[attr-defined]
    await follow_up(h.app.bot, h.deps)
    nudged = {d.chat_id for d in await rows(h, Delivery, Delivery.source == "nudge")}
    assert deputy.id in nudged and w.potenza.id not in nudged

    await returns_job(h.deps)
    assert await rows(h, Delivery, Delivery.source == "notice") == []
    h.deps.clock.set(datetime(2026, 3, 8, 23, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    await returns_job(h.deps)
    await returns_job(h.deps)  # once only
    await drain(h)
    assert h.last_text(w.potenza) == (
        "👋 Welcome back. While you were away, from Monday 2 March to Sunday 8 March:\n"
        "1 question on your topics reached Potenza;\n"
        "0 were answered from Potenza;\n"
        "1 is still waiting for an answer.\n"
        "Paola Verdi stood in for you."
    )
    assert len(await rows(h, Delivery, Delivery.source == "notice")) == 1


async def test_typed_days_no_deputy_and_back_early(harness: Harness) -> None:
    """Without a deputy the city's other officials on the topic get the questions."""
    h = harness
    w = await world(h)
    await h.command(w.nice1, "/away")
    await h.send(w.nice1, "31/02/2026")
    assert h.last_text(w.nice1) == "Please write the date like 2026-04-20 or 20/04/2026."
    await h.send(w.nice1, "01.03.2026")
    assert h.last_text(w.nice1) == (
        "That day has already passed. Please choose today or a later day."
    )
    await h.send(w.nice1, "2026-03-02")
    await h.send(w.nice1, "01/03/2026")
    assert h.last_text(w.nice1) == (
        "The last day comes before the first day. Please choose a later day."
    )
    await h.send(w.nice1, "6/3")
    await h.send(w.nice1, "Luc")
    assert h.last_text(w.nice1) == "Please use the buttons above, or send /cancel to stop."
    await h.press(w.nice1, "No one")
    assert h.last_text(w.nice1).startswith(
        "You are away from Monday 2 March to Friday 6 March. Your questions go to your city's "
        "other officials on your topics meanwhile"
    )
    await ask(h, w.asker)
    assert question_calls(h, w.nice1) == [] and len(question_calls(h, w.nice2)) == 1

    h.deps.clock.advance(hours=2)  # type: ignore[attr-defined]
    await h.command(w.nice1, "/away")
    assert h.last_text(w.nice1).startswith("You are away from Monday 2 March to Friday 6 March.")
    await h.press(w.nice1, "I am back")
    assert h.last_text(w.nice1) == "Welcome back: questions reach you again."
    await ask(h, w.asker, text="How often do you test the sirens in winter?")
    assert len(question_calls(h, w.nice1)) == 1
    await returns_job(h.deps)
    await drain(h)
    assert h.last_text(w.nice1).startswith(
        "👋 Welcome back. While you were away, from Monday 2 March to Monday 2 March:\n"
        "1 question on your topics reached Nice;"
    )


async def test_an_organiser_sets_it_for_someone_and_the_digest_pauses(harness: Harness) -> None:
    h = harness
    w = await world(h)
    async with h.deps.db.read() as s:
        madrid = (await s.scalars(select(Official).where(Official.tg_user_id == w.madrid.id))).one()
    await opt_in(h.deps.db, madrid)
    await h.command(w.organiser, "/away")
    await h.press(w.organiser, "For someone else")
    await h.press(w.organiser, "Madrid")
    await h.press(w.organiser, "Lucía Gómez")
    assert h.last_text(w.organiser).startswith("From which day will Lucía Gómez be away?")
    await h.press(w.organiser, "Today")
    await h.press(w.organiser, "Sun 22 Mar")
    await h.press(w.organiser, "No one")
    assert h.last_text(w.organiser) == (
        "Lucía Gómez is away from Monday 2 March to Sunday 22 March. Their questions go to "
        "their city's other officials on their topics meanwhile."
    )
    (absence,) = await rows(h, Absence)
    assert absence.official_id == madrid.id
    await ask(h, w.asker)
    assert question_calls(h, w.madrid) == []  # alone in Madrid on the topic: another city
    report = await digest.run_digests(h.deps, h.deps.clock.now(), digest_notice)
    assert madrid.id not in report.sent + report.empty + report.missed

    await h.command(w.potenza, "/away")  # an official cannot set it for others
    assert "For someone else" not in str(h.tg.last(w.potenza.id).buttons)


async def test_erasure_takes_away_the_absences_and_the_deputy(harness: Harness) -> None:
    h = harness
    w, deputy = await with_deputy(h)
    await go_away(h, w.potenza, "Sun 8 Mar", "Paola Verdi")
    (absence,) = await rows(h, Absence)
    assert absence.deputy_id is not None
    await h.command(deputy, "/deleteme")
    await h.press(deputy, "Yes")
    (absence,) = await rows(h, Absence)
    assert absence.deputy_id is None
    await h.command(w.potenza, "/deleteme")
    await h.press(w.potenza, "Yes")
    assert await rows(h, Absence) == []


async def test_another_city_s_official_cannot_be_a_deputy(harness: Harness) -> None:
    h = harness
    w = await world(h)
    other = await make_city(h.deps.db, "Kasserine")
    await person(h, other, "Hedi Trabelsi", [w.topic])
    await h.command(w.potenza, "/away")
    await h.press(w.potenza, "Today")
    await h.press(w.potenza, "Sun 8 Mar")
    assert "Hedi" not in str(h.tg.last(w.potenza.id).buttons)
    from handlers.people_buttons import AwayDeputy

    async with h.deps.db.read() as s:
        hedi = (await s.scalars(select(Official.id).where(Official.name == "Hedi Trabelsi"))).one()
    await h.callback(w.potenza, AwayDeputy(hedi).encode())
    assert h.tg.alerts()[-1] == (
        "That person cannot stand in for you: choose a colleague of your city with the buttons."
    )
    assert await rows(h, Absence) == []


async def test_routing_by_hand_skips_someone_away_but_reaches_their_deputy(
    harness: Harness,
) -> None:
    """An organiser routes a question to Potenza by hand while Marco is away: Paola has it."""
    from bot.db.models import Question
    from bot.services.routing import route_to_city

    h = harness
    w, deputy = await with_deputy(h)
    await go_away(h, w.potenza, "Sun 8 Mar", "Paola Verdi")
    asker_id = await official_id(h, w.asker)
    async with h.deps.db.transaction() as s:
        q = Question(
            asker_id=asker_id, topic_id=w.topic.id, text="Pumps?", created_at=h.deps.clock.now()
        )
        s.add(q)
        await s.flush()
        potenza_id = (
            await s.scalars(select(Official.city_id).where(Official.tg_user_id == w.potenza.id))
        ).one()
        decisions = await route_to_city(s, h.deps, q, potenza_id, "routed by hand")
    assert [[r.official_id for r in d.recipients] for d in decisions] == [
        [await official_id(h, deputy)]
    ]


async def official_id(h: Harness, user: TgUser) -> int:
    async with h.deps.db.read() as s:
        return (await s.scalars(select(Official.id).where(Official.tg_user_id == user.id))).one()


async def test_a_city_with_nobody_to_take_it_gives_its_place_to_the_next(harness: Harness) -> None:
    """Marco, Potenza's only official on the topic, is away without a deputy: nobody there can
    take the question, so the next city in the ranking gets Potenza's place and the round
    still reaches three cities."""
    h = harness
    w = await world(h)
    await ask(h, w.asker)
    assert h.last_text(w.asker) == "Sent to officials in Nice, Potenza, and Madrid."

    await go_away(h, w.potenza, "Sun 8 Mar", "No one")
    await ask(h, w.asker, text="How often do you test the sirens in winter?")
    assert len(question_calls(h, w.potenza)) == 1  # the first question only
    assert [len(question_calls(h, u)) for u in (w.nice1, w.madrid, w.torino)] == [2, 2, 1]
    assert h.last_text(w.asker) == "Sent to officials in Nice, Torino, and Madrid."


async def test_planning_a_later_absence_does_not_end_the_one_under_way(harness: Harness) -> None:
    """Marco is away 2–15 March with Paola standing in. On Thursday he changes the second week
    (9–15 March, no deputy). He is still away today: a new question must go to Paola, not him."""
    h = harness
    w, deputy = await with_deputy(h)
    await h.command(w.potenza, "/away")
    await h.press(w.potenza, "Today")
    await h.press(w.potenza, "Sun 15 Mar")
    await h.press(w.potenza, "Paola Verdi")
    h.deps.clock.set(datetime(2026, 3, 5, 9, 0, tzinfo=UTC))  # Thursday
    await h.command(w.potenza, "/away")
    await h.press(w.potenza, "Mon 9 Mar")
    await h.press(w.potenza, "Sun 15 Mar")
    await h.press(w.potenza, "No one")
    assert "from Monday 9 March to Sunday 15 March" in h.last_text(w.potenza)

    await ask(h, w.asker)
    assert question_calls(h, w.potenza) == []  # still away on Thursday 5 March
    assert len(question_calls(h, deputy)) == 1
