"""Reminders organisers have scheduled: the list with each one's late or skipped runs, and
its buttons (pause, resume, delete).

Handlers take `ReminderStatus` and `Role` from here: they never import bot.db.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import audit_log, outbox_cancel
from bot.db import reminders as stored
from bot.db.models import Official, Reminder, ReminderStatus, Role
from bot.runtime import Deps
from bot.services import recurrence as rec
from bot.services.errors import ErrorCode, InvalidInput, NotFound
from bot.services.identity import require_role
from bot.services.local_time import organiser_timezone
from bot.services.reminder_audience import Option, named

ISSUES_SHOWN_FOR = timedelta(days=7)


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


def info_of(
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
        reminders = await stored.listed(session, deps.clock.now() - ISSUES_SHOWN_FOR)
        ids = [r.id for r in reminders]
        issues: dict[int, list[ReminderIssue]] = {i: [] for i in ids}
        for row in await stored.issues(session, ids):
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
            await organiser_timezone(session, viewer),
            [
                info_of(r, issues[r.id], await named(session, dict(r.target or {})))
                for r in reminders
            ],
        )


async def _for_update(session: AsyncSession, reminder_id: int) -> Reminder:
    reminder = await stored.for_update(session, reminder_id)
    if reminder is None or reminder.status in (ReminderStatus.DELETED, ReminderStatus.DONE):
        raise NotFound(ErrorCode.NOT_FOUND)
    return reminder


async def pause(deps: Deps, tg_user_id: int, reminder_id: int) -> ReminderInfo:
    """Paused: nothing more goes out, not even copies of a run still waiting in the outbox
    (for a recipient's working day or quiet hours)."""
    async with deps.db.transaction() as session:
        actor = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        reminder = await _for_update(session, reminder_id)
        if reminder.status == ReminderStatus.ACTIVE:
            reminder.status = ReminderStatus.PAUSED
            await outbox_cancel.cancel_reminder(session, reminder.id)
            await _audit(session, deps.clock.now(), "reminder.paused", actor, tg_user_id, reminder)
        return info_of(reminder, [])


async def resume(deps: Deps, tg_user_id: int, reminder_id: int) -> ReminderInfo:
    """Active again; a recurring reminder continues at its next occurrence from now."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        actor = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        reminder = await _for_update(session, reminder_id)
        if reminder.status == ReminderStatus.PAUSED:
            if reminder.rule:
                if reminder.next_run_at is None or reminder.next_run_at <= now:
                    reminder.next_run_at = rec.next_after(reminder.rule, reminder.timezone, now)
            elif reminder.next_run_at is None or reminder.next_run_at <= now:
                raise InvalidInput(ErrorCode.TIME_PASSED)
            reminder.status = ReminderStatus.ACTIVE
            await _audit(session, now, "reminder.resumed", actor, tg_user_id, reminder)
        return info_of(reminder, [])


async def delete(deps: Deps, tg_user_id: int, reminder_id: int) -> ReminderInfo:
    """Delete the reminder and cancel its messages not sent yet."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        actor = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        reminder = await _for_update(session, reminder_id)
        reminder.status = ReminderStatus.DELETED
        reminder.next_run_at = None
        await outbox_cancel.cancel_reminder(session, reminder.id)
        await _audit(session, now, "reminder.deleted", actor, tg_user_id, reminder)
        return info_of(reminder, [])


async def _audit(
    session: AsyncSession,
    now: datetime,
    action: str,
    actor: Official | None,
    tg_user_id: int,
    reminder: Reminder,
) -> None:
    """An organiser's change to a reminder, in the audit log."""
    await audit_log.record(
        session,
        now,
        action,
        actor=actor,
        actor_tg_id=tg_user_id,
        target_type="reminder",
        target_id=reminder.id,
    )
