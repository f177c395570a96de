"""The audit log table: writing an entry and reading entries back. SQL only; never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.db.models import AuditLog, Official


class NamedEntry(NamedTuple):
    """An entry with the names of the acting official and of the target official, if any."""

    entry: AuditLog
    actor_name: str | None
    target_name: str | None


async def record(
    session: AsyncSession,
    now: datetime,
    action: str,
    *,
    actor: Official | None = None,
    actor_tg_id: int | None = None,
    target_type: str | None = None,
    target_id: int | None = None,
    **details: Any,
) -> AuditLog:
    row = AuditLog(
        actor_id=actor.id if actor else None,
        actor_tg_id=actor.tg_user_id if actor else actor_tg_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=details,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def by_actor_since(
    session: AsyncSession, actor_tg_id: int, action: str, since: datetime
) -> Sequence[AuditLog]:
    """One person's entries of one action written at or after `since`, newest first."""
    query = (
        select(AuditLog)
        .where(
            AuditLog.actor_tg_id == actor_tg_id,
            AuditLog.action == action,
            AuditLog.created_at >= since,
        )
        .order_by(AuditLog.id.desc())
    )
    return (await session.scalars(query)).all()


async def newest(
    session: AsyncSession, limit: int, action_prefix: str | None = None
) -> Sequence[AuditLog]:
    query = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
    if action_prefix:
        query = query.where(AuditLog.action.startswith(action_prefix))
    return (await session.scalars(query)).all()


async def count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(AuditLog)) or 0)


async def named_page(session: AsyncSession, offset: int, limit: int) -> list[NamedEntry]:
    """Entries newest first, with the actor's and the target official's names."""
    actor = aliased(Official)
    target = aliased(Official)
    rows = await session.execute(
        select(AuditLog, actor.name, target.name)
        .outerjoin(actor, actor.id == AuditLog.actor_id)
        .outerjoin(target, (AuditLog.target_type == "official") & (target.id == AuditLog.target_id))
        .order_by(AuditLog.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [NamedEntry(entry, actor_name, target_name) for entry, actor_name, target_name in rows]
