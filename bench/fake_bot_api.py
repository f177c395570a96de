"""The tests' fake Bot API server, set up for the broadcast benchmark, in a child process.

Strict limits on sends: at most `limit` accepted sends in any one-second window (measured
on arrival) and one per chat per second; anything beyond gets 429 with retry_after, as
Telegram does (`tests.harness.bot_api_core`). `GET /stats` says what each chat received.
Faults, if asked for: the first send to each chat in `failing` answers 502 at once, and the
first send to each chat in `hanging` gets no answer, its connection dropped after 6 s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from tests.harness.bot_api_core import SEND_METHODS
from tests.harness.fake_server import FakeTelegram

HANG_SECONDS = 6.0


def stats(fake: FakeTelegram) -> dict[str, Any]:
    """Messages received per chat, 429s answered, seconds from first to last delivery, and
    every send as (chat, arrival, delivered)."""
    sends = [c for c in fake.calls if c.method in SEND_METHODS]
    delivered = [c.at for c in sends if c.ok]
    return {
        "received": {str(chat): len(fake.sent(chat)) for chat in fake.chats},
        "rate_limited": fake.stats["429"],
        "span": (delivered[-1] - delivered[0]) if delivered else 0.0,
        "sends": [(c.chat_id, c.at, c.ok) for c in sends],
    }


def serve(
    port: int,
    limit: int,
    ready: object,
    failing: Sequence[int] = (),
    hanging: Sequence[int] = (),
) -> None:
    """Run in a child process so the server does not share the sender's core."""

    async def report(request: web.Request) -> web.Response:
        return web.json_response(stats(fake))

    # Any token: the benchmark's bot is the only client.
    fake = FakeTelegram(
        None, rate=limit, chat_rate=1.0, port=port, routes=[web.get("/stats", report)]
    )

    for chat in failing:
        fake.server_error(502, chat_id=chat)
    for chat in hanging:
        fake.time_out(chat_id=chat, after=HANG_SECONDS)

    async def main() -> None:
        await fake.start()
        ready.set()  # type: ignore[attr-defined]
        await asyncio.Event().wait()

    asyncio.run(main())
