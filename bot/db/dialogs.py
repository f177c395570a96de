"""Dialog state: the step each person is at in a multi-step flow. SQL only; never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import DialogState


async def get_dialog(session: AsyncSession, tg_user_id: int) -> DialogState | None:
    return await session.get(DialogState, tg_user_id)


async def put_dialog(
    session: AsyncSession, tg_user_id: int, step: str, data: dict[str, Any], now: datetime
) -> DialogState:
    state = await session.get(DialogState, tg_user_id)
    if state is None:
        state = DialogState(tg_user_id=tg_user_id, step=step, data=dict(data), updated_at=now)
        session.add(state)
    else:
        state.step = step
        state.data = dict(data)
        state.updated_at = now
    await session.flush()
    return state


async def clear_dialog(session: AsyncSession, tg_user_id: int) -> None:
    await session.execute(delete(DialogState).where(DialogState.tg_user_id == tg_user_id))
