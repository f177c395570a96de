"""The scheduler's stop: a job running when the bot stops finishes instead of being cancelled."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot import scheduling
from tests.harness.updates import Harness


async def test_stop_lets_a_running_job_finish(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []

    async def busy() -> None:  # e.g. the reminders job in its transaction
        started.set()
        await release.wait()
        finished.append("busy")

    await scheduling.start(harness.app, [scheduling.Job("busy", busy, 60.0)])
    await asyncio.wait_for(started.wait(), 10)

    stopping = asyncio.create_task(scheduling.stop(harness.app))
    done, _ = await asyncio.wait([stopping], timeout=0.2)
    assert not done, "stop returned while the job was still running"
    release.set()
    await asyncio.wait_for(stopping, 10)

    assert finished == ["busy"]
    assert harness.app.bot_data.scheduler is None
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
