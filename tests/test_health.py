"""`/healthz` and `/metrics` over HTTP (issue 17), from the real process in polling, webhook
and --no-updates mode, and from the server alone when the database is unreachable."""

from __future__ import annotations

import asyncio
import re
import signal
from typing import Any

import pytest
from aiohttp import ClientSession, ClientTimeout, web

from bot import health
from bot.clock import SystemClock
from bot.db.engine import Database
from tests.harness.fake_server import FakeTelegram
from tests.harness.process import BotProcesses
from tests.harness.updates import TgUser
from tests.test_e2e_webhook import free_port

WAIT = 20.0
PERSON = TgUser(650001, "Salma")


HEALTHY_WAIT = 60.0


async def get(port: int, path: str) -> tuple[int, str]:
    async with (
        ClientSession(timeout=ClientTimeout(total=WAIT)) as session,
        session.get(f"http://127.0.0.1:{port}{path}") as resp,
    ):
        return resp.status, await resp.text()


async def healthz(port: int) -> tuple[int, dict[str, Any]]:
    async with (
        ClientSession(timeout=ClientTimeout(total=WAIT)) as session,
        session.get(f"http://127.0.0.1:{port}/healthz") as resp,
    ):
        return resp.status, await resp.json()


def sample(page: str, name: str, **labels: str) -> float:
    """A sample's value in Prometheus' text format."""
    label = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name + (f"{{{label}}}" if label else "")) + r" (\S+)"
    found = re.search(rf"^{pattern}$", page, re.MULTILINE)
    assert found, f"{name} {labels} not in\n{page}"
    return float(found.group(1))


async def until_healthy(port: int, bots: BotProcesses) -> dict[str, Any]:
    """The process is up when its health check says so (it starts the sender last). Up to
    HEALTHY_WAIT seconds: a start under a loaded machine was seen taking more than 20 s; a
    process that exits meanwhile fails at once, with its output."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HEALTHY_WAIT
    last: tuple[int, dict[str, Any]] | None = None
    while loop.time() < deadline:
        exited = [p.returncode for p in bots.running if p.returncode is not None]
        assert not exited, f"the bot exited ({exited}):\n{bots.output()}"
        try:
            last = await healthz(port)
        except OSError:
            last = None
        if last is not None and last[0] == 200:
            return last[1]
        await asyncio.sleep(0.1)
    raise AssertionError(f"never healthy: {last}\n{bots.output()}")


@pytest.mark.e2e
@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_health_and_metrics_of_the_running_bot(
    fake: FakeTelegram, bots: BotProcesses, mode: str
) -> None:
    port = free_port()
    env = {"METRICS_PORT": str(port)}
    if mode == "webhook":
        hook = free_port()
        env.update(WEBHOOK_URL=f"http://127.0.0.1:{hook}/", WEBHOOK_PORT=str(hook))
    proc = await bots.start(**env)
    body = await until_healthy(port, bots)
    assert body["database"] is True and body["sender"] is True and body["scheduler"] is True
    assert body["status"] == "ok"

    mark = await fake.command(PERSON, "/help")
    await fake.wait_for(PERSON, contains="/language", since=mark, within=WAIT)
    status, body = await healthz(port)
    assert status == 200
    assert isinstance(body["last_update_age_seconds"], float)
    assert 0 <= body["last_update_age_seconds"] < 600

    status, page = await get(port, "/metrics")
    assert status == 200
    assert sample(page, "cxb_updates_total", outcome="handled") >= 1
    assert sample(page, "cxb_update_handler_seconds_count") >= 1
    assert sample(page, "cxb_update_handler_seconds_bucket", le="+Inf") >= 1
    for state in ("due", "waiting", "claimed"):
        assert sample(page, "cxb_outbox_backlog", state=state) == 0
    for outcome in ("sent", "failed", "unreachable", "retried", "rate_limited"):
        assert sample(page, "cxb_outbox_sends_total", outcome=outcome) >= 0
    assert sample(page, "cxb_telegram_429_total", source="outbox") == 0
    assert sample(page, "cxb_telegram_429_total", source="reply") == 0
    assert await bots.stop(proc, signal.SIGTERM) == 0


@pytest.mark.e2e
async def test_health_of_a_replica_without_updates(fake: FakeTelegram, bots: BotProcesses) -> None:
    port = free_port()
    proc = await bots.start("--no-updates", METRICS_PORT=str(port))
    body = await until_healthy(port, bots)
    assert body == {
        "database": True,
        "sender": True,
        "scheduler": True,
        "last_update_age_seconds": None,
        "status": "ok",
    }
    assert await bots.stop(proc, signal.SIGTERM) == 0


async def test_healthz_fails_when_the_database_is_unreachable() -> None:
    db = Database(f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/none")
    probes = health.Probes(
        db=db,
        clock=SystemClock(),
        sender=lambda: True,
        scheduler=lambda: None,
        last_update_at=lambda: None,
    )
    port = free_port()
    runner = web.AppRunner(health.make_app(probes))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        status, body = await healthz(port)
        assert status == 503
        assert body["database"] is False and body["status"] == "failing"
        status, page = await get(port, "/metrics")
        assert status == 200 and "cxb_updates_total" in page
    finally:
        await runner.cleanup()
        await db.dispose()
