"""The outbox sender in the running application: give it its Bot at start, run a pass per
scheduler tick, stop it cleanly; `run_once` for tests and benchmarks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from telegram import Bot

from bot.runtime import Deps
from bot.telegram_io.pacing import SharedWindow
from bot.telegram_io.send_outcomes import RunStats
from bot.telegram_io.sender import WORKER_ID, Sender
from bot.telegram_io.shared_pace import SharedPace
from bot.telegram_io.transport import AiohttpRequest

log = logging.getLogger(__name__)


async def start(app: Any) -> None:
    """Give the outbox its own Bot (faster transport unless configured otherwise)."""
    deps: Deps = app.bot_data.deps
    s = deps.settings
    bot: Bot = app.bot
    own: AiohttpRequest | None = None
    if s.send_transport == "aiohttp":
        own = AiohttpRequest(connections=max(8, s.send_max_in_flight))
        # Not initialised: Bot.initialize() would ask getMe through it at once, and the outbox
        # needs neither the bot's identity (the application's Bot checked the token) nor its
        # HTTP client (aiohttp) until it has something to send.
        bot = Bot(s.require_token(), base_url=s.api_base, base_file_url=s.file_base, request=own)
    limiter = getattr(app.bot, "rate_limiter", None)
    pacer = limiter.pacer if isinstance(limiter, SharedWindow) else None
    sender = Sender(deps, bot, pacer=pacer)
    if deps.db.is_postgres:
        # Replicas may share the database: every send and reply takes a slot from it.
        shared = SharedPace(deps, sender.pacer, sender.timer, s.send_window_margin_seconds)
        sender.use_shared(shared)
        if isinstance(limiter, SharedWindow):
            limiter.shared = shared
    await sender.start()
    app.bot_data.outbox = Outbox(sender, own)


async def stop(app: Any) -> None:
    outbox_: Outbox | None = getattr(app.bot_data, "outbox", None)
    if outbox_ is None:
        return
    outbox_.sender.stopping.set()
    if outbox_.running is not None:
        try:
            await asyncio.wait_for(asyncio.shield(outbox_.running), timeout=10)
        except (TimeoutError, Exception):
            log.warning("outbox did not stop cleanly worker=%s", outbox_.sender.worker)
    try:
        await outbox_.sender.close()
    except Exception:  # the database may be gone: the lease then runs out on its own
        log.warning("outbox could not leave the list of senders worker=%s", outbox_.sender.worker)
    if outbox_.own_request is not None:
        await outbox_.own_request.shutdown()
    app.bot_data.outbox = None


@dataclass
class Outbox:
    sender: Sender
    own_request: AiohttpRequest | None  # the outbox's own HTTP client, closed at stop
    running: asyncio.Future[RunStats] | None = None


def alive(app: Any) -> bool | None:
    """For the health check: the sender beats (renews its claims) every quarter lease; None
    where it does not run."""
    outbox_: Outbox | None = getattr(app.bot_data, "outbox", None)
    if outbox_ is None:
        return None if not app.bot_data.background else False
    claims = outbox_.sender.claims
    return (
        not outbox_.sender.stopping.is_set()
        and claims.beat_at is not None
        and time.monotonic() - claims.beat_at < claims.lease.total_seconds()
    )


async def job(app: Any) -> None:
    """The scheduler's outbox job: drain what is due; the next tick comes back for more."""
    outbox_: Outbox | None = getattr(app.bot_data, "outbox", None)
    if outbox_ is None or outbox_.sender.stopping.is_set():
        return
    outbox_.running = asyncio.ensure_future(outbox_.sender.run_once())
    try:
        # Shielded: a cancelled job must not cancel a pass in the middle of its transaction.
        await asyncio.shield(outbox_.running)
    finally:
        outbox_.running = None


async def run_once(deps: Deps, bot: Bot, **kwargs: Any) -> RunStats:
    """One pass with a fresh sender (tests, benchmarks)."""
    timer = kwargs.pop("timer", None)
    worker = kwargs.pop("worker", WORKER_ID)
    return await Sender(deps, bot, worker=worker, timer=timer).run_once(**kwargs)
