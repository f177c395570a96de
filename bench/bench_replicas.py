"""Three sender processes on one PostgreSQL database against the strict fake Bot API.

    .venv/bin/python -m bench.bench_replicas --database-url postgresql+asyncpg://...
        [--messages 900] [--limit 30] [--processes 3] [--margin 0.01]

The outbox holds `--messages` notices, three to a chat (so replicas meet in chats too).
Each process runs the outbox sender set to the bot's whole limit (SEND_RATE_PER_SECOND =
`--limit`), as an operator who does not divide it by hand would. Two runs, side by side:
`alone` (before issue 17: each process paces only itself) and `shared` (the slots come from
the database). Prints, from what the fake saw on arrival: the peak of sends in any one-second
window and in any chat, 429s, the delivered rate first to last as a fraction of the limit,
lost and duplicated messages.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import aiohttp
from sqlalchemy import func, select
from telegram import Bot

from bench.bench_broadcast import TOKEN, free_port, reset_pg
from bench.fake_bot_api import serve
from bot.clock import SystemClock
from bot.config import Settings
from bot.db import outbox
from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.db.models import Delivery, DeliveryStatus
from bot.runtime import Deps
from bot.telegram_io.sender import Sender
from bot.telegram_io.shared_pace import SharedPace
from bot.telegram_io.transport import AiohttpRequest

FIRST_CHAT = 20_000_000
PER_CHAT = 3


def settings_for(url: str, base: str, limit: int, margin: float) -> Settings:
    return Settings(
        _env_file=None,
        telegram_bot_token=TOKEN,  # type: ignore[call-arg]
        database_url=url,
        telegram_api_base_url=base,
        send_rate_per_second=float(limit),
        send_rate_per_chat_per_second=1.0,
        send_lease_seconds=4,
        send_window_margin_seconds=margin,
    )


async def fill(url: str, messages: int) -> None:
    db = Database(url)
    now = datetime.now(UTC)
    chats = messages // PER_CHAT
    try:
        await upgrade(db)
        async with db.transaction() as s:
            await outbox.enqueue(
                s,
                [
                    outbox.delivery_row(
                        dedupe_key=f"bench:{n}:{c}",
                        source="notice",
                        chat_id=FIRST_CHAT + c,
                        now=now,
                        text=f"Notice {n}",
                    )
                    for n in range(PER_CHAT)
                    for c in range(chats)
                ],
            )
    finally:
        await db.dispose()


async def sender_process(url: str, base: str, limit: int, margin: float, shared: bool) -> None:
    settings = settings_for(url, base, limit, margin)
    db = Database(url)
    deps = Deps(settings=settings, db=db, clock=SystemClock())
    bot = Bot(TOKEN, base_url=settings.api_base, request=AiohttpRequest(connections=16))
    await bot.initialize()
    sender = Sender(deps, bot)
    if shared:
        sender.use_shared(
            SharedPace(deps, sender.pacer, sender.timer, settings.send_window_margin_seconds)
        )
    await sender.start()
    try:
        while True:
            await sender.run_once()
            async with db.read() as s:
                left = await s.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.status == DeliveryStatus.PENDING)
                )
            if not left:
                break
            await asyncio.sleep(settings.send_poll_seconds)
    finally:
        await sender.close()
        await bot.shutdown()
        await db.dispose()


def run_sender(url: str, base: str, limit: int, margin: float, shared: bool) -> None:
    asyncio.run(sender_process(url, base, limit, margin, shared))


def peak(times: list[float]) -> int:
    """The most sends in any one-second window."""
    times = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


async def one_run(args: argparse.Namespace, shared: bool) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    port = free_port()
    ready = ctx.Event()
    server = ctx.Process(target=serve, args=(port, args.limit, ready), daemon=True)
    server.start()
    ready.wait(30)
    base = f"http://127.0.0.1:{port}"
    try:
        await reset_pg(args.database_url)
        await fill(args.database_url, args.messages)
        procs = [
            ctx.Process(
                target=run_sender,
                args=(args.database_url, base, args.limit, args.margin, shared),
            )
            for _ in range(args.processes)
        ]
        for p in procs:
            p.start()
        for p in procs:
            await asyncio.to_thread(p.join)
        async with aiohttp.ClientSession() as http, http.get(f"{base}/stats") as resp:
            stats = json.loads(await resp.text())
    finally:
        server.terminate()
    sends = stats["sends"]
    delivered = [at for _chat, at, ok in sends if ok]
    by_chat: dict[int, list[float]] = {}
    for chat, at, _ok in sends:
        by_chat.setdefault(chat, []).append(at)
    received = Counter({int(k): v for k, v in stats["received"].items()})
    chats = args.messages // PER_CHAT
    span = max(delivered) - min(delivered) + 1.0 / args.limit if delivered else 0.0
    return {
        "peak": peak([at for _chat, at, _ok in sends]),
        "chat_peak": max(peak(v) for v in by_chat.values()),
        "rate_limited": stats["rate_limited"],
        "rate": len(delivered) / span if span else 0.0,
        "lost": sum(1 for c in range(chats) if received[FIRST_CHAT + c] < PER_CHAT),
        "duplicated": sum(max(0, n - PER_CHAT) for n in received.values()),
        "delivered": len(delivered),
    }


async def run(args: argparse.Namespace) -> None:
    print(
        f"processes: {args.processes}, each set to the whole limit {args.limit} msg/s, "
        f"messages: {args.messages} ({PER_CHAT} per chat), window margin {args.margin} s, "
        "strict fake Bot API"
    )
    for name, shared in (("alone", False), ("shared", True)):
        r = await one_run(args, shared)
        print(
            f"{name}: peak {r['peak']} sends in a second (limit {args.limit}), chat peak "
            f"{r['chat_peak']}/s, 429s {r['rate_limited']}, delivered {r['delivered']} at "
            f"{r['rate']:.1f} msg/s, lost {r['lost']}, duplicated {r['duplicated']}"
        )
        print(
            f"bench_replicas_{name}: {r['rate']:.1f} msg/s, ratio {r['rate'] / args.limit:.3f}x, "
            f"peak {r['peak']}/s, 429s {r['rate_limited']}, duplicated {r['duplicated']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True, help="postgresql+asyncpg://...")
    parser.add_argument("--messages", type=int, default=900)
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--margin", type=float, default=0.01, help="SEND_WINDOW_MARGIN_SECONDS")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
