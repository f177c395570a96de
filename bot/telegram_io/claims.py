"""The outbox rows one sender holds, and how long it holds them (issue 13).

- Every claim has a token; an outcome is written only while the row is still claimed by this
  sender under that token (`bot.db.outbox.still_held` and the fenced updates), so a sender
  whose lease ran out never writes over another's claim.
- A live sender renews the lease of every row it holds every quarter lease, and its
  heartbeat with it: a send waiting on a slow answer keeps its row however long Telegram
  takes, and no other process sends it meanwhile.
- A sender that dies stops renewing: its rows come back when their lease runs out. A process
  started on the same host (and pid namespace) does not wait: the pids of the senders
  registered there tell it which are dead, and it takes their claims back at once. Only what
  they had in flight can then go twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import outbox, sender_processes
from bot.runtime import Deps
from bot.telegram_io.send_outcomes import Job

log = logging.getLogger(__name__)


def host_identity() -> str:
    """This host and pid namespace: where a process id names one process."""
    name = socket.gethostname()
    try:
        return f"{name[:200]}/pid:{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return name[:255]


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs here (an earlier process with our own id cannot)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Claims:
    """The rows a sender holds (id -> job), their renewal and the process's registration."""

    def __init__(self, deps: Deps, worker: str) -> None:
        self.deps = deps
        self.worker = worker
        self.host = host_identity()
        self.held: dict[int, Job] = {}
        self.lease = timedelta(seconds=deps.settings.send_lease_seconds)
        self.renew_every = deps.settings.send_lease_seconds / 4
        # Renewals and the writing of outcomes lock the same rows: one at a time, never a
        # deadlock between this sender's own transactions.
        self.writing = asyncio.Lock()
        self.beat_at: float | None = None  # time.monotonic() of the last heartbeat written

    async def claim(self, limit: int, chat_gap: timedelta | None) -> list[Job]:
        """Lease up to `limit` due rows to this sender (`chat_gap`: replicas, see
        `bot.db.outbox.claim`)."""
        now = self.deps.clock.now()
        until = now + self.lease
        async with self.deps.db.transaction() as session:
            # Rows this sender holds are not claimed again, even if a renewal came late.
            rows = await outbox.claim(
                session, self.worker, now, until, limit, self.held, chat_gap=chat_gap
            )
        jobs = [Job(**row, claimed_until=until) for row in rows]
        self.add(jobs)
        return jobs

    def add(self, jobs: Iterable[Job]) -> None:
        for job in jobs:
            self.held[job.id] = job

    def tokens(self, ids: Iterable[int]) -> dict[int, str]:
        return {i: self.held[i].claim_token for i in ids if i in self.held}

    async def still_ours(
        self, session: AsyncSession, tokens: dict[int, str], now: datetime
    ) -> set[int]:
        """Which of these claims are still ours. The fenced updates are what guarantees it;
        only rows whose lease (as last renewed) has run out are looked up, to count the lost."""
        lapsed = {i: t for i, t in tokens.items() if self.held[i].claimed_until <= now}
        kept = set(tokens).difference(lapsed)
        return kept | await outbox.still_held(session, self.worker, lapsed)

    def settled(self, tokens: dict[int, str]) -> None:
        """These claims are written (or lost): no longer held, unless claimed again since."""
        for i, token in tokens.items():
            job = self.held.get(i)
            if job is not None and job.claim_token == token:
                del self.held[i]

    async def renew(self) -> set[int]:
        """Extend the lease of every held row, and beat; returns the rows no longer ours."""
        async with self.writing, self.deps.db.transaction() as session:
            now = self.deps.clock.now()
            until = now + self.lease
            ids = set(self.held)  # after any outcomes written meanwhile were settled
            kept = await outbox.renew(session, self.worker, ids, until) if ids else set()
            await sender_processes.heartbeat(session, self.worker, self.host, os.getpid(), now)
        self.beat_at = time.monotonic()
        for i in kept:
            if i in self.held:
                self.held[i].claimed_until = until
        return ids - kept

    def keep(self, drop: Callable[[set[int]], None]) -> asyncio.Task[None]:
        """Renew every quarter lease until cancelled; `drop` is told of rows no longer ours.
        In real time: the sender's pacing timer may be a test's fake one."""

        async def renewing() -> None:
            while True:
                await asyncio.sleep(self.renew_every)
                try:
                    gone = await self.renew()
                except Exception:
                    log.warning("outbox could not renew its claims worker=%s", self.worker)
                    continue
                if gone:
                    drop(gone)

        return asyncio.create_task(renewing())

    async def register(self) -> None:
        """At start: take back the claims of this host's dead senders, then join the list."""
        now = self.deps.clock.now()
        async with self.deps.db.transaction() as session:
            peers = await sender_processes.on_host(session, self.host)
            dead = [p.id for p in peers if p.id != self.worker and not pid_alive(p.pid)]
            # A dead sender may have sent its rows just before it died: their chats wait one
            # per-chat interval from now before the copy goes again.
            gap = timedelta(seconds=1.0 / self.deps.settings.send_rate_per_chat_per_second)
            freed = await outbox.free_claims(session, dead, now + gap)
            await sender_processes.forget(session, dead)
            await sender_processes.forget_stale(session, now - self.lease)
            await sender_processes.heartbeat(session, self.worker, self.host, os.getpid(), now)
        self.beat_at = time.monotonic()
        if dead:
            log.info(
                "outbox took back the claims of dead senders worker=%s dead=%s rows=%s",
                self.worker,
                ",".join(dead),
                freed,
            )

    async def unregister(self) -> None:
        async with self.deps.db.transaction() as session:
            await sender_processes.forget(session, [self.worker])
