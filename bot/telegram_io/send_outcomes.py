"""What one sender pass holds besides the sending: the claimed rows, the outcomes waiting to
be written, its statistics, and how long a failed send waits before it goes again.
"""

from __future__ import annotations

import asyncio
import math
import random
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.warnings import PTBDeprecationWarning

from bot import metrics


@dataclass
class Job:
    """One claimed outbox row, as the sender holds it in memory."""

    id: int
    chat_id: int
    method: str
    from_chat_id: int | None
    message_id: int | None
    text: str | None
    reply_markup: dict[str, Any] | None
    attempts: int
    broadcast_id: int | None
    recipient_id: int | None
    source: str
    claim_token: str
    claimed_until: datetime
    requeued: bool = False


class InFlight:
    """Sends waiting for their answer, with when each went (in real time).

    A send still unanswered when the window needs its slot again (`slots` sends at `rate`,
    at least 0.25 s) gives its slot to the next one: the pacing, not the slots, sets the rate,
    so a slow answer (a timeout takes seconds) does not hold the window back. `bound` caps
    how many may wait at once, slow ones included.
    """

    def __init__(self, slots: int, bound: int, rate: float) -> None:
        self.slots, self.bound = slots, bound
        self.slow_after = max(0.25, slots / rate)
        self.tasks: dict[asyncio.Task[None], float] = {}
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self.tasks)

    def add(self, task: asyncio.Task[None]) -> None:
        self.tasks[task] = asyncio.get_running_loop().time()
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        del self.tasks[task]
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def full_for(self) -> float:
        """0 if a send may go now, else how long until a slot frees by age (inf: an answer)."""
        if len(self.tasks) >= self.bound:
            return math.inf
        now = asyncio.get_running_loop().time()
        prompt = [t for t in self.tasks.values() if now - t < self.slow_after]
        return 0.0 if len(prompt) < self.slots else min(prompt) + self.slow_after - now

    async def wait(self, seconds: float = math.inf) -> None:
        """Until the next answer, or `seconds`."""
        if not self.tasks:
            return
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        timer = None if math.isinf(seconds) else loop.call_later(seconds, self._wake)
        try:
            await self._waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    async def wait_all(self) -> None:
        if self.tasks:
            await asyncio.wait(set(self.tasks))


@dataclass
class RunStats:
    sent: int = 0
    failed: int = 0
    unreachable: int = 0
    retried: int = 0
    rate_limited: int = 0
    released: int = 0
    claimed: int = 0
    lost: int = 0  # sent, but the claim had gone to another sender: not recorded

    @property
    def busy(self) -> bool:
        return bool(self.claimed or self.sent or self.failed or self.unreachable or self.retried)

    def add(self, outcome: str) -> None:
        """One send ended so (sent, failed, unreachable, retried, rate_limited): this run's
        count and the process's metrics."""
        setattr(self, outcome, getattr(self, outcome) + 1)
        metrics.SENDS.labels(outcome).inc()
        if outcome == "rate_limited":
            metrics.RATE_LIMITED.labels("outbox").inc()


@dataclass
class Outcomes:
    sent: list[tuple[int, int | None, int]] = field(default_factory=list)
    failed: list[tuple[int, str, int]] = field(default_factory=list)
    unreachable: list[tuple[int, str, int]] = field(default_factory=list)
    unreachable_officials: list[int] = field(default_factory=list)
    retry: list[tuple[int, str, int, datetime]] = field(default_factory=list)
    release: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return (
            len(self.sent)
            + len(self.failed)
            + len(self.unreachable)
            + len(self.retry)
            + len(self.release)
        )

    def ids(self) -> list[int]:
        return [
            *(r[0] for r in self.sent),
            *(r[0] for r in self.failed),
            *(r[0] for r in self.unreachable),
            *(r[0] for r in self.retry),
            *self.release,
        ]

    def only(self, ids: set[int]) -> Outcomes:
        """The outcomes of these rows only (those whose claim this sender still holds)."""
        return Outcomes(
            [r for r in self.sent if r[0] in ids],
            [r for r in self.failed if r[0] in ids],
            [r for r in self.unreachable if r[0] in ids],
            self.unreachable_officials,
            [r for r in self.retry if r[0] in ids],
            [i for i in self.release if i in ids],
        )

    def take(self) -> Outcomes:
        taken = Outcomes(
            self.sent,
            self.failed,
            self.unreachable,
            self.unreachable_officials,
            self.retry,
            self.release,
        )
        self.sent, self.failed, self.unreachable = [], [], []
        self.unreachable_officials, self.retry, self.release = [], [], []
        return taken

    def put_back(self, other: Outcomes) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.unreachable += other.unreachable
        self.unreachable_officials += other.unreachable_officials
        self.retry += other.retry
        self.release += other.release


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # int now, timedelta in PTB's next major: accept both
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with jitter: between half and all of base·2^(attempt-1), capped."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return rng.uniform(ceiling / 2, ceiling)
