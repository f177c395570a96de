"""One person floods the bot while a broadcast runs at the full limit: how long do others wait?

    .venv/bin/python -m bench.bench_flood [--flood 1000] [--seconds 20] [--limit 30]
        [--database-url postgresql+asyncpg://...]   (default: a fresh SQLite file)

The bot runs as `city-exchange-bot run` assembles it (`build_application`: the per-person
update processor, the replies' shared window, the outbox sender and the scheduler), against
the fake Bot API in a child process with Telegram's strict limits (`--limit` sends in any
one-second window, one per chat per second, 429 with retry_after beyond). Updates go into the
application's update queue, as polling puts them there. Then:

- a broadcast to `--officials` officials is confirmed and goes out at the full limit;
- one official pastes `--flood` messages within `--flood-seconds`;
- meanwhile other officials send /help, one every `--every` seconds in turn, for `--seconds`.

Prints the others' reply time (from the update entering the queue to the bot's sendMessage
answered by the fake Bot API) as p50/p99/max, what became of the flood, and the broadcast's
share of the window meanwhile. It never asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import statistics
import tempfile
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

import aiohttp
from telegram import Update
from telegram.request import HTTPXRequest, RequestData

from bench.bench_broadcast import ORGANISER_TG as ORGANISER
from bench.bench_broadcast import TOKEN, free_port, reset_pg, seed
from bench.fake_bot_api import serve
from bot.app import build_application
from bot.clock import SystemClock
from bot.config import Settings
from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.runtime import Deps
from bot.services import broadcast_compose

# bench_broadcast's officials are 10,000,000 + i: the first floods, the next ask for /help.
FLOODER = 10_000_000
OTHERS = FLOODER + 1


class TimedRequest(HTTPXRequest):
    """PTB's HTTP client, noting when each sendMessage the fake accepted was answered."""

    def __init__(self, on_sent: Any) -> None:
        super().__init__(connection_pool_size=256)
        self.on_sent = on_sent

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, **kwargs: Any
    ) -> tuple[int, bytes]:
        status, body = await super().do_request(url, method, request_data, **kwargs)
        if status == 200 and request_data is not None and url.endswith("/sendMessage"):
            self.on_sent(int(request_data.parameters["chat_id"]), time.perf_counter())
        return status, body


def message(app: Any, user_id: int, text: str, message_id: int) -> Update:
    user = {"id": user_id, "is_bot": False, "first_name": "Person", "language_code": "fr"}
    payload: dict[str, Any] = {
        "update_id": message_id,
        "message": {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "Person"},
            "from": user,
            "text": text,
        },
    }
    if text.startswith("/"):
        payload["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    return Update.de_json(payload, app.bot)


async def fake_stats(base: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/stats") as resp:
        return dict(json.loads(await resp.text()))


def broadcast_received(stats: dict[str, Any], others: int) -> int:
    """Messages in the chats of officials who only receive the broadcast."""
    return sum(n for chat, n in stats["received"].items() if int(chat) >= OTHERS + others)


async def run(args: argparse.Namespace) -> None:
    # The outbox's pass outlasts the scheduler's tick while the broadcast runs: not news here.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    port = free_port()
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    server = ctx.Process(target=serve, args=(port, args.limit, ready), daemon=True)
    server.start()
    ready.wait(30)
    base = f"http://127.0.0.1:{port}"
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp.name) / 'bench.db'}"
    if url.startswith("postgresql"):
        await reset_pg(url)
    overrides: dict[str, Any] = {}
    if args.cap is not None:
        overrides["max_queued_updates_per_person"] = args.cap
    settings = Settings(
        _env_file=None,
        telegram_bot_token=TOKEN,
        database_url=url,  # type: ignore[call-arg]
        telegram_api_base_url=base,
        seed_file="",
        bot_username="BenchBot",
        send_rate_per_second=float(args.limit),
        send_rate_per_chat_per_second=1.0,
        **overrides,
    )
    db = Database(url)
    deps = Deps(settings=settings, db=db, clock=SystemClock())
    asked: dict[int, deque[float]] = defaultdict(deque)  # chat -> when each /help was queued
    waits: list[float] = []
    flood_replies = 0

    def on_sent(chat_id: int, at: float) -> None:
        nonlocal flood_replies
        if chat_id == FLOODER:
            flood_replies += 1
        elif asked[chat_id]:
            waits.append(at - asked[chat_id].popleft())

    await upgrade(db)
    await seed(db, args.officials)
    app = build_application(deps, request=TimedRequest(on_sent))
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)  # migrations, the outbox sender and the scheduler, as `run` does
    await app.start()
    try:
        await broadcast_compose.begin(deps, ORGANISER)
        await broadcast_compose.set_message(deps, ORGANISER, ORGANISER, 1)
        created = await broadcast_compose.confirm(deps, ORGANISER, scheduled=False)
        await asyncio.sleep(2.0)  # the sender has picked it up and runs at the limit
        before = await fake_stats(base)

        ids = iter(range(1, 10**9))
        loop_start = time.perf_counter()

        async def flood() -> None:
            gap = args.flood_seconds / args.flood
            for i in range(args.flood):
                await app.update_queue.put(message(app, FLOODER, f"flood {i}", next(ids)))
                delay = loop_start + (i + 1) * gap - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)

        async def others() -> None:
            n = int(args.seconds / args.every)
            for i in range(n):
                chat = OTHERS + i % args.others
                asked[chat].append(time.perf_counter())
                await app.update_queue.put(message(app, chat, "/help", next(ids)))
                delay = loop_start + (i + 1) * args.every - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)

        await asyncio.gather(flood(), others())
        window = time.perf_counter() - loop_start
        after = await fake_stats(base)
        await asyncio.wait_for(app.update_queue.join(), timeout=120)  # every reply is out
        final = await fake_stats(base)
    finally:
        await app.stop()
        await app.shutdown()
        assert app.post_shutdown is not None
        await app.post_shutdown(app)
        server.terminate()
        tmp.cleanup()

    missing = sum(len(q) for q in asked.values())
    waits.sort()
    p50 = statistics.median(waits) if waits else float("nan")
    p99 = waits[min(len(waits) - 1, int(0.99 * len(waits)))] if waits else float("nan")
    sent_in_window = broadcast_received(after, args.others) - broadcast_received(
        before, args.others
    )
    all_in_window = sum(after["received"].values()) - sum(before["received"].values())
    flood_chat = final["received"].get(str(FLOODER), 0)
    backend = url.split("+", 1)[0]
    print(
        f"database: {backend}, limit: {args.limit} msg/s (1/s per chat), broadcast to "
        f"{created.total} officials, flood: {args.flood} messages in {args.flood_seconds:.0f} s, "
        f"per-person cap: {getattr(settings, 'max_queued_updates_per_person', None)}"
    )
    print(
        f"others: {len(waits)} /help answered of {len(waits) + missing} over {window:.1f} s; "
        f"reply time p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
        f"max {waits[-1] * 1000:.0f} ms"
    )
    print(
        f"flood: {flood_replies} replies reached the flooder (answers and any slow-down "
        f"notice), {flood_chat} messages in their chat with the broadcast"
    )
    print(
        f"broadcast meanwhile, to those who only receive it: {sent_in_window / window:.1f} msg/s "
        f"({sent_in_window / window / args.limit:.2f}x the limit); everything sent: "
        f"{all_in_window / window:.1f} msg/s ({all_in_window / window / args.limit:.2f}x); "
        f"429s answered by the fake: {final['rate_limited']}"
    )
    print(f"bench_flood: p99 {p99 * 1000:.0f} ms, ratio {p99:.2f}x the 1 s target")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flood", type=int, default=1000)
    parser.add_argument("--flood-seconds", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--every", type=float, default=0.1)
    parser.add_argument("--others", type=int, default=40)
    parser.add_argument("--officials", type=int, default=1500)
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--cap", type=int, default=None, help="MAX_QUEUED_UPDATES_PER_PERSON")
    parser.add_argument("--database-url", default=None)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
