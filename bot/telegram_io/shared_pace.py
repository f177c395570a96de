"""One send limit across replicas: every sender on one PostgreSQL database takes its send
slots from the `send_pace` row (bot/db/send_pace.py), so together they never exceed
SEND_RATE_PER_SECOND in any one-second window, however many processes run.

Each process reserves a tenth of a second's slots at a time (one short transaction), spaced
as the in-memory `Pacer` spaces them but with a window margin of at least `REPLICA_MARGIN`,
and sends each at its time; a slot not used within half that margin is let go (sending
later could bunch it with the next process's slot). The in-memory pacer still keeps the
per-chat spacing and the replies-first order inside the process; across processes a chat's
rows are claimed by one sender at a time and not within a chat interval of the last send to
it (`bot.db.outbox.claim`). A 429 pauses every process. SQLite runs one process: there the
in-memory pacer is the whole limit.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from bot.db import send_pace
from bot.runtime import Deps
from bot.telegram_io.pacing import Pacer, Timer

log = logging.getLogger(__name__)

RESERVE_SECONDS = 0.1  # slots reserved per round trip, in seconds of sending
# The least margin of the shared window: processes' sends jitter against each other more than
# one process's do (measured here: 10 ms drew 429s from three processes, 30 ms none).
REPLICA_MARGIN = 0.03


class SharedPace:
    """This process's share of the database's send slots, as times of its own `timer`."""

    def __init__(self, deps: Deps, pacer: Pacer, timer: Timer, margin: float) -> None:
        self.deps = deps
        self.timer = timer
        wider = max(margin, REPLICA_MARGIN)
        self.interval = (pacer.window + wider - margin) / pacer.capacity
        # A slot may be used this late: half the window's margin, the rest is left for the
        # jitter between processes (their clocks' reading of the database's, the network).
        self.grace = wider / 2
        self.batch = max(1, round(RESERVE_SECONDS / self.interval))
        self._slots: deque[float] = deque()
        self._lock = asyncio.Lock()
        self._failing = False

    async def next_slot(self) -> float:
        """When this process's next send may go (its timer's time); reserves more if needed."""
        async with self._lock:
            now = self.timer.now()
            while self._slots and self._slots[0] < now - self.grace:
                self._slots.popleft()  # too late to use without bunching
            if not self._slots:
                await self._reserve()
            return self._slots.popleft() if self._slots else now

    async def _reserve(self) -> None:
        try:
            async with self.deps.db.transaction() as session:
                await send_pace.begin(session)
                before = self.timer.now()
                first = await send_pace.reserve(session, self.batch, self.interval)
                after = self.timer.now()
        except Exception:
            # The outbox cannot claim without the database either; replies go at this
            # process's own pace meanwhile.
            if not self._failing:
                log.warning("shared send limit unavailable, pacing alone", exc_info=True)
            self._failing = True
            return
        self._failing = False
        # The database read its clock between the two readings of ours.
        start = (before + after) / 2 + first
        self._slots.extend(start + i * self.interval for i in range(self.batch))

    async def pause(self, seconds: float) -> None:
        """Telegram said 429: no process sends for `seconds`."""
        self._slots.clear()
        try:
            async with self.deps.db.transaction() as session:
                await send_pace.pause(session, seconds)
        except Exception:
            log.warning("could not share a 429 pause retry_after=%s", seconds)


async def take_turn(pacer: Pacer, shared: SharedPace | None, timer: Timer) -> None:
    """Wait for this process's window, then (replicas) for its next shared slot."""
    while (wait := pacer.ready_at() - timer.now()) > 0:
        await timer.sleep(wait)
    if shared is not None:
        at = await shared.next_slot()
        while (wait := at - timer.now()) > 0:
            await timer.sleep(wait)
