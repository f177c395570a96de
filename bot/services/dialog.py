"""Where each person stands in a multi-step flow; the database keeps it across restarts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import dialogs
from bot.db.models import DialogState
from bot.runtime import Deps
from bot.services.errors import ErrorCode, ServiceError


@dataclass(frozen=True)
class Step:
    step: str
    data: dict[str, Any] = field(default_factory=dict)


async def get(deps: Deps, tg_user_id: int) -> Step | None:
    async with deps.db.transaction() as session:
        state = await dialogs.get_dialog(session, tg_user_id)
        return Step(state.step, dict(state.data or {})) if state else None


async def put(deps: Deps, tg_user_id: int, step: str, data: dict[str, Any] | None = None) -> Step:
    async with deps.db.transaction() as session:
        await dialogs.put_dialog(session, tg_user_id, step, data or {}, deps.clock.now())
        return Step(step, dict(data or {}))


async def clear(deps: Deps, tg_user_id: int) -> None:
    async with deps.db.transaction() as session:
        await dialogs.clear_dialog(session, tg_user_id)


async def cancel(deps: Deps, tg_user_id: int) -> str | None:
    """Leave whatever flow is open; returns the step that was left."""
    async with deps.db.transaction() as session:
        state = await dialogs.get_dialog(session, tg_user_id)
        if state is None:
            return None
        await dialogs.clear_dialog(session, tg_user_id)
        return state.step


async def expect_step(session: AsyncSession, tg_user_id: int, *steps: str) -> DialogState:
    """Within a service's transaction: the person's open step, refused as stale if another."""
    state = await dialogs.get_dialog(session, tg_user_id)
    if state is None or state.step not in steps:
        raise ServiceError(ErrorCode.STALE)
    return state
