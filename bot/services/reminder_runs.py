"""The reminders job: claim due reminders, write each run's messages into the outbox, and
advance them, in one transaction.

The database is the truth: a reminder keeps its rule and its next run (UTC). `run_due`
claims due reminders (`FOR UPDATE SKIP LOCKED`, so replicas share the work), writes the
deliveries, and advances `next_run_at` in one transaction: a crash neither skips nor
repeats a run. Runs missed while the bot was down are sent marked late within the grace
period and skipped (logged and audited) beyond it; recurring reminders then resume at
their next occurrence.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot import city_calendar
from bot.db import audience, audit_log, officials, outbox
from bot.db import reminders as stored
from bot.db.models import Reminder, ReminderStatus
from bot.runtime import Deps
from bot.services import calendars, translation
from bot.services import recurrence as rec
from bot.services.targeting import resolve_recipients
from bot.services.translation import Rendition

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReminderNotice:
    """What one recipient's message says; rendered by the handler layer in their locale."""

    text: str | None  # the organiser's text (HTML); None when their message is copied
    event_at: datetime | None
    scheduled_for: datetime
    late: bool
    timezone: str  # the recipient's city timezone
    locale: str
    # The text machine-translated for this recipient (or the translator was unavailable).
    translation: Rendition | None = None


Render = Callable[[ReminderNotice], str]


@dataclass
class RunReport:
    claimed: int = 0
    sent: list[tuple[int, datetime]] = field(default_factory=list)
    late: list[tuple[int, datetime]] = field(default_factory=list)
    skipped: list[tuple[int, datetime]] = field(default_factory=list)
    deliveries: int = 0


def late_after(deps: Deps) -> timedelta:
    """A run later than this was missed (bot down), not merely picked up by the next tick."""
    return timedelta(seconds=max(60.0, 2 * deps.settings.reminder_job_seconds))


def _runs_due(reminder: Reminder, now: datetime) -> list[datetime]:
    assert reminder.next_run_at is not None
    if not reminder.rule:
        return [reminder.next_run_at]
    runs = rec.between(reminder.rule, reminder.timezone, reminder.next_run_at, now)
    return runs or [reminder.next_run_at]


def _run_key(run_at: datetime) -> str:
    return run_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


async def _enqueue_run(
    session: AsyncSession,
    reminder: Reminder,
    run_at: datetime,
    late: bool,
    now: datetime,
    render: Render,
    translated: Mapping[str, Rendition],
) -> int:
    recipients = await resolve_recipients(session, reminder.target or {})
    city_ids = {o.city_id for o in recipients if o.city_id is not None}
    zones = await audience.timezones(session, city_ids)
    # Working days only: each recipient's copy waits for their city's next working morning.
    cals = await calendars.calendars(session, city_ids) if reminder.working_days else {}
    is_copy = reminder.source_message_id is not None
    rows: list[dict[str, Any]] = []
    for official in recipients:
        key = f"r:{reminder.id}:{_run_key(run_at)}:{official.id}"
        notice = ReminderNotice(
            text=None if is_copy else reminder.text,
            event_at=reminder.event_at,
            scheduled_for=run_at,
            late=late,
            timezone=zones.get(official.city_id or 0, "UTC"),
            locale=official.locale,
            translation=translated.get(official.locale) if official.machine_translation else None,
        )
        common: dict[str, Any] = {
            "source": "reminder",
            "chat_id": official.chat_id,
            "now": now,
            "recipient_id": official.id,
            "reminder_id": reminder.id,
        }
        cal = cals.get(official.city_id or 0)
        if cal is not None:
            moved = city_calendar.on_working_day(cal, max(run_at, now))
            if moved > now:
                common["not_before"] = moved
        if not is_copy:
            rows.append(outbox.delivery_row(dedupe_key=key, text=render(notice), **common))
            continue
        if late or reminder.event_at is not None:
            # A copied message cannot carry the event time or the late mark: a short header does.
            rows.append(outbox.delivery_row(dedupe_key=key + ":h", text=render(notice), **common))
        rows.append(
            outbox.delivery_row(
                dedupe_key=key,
                from_chat_id=reminder.source_chat_id,
                message_id=reminder.source_message_id,
                **common,
            )
        )
    await outbox.enqueue(session, rows)
    return len(rows)


async def translate_due(
    deps: Deps, now: datetime, limit: int = 50
) -> dict[int, dict[str, Rendition]]:
    """The texts of the reminders due now, translated for each language of their audience
    (before run_due's transaction: a translator is never waited for inside it), by id."""
    if deps.translator is None:
        return {}
    async with deps.db.read() as session:
        wanted = []
        for reminder in await stored.due(session, now, limit):
            if reminder.text and reminder.source_message_id is None:
                languages = await audience.reader_languages(session, reminder.target or {})
                writer = await officials.official_by_id(session, reminder.author_id or 0)
                locale = writer.locale if writer else deps.settings.default_locale
                wanted.append((reminder, locale, languages))
    return {
        r.id: await translation.renditions(deps, plain_text(r.text), locale, langs, r.author_id)
        for r, locale, langs in wanted
    }


def plain_text(markup: str | None) -> str:
    """The words of the organiser's HTML text, as a translator takes them."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup or ""))


async def run_due(
    deps: Deps,
    now: datetime,
    render: Render,
    limit: int = 50,
    translated: Mapping[int, Mapping[str, Rendition]] | None = None,
) -> RunReport:
    """Claim due reminders, write their runs into the outbox and advance them, in one
    transaction. `translated`: translate_due's renditions of their texts."""
    grace = timedelta(minutes=deps.settings.reminder_grace_minutes)
    report = RunReport()
    async with deps.db.transaction() as session:
        due = await stored.claim_due(session, now, limit)
        report.claimed = len(due)
        for reminder in due:
            runs = _runs_due(reminder, now)
            send: datetime | None = runs[-1]
            skipped = runs[:-1]
            if send is not None and now - send > grace:
                skipped.append(send)
                send = None
            for run_at in skipped:
                late_by = int((now - run_at).total_seconds() // 60)
                log.warning(
                    "reminder skipped reminder_id=%s run_at=%s late_minutes=%s grace_minutes=%s",
                    reminder.id,
                    run_at.isoformat(),
                    late_by,
                    deps.settings.reminder_grace_minutes,
                )
                await audit_log.record(
                    session,
                    now,
                    "reminder.skipped",
                    target_type="reminder",
                    target_id=reminder.id,
                    run_at=run_at.isoformat(),
                    late_minutes=late_by,
                )
                report.skipped.append((reminder.id, run_at))
            if send is not None:
                late = now - send > late_after(deps)
                report.deliveries += await _enqueue_run(
                    session,
                    reminder,
                    send,
                    late,
                    now,
                    render,
                    (translated or {}).get(reminder.id, {}),
                )
                reminder.last_run_at = send
                report.sent.append((reminder.id, send))
                if late:
                    late_by = int((now - send).total_seconds() // 60)
                    log.info(
                        "reminder sent late reminder_id=%s run_at=%s late_minutes=%s",
                        reminder.id,
                        send.isoformat(),
                        late_by,
                    )
                    await audit_log.record(
                        session,
                        now,
                        "reminder.late",
                        target_type="reminder",
                        target_id=reminder.id,
                        run_at=send.isoformat(),
                        late_minutes=late_by,
                    )
                    report.late.append((reminder.id, send))
            if reminder.rule:
                reminder.next_run_at = rec.next_after(reminder.rule, reminder.timezone, now)
            else:
                reminder.next_run_at = None
            if reminder.next_run_at is None:
                reminder.status = ReminderStatus.DONE
    if report.claimed:
        log.info(
            "reminders run claimed=%s sent=%s skipped=%s deliveries=%s",
            report.claimed,
            len(report.sent),
            len(report.skipped),
            report.deliveries,
        )
    return report
