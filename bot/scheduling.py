"""APScheduler wiring: run the jobs the assembly passes in, each at its interval; stop them.

Jobs only call services or the outbox sender; all state is in the database, so a restart
or a second replica loses and repeats nothing. The table of jobs is `bot.app.scheduled_jobs`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

STOP_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Job:
    """One periodic job: `run` already holds what it needs (the bot, the dependencies)."""

    name: str
    run: Callable[[], Awaitable[None]]
    seconds: float


class Scheduler(AsyncIOScheduler):
    """APScheduler whose `stop` lets running jobs finish.

    `shutdown` cancels them: a job cancelled in the middle of its transaction is rolled back
    (nothing is lost) but logs a traceback at ERROR on every ordinary restart that meets it.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.running_jobs: set[asyncio.Task[Any]] = set()

    def tracked(self, job: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        @functools.wraps(job)
        async def run() -> None:
            task = asyncio.current_task()
            assert task is not None  # APScheduler runs each coroutine job in a task
            self.running_jobs.add(task)
            try:
                await job()
            finally:
                self.running_jobs.discard(task)

        return run

    async def stop(self) -> None:
        self.pause()  # no new runs
        if self.running_jobs:
            _done, pending = await asyncio.wait(set(self.running_jobs), timeout=STOP_WAIT_SECONDS)
            if pending:
                log.warning(
                    "scheduler stopping: jobs still running are cancelled count=%s", len(pending)
                )
        self.shutdown(wait=False)


async def start(app: Any, jobs: Sequence[Job]) -> None:
    """Start `jobs`; the scheduler is kept in `app.bot_data.scheduler` for `stop`."""
    scheduler = Scheduler(timezone="UTC")
    for job in jobs:
        # First run at start: work that fell due while the bot was down goes out at once.
        scheduler.add_job(
            scheduler.tracked(job.run),
            "interval",
            seconds=job.seconds,
            id=job.name,
            name=job.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=datetime.now(UTC),
        )
    scheduler.start()
    app.bot_data.scheduler = scheduler
    log.info("scheduler started jobs=%s", ",".join(job.name for job in jobs))


def alive(app: Any) -> bool | None:
    """For the health check: None where no scheduler runs (no background work here)."""
    scheduler: Scheduler | None = app.bot_data.scheduler
    if scheduler is None:
        return None if not app.bot_data.background else False
    return bool(scheduler.running)


async def stop(app: Any) -> None:
    """Let running jobs finish (see `Scheduler.stop`), then stop."""
    scheduler: Scheduler | None = app.bot_data.scheduler
    if scheduler is not None and scheduler.running:
        await scheduler.stop()
        app.bot_data.scheduler = None
