"""APScheduler wiring: periodic jobs that read due work from the database.

Jobs only call services or the outbox sender; all state is in the database, so a restart
or a second replica loses and repeats nothing.
"""

from __future__ import annotations

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


async def start(app: Any) -> None:
    from bot import delivery

    await delivery.start(app)
    jobs = [*JOBS, ("outbox", delivery.job, app.bot_data.deps.settings.send_poll_seconds)]
    scheduler = AsyncIOScheduler(timezone="UTC")
    for name, job, interval in jobs:
        seconds = interval(app.bot_data.deps.settings) if callable(interval) else interval
        # First run at start: work that fell due while the bot was down goes out at once.
        scheduler.add_job(job, "interval", seconds=seconds, args=[app], id=name,
                          max_instances=1, coalesce=True, misfire_grace_time=None,
                          next_run_time=datetime.now(UTC))
    scheduler.start()
    app.bot_data.scheduler = scheduler
    log.info("scheduler started jobs=%s", ",".join(n for n, _, _ in jobs))


async def stop(app: Any) -> None:
    from bot import delivery

    # The sender first: shutting the scheduler down cancels running jobs, and a send cancelled
    # mid-transaction would leave its claimed rows to wait for the lease to expire.
    await delivery.stop(app)
    scheduler = app.bot_data.scheduler
    if scheduler is not None and scheduler.running:
        scheduler.shutdown(wait=False)
        app.bot_data.scheduler = None
