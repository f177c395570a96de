"""Reminders: the rows organisers schedule, the due ones claimed by the job, and the late or
skipped runs recorded in the audit log. SQL only: add, flush, select; never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import AuditLog, Reminder, ReminderStatus

ISSUE_ACTIONS = ("reminder.late", "reminder.skipped")


async def add(session: AsyncSession, reminder: Reminder) -> Reminder:
    session.add(reminder)
    await session.flush()
    return reminder


async def for_update(session: AsyncSession, reminder_id: int) -> Reminder | None:
    return await session.scalar(
        select(Reminder).where(Reminder.id == reminder_id).with_for_update()
    )


async def listed(session: AsyncSession, skipped_since: datetime) -> Sequence[Reminder]:
    """Active and paused reminders, soonest first, and finished ones skipped since then."""
    recently_missed = select(AuditLog.target_id).where(
        AuditLog.action == "reminder.skipped",
        AuditLog.target_type == "reminder",
        AuditLog.created_at >= skipped_since,
    )
    query = (
        select(Reminder)
        .where(
            or_(
                Reminder.status.in_([ReminderStatus.ACTIVE, ReminderStatus.PAUSED]),
                (Reminder.status == ReminderStatus.DONE) & Reminder.id.in_(recently_missed),
            )
        )
        .order_by(Reminder.next_run_at.is_(None), Reminder.next_run_at, Reminder.id)
    )
    return (await session.scalars(query)).all()


async def issues(session: AsyncSession, reminder_ids: Sequence[int]) -> Sequence[AuditLog]:
    """The late and skipped runs of these reminders, newest first."""
    if not reminder_ids:
        return []
    query = (
        select(AuditLog)
        .where(
            AuditLog.action.in_(ISSUE_ACTIONS),
            AuditLog.target_type == "reminder",
            AuditLog.target_id.in_(reminder_ids),
        )
        .order_by(AuditLog.id.desc())
    )
    return (await session.scalars(query)).all()


async def due(session: AsyncSession, now: datetime, limit: int) -> Sequence[Reminder]:
    """Active reminders due by `now`, oldest first, not locked (read before claiming)."""
    query = (
        select(Reminder)
        .where(Reminder.status == ReminderStatus.ACTIVE, Reminder.next_run_at <= now)
        .order_by(Reminder.next_run_at, Reminder.id)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def claim_due(session: AsyncSession, now: datetime, limit: int) -> Sequence[Reminder]:
    """Active reminders due by `now`, oldest first, locked; rows another worker holds are
    skipped (`SKIP LOCKED`), so replicas share the work."""
    query = (
        select(Reminder)
        .where(Reminder.status == ReminderStatus.ACTIVE, Reminder.next_run_at <= now)
        .order_by(Reminder.next_run_at, Reminder.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.scalars(query)).all()
