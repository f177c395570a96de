"""The tests' fake Bot API server, set up for the broadcast benchmark, in a child process.

Strict limits on sends: at most `limit` accepted sends in any one-second window (measured
on arrival) and one per chat per second; anything beyond gets 429 with retry_after, as
Telegram does (`tests.harness.bot_api_core`). `GET /stats` says what each chat received.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from tests.harness.bot_api_core import SEND_METHODS
from tests.harness.fake_server import FakeTelegram


def stats(fake: FakeTelegram) -> dict[str, Any]:
    """Messages received per chat, 429s answered, and seconds from first to last delivery."""
    delivered = [c.at for c in fake.calls if c.ok and c.method in SEND_METHODS]
    return {
        "received": {str(chat): len(fake.sent(chat)) for chat in fake.chats},
        "rate_limited": fake.stats["429"],
        "span": (delivered[-1] - delivered[0]) if delivered else 0.0,
    }


def serve(port: int, limit: int, ready: object) -> None:
    """Run in a child process so the server does not share the sender's core."""

    async def report(request: web.Request) -> web.Response:
        return web.json_response(stats(fake))

    # Any token: the benchmark's bot is the only client.
    fake = FakeTelegram(
        None, rate=limit, chat_rate=1.0, port=port, routes=[web.get("/stats", report)]
    )

    async def main() -> None:
        await fake.start()
        ready.set()  # type: ignore[attr-defined]
        await asyncio.Event().wait()

    asyncio.run(main())
