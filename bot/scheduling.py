"""APScheduler wiring: periodic jobs that read due work from the database.

Jobs only call services or the outbox sender; all state is in the database, so a restart
or a second replica loses and repeats nothing.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

Job = Callable[[Any], Awaitable[None]]
# Seconds, or a function of the settings (so an interval can be a setting read at start).
Interval = float | Callable[[Any], float]

# (name, coroutine taking the Application, interval). Features append here.
JOBS: list[tuple[str, Job, Interval]] = []
STOP_WAIT_SECONDS = 10.0


class Scheduler(AsyncIOScheduler):
    """APScheduler whose `stop` lets running jobs finish.

    `shutdown` cancels them: a job cancelled in the middle of its transaction is rolled back
    (nothing is lost) but logs a traceback at ERROR on every ordinary restart that meets it.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.running_jobs: set[asyncio.Task[Any]] = set()

    def tracked(self, job: Job) -> Job:
        @functools.wraps(job)
        async def run(app: Any) -> None:
            task = asyncio.current_task()
            assert task is not None  # APScheduler runs each coroutine job in a task
            self.running_jobs.add(task)
            try:
                await job(app)
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


async def start(app: Any) -> None:
    from bot.telegram_io import outbox_runner

    await outbox_runner.start(app)
    jobs = [*JOBS, ("outbox", outbox_runner.job, app.bot_data.deps.settings.send_poll_seconds)]
    scheduler = Scheduler(timezone="UTC")
    for name, job, interval in jobs:
        seconds = interval(app.bot_data.deps.settings) if callable(interval) else interval
        # First run at start: work that fell due while the bot was down goes out at once.
        scheduler.add_job(
            scheduler.tracked(job),
            "interval",
            seconds=seconds,
            args=[app],
            id=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=datetime.now(UTC),
        )
    scheduler.start()
    app.bot_data.scheduler = scheduler
    log.info("scheduler started jobs=%s", ",".join(n for n, _, _ in jobs))


async def stop(app: Any) -> None:
    from bot.telegram_io import outbox_runner

    # The sender first: its pass would otherwise go on until the outbox is empty; stopped, it
    # gives back the rows it claimed and has not sent.
    await outbox_runner.stop(app)
    scheduler: Scheduler | None = app.bot_data.scheduler
    if scheduler is not None and scheduler.running:
        await scheduler.stop()
        app.bot_data.scheduler = None
