"""The running outbox senders (`sender_process`): one row per process, with its heartbeat.

A process on the same host (and pid namespace) as a dead one can prove it dead by its pid and
take back its claims at once (bot/telegram_io/claims.py); elsewhere the claims of a process
that stopped renewing them run out with their lease. SQL only; never commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import SenderProcess


class Peer(NamedTuple):
    id: str
    pid: int


async def on_host(session: AsyncSession, host: str) -> list[Peer]:
    rows = await session.execute(
        select(SenderProcess.id, SenderProcess.pid).where(SenderProcess.host == host)
    )
    return [Peer(i, pid) for i, pid in rows]


async def heartbeat(session: AsyncSession, worker: str, host: str, pid: int, now: datetime) -> None:
    """The process is alive now (registered again if its row was dropped as stale)."""
    result = await session.execute(
        update(SenderProcess).where(SenderProcess.id == worker).values(heartbeat_at=now)
    )
    if not getattr(result, "rowcount", 0):
        await session.execute(
            insert(SenderProcess).values(
                id=worker, host=host, pid=pid, started_at=now, heartbeat_at=now
            )
        )


async def forget(session: AsyncSession, workers: list[str]) -> None:
    if workers:
        await session.execute(delete(SenderProcess).where(SenderProcess.id.in_(workers)))


async def forget_stale(session: AsyncSession, before: datetime) -> None:
    """Rows of processes silent since `before`: their claims have run out already."""
    await session.execute(delete(SenderProcess).where(SenderProcess.heartbeat_at < before))
