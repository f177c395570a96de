"""The admins' error alerts across processes (`alert_window`): of the replicas that meet one
kind of error, one alerts, and the others' errors are counted into its next alert.
SQL only; never commit."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import dialect_name, upsert
from bot.db.coordination import AlertWindow

FORGET_AFTER = timedelta(days=1)  # a kind quiet this long, with nothing counted, is dropped


async def claim(
    session: AsyncSession, kind: str, now: datetime, window: timedelta, counted: int
) -> int | None:
    """This process met `kind` and would alert (`counted`: the errors of the kind it did not
    alert since its previous alert). Returns the errors to tell as not alerted, the other
    processes' included, and opens a new window; or None when another process alerted within
    the window: this error and the `counted` ones are added to what its next alert tells."""
    dialect = dialect_name(session)
    await session.execute(
        delete(AlertWindow).where(
            AlertWindow.quiet_until < now - FORGET_AFTER, AlertWindow.suppressed == 0
        )
    )
    await session.execute(
        upsert(dialect, AlertWindow)
        .values(kind=kind, quiet_until=now, suppressed=0)
        .on_conflict_do_nothing(index_elements=["kind"])
    )
    row = (
        await session.execute(select(AlertWindow).where(AlertWindow.kind == kind).with_for_update())
    ).scalar_one()
    if now < row.quiet_until:
        row.suppressed += counted + 1
        return None
    told = row.suppressed + counted
    row.quiet_until, row.suppressed = now + window, 0
    return told
