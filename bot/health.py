"""`/healthz` and `/metrics` on METRICS_PORT, in every mode (polling, webhook, --no-updates).

`/healthz` answers JSON: the database reachable (a `SELECT 1` within `DB_TIMEOUT`), the sender
and the scheduler alive (null where this process does not run them), and the age in seconds
of the last update received (null before the first, and in a process that takes none). It is
200 when the database answers and nothing that should run has stopped, else 503: what a
container healthcheck or a load balancer asks. `/metrics` is Prometheus' text format
(bot/metrics.py), with the outbox backlog read from the database at each scrape.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from bot import metrics
from bot.clock import Clock
from bot.config import ListenError
from bot.db.engine import Database
from bot.db.outbox_backlog import backlog

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger(__name__)

DB_TIMEOUT = 3.0


@dataclass
class Probes:
    """What the health check asks; each probe answers None where the part does not run."""

    db: Database
    clock: Clock
    sender: Callable[[], bool | None]
    scheduler: Callable[[], bool | None]
    last_update_at: Callable[[], float | None]  # time.monotonic() of the last update


async def database_ok(db: Database) -> bool:
    try:
        async with asyncio.timeout(DB_TIMEOUT), db.read() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("health: database unreachable error=%s", type(exc).__name__)
        return False
    return True


async def report(probes: Probes) -> tuple[bool, dict[str, object]]:
    """(healthy, what /healthz shows)."""
    db = await database_ok(probes.db)
    sender, scheduler = probes.sender(), probes.scheduler()
    last = probes.last_update_at()
    body: dict[str, object] = {
        "database": db,
        "sender": sender,
        "scheduler": scheduler,
        "last_update_age_seconds": None if last is None else round(time.monotonic() - last, 3),
    }
    healthy = db and sender is not False and scheduler is not False
    body["status"] = "ok" if healthy else "failing"
    return healthy, body


def make_app(probes: Probes) -> web.Application:
    from aiohttp import web  # only a process serving METRICS_PORT needs it (test_startup.py)

    async def healthz(request: web.Request) -> web.Response:
        healthy, body = await report(probes)
        return web.json_response(body, status=200 if healthy else 503)

    async def metrics_page(request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(DB_TIMEOUT), probes.db.read() as session:
                counts = await backlog(session, probes.clock.now())
        except Exception as exc:
            log.warning("metrics: outbox backlog unreadable error=%s", type(exc).__name__)
        else:
            for state, n in counts.items():
                metrics.OUTBOX_BACKLOG.labels(state).set(n)
        return web.Response(
            body=generate_latest(metrics.REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app = web.Application()
    app.add_routes([web.get("/healthz", healthz), web.get("/metrics", metrics_page)])
    return app


async def start(probes: Probes, listen: str, port: int) -> web.AppRunner:
    from aiohttp import web

    runner = web.AppRunner(make_app(probes), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, listen, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise ListenError(listen, port, "METRICS_LISTEN, METRICS_PORT", exc) from None
    log.info("health and metrics listen=%s port=%s", listen, port)
    return runner
