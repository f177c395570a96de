"""Cities' working calendars: nudges and escalations count the recipient city's working hours,
the weekly digest moves off a local holiday, the asker is told when to expect an answer, and
a city's overrides in the seed file win over its country's defaults. A controlled clock
throughout; both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot import city_calendar
from bot.clock import FakeClock
from bot.db.models import Delivery, Question
from bot.services import digest, seed
from bot.services.errors import InvalidInput
from handlers.digest import digest_notice
from handlers.followups import follow_up
from tests.factories import make_city, make_topic
from tests.harness.updates import Harness, TgUser
from tests.test_digest import ask as write_question
from tests.test_digest import opt_in
from tests.test_exchange import ask, person, question_calls, rows, world


async def nudged(h: Harness) -> set[int]:
    return {d.chat_id for d in await rows(h, Delivery, Delivery.source == "nudge")}


async def nudge_count(h: Harness) -> int:
    return len(await rows(h, Delivery, Delivery.source == "nudge"))


async def at(h: Harness, when: datetime) -> None:
    h.deps.clock.set(when)  # type: ignore[attr-defined]
    await follow_up(h.app.bot, h.deps)


async def test_a_friday_afternoon_question_is_nudged_on_monday_afternoon(harness: Harness) -> None:
    """Friday 14:00 in Potenza: three working hours that day, five on Monday; never Saturday."""
    h = harness
    h.deps.clock.set(datetime(2026, 3, 6, 13, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    w = await world(h)
    await ask(h, w.asker)
    assert h.last_text(w.asker) == "Sent to officials in Nice, Potenza, and Madrid."
    await at(h, datetime(2026, 3, 7, 14, 0, tzinfo=UTC))  # Saturday: 24 hours later
    await at(h, datetime(2026, 3, 9, 12, 59, tzinfo=UTC))
    assert await nudged(h) == set()
    await at(h, datetime(2026, 3, 9, 13, 0, tzinfo=UTC))  # Monday 14:00 in Rome
    assert w.potenza.id in await nudged(h)


async def gabes_world(h: Harness, **seeded: object) -> tuple[TgUser, TgUser]:
    """An asker in Potenza, and one official in Gabès who covers the topic."""
    gabes = await make_city(h.deps.db, "Gabès")
    potenza = await make_city(h.deps.db, "Potenza", "IT", "Europe/Rome", ["it", "en"])
    flood = await make_topic(h.deps.db, "flood-risk", names={"en": "Flood risk"})
    asker = await person(h, potenza, "Giulia Rossi", [flood])
    return asker, await person(h, gabes, "Hedi Trabelsi", [flood])


async def test_a_question_to_gabes_on_a_tunisian_holiday_waits(harness: Harness) -> None:
    """Martyrs' Day (9 April): the asker is told, and the day does not count."""
    h = harness
    h.deps.clock.set(datetime(2026, 4, 9, 9, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    asker, gabes = await gabes_world(h)
    await ask(h, asker)
    assert h.last_text(asker) == (
        "Sent to officials in Gabès.\n\n"
        "Gabès is on holiday today, Martyrs&#x27; Day: "
        "expect an answer from tomorrow."
    )
    assert len(question_calls(h, gabes)) == 1  # delivered at once; it simply waits
    await at(h, datetime(2026, 4, 9, 23, 0, tzinfo=UTC))
    await at(h, datetime(2026, 4, 10, 15, 59, tzinfo=UTC))
    assert await nudged(h) == set()
    await at(h, datetime(2026, 4, 10, 16, 0, tzinfo=UTC))  # Friday 17:00: its 8 hours
    assert await nudged(h) == {gabes.id}


async def test_the_holiday_is_named_in_the_askers_language(harness: Harness) -> None:
    h = harness
    h.deps.clock.set(datetime(2026, 4, 9, 9, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    _asker, _gabes = await gabes_world(h)
    rosso = await make_city(h.deps.db, "Rosso", "MR", "Africa/Nouakchott", ["ar", "fr"])
    async with h.deps.db.read() as s:
        from bot.db import catalogue

        flood = (await catalogue.topics_by_slug(s))["flood-risk"]
    arabic = await person(h, rosso, "Mariem Mint Ahmed", [flood], locale="ar")
    await h.command(arabic, "/ask")
    await h.press(arabic, "Flood risk")
    await h.send(arabic, "How do you keep flood sirens working during power cuts?")
    await h.press(arabic, "إرسال")
    assert h.last_text(arabic).endswith(
        "اليوم عطلة رسمية في Gabès، عيد الشهداء: يمكنكم توقّع إجابة ابتداءً من الغد."
    )


async def test_the_asker_hears_of_the_weekend_and_of_hours_in_their_own_time(
    harness: Harness,
) -> None:
    h = harness
    h.deps.clock.set(datetime(2026, 3, 7, 10, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    asker, _gabes = await gabes_world(h)
    await ask(h, asker)
    assert h.last_text(asker).endswith(
        "It is the weekend in Gabès: expect an answer from Monday 9 March."
    )
    h.deps.clock.set(datetime(2026, 3, 9, 6, 30, tzinfo=UTC))  # type: ignore[attr-defined]
    await ask(h, asker, text="And how do you test the sirens every month?")
    assert h.last_text(asker).endswith(
        "It is outside working hours in Gabès: expect an answer from 09:00, your time."
    )


async def test_a_dst_change_and_a_holiday_in_the_same_week(harness: Harness) -> None:
    """Easter 2027: Good Friday (Madrid), Easter Monday (Potenza, Nice) and the clocks going
    forward on the Sunday between. Asked Thursday 15:00 (CET), the 24 working hours end on
    Wednesday at 15:00 CEST in every city, 13:00 UTC; Madrid's nudge, after its Good Friday,
    comes on Monday at 15:00 CEST."""
    h = harness
    h.deps.clock.set(datetime(2027, 3, 25, 14, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    w = await world(h)
    await ask(h, w.asker)
    await at(h, datetime(2027, 3, 26, 14, 0, tzinfo=UTC))  # Friday 15:00: Potenza works
    assert w.potenza.id in await nudged(h) and w.madrid.id not in await nudged(h)
    await at(h, datetime(2027, 3, 29, 12, 59, tzinfo=UTC))
    assert w.madrid.id not in await nudged(h)
    await at(h, datetime(2027, 3, 29, 13, 0, tzinfo=UTC))
    assert w.madrid.id in await nudged(h)

    await at(h, datetime(2027, 3, 31, 12, 59, tzinfo=UTC))
    assert question_calls(h, w.torino) == []
    await at(h, datetime(2027, 3, 31, 13, 0, tzinfo=UTC))
    assert len(question_calls(h, w.torino)) == 1
    (q,) = await rows(h, Question)
    assert q.round == 2


async def test_a_weekly_digest_due_on_a_local_holiday_moves_to_the_next_working_morning(
    harness: Harness,
) -> None:
    """Easter Monday 2026 in Potenza: the Monday 08:00 digest comes on Tuesday at 08:00; in
    Madrid, where that Monday is worked, it comes on Monday."""
    h = harness
    db = h.deps.db
    clock: FakeClock = h.deps.clock  # type: ignore[assignment]
    potenza = await make_city(db, "Potenza", "IT", "Europe/Rome", ["it", "en"])
    madrid = await make_city(db, "Madrid", "ES", "Europe/Madrid", ["es", "en"])
    kasserine = await make_city(db, "Kasserine")
    flood = await make_topic(db, "flood-risk")
    from tests.factories import make_official

    italian = await make_official(db, potenza, topics=[flood])
    spanish = await make_official(db, madrid, topics=[flood])
    asker = await make_official(db, kasserine, topics=[flood])
    for official in (italian, spanish):
        await opt_in(db, official)
    await write_question(
        db, asker, flood.id, "Sandbags?", created_at=datetime(2026, 4, 1, tzinfo=UTC)
    )

    clock.set(datetime(2026, 4, 6, 6, 0, tzinfo=UTC))  # Monday 08:00 CEST
    report = await digest.run_digests(h.deps, clock.now(), digest_notice)
    assert report.sent == [spanish.id]
    clock.set(datetime(2026, 4, 7, 5, 59, tzinfo=UTC))
    assert (await digest.run_digests(h.deps, clock.now(), digest_notice)).sent == []
    clock.set(datetime(2026, 4, 7, 6, 0, tzinfo=UTC))  # Tuesday 08:00
    assert (await digest.run_digests(h.deps, clock.now(), digest_notice)).sent == [italian.id]
    clock.advance(hours=1)
    assert (await digest.run_digests(h.deps, clock.now(), digest_notice)).sent == []


SEED = {
    "city": [
        {
            "name": "Gabès",
            "country": "TN",
            "timezone": "Africa/Tunis",
            "languages": ["ar", "fr", "en"],
            "calendar": {
                "hours": "08:00-16:00",
                "holidays": {"2026-03-04": "Festival of the Oasis"},
                "not_holidays": ["2026-04-09"],
            },
        },
        {"name": "Potenza", "country": "IT", "timezone": "Europe/Rome", "languages": ["it"]},
    ],
    "group": [{"slug": "drr", "names": {"en": "DRR"}}],
    "topic": [{"slug": "flood-risk", "group": "drr", "names": {"en": "Flood risk"}}],
}


async def test_a_city_override_in_the_seed_file_wins_over_the_country(harness: Harness) -> None:
    h = harness
    await seed.seed(h.deps, SEED)
    async with h.deps.db.transaction() as s:
        from bot.db import catalogue

        gabes = await catalogue.city_by_name(s, "Gabès")
        potenza = await catalogue.city_by_name(s, "Potenza")
        flood = (await catalogue.topics_by_slug(s))["flood-risk"]
    asker = await person(h, potenza, "Giulia Rossi", [flood])
    official = await person(h, gabes, "Hedi Trabelsi", [flood])

    h.deps.clock.set(datetime(2026, 3, 4, 9, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    await ask(h, asker)
    assert h.last_text(asker).endswith(
        "Gabès is on holiday today, Festival of the Oasis: expect an answer from tomorrow."
    )
    # Its hours are 08:00-16:00: the 8 hours end on Thursday at 16:00 local.
    await at(h, datetime(2026, 3, 5, 14, 59, tzinfo=UTC))
    assert await nudge_count(h) == 0
    await at(h, datetime(2026, 3, 5, 15, 0, tzinfo=UTC))
    assert await nudged(h) == {official.id}

    # Martyrs' Day is worked in Gabès: no wait told, and the day counts.
    h.deps.clock.set(datetime(2026, 4, 9, 7, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    await ask(h, asker, text="And how do you test the sirens every month?")
    assert h.last_text(asker) == "Sent to officials in Gabès."
    await at(h, datetime(2026, 4, 9, 14, 59, tzinfo=UTC))
    assert await nudge_count(h) == 1
    await at(h, datetime(2026, 4, 9, 15, 0, tzinfo=UTC))
    assert await nudge_count(h) == 2


@pytest.mark.parametrize(
    ("calendar", "says"),
    [
        ({"hours": "17:00-09:00"}, "the start must come before the end"),
        ({"weekend": ["friday", "someday"]}, "weekend days are mon…sun"),
        ({"holidays": {"4 March": "Oasis"}}, "holiday dates are YYYY-MM-DD"),
        ({"subdivision": "XX"}, "unknown subdivision 'XX' of TN"),
        ({"summer": True}, "unknown calendar keys ['summer']"),
    ],
)
def test_a_seed_file_with_a_bad_calendar_is_refused_with_the_reason(
    calendar: dict[str, object], says: str
) -> None:
    data = {"city": [SEED["city"][0] | {"calendar": calendar}]}
    with pytest.raises(InvalidInput) as caught:
        seed.validate_seed(data)
    assert says in str(caught.value.details["reason"])
    assert "Gabès" in str(caught.value.details["reason"])


def test_holiday_names_in_the_readers_language_where_the_package_has_it() -> None:
    gabes = city_calendar.build("TN", "Africa/Tunis")
    martyrs = date(2026, 4, 9)
    assert city_calendar.holiday_name(gabes, martyrs, "ar") == "عيد الشهداء"
    assert city_calendar.holiday_name(gabes, martyrs, "fr") == "Martyrs' Day"  # English then
    potenza = city_calendar.build("IT", "Europe/Rome", {"subdivision": "PZ"})
    assert city_calendar.holiday_name(potenza, date(2026, 5, 30), "it") == "San Gerardo di Potenza"
    assert city_calendar.holiday_name(potenza, date(2026, 5, 29), "it") is None
    summer = city_calendar.build(
        "TN", "Africa/Tunis", {"season": [{"from": "07-01", "to": "08-31", "hours": "07:30-13:30"}]}
    )
    start = datetime(2026, 7, 1, 6, 30, tzinfo=UTC)  # Wednesday 07:30 in Tunis
    assert city_calendar.add_working_hours(summer, start, 8) == start + timedelta(days=1, hours=2)
    assert city_calendar.working_seconds_between(summer, start, start + timedelta(days=1)) == (
        6 * 3600
    )


async def test_time_to_first_answer_in_working_hours_in_stats_chart_and_export(
    harness: Harness,
) -> None:
    """Asked on Friday at 15:00 in Potenza, answered there on Monday at 10:00: 67 hours on the
    clock, 3 of them working hours (Friday 15-17, Monday 9-10)."""
    import struct

    from bot import charts
    from bot.services import reports
    from tests.conftest import ADMIN_TG_ID

    h = harness
    h.deps.clock.set(datetime(2026, 3, 6, 14, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    w = await world(h)
    await ask(h, w.asker)
    h.deps.clock.set(datetime(2026, 3, 9, 9, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    await h.press(w.potenza, "Answer")
    await h.send(w.potenza, "Sirens on batteries, tested monthly.")

    s = await reports.stats(h.deps, ADMIN_TG_ID, None)
    assert [(t.city, t.country, t.median_hours, t.answered) for t in s.answer_times] == [
        ("Potenza", "IT", 3.0, 1)
    ]
    from bot.cli_reports import render_stats

    assert (
        "median working hours to a first answer, per city (its own calendar):\n"
        "  Potenza (IT): 3.0 h over 1 answered\n"
    ) in render_stats(s)
    await h.command(w.organiser, "/stats")
    await h.press(w.organiser, "Everything")
    shown = [t for t in h.texts(w.organiser) if "Statistics: everything" in t][-1]
    assert (
        "<b>Time to first answer, in each city's working hours (median)</b>\n"
        "Potenza (IT): 3 h, 1 question answered"
    ) in shown
    photo = h.tg.calls[-1]
    assert photo.method == "sendPhoto"

    rows_out = [r async for b in reports.export_rows(h.deps, reports.ExportFilter()) for r in b]
    col = reports.COLUMNS.index
    (answer,) = [r for r in rows_out if r[col("kind")] == "answer"]
    assert answer[col("response_seconds")] == 67 * 3600
    assert answer[col("response_working_seconds")] == 3 * 3600
    assert answer[col("answerer_city")] == "Potenza"

    png = charts.weekly_chart(
        [],
        {},
        {},
        title="t",
        questions_label="q",
        answers_label="a",
        week_label="w",
        answer_hours=[("Potenza", 3.0), ("Nice", 5.5)],
        answer_hours_label="h",
    )
    assert struct.unpack(">II", png[16:24]) == (charts.WIDTH_PX, charts.HEIGHT_PX * 3 // 2)


async def test_a_working_days_only_reminder_waits_for_each_recipients_next_working_morning(
    harness: Harness,
) -> None:
    """Scheduled for Easter Monday 2026 at 09:00 (Rome), working days only: Madrid works that
    day and gets it then; Potenza gets it on Tuesday at 09:00. Chosen in /remind by button."""
    from bot.db.models import Reminder
    from bot.services import reminder_runs
    from handlers.reminder_texts import reminder_notice

    h = harness
    clock: FakeClock = h.deps.clock  # type: ignore[assignment]
    clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=UTC))
    w = await world(h)
    await h.command(w.organiser, "/remind")
    await h.send(w.organiser, "Send the flood figures, please.")
    await h.press(w.organiser, "Everyone")
    await h.press(w.organiser, "Once")
    await h.send(w.organiser, "2026-04-06 07:00")  # the organiser is in Rosso (UTC)
    await h.press(w.organiser, "No event time")
    await h.press(w.organiser, "Working days only")
    assert "Working days only: on a recipient's weekend or public holiday" in h.last_text(
        w.organiser
    )
    await h.press(w.organiser, "Schedule")
    (reminder,) = await rows(h, Reminder)
    assert reminder.working_days

    clock.set(datetime(2026, 4, 6, 7, 0, tzinfo=UTC))
    await reminder_runs.run_due(h.deps, clock.now(), reminder_notice)
    by_chat = {d.chat_id: d for d in await rows(h, Delivery, Delivery.source == "reminder")}
    assert by_chat[w.madrid.id].next_attempt_at == clock.now()
    assert by_chat[w.potenza.id].next_attempt_at == datetime(2026, 4, 7, 7, 0, tzinfo=UTC)
    assert by_chat[w.asker.id].next_attempt_at == clock.now()  # Gabès works on Easter Monday
