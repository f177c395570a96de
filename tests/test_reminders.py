"""Reminders: the /remind flow, recurrence across DST, the grace period after downtime,
pause/resume/delete, authorisation, and two processes claiming due runs once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.clock import FakeClock
from bot.db.engine import Database
from bot.db.models import (
    AuditLog,
    Delivery,
    DeliveryStatus,
    OfficialStatus,
    Reminder,
    ReminderStatus,
    Role,
)
from bot.runtime import Deps
from bot.services import (
    recurrence,
    reminder_audience,
    reminder_draft,
    reminder_list,
    reminder_runs,
)
from bot.services.errors import NotAllowed
from bot.services.reminder_runs import ReminderNotice
from bot.services.targeting import resolve_recipients
from handlers.reminder_texts import reminder_notice
from handlers.reminders import reminders_job
from tests.conftest import ADMIN_TG_ID
from tests.factories import make_city, make_official, make_topic, next_tg_id
from tests.harness.outbox import drain
from tests.harness.updates import PHOTO, STICKER, Harness, TgUser

ROME = "Europe/Rome"


def plain(text: str | None) -> str:
    """Babel puts a narrow no-break space before AM/PM; compare with ordinary spaces."""
    return (text or "").replace("\u202f", " ").replace("\xa0", " ")


async def network(h: Harness) -> dict[str, Any]:
    """An organiser in Potenza, officials in Nouakchott (French) and Gabès (English)."""
    db = h.deps.db
    potenza = await make_city(db, "Potenza", "IT", ROME, ["it", "en"])
    nouakchott = await make_city(db, "Tevragh Zeina", "MR", "Africa/Nouakchott", ["ar", "fr"])
    gabes = await make_city(db, "Gabès", "TN", "Africa/Tunis", ["ar", "fr", "en"])
    flood = await make_topic(
        db, "flood-risk", names={"en": "Flood risk", "fr": "Risque d'inondation"}
    )
    org_user = TgUser(next_tg_id(), "Chiara", "it")
    organiser = await make_official(
        db, potenza, tg_id=org_user.id, name="Chiara", role=Role.ORGANISER, locale="en"
    )
    mr = await make_official(db, nouakchott, name="Mohamed", locale="fr", topics=[flood])
    tn = await make_official(db, gabes, name="Amina", locale="en")
    return {
        "org_user": org_user,
        "organiser": organiser,
        "mr": mr,
        "tn": tn,
        "potenza": potenza,
        "nouakchott": nouakchott,
        "gabes": gabes,
        "flood": flood,
    }


async def add_reminder(
    db: Database,
    *,
    text: str | None = "Send the quarterly figures",
    run_at: datetime | None = None,
    rule: dict[str, Any] | None = None,
    timezone: str = ROME,
    target: dict[str, Any] | None = None,
    event_at: datetime | None = None,
    now: datetime | None = None,
    source: tuple[int, int] | None = None,
) -> int:
    now = now or FakeClock().now()
    next_run = run_at if rule is None else recurrence.next_after(rule, timezone, now)
    async with db.transaction() as s:
        r = Reminder(
            text=None if source else text,
            target=target or {},
            run_at=run_at,
            rule=rule,
            timezone=timezone,
            next_run_at=next_run,
            event_at=event_at,
            source_chat_id=source[0] if source else None,
            source_message_id=source[1] if source else None,
            status=ReminderStatus.ACTIVE,
            created_at=now,
        )
        s.add(r)
        await s.flush()
        return r.id


async def outbox(db: Database, **where: Any) -> list[Delivery]:
    async with db.transaction() as s:
        query = select(Delivery).order_by(Delivery.id)
        for key, value in where.items():
            query = query.where(getattr(Delivery, key) == value)
        return list((await s.scalars(query)).all())


async def reminder_row(db: Database, reminder_id: int) -> Reminder:
    async with db.transaction() as s:
        row = await s.get(Reminder, reminder_id)
        assert row is not None
        return row


async def audits(db: Database, action: str) -> list[AuditLog]:
    async with db.transaction() as s:
        return list(
            (
                await s.scalars(
                    select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
                )
            ).all()
        )


# ---- the /remind flow ------------------------------------------------------------------


async def test_remind_once_with_event_time_in_each_recipients_timezone(
    harness: Harness, clock: FakeClock
) -> None:
    h = harness
    n = await network(h)
    org = n["org_user"]
    await h.command(org, "/remind")
    assert "Send the reminder" in plain(h.last_text(org))
    await h.send(org, "Call with <b>Potenza</b> & partners")
    await h.press(org, "Everyone")
    await h.press(org, "Once")
    assert "Europe/Rome" in plain(h.last_text(org))
    await h.send(org, "next tuesday")
    assert "2026-12-01 10:00" in plain(h.last_text(org))
    await h.send(org, "2026-03-01 10:00")
    assert "already passed" in plain(h.last_text(org))
    await h.send(org, "2026-03-05 10:00")
    await h.press(org, "Add the event time")
    await h.send(org, "2026-03-10 15:00")
    confirm = plain(h.last_text(org))
    assert "First run: Mar 5, 2026, 10:00 AM (Europe/Rome)" in confirm
    assert "Event: Mar 10, 2026, 3:00 PM (Europe/Rome)" in confirm
    assert "every active official (now 3)" in confirm
    await h.press(org, "Schedule")
    assert "Reminder #1 is scheduled" in plain(h.last_text(org))

    row = await reminder_row(h.deps.db, 1)
    assert row.next_run_at == datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    assert row.event_at == datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
    assert row.text == "Call with &lt;b&gt;Potenza&lt;/b&gt; &amp; partners"

    clock.set(datetime(2026, 3, 5, 8, 59, tzinfo=UTC))
    await reminders_job(h.deps)
    assert await outbox(h.deps.db) == []

    clock.set(datetime(2026, 3, 5, 9, 0, 10, tzinfo=UTC))
    await reminders_job(h.deps)
    rows = {d.recipient_id: d for d in await outbox(h.deps.db)}
    assert set(rows) == {n["organiser"].id, n["mr"].id, n["tn"].id}
    # Nouakchott is UTC+0 and reads French; Gabès is UTC+1 and reads English.
    assert "10 mars 2026, 14:00" in (rows[n["mr"].id].text or "")
    assert "Mar 10, 2026, 3:00 PM" in plain(rows[n["tn"].id].text)
    assert "Call with &lt;b&gt;Potenza&lt;/b&gt; &amp; partners" in plain(rows[n["tn"].id].text)
    assert "late" not in plain(rows[n["tn"].id].text)
    assert all(
        d.source == "reminder" and d.reminder_id == 1 and d.method == "text" for d in rows.values()
    )
    assert rows[n["mr"].id].dedupe_key == f"r:1:20260305T090000Z:{n['mr'].id}"
    assert (await reminder_row(h.deps.db, 1)).status == ReminderStatus.DONE

    await reminders_job(h.deps)
    assert len(await outbox(h.deps.db)) == 3


async def test_remind_weekly_by_topic_and_a_copied_photo(
    harness: Harness, clock: FakeClock
) -> None:
    h = harness
    n = await network(h)
    org = n["org_user"]
    await h.command(org, "/remind")
    photo = await h.send(org, None, photo=PHOTO, caption="Flood map")
    await h.press(org, "By topic")
    await h.press(org, "Done")
    assert "Choose at least one." in h.tg.alerts()
    await h.press(org, "Flood risk")
    await h.press(org, "Done")
    await h.press(org, "Every week")
    await h.press(org, "Tuesday")
    await h.send(org, "25:00")
    assert "like 10:00" in plain(h.last_text(org))
    await h.send(org, "10:00")
    await h.press(org, "No event time")
    confirm = plain(h.last_text(org))
    assert "every week on Tuesday at 10:00 AM (Europe/Rome)" in confirm
    assert "officials working on Flood risk (now 1)" in confirm
    assert "First run: Mar 3, 2026, 10:00 AM" in confirm
    await h.press(org, "Schedule")

    row = await reminder_row(h.deps.db, 1)
    assert row.rule is not None and row.rule["rrule"].startswith("FREQ=WEEKLY;BYDAY=TU")
    assert row.source_message_id == photo["message_id"] and row.text is None

    clock.set(datetime(2026, 3, 3, 9, 0, tzinfo=UTC))
    await reminders_job(h.deps)
    rows = await outbox(h.deps.db)
    assert [(d.recipient_id, d.method, d.message_id) for d in rows] == [
        (n["mr"].id, "copy", photo["message_id"])
    ]
    assert (await reminder_row(h.deps.db, 1)).next_run_at == datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


async def test_remind_first_monday_of_the_month(harness: Harness, clock: FakeClock) -> None:
    h = harness
    n = await network(h)
    org = n["org_user"]
    await h.command(org, "/remind")
    await h.send(org, "Monthly call")
    await h.press(org, "By country")
    await h.press(org, "Tunisia")
    await h.press(org, "Mauritania")
    await h.press(org, "Tunisia")  # toggled off again
    await h.press(org, "Done")
    await h.press(org, "First weekday of each month")
    await h.press(org, "Monday")
    await h.send(org, "09:30")
    await h.press(org, "No event time")
    assert "the first Monday of each month at 9:30 AM" in plain(h.last_text(org))
    assert "officials in Mauritania (now 1)" in plain(h.last_text(org))
    await h.press(org, "Schedule")
    row = await reminder_row(h.deps.db, 1)
    # 2 March 2026 is the first Monday, but 9:30 in Rome has passed at 10:00 local.
    assert row.next_run_at == datetime(2026, 4, 6, 7, 30, tzinfo=UTC)  # CEST by then
    assert row.target == {"countries": ["MR"]}


async def test_remind_bad_input_and_cancel(harness: Harness) -> None:
    h = harness
    n = await network(h)
    org = n["org_user"]
    await h.command(org, "/remind")
    await h.send(org, "x" * 5000)
    assert "at most 3500 characters" in plain(h.last_text(org))
    await h.send(org, None, sticker=STICKER)  # any message can be a reminder: it is copied
    await h.send(org, "hello")
    assert "use the buttons" in plain(h.last_text(org))
    await h.callback(org, "reminder:audience:planets")
    await h.callback(org, "reminder:toggle:999:0")
    assert h.tg.alerts()[-2:] == ["This button is no longer active."] * 2
    await h.press(org, "Cancel")
    assert "Nothing was scheduled" in plain(h.last_text(org))
    await h.callback(org, "reminder:when:once")  # a button of the cancelled draft
    assert h.tg.alerts()[-1] == "This button is no longer active."
    async with h.deps.db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(Reminder)) == 0


async def test_only_organisers_schedule_and_manage(harness: Harness) -> None:
    h = harness
    n = await network(h)
    reminder_id = await add_reminder(h.deps.db, run_at=datetime(2026, 3, 9, 9, tzinfo=UTC))
    official_user = TgUser(n["tn"].tg_user_id)
    await h.command(official_user, "/remind")
    assert h.last_text(official_user) == "You are not allowed to do that."
    await h.command(official_user, "/reminders")
    await h.callback(official_user, f"reminders:pause:{reminder_id}")
    assert (await reminder_row(h.deps.db, reminder_id)).status == ReminderStatus.ACTIVE
    assert len(await audits(h.deps.db, "access.denied")) == 3
    with pytest.raises(NotAllowed):
        await reminder_list.delete(h.deps, official_user.id, reminder_id)
    with pytest.raises(NotAllowed):
        await reminder_draft.start(h.deps, official_user.id)


# ---- /reminders ------------------------------------------------------------------------


async def test_pause_resume_delete(harness: Harness, clock: FakeClock) -> None:
    h = harness
    n = await network(h)
    org = n["org_user"]
    weekly = recurrence.make_rule("weekly", 1, 10, 0, clock.now(), ROME)
    rid = await add_reminder(h.deps.db, rule=weekly)
    once = await add_reminder(
        h.deps.db, text="Report due", run_at=datetime(2026, 3, 20, 9, tzinfo=UTC)
    )

    await h.command(org, "/reminders")
    listing = plain(h.last_text(org))
    assert "#1" in listing and "every week on Tuesday at 10:00 AM (Europe/Rome)" in listing
    assert "Next run: Mar 3, 2026, 10:00 AM" in listing
    assert listing.index("#1") < listing.index("#2")

    await h.press(org, f"Pause #{rid}")
    assert (await reminder_row(h.deps.db, rid)).status == ReminderStatus.PAUSED
    assert "Paused." in plain(h.last_text(org))

    clock.set(datetime(2026, 3, 3, 9, 0, tzinfo=UTC))
    await reminders_job(h.deps)
    assert await outbox(h.deps.db) == []

    clock.set(datetime(2026, 3, 4, 12, 0, tzinfo=UTC))
    await h.press(org, f"Resume #{rid}")
    row = await reminder_row(h.deps.db, rid)
    assert row.status == ReminderStatus.ACTIVE
    assert row.next_run_at == datetime(
        2026, 3, 10, 9, 0, tzinfo=UTC
    )  # the next Tuesday, not a catch-up
    await reminders_job(h.deps)
    assert await outbox(h.deps.db) == []

    clock.set(datetime(2026, 3, 20, 9, 0, tzinfo=UTC))
    await reminders_job(h.deps)
    assert len(await outbox(h.deps.db, reminder_id=once)) == 3
    clock.set(datetime(2026, 3, 24, 9, 0, tzinfo=UTC))
    await reminders_job(h.deps)  # the Tuesday run, pending in the outbox

    await h.command(org, "/reminders")
    await h.press(org, f"Delete #{rid}")
    assert "Delete reminder #1?" in plain(h.last_text(org))
    await h.press(org, "Yes, delete")
    assert (await reminder_row(h.deps.db, rid)).status == ReminderStatus.DELETED
    assert {d.status for d in await outbox(h.deps.db, reminder_id=rid)} == {
        DeliveryStatus.CANCELLED
    }
    assert {d.status for d in await outbox(h.deps.db, reminder_id=once)} == {DeliveryStatus.PENDING}
    assert "No reminders are scheduled" in plain(h.last_text(org))

    await h.callback(org, f"reminders:resume:{rid}")
    await h.callback(org, "reminders:pause:abc")
    await h.callback(org, "reminders:zz:1")
    assert h.tg.alerts()[-3:] == [
        "That no longer exists.",
        "This button is no longer active.",
        "This button is no longer active.",
    ]
    assert [a.action for a in await audits(h.deps.db, "reminder.deleted")] == ["reminder.deleted"]


async def test_resume_a_one_off_whose_time_passed_is_refused(
    harness: Harness, clock: FakeClock
) -> None:
    h = harness
    n = await network(h)
    rid = await add_reminder(h.deps.db, run_at=datetime(2026, 3, 3, 9, tzinfo=UTC))
    await reminder_list.pause(h.deps, n["org_user"].id, rid)
    clock.set(datetime(2026, 3, 4, 9, tzinfo=UTC))
    await h.callback(n["org_user"], f"reminders:resume:{rid}")
    assert "cannot be resumed" in h.tg.alerts()[-1]
    assert (await reminder_row(h.deps.db, rid)).status == ReminderStatus.PAUSED


# ---- recurrence and DST ----------------------------------------------------------------


async def test_weekly_reminder_stays_at_10_local_across_dst(
    db: Database, deps: Deps, clock: FakeClock
) -> None:
    city = await make_city(db, "Potenza", "IT", ROME)
    reader = await make_official(db, city, locale="it")
    clock.set(datetime(2026, 3, 20, 12, 0, tzinfo=UTC))
    rule = recurrence.make_rule("weekly", 1, 10, 0, clock.now(), ROME)
    rid = await add_reminder(db, rule=rule, now=clock.now())
    seen = []
    for _week in range(3):
        row = await reminder_row(db, rid)
        assert row.next_run_at is not None
        seen.append(row.next_run_at)
        clock.set(row.next_run_at)
        report = await reminder_runs.run_due(deps, clock.now(), reminder_notice)
        assert report.sent == [(rid, row.next_run_at)]
    # CET (UTC+1) before the change on 29 March, CEST (UTC+2) after: 10:00 in Rome each time.
    assert seen == [
        datetime(2026, 3, 24, 9, tzinfo=UTC),
        datetime(2026, 3, 31, 8, tzinfo=UTC),
        datetime(2026, 4, 7, 8, tzinfo=UTC),
    ]
    keys = [d.dedupe_key for d in await outbox(db)]
    assert keys == [
        f"r:{rid}:20260324T090000Z:{reader.id}",
        f"r:{rid}:20260331T080000Z:{reader.id}",
        f"r:{rid}:20260407T080000Z:{reader.id}",
    ]


def test_recurrence_in_the_repeated_and_the_missing_hour() -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    sunday_0230 = recurrence.make_rule("weekly", 6, 2, 30, start, ROME)
    # 02:30 does not exist on 29 March: one run, an hour later by the clock on the wall.
    spring = recurrence.between(
        sunday_0230, ROME, datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 3, 30, tzinfo=UTC)
    )
    assert spring == [datetime(2026, 3, 29, 1, 30, tzinfo=UTC)]
    # 02:30 happens twice on 25 October: still one run.
    autumn = recurrence.between(
        sunday_0230, ROME, datetime(2026, 10, 24, tzinfo=UTC), datetime(2026, 10, 26, tzinfo=UTC)
    )
    assert autumn == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]
    assert recurrence.next_after(sunday_0230, ROME, autumn[0]) == datetime(
        2026, 11, 1, 1, 30, tzinfo=UTC
    )
    last_friday = recurrence.make_rule("monthly", 4, 18, 0, start, "America/New_York", nth=-1)
    assert recurrence.next_after(last_friday, "America/New_York", start) == datetime(
        2026, 3, 27, 22, 0, tzinfo=UTC
    )


# ---- missed runs after downtime --------------------------------------------------------


async def test_missed_one_off_within_grace_is_sent_marked_late(
    harness: Harness, clock: FakeClock
) -> None:
    h = harness
    n = await network(h)
    due = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    rid = await add_reminder(h.deps.db, run_at=due)
    clock.set(due + timedelta(minutes=45))  # the bot comes back; grace is 60 minutes
    await reminders_job(h.deps)
    rows = {d.recipient_id: plain(d.text) for d in await outbox(h.deps.db)}
    assert len(rows) == 3
    assert (
        "Sent late: the bot was offline when this was due (Mar 3, 2026, 10:00 AM)"
        in rows[n["tn"].id]
    )
    assert "3 mars 2026, 09:00" in rows[n["mr"].id]  # Nouakchott time, French format
    [late] = await audits(h.deps.db, "reminder.late")
    assert late.target_id == rid and late.details == {"run_at": due.isoformat(), "late_minutes": 45}
    assert (await reminder_row(h.deps.db, rid)).status == ReminderStatus.DONE


async def test_missed_one_off_beyond_grace_is_skipped_and_shown(
    harness: Harness, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    org = (await network(h))["org_user"]
    due = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    rid = await add_reminder(h.deps.db, run_at=due)
    clock.set(due + timedelta(minutes=61))
    with caplog.at_level("WARNING"):
        await reminders_job(h.deps)
    assert await outbox(h.deps.db) == []
    assert f"reminder skipped reminder_id={rid}" in caplog.text
    [skipped] = await audits(h.deps.db, "reminder.skipped")
    assert skipped.target_id == rid and skipped.details["late_minutes"] == 61
    assert (await reminder_row(h.deps.db, rid)).status == ReminderStatus.DONE
    await h.command(org, "/reminders")
    listing = plain(h.last_text(org))
    assert "Not sent on Mar 3, 2026, 10:00 AM: the bot was offline for longer" in listing
    assert "Finished." in listing
    assert not any(f"#{rid}" in text for row in h.tg.last(org.id).buttons for text, _ in row)
    clock.advance(days=8)
    await h.command(org, "/reminders")
    assert "No reminders are scheduled" in h.last_text(org)


async def test_recurring_after_long_downtime_sends_latest_run_late_then_resumes(
    harness: Harness, clock: FakeClock
) -> None:
    h = harness
    n = await network(h)
    org = n["org_user"]
    rule = recurrence.make_rule("weekly", 1, 10, 0, clock.now(), ROME)
    rid = await add_reminder(h.deps.db, rule=rule)
    # Down from before Tuesday 3 March until Tuesday 10 March 10:20 in Rome.
    clock.set(datetime(2026, 3, 10, 9, 20, tzinfo=UTC))
    await reminders_job(h.deps)
    rows = await outbox(h.deps.db)
    assert {d.dedupe_key.split(":")[2] for d in rows} == {"20260310T090000Z"}
    assert all("Sent late" in (d.text or "") for d in rows if d.recipient_id != n["mr"].id)
    assert [a.details["run_at"] for a in await audits(h.deps.db, "reminder.skipped")] == [
        "2026-03-03T09:00:00+00:00"
    ]
    assert (await reminder_row(h.deps.db, rid)).next_run_at == datetime(2026, 3, 17, 9, tzinfo=UTC)

    await h.command(org, "/reminders")
    listing = plain(h.last_text(org))
    assert "Not sent on Mar 3, 2026, 10:00 AM" in listing
    assert "Sent late for Mar 10, 2026, 10:00 AM" in listing
    assert "Next run: Mar 17, 2026, 10:00 AM" in listing

    # Down again, beyond the grace period: the run is skipped and the next one is kept.
    clock.set(datetime(2026, 3, 17, 12, 0, tzinfo=UTC))
    await reminders_job(h.deps)
    assert len(await outbox(h.deps.db)) == len(rows)
    assert (await reminder_row(h.deps.db, rid)).next_run_at == datetime(2026, 3, 24, 9, tzinfo=UTC)


async def test_copied_message_gets_a_header_with_event_time_and_late_mark(
    db: Database, deps: Deps, clock: FakeClock
) -> None:
    city = await make_city(db, "Tevragh Zeina", "MR", "Africa/Nouakchott")
    reader = await make_official(db, city, locale="fr")
    due = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    rid = await add_reminder(
        db, run_at=due, source=(ADMIN_TG_ID, 77), event_at=datetime(2026, 3, 4, 15, tzinfo=UTC)
    )
    clock.set(due + timedelta(minutes=10))
    await reminder_runs.run_due(deps, clock.now(), reminder_notice)
    header, copy = await outbox(db)
    assert header.dedupe_key == f"r:{rid}:20260303T090000Z:{reader.id}:h"
    assert "4 mars 2026, 15:00" in (header.text or "") and "3 mars 2026, 09:00" in (
        header.text or ""
    )
    assert (copy.method, copy.from_chat_id, copy.message_id, copy.text) == (
        "copy",
        ADMIN_TG_ID,
        77,
        None,
    )


async def test_a_failure_while_enqueuing_neither_skips_nor_repeats(
    db: Database, deps: Deps, clock: FakeClock
) -> None:
    city = await make_city(db, "Gabès")
    for _ in range(3):
        await make_official(db, city)
    due = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    rid = await add_reminder(db, run_at=due)
    calls = 0

    def crash_on_second(notice: ReminderNotice) -> str:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("process killed")
        return reminder_notice(notice)

    clock.set(due)
    with pytest.raises(RuntimeError):
        await reminder_runs.run_due(deps, clock.now(), crash_on_second)
    assert await outbox(db) == []
    assert (await reminder_row(db, rid)).next_run_at == due
    await reminder_runs.run_due(deps, clock.now(), reminder_notice)
    await reminder_runs.run_due(deps, clock.now(), reminder_notice)
    assert len(await outbox(db)) == 3


# ---- two processes ---------------------------------------------------------------------


async def test_two_processes_handle_each_due_run_once(
    db_url: str, settings: Any, clock: FakeClock
) -> None:
    first, second = Database(db_url), Database(db_url)
    try:
        city = await make_city(first, "Gabès")
        officials = [await make_official(first, city) for _ in range(5)]
        due = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
        ids = [await add_reminder(first, run_at=due + timedelta(seconds=i)) for i in range(40)]
        clock.set(due + timedelta(minutes=1))
        deps_a = Deps(settings=settings, db=first, clock=clock)
        deps_b = Deps(settings=settings, db=second, clock=clock)

        async def drain(deps: Deps) -> list[int]:
            handled: list[int] = []
            while True:
                report = await reminder_runs.run_due(deps, clock.now(), reminder_notice, limit=7)
                handled += [rid for rid, _run in report.sent]
                if report.claimed == 0:
                    return handled
                await asyncio.sleep(0)

        a, b = await asyncio.gather(drain(deps_a), drain(deps_b))
        assert sorted(a + b) == ids, "every run handled exactly once"
        assert not set(a) & set(b)
        async with first.transaction() as s:
            assert await s.scalar(select(func.count()).select_from(Delivery)) == 40 * len(officials)
            assert (
                await s.scalar(
                    select(func.count())
                    .select_from(Reminder)
                    .where(Reminder.status == ReminderStatus.DONE)
                )
                == 40
            )
    finally:
        await first.dispose()
        await second.dispose()


async def test_targeting_narrows_by_every_key(db: Database) -> None:
    tn = await make_city(db, "Gabès")
    it = await make_city(db, "Potenza", "IT", ROME)
    flood = await make_topic(db, "flood-risk")
    a = await make_official(db, tn, topics=[flood], languages=["ar", "fr"], locale="fr")
    b = await make_official(db, it, role=Role.ORGANISER, languages=["it", "en"])
    await make_official(db, it, status=OfficialStatus.REMOVED)

    async def ids(target: dict[str, Any]) -> list[int]:
        async with db.transaction() as s:
            return [o.id for o in await resolve_recipients(s, target)]

    assert await ids({}) == [a.id, b.id]
    assert await ids({"countries": ["tn"]}) == [a.id]
    assert await ids({"cities": [it.id]}) == [b.id]
    assert await ids({"topics": [flood.id]}) == [a.id]
    assert await ids({"languages": ["en"]}) == [b.id]
    assert await ids({"roles": ["organiser"]}) == [b.id]
    assert await ids({"countries": ["TN"], "languages": ["en"]}) == []


async def test_audience_picker_offers_countries_cities_and_topics(db: Database) -> None:
    await make_city(db, "Gabès")
    await make_city(db, "Potenza", "IT", ROME)
    await make_topic(db, "flood-risk")
    async with db.transaction() as s:
        countries = [o.name for o in await reminder_audience.options(s, "countries", [])]
        cities = [o.name for o in await reminder_audience.options(s, "cities", [])]
        topics = [o.name for o in await reminder_audience.options(s, "topics", [])]
    assert (countries, sorted(cities), topics) == (
        ["IT", "TN"],
        ["Gabès", "Potenza"],
        ["flood-risk"],
    )


async def test_scheduler_runs_the_jobs_at_the_configured_intervals(harness: Harness) -> None:
    from bot import scheduling
    from bot.app import scheduled_jobs

    await scheduling.start(harness.app, scheduled_jobs(harness.app))
    try:
        jobs = {job.id: job for job in harness.app.bot_data.scheduler.get_jobs()}
        assert jobs["reminders"].trigger.interval == timedelta(seconds=15)
        assert jobs["digest"].trigger.interval == timedelta(seconds=300)
        assert jobs["reminders"].next_run_time is not None  # due at start: missed runs go out first
    finally:
        await scheduling.stop(harness.app)


async def test_pausing_a_reminder_cancels_its_copies_waiting_for_a_working_day(
    harness: Harness, clock: FakeClock
) -> None:
    """A weekly "working days only" reminder runs on Saturday 10:00 (Rome): Amina's copy in Gabès
    (weekend Saturday–Sunday) waits for Monday morning. At noon the organiser pauses the
    reminder; /reminders says it is paused. On Monday nothing of it reaches Amina (a paused
    reminder sends nothing more; resuming it goes on from its next run)."""
    h = harness
    n = await network(h)
    org = n["org_user"]
    saturday = recurrence.make_rule("weekly", 5, 10, 0, clock.now(), ROME)
    rid = await add_reminder(h.deps.db, rule=saturday)
    async with h.deps.db.transaction() as s:
        reminder = await s.get(Reminder, rid)
        assert reminder is not None
        reminder.working_days = True

    clock.set(datetime(2026, 3, 7, 9, 0, tzinfo=UTC))  # Saturday 10:00 in Rome
    await reminders_job(h.deps)
    await drain(h)
    assert not any("Reminder" in t for t in h.texts(n["tn"].chat_id))  # waiting for Monday
    clock.set(datetime(2026, 3, 7, 11, 0, tzinfo=UTC))
    await h.command(org, "/reminders")
    await h.press(org, f"Pause #{rid}")
    assert "Paused." in h.last_text(org)

    clock.set(datetime(2026, 3, 9, 9, 0, tzinfo=UTC))  # Monday 10:00 in Gabès
    await drain(h)
    assert not any("Reminder" in t for t in h.texts(n["tn"].chat_id))
