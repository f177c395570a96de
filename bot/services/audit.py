"""The audit log: role changes, removals, exports, broadcasts and refused attempts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.db import audit_log, officials
from bot.runtime import Deps


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


async def denied(deps: Deps, tg_user_id: int, what: str) -> None:
    """Someone tried a command their role does not allow."""
    async with deps.db.transaction() as session:
        official = await officials.official_by_tg(session, tg_user_id)
        await audit_log.record(
            session,
            deps.clock.now(),
            "access.denied",
            actor=official,
            actor_tg_id=tg_user_id,
            command=what,
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
