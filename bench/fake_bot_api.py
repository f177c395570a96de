"""A minimal fake Bot API over HTTP for the broadcast benchmark (not the tests' general one).

Enforces a strict limit on sends: at most `limit` accepted sends in any one-second window
(measured on arrival) and one per chat per second; anything beyond gets 429 with
retry_after, as Telegram does. Counts what each chat received.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, deque

from aiohttp import web

SEND_METHODS = {"sendMessage", "copyMessage"}


class FakeBotApi:
    def __init__(self, limit: int, per_chat_seconds: float = 1.0) -> None:
        self.limit = limit
        self.per_chat_seconds = per_chat_seconds
        self.window: deque[float] = deque()
        self.chat_last: dict[int, float] = {}
        self.received: Counter[int] = Counter()
        self.rate_limited = 0
        self.first: float | None = None
        self.last: float | None = None
        self.message_ids = 0

    def too_many(self, chat_id: int, now: float) -> bool:
        while self.window and self.window[0] <= now - 1.0:
            self.window.popleft()
        if len(self.window) >= self.limit:
            return True
        last = self.chat_last.get(chat_id)
        return last is not None and now - last < self.per_chat_seconds

    async def handle(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        method = request.match_info["method"]
        form = await request.post()
        if method == "getMe":
            return ok(
                {
                    "id": 1,
                    "is_bot": True,
                    "first_name": "Bench",
                    "username": "bench_bot",
                    "can_join_groups": False,
                    "can_read_all_group_messages": False,
                    "supports_inline_queries": False,
                }
            )
        if method not in SEND_METHODS:
            return ok(True)
        chat_id = int(str(form["chat_id"]))
        if self.too_many(chat_id, now):
            self.rate_limited += 1
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many Requests: retry after 1",
                    "parameters": {"retry_after": 1},
                },
                status=429,
            )
        self.window.append(now)
        self.chat_last[chat_id] = now
        self.received[chat_id] += 1
        self.first = self.first if self.first is not None else now
        self.last = now
        self.message_ids += 1
        if method == "copyMessage":
            return ok({"message_id": self.message_ids})
        return ok(
            {
                "message_id": self.message_ids,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "Official"},
                "text": str(form.get("text", "")),
            }
        )

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "received": {str(k): v for k, v in self.received.items()},
                "rate_limited": self.rate_limited,
                "span": (self.last - self.first) if self.first is not None and self.last else 0.0,
            }
        )


def ok(result: object) -> web.Response:
    return web.Response(
        text=json.dumps({"ok": True, "result": result}), content_type="application/json"
    )


def serve(port: int, limit: int, ready: object) -> None:
    """Run in a child process so the server does not share the sender's core."""
    api = FakeBotApi(limit)
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", api.handle)
    app.router.add_get("/bot{token}/{method}", api.handle)
    app.router.add_get("/stats", api.stats)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()  # type: ignore[attr-defined]
        await asyncio.Event().wait()

    asyncio.run(main())
