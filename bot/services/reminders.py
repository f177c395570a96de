"""Reminders organisers schedule: the /remind draft, the list, pause/resume/delete, and the
due-run job that writes each run's messages into the outbox.

The database is the truth: a reminder keeps its rule and its next run (UTC). `run_due`
claims due reminders (`FOR UPDATE SKIP LOCKED`, so replicas share the work), writes the
deliveries, and advances `next_run_at` in one transaction: a crash neither skips nor
repeats a run. Runs missed while the bot was down are sent marked late within the grace
period and skipped (logged and audited) beyond it; recurring reminders then resume at
their next occurrence.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import outbox, repo
from bot.db.models import (
    AuditLog,
    City,
    Delivery,
    DeliveryStatus,
    Official,
    Reminder,
    ReminderStatus,
    Role,
)
from bot.runtime import Deps
from bot.services import InvalidInput, NotFound, ServiceError
from bot.services import recurrence as rec
from bot.services.identity import require_role
from bot.services.targeting import resolve_recipients

log = logging.getLogger(__name__)

TEXT_MAX = 3500  # leaves room for the header within Telegram's 4096 characters
STEP_MESSAGE = "remind.message"
STEP_AUDIENCE = "remind.audience"
STEP_PICK = "remind.pick"  # choosing countries / cities / topics
STEP_WHEN = "remind.when"
STEP_ONCE = "remind.once"  # typed date and time
STEP_WEEKDAY = "remind.weekday"
STEP_TIME = "remind.time"  # typed time of day
STEP_EVENT_ASK = "remind.event_ask"
STEP_EVENT = "remind.event"  # typed event date and time
STEP_CONFIRM = "remind.confirm"
AUDIENCE_KINDS = ("countries", "cities", "topics")
WHEN_KINDS = ("once", rec.WEEKLY, rec.MONTHLY)
ISSUE_ACTIONS = ("reminder.late", "reminder.skipped")
ISSUES_SHOWN_FOR = timedelta(days=7)

_DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%d.%m.%Y %H:%M", "%d/%m/%Y %H:%M")
_TIME = re.compile(r"^\s*(\d{1,2})[:.h](\d{2})\s*$")


# ---- plain data returned to handlers -----------------------------------------------------


@dataclass(frozen=True)
class Option:
    """A choice in the audience picker: a country code, city or topic."""

    value: str
    name: str
    names: dict[str, str] = field(default_factory=dict)  # topic names per locale
    selected: bool = False


@dataclass(frozen=True)
class Draft:
    step: str
    data: dict[str, Any]
    timezone: str  # the organiser's city timezone: typed times are read in it
    options: list[Option] = field(default_factory=list)
    next_run_at: datetime | None = None
    recipients: int | None = None
    audience: tuple[str, list[Option]] = ("all", [])


@dataclass(frozen=True)
class ReminderIssue:
    action: str  # reminder.late | reminder.skipped
    run_at: datetime
    at: datetime


@dataclass(frozen=True)
class ReminderInfo:
    id: int
    status: str
    text: str | None
    is_copy: bool
    target: dict[str, Any]
    run_at: datetime | None
    rule: dict[str, Any] | None
    timezone: str
    event_at: datetime | None
    next_run_at: datetime | None
    last_run_at: datetime | None
    issues: list[ReminderIssue] = field(default_factory=list)
    audience: tuple[str, list[Option]] = ("all", [])


@dataclass(frozen=True)
class ReminderList:
    timezone: str  # the viewer's city timezone
    reminders: list[ReminderInfo]


@dataclass(frozen=True)
class ReminderNotice:
    """What one recipient's message says; rendered by the handler layer in their locale."""

    text: str | None  # the organiser's text (HTML); None when their message is copied
    event_at: datetime | None
    scheduled_for: datetime
    late: bool
    timezone: str  # the recipient's city timezone
    locale: str


Render = Callable[[ReminderNotice], str]


@dataclass
class RunReport:
    claimed: int = 0
    sent: list[tuple[int, datetime]] = field(default_factory=list)
    late: list[tuple[int, datetime]] = field(default_factory=list)
    skipped: list[tuple[int, datetime]] = field(default_factory=list)
    deliveries: int = 0


# ---- parsing what an organiser types -----------------------------------------------------


def parse_local_datetime(typed: str, timezone: str) -> datetime:
    """'2026-12-01 10:00' (or 01.12.2026 10:00) in `timezone`, returned in UTC."""
    cleaned = " ".join((typed or "").split())
    for fmt in _DATE_FORMATS:
        try:
            naive = datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
        return naive.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)
    raise InvalidInput("bad_datetime")


def parse_time_of_day(typed: str) -> tuple[int, int]:
    match = _TIME.match(typed or "")
    if not match:
        raise InvalidInput("bad_time")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise InvalidInput("bad_time")
    return hour, minute


# ---- the draft ---------------------------------------------------------------------------


async def _organiser_tz(session: AsyncSession, official: Official | None) -> str:
    city = await repo.city_by_id(session, official.city_id if official else None)
    return city.timezone if city else "UTC"


async def _open_draft(
    session: AsyncSession, deps: Deps, tg_user_id: int, *steps: str
) -> tuple[dict[str, Any], str, str]:
    """The organiser's draft if it is at one of `steps`, with their timezone; else 'stale'."""
    official = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
    state = await repo.get_dialog(session, tg_user_id)
    if state is None or not state.step.startswith("remind.") or (steps and state.step not in steps):
        raise ServiceError("stale")
    return dict(state.data or {}), state.step, await _organiser_tz(session, official)


async def _options(session: AsyncSession, kind: str, selected: list[Any]) -> list[Option]:
    chosen = {str(s) for s in selected}
    if kind == "countries":
        codes = sorted(set((await session.scalars(select(City.country))).all()))
        return [Option(c, c, selected=c in chosen) for c in codes]
    if kind == "cities":
        return [
            Option(str(c.id), c.name, selected=str(c.id) in chosen)
            for c in await repo.all_cities(session)
        ]
    return [
        Option(str(t.id), t.slug, dict(t.names or {}), str(t.id) in chosen)
        for t in await repo.all_topics(session)
    ]


async def _audience(session: AsyncSession, target: dict[str, Any]) -> tuple[str, list[Option]]:
    """The target's kind ('all', 'countries', 'cities' or 'topics') and what it names."""
    for kind in AUDIENCE_KINDS:
        if target.get(kind):
            return kind, [o for o in await _options(session, kind, target[kind]) if o.selected]
    return "all", []


def _next_run(data: dict[str, Any], timezone: str, now: datetime) -> datetime | None:
    when = data.get("when") or {}
    if when.get("kind") == "once":
        return datetime.fromisoformat(when["run_at"])
    if when.get("kind") in (rec.WEEKLY, rec.MONTHLY) and "time" in when:
        return rec.next_after(_rule_of(when, timezone, now), timezone, now)
    return None


def _rule_of(when: dict[str, Any], timezone: str, now: datetime) -> dict[str, Any]:
    hour, minute = (int(x) for x in when["time"].split(":"))
    return rec.make_rule(
        when["kind"], int(when["weekday"]), hour, minute, now, timezone, nth=int(when.get("nth", 1))
    )


async def _save(
    session: AsyncSession,
    deps: Deps,
    tg_user_id: int,
    step: str,
    data: dict[str, Any],
    timezone: str,
) -> Draft:
    await repo.put_dialog(session, tg_user_id, step, data, deps.clock.now())
    options: list[Option] = []
    if step == STEP_PICK:
        kind = data["pick"]
        options = await _options(session, kind, data.get("target", {}).get(kind, []))
    if step != STEP_CONFIRM:
        return Draft(step, data, timezone, options)
    target = data.get("target") or {}
    return Draft(
        step,
        data,
        timezone,
        options,
        _next_run(data, timezone, deps.clock.now()),
        len(await resolve_recipients(session, target)),
        await _audience(session, target),
    )


async def start(deps: Deps, tg_user_id: int) -> Draft:
    async with deps.db.transaction() as session:
        official = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        tz = await _organiser_tz(session, official)
        return await _save(session, deps, tg_user_id, STEP_MESSAGE, {}, tz)


async def set_message(
    deps: Deps,
    tg_user_id: int,
    *,
    text: str | None = None,
    chat_id: int | None = None,
    message_id: int | None = None,
) -> Draft:
    """The reminder's message: its text (HTML), or a message to copy to each recipient."""
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_MESSAGE)
        if text is not None:
            if not text.strip() or len(text) > TEXT_MAX:
                raise InvalidInput("text_length", max=TEXT_MAX)
            data.update(text=text, chat_id=None, message_id=None)
        elif chat_id is not None and message_id is not None:
            data.update(text=None, chat_id=chat_id, message_id=message_id)
        else:
            raise InvalidInput("no_message")
        return await _save(session, deps, tg_user_id, STEP_AUDIENCE, data, tz)


async def choose_audience(deps: Deps, tg_user_id: int, kind: str) -> Draft:
    """'all' goes on to the schedule; countries, cities or topics open a picker."""
    if kind != "all" and kind not in AUDIENCE_KINDS:
        raise ServiceError("stale")
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_AUDIENCE, STEP_PICK)
        if kind == "all":
            data.update(target={}, pick=None)
            return await _save(session, deps, tg_user_id, STEP_WHEN, data, tz)
        data.update(target={kind: []}, pick=kind)
        return await _save(session, deps, tg_user_id, STEP_PICK, data, tz)


async def toggle(deps: Deps, tg_user_id: int, value: str) -> Draft:
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_PICK)
        kind = data["pick"]
        valid = {o.value for o in await _options(session, kind, [])}
        if value not in valid:
            raise ServiceError("stale")
        stored: Any = value if kind == "countries" else int(value)
        chosen = list(data.get("target", {}).get(kind, []))
        chosen = [c for c in chosen if c != stored] if stored in chosen else [*chosen, stored]
        data["target"] = {kind: chosen}
        return await _save(session, deps, tg_user_id, STEP_PICK, data, tz)


async def toggle_page(deps: Deps, tg_user_id: int) -> Draft:
    """The picker as it stands (to show another page)."""
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_PICK)
        return await _save(session, deps, tg_user_id, STEP_PICK, data, tz)


async def audience_done(deps: Deps, tg_user_id: int) -> Draft:
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_PICK)
        if not data.get("target", {}).get(data["pick"]):
            raise InvalidInput("empty_audience")
        return await _save(session, deps, tg_user_id, STEP_WHEN, data, tz)


async def choose_when(deps: Deps, tg_user_id: int, kind: str, nth: int = 1) -> Draft:
    if kind not in WHEN_KINDS or nth not in (1, 2, 3, 4, -1):
        raise ServiceError("stale")
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_WHEN)
        data["when"] = {"kind": kind} if kind == "once" else {"kind": kind, "nth": nth}
        return await _save(
            session, deps, tg_user_id, STEP_ONCE if kind == "once" else STEP_WEEKDAY, data, tz
        )


async def set_once(deps: Deps, tg_user_id: int, typed: str) -> Draft:
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_ONCE)
        run_at = parse_local_datetime(typed, tz)
        if run_at <= deps.clock.now():
            raise InvalidInput("in_past")
        data["when"] = {"kind": "once", "run_at": run_at.isoformat()}
        return await _save(session, deps, tg_user_id, STEP_EVENT_ASK, data, tz)


async def set_weekday(deps: Deps, tg_user_id: int, weekday: int) -> Draft:
    if not 0 <= weekday <= 6:
        raise ServiceError("stale")
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_WEEKDAY)
        data["when"] = dict(data.get("when") or {}, weekday=weekday)
        return await _save(session, deps, tg_user_id, STEP_TIME, data, tz)


async def set_time(deps: Deps, tg_user_id: int, typed: str) -> Draft:
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_TIME)
        hour, minute = parse_time_of_day(typed)
        data["when"] = dict(data.get("when") or {}, time=f"{hour:02d}:{minute:02d}")
        return await _save(session, deps, tg_user_id, STEP_EVENT_ASK, data, tz)


async def ask_event(deps: Deps, tg_user_id: int, wanted: bool) -> Draft:
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_EVENT_ASK)
        if wanted:
            return await _save(session, deps, tg_user_id, STEP_EVENT, data, tz)
        data["event_at"] = None
        return await _save(session, deps, tg_user_id, STEP_CONFIRM, data, tz)


async def set_event(deps: Deps, tg_user_id: int, typed: str) -> Draft:
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_EVENT)
        event_at = parse_local_datetime(typed, tz)
        if event_at <= deps.clock.now():
            raise InvalidInput("in_past")
        data["event_at"] = event_at.isoformat()
        return await _save(session, deps, tg_user_id, STEP_CONFIRM, data, tz)


async def confirm(deps: Deps, tg_user_id: int) -> ReminderInfo:
    """Schedule the drafted reminder."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_CONFIRM)
        author = await repo.official_by_tg(session, tg_user_id)
        when = data["when"]
        reminder = Reminder(
            author_id=author.id if author else None,
            text=data.get("text"),
            source_chat_id=data.get("chat_id"),
            source_message_id=data.get("message_id"),
            target=data.get("target") or {},
            event_at=datetime.fromisoformat(data["event_at"]) if data.get("event_at") else None,
            timezone=tz,
            status=ReminderStatus.ACTIVE,
            created_at=now,
        )
        if when["kind"] == "once":
            reminder.run_at = datetime.fromisoformat(when["run_at"])
            if reminder.run_at <= now:
                raise InvalidInput("in_past")
            reminder.next_run_at = reminder.run_at
        else:
            reminder.rule = _rule_of(when, tz, now)
            reminder.next_run_at = rec.next_after(reminder.rule, tz, now)
        session.add(reminder)
        await session.flush()
        await repo.clear_dialog(session, tg_user_id)
        await repo.audit(
            session,
            now,
            "reminder.created",
            actor=author,
            actor_tg_id=tg_user_id,
            target_type="reminder",
            target_id=reminder.id,
            next_run_at=reminder.next_run_at.isoformat() if reminder.next_run_at else None,
        )
        log.info(
            "reminder created reminder_id=%s author_tg_id=%s next_run_at=%s",
            reminder.id,
            tg_user_id,
            reminder.next_run_at,
        )
        return _info(reminder, [])


# ---- the list and its buttons ------------------------------------------------------------


def _info(
    r: Reminder, issues: list[ReminderIssue], audience: tuple[str, list[Option]] = ("all", [])
) -> ReminderInfo:
    return ReminderInfo(
        r.id,
        r.status,
        r.text,
        r.source_message_id is not None,
        dict(r.target or {}),
        r.run_at,
        dict(r.rule) if r.rule else None,
        r.timezone,
        r.event_at,
        r.next_run_at,
        r.last_run_at,
        issues,
        audience,
    )


async def list_reminders(deps: Deps, tg_user_id: int, issues_per_reminder: int = 3) -> ReminderList:
    """Active and paused reminders, soonest first, each with its latest late/skipped runs."""
    async with deps.db.transaction() as session:
        viewer = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        # A finished one-off whose run was skipped stays listed for a while, so organisers see it.
        recently_missed = select(AuditLog.target_id).where(
            AuditLog.action == "reminder.skipped",
            AuditLog.target_type == "reminder",
            AuditLog.created_at >= deps.clock.now() - ISSUES_SHOWN_FOR,
        )
        reminders = (
            await session.scalars(
                select(Reminder)
                .where(
                    or_(
                        Reminder.status.in_([ReminderStatus.ACTIVE, ReminderStatus.PAUSED]),
                        (Reminder.status == ReminderStatus.DONE) & Reminder.id.in_(recently_missed),
                    )
                )
                .order_by(Reminder.next_run_at.is_(None), Reminder.next_run_at, Reminder.id)
            )
        ).all()
        ids = [r.id for r in reminders]
        issues: dict[int, list[ReminderIssue]] = {i: [] for i in ids}
        if ids:
            rows = await session.scalars(
                select(AuditLog)
                .where(
                    AuditLog.action.in_(ISSUE_ACTIONS),
                    AuditLog.target_type == "reminder",
                    AuditLog.target_id.in_(ids),
                )
                .order_by(AuditLog.id.desc())
            )
            for row in rows:
                found = issues[int(row.target_id or 0)]
                if len(found) < issues_per_reminder:
                    found.append(
                        ReminderIssue(
                            row.action,
                            datetime.fromisoformat(row.details["run_at"]),
                            row.created_at,
                        )
                    )
        return ReminderList(
            await _organiser_tz(session, viewer),
            [
                _info(r, issues[r.id], await _audience(session, dict(r.target or {})))
                for r in reminders
            ],
        )


async def _reminder_for_update(session: AsyncSession, reminder_id: int) -> Reminder:
    reminder = await session.scalar(
        select(Reminder).where(Reminder.id == reminder_id).with_for_update()
    )
    if reminder is None or reminder.status in (ReminderStatus.DELETED, ReminderStatus.DONE):
        raise NotFound()
    return reminder


async def pause(deps: Deps, tg_user_id: int, reminder_id: int) -> ReminderInfo:
    async with deps.db.transaction() as session:
        actor = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        reminder = await _reminder_for_update(session, reminder_id)
        if reminder.status == ReminderStatus.ACTIVE:
            reminder.status = ReminderStatus.PAUSED
            await repo.audit(
                session,
                deps.clock.now(),
                "reminder.paused",
                actor=actor,
                actor_tg_id=tg_user_id,
                target_type="reminder",
                target_id=reminder.id,
            )
        return _info(reminder, [])


async def resume(deps: Deps, tg_user_id: int, reminder_id: int) -> ReminderInfo:
    """Active again; a recurring reminder continues at its next occurrence from now."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        actor = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        reminder = await _reminder_for_update(session, reminder_id)
        if reminder.status == ReminderStatus.PAUSED:
            if reminder.rule:
                if reminder.next_run_at is None or reminder.next_run_at <= now:
                    reminder.next_run_at = rec.next_after(reminder.rule, reminder.timezone, now)
            elif reminder.next_run_at is None or reminder.next_run_at <= now:
                raise InvalidInput("time_passed")
            reminder.status = ReminderStatus.ACTIVE
            await repo.audit(
                session,
                now,
                "reminder.resumed",
                actor=actor,
                actor_tg_id=tg_user_id,
                target_type="reminder",
                target_id=reminder.id,
            )
        return _info(reminder, [])


async def delete(deps: Deps, tg_user_id: int, reminder_id: int) -> ReminderInfo:
    """Delete the reminder and cancel its messages not sent yet."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        actor = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        reminder = await _reminder_for_update(session, reminder_id)
        reminder.status = ReminderStatus.DELETED
        reminder.next_run_at = None
        await session.execute(
            update(Delivery)
            .where(Delivery.reminder_id == reminder.id, Delivery.status == DeliveryStatus.PENDING)
            .values(status=DeliveryStatus.CANCELLED)
        )
        await repo.audit(
            session,
            now,
            "reminder.deleted",
            actor=actor,
            actor_tg_id=tg_user_id,
            target_type="reminder",
            target_id=reminder.id,
        )
        return _info(reminder, [])


# ---- the job -----------------------------------------------------------------------------


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
) -> int:
    recipients = await resolve_recipients(session, reminder.target or {})
    city_ids = {o.city_id for o in recipients if o.city_id is not None}
    zones: dict[int, str] = {}
    if city_ids:
        zones = {
            c.id: c.timezone
            for c in await session.scalars(select(City).where(City.id.in_(city_ids)))
        }
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
        )
        common = {
            "source": "reminder",
            "chat_id": official.chat_id,
            "now": now,
            "recipient_id": official.id,
            "reminder_id": reminder.id,
        }
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


async def run_due(deps: Deps, now: datetime, render: Render, limit: int = 50) -> RunReport:
    """Claim due reminders, write their runs into the outbox and advance them, in one
    transaction."""
    grace = timedelta(minutes=deps.settings.reminder_grace_minutes)
    report = RunReport()
    async with deps.db.transaction() as session:
        due = (
            await session.scalars(
                select(Reminder)
                .where(Reminder.status == ReminderStatus.ACTIVE, Reminder.next_run_at <= now)
                .order_by(Reminder.next_run_at, Reminder.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
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
                await repo.audit(
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
                report.deliveries += await _enqueue_run(session, reminder, send, late, now, render)
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
                    await repo.audit(
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
