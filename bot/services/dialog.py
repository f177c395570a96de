"""Where each person stands in a multi-step flow; the database keeps it across restarts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.db import repo
from bot.runtime import Deps


@dataclass(frozen=True)
class Step:
    step: str
    data: dict[str, Any] = field(default_factory=dict)


async def get(deps: Deps, tg_user_id: int) -> Step | None:
    async with deps.db.transaction() as session:
        state = await repo.get_dialog(session, tg_user_id)
        return Step(state.step, dict(state.data or {})) if state else None


async def put(deps: Deps, tg_user_id: int, step: str, data: dict[str, Any] | None = None) -> Step:
    async with deps.db.transaction() as session:
        await repo.put_dialog(session, tg_user_id, step, data or {}, deps.clock.now())
        return Step(step, dict(data or {}))


async def clear(deps: Deps, tg_user_id: int) -> None:
    async with deps.db.transaction() as session:
        await repo.clear_dialog(session, tg_user_id)
