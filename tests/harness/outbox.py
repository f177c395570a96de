"""Running the outbox sender in tests: on a fake timer, so pacing and 429 pauses take no time."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.clock import FakeClock
from bot.telegram_io.send_outcomes import RunStats
from bot.telegram_io.sender import Sender


class FakeTimer:
    """Monotonic time that only moves when the sender sleeps; it moves the FakeClock along."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.t = 1000.0
        self.clock = clock
        self.slept = 0.0

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += seconds
        self.slept += seconds
        if self.clock is not None:
            self.clock.advance(seconds=seconds)
        await asyncio.sleep(0)


async def drain(
    harness: Any, *, worker: str = "test-worker", timer: FakeTimer | None = None, **kwargs: Any
) -> RunStats:
    """One sender pass over the outbox, sending through the harness's recording Bot API."""
    deps = harness.deps
    timer = timer or FakeTimer(deps.clock)
    return await Sender(deps, harness.app.bot, worker=worker, timer=timer).run_once(**kwargs)
