"""The admins' error alerts across replicas: whether this process's alert goes out, or another
process already sent one of the same kind within the window (bot/db/alert_windows.py)."""

from __future__ import annotations

from datetime import timedelta

from bot.db import alert_windows
from bot.db.coordination import AlertWindow
from bot.runtime import Deps


async def claim(deps: Deps, kind: str, window: timedelta, counted: int) -> int | None:
    """The errors of `kind` not alerted since the previous alert, every process's, when this
    process is to alert now; None when another process alerted within `window` (this error
    and the `counted` ones of this process are then told by the next alert). Raises what the
    database raises: the caller alerts anyway."""
    kind = kind[: AlertWindow.kind.type.length]  # a place outside the bot's code can be long
    async with deps.db.transaction() as session:
        return await alert_windows.claim(session, kind, deps.clock.now(), window, counted)
