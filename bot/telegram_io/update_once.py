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

Ids that arrive while an earlier write is under way are written together, in one
transaction, when it ends (`UpdateLedger`): a burst of updates costs a few writes, not one
each. Measured with bench/bench_exchange.py (relays through the whole application, SQLite):
one transaction per update took about a third of the relay path's throughput.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from bot.db import handled_updates
from bot.runtime import Deps

log = logging.getLogger(__name__)

REMEMBER = timedelta(hours=48)
MAX_BATCH = 500  # ids in one statement


class UpdateLedger:
    """Says whether an update id is new, writing the ids that wait together."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._waiting: dict[int, asyncio.Future[bool]] = {}
        self._writer: asyncio.Task[None] | None = None

    async def first_time(self, update_id: int) -> bool:
        """Whether this update id is new; a database that fails does not stop the update (its
        handlers will meet the same failure and answer it)."""
        if update_id in self._waiting:
            return False  # the same update twice in one burst: the first one has it
        future = asyncio.get_running_loop().create_future()
        self._waiting[update_id] = future
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        return await future

    async def _write(self) -> None:
        try:
            while self._waiting:
                ids = list(self._waiting)[:MAX_BATCH]
                batch = {i: self._waiting.pop(i) for i in ids}
                try:
                    async with self.deps.db.transaction() as session:
                        new = await handled_updates.take(session, ids, self.deps.clock.now())
                except Exception:
                    log.warning("could not record the update ids count=%s", len(ids), exc_info=True)
                    new = set(ids)
                for update_id, future in batch.items():
                    if not future.done():  # its update may have been cancelled meanwhile
                        future.set_result(update_id in new)
        finally:
            self._writer = None


async def forget_old(deps: Deps) -> None:
    """The scheduler's job: drop ids older than `REMEMBER`."""
    async with deps.db.transaction() as session:
        dropped = await handled_updates.forget_before(session, deps.clock.now() - REMEMBER)
    if dropped:
        log.info("handled update ids forgotten count=%s", dropped)
