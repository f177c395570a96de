"""Each update handled once, across restarts and replicas.

Telegram delivers an update again when a webhook answer is slow or fails, or when a poller
dies before its next getUpdates confirms it; behind a load balancer the second delivery can
reach another replica. The update processor asks `first_time` before an update takes its
turn: the id is written to `handled_update` in its own transaction (a primary key, so of two
replicas racing only one wins) and a repeat is acknowledged (the webhook answers 200, the poll
moves on) and dropped. Ids are kept `REMEMBER` (beyond Telegram's 24 h), then pruned by a job.

An update is taken when its handling starts: a process killed in the middle of a handler
does not handle it again after a restart (the person sends again), which is what a person
sees of any crash; handling it twice could send a question or a broadcast twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.db import handled_updates
from bot.runtime import Deps

log = logging.getLogger(__name__)

REMEMBER = timedelta(hours=48)


async def first_time(deps: Deps, update_id: int) -> bool:
    """Whether this update id is new; a database that fails does not stop the update (its
    handlers will meet the same failure and answer it)."""
    try:
        async with deps.db.transaction() as session:
            return await handled_updates.take(session, update_id, deps.clock.now())
    except Exception:
        log.warning("could not record the update id update_id=%s", update_id, exc_info=True)
        return True


async def forget_old(deps: Deps) -> None:
    """The scheduler's job: drop ids older than `REMEMBER`."""
    async with deps.db.transaction() as session:
        dropped = await handled_updates.forget_before(session, deps.clock.now() - REMEMBER)
    if dropped:
        log.info("handled update ids forgotten count=%s", dropped)
