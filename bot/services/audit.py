"""The audit log: role changes, removals, exports, broadcasts and refused attempts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import audit_log, officials
from bot.db.models import Official
from bot.runtime import Deps

# Refused attempts of one person and one kind are counted on one row for this long.
REFUSAL_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    created_at: datetime
    actor_id: int | None
    actor_tg_id: int | None
    action: str
    target_type: str | None
    target_id: int | None
    details: dict[str, Any]


async def record_refusal(
    session: AsyncSession,
    now: datetime,
    action: str,
    tg_user_id: int,
    official: Official | None,
    **details: Any,
) -> None:
    """Within a service's transaction: a refused attempt. One row per person, action and
    details in `REFUSAL_WINDOW`, whose `count` grows with each further attempt, so that one
    person pressing a button in a loop cannot fill the audit log."""
    for row in await audit_log.by_actor_since(session, tg_user_id, action, now - REFUSAL_WINDOW):
        seen = dict(row.details or {})
        if all(seen.get(key) == value for key, value in details.items()):
            row.details = {**seen, "count": int(seen.get("count", 1)) + 1}
            return
    await audit_log.record(
        session, now, action, actor=official, actor_tg_id=tg_user_id, **details, count=1
    )


async def denied(deps: Deps, tg_user_id: int, what: str) -> None:
    """Someone tried a command their role does not allow."""
    async with deps.db.transaction() as session:
        official = await officials.official_by_tg(session, tg_user_id)
        await record_refusal(
            session, deps.clock.now(), "access.denied", tg_user_id, official, command=what
        )


async def recent(deps: Deps, limit: int = 50, action_prefix: str | None = None) -> list[AuditEntry]:
    async with deps.db.transaction() as session:
        return [
            AuditEntry(
                a.id,
                a.created_at,
                a.actor_id,
                a.actor_tg_id,
                a.action,
                a.target_type,
                a.target_id,
                dict(a.details or {}),
            )
            for a in await audit_log.newest(session, limit, action_prefix)
        ]
