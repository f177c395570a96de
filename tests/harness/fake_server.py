"""The fake Bot API core served over HTTP on 127.0.0.1, for end-to-end tests and benchmarks.

It answers `/bot<token>/<method>` (JSON, form or multipart bodies, as PTB sends them) through
`BotApiCore`, which behaves like Telegram when things go wrong: rate limits over any
one-second window (429 with `retry_after`, the message is not delivered), 403 for a chat
that blocked the bot, 400 for an unknown chat, scripted 5xx or late answers (to provoke
client timeouts). This adapter adds what only HTTP has: `/file/bot<token>/<path>`, 401 for a
wrong token, 404 for an unknown method, getUpdates long polling and webhooks, and the users'
side (messages and button presses queued as updates).

Use it in the test's event loop:

    async with FakeTelegram(token) as tg:
        ...start the bot with TELEGRAM_API_BASE_URL=tg.base_url...
        mark = await tg.command(user, "/start")
        msg = await tg.wait_for(user, contains="Hello", since=mark)

or from synchronous code (benchmarks) with `ThreadedFakeTelegram`, which runs the server in
a background thread with its own loop.

Waiting is event based: every delivered or edited message and every API call gets a
sequence number; `wait_for` returns the first one after `since` that matches.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

from aiohttp import BodyPartReader, ClientSession, ClientTimeout, web

from tests.harness.bot_api_core import (
    BOT_USER,
    METHODS,
    SEND_METHODS,
    ApiError,
    BotApiCore,
    Call,
    CoreAdapter,
    Event,
    Msg,
    Rule,
    visible,
)
from tests.harness.updates import TgUser

__all__ = ["SEND_METHODS", "FakeTelegram", "Msg", "ThreadedFakeTelegram", "contains"]

T = TypeVar("T")

# Parameters PTB sends as plain strings; everything else in a form body is JSON-encoded.
STRING_PARAMS = {
    "text",
    "caption",
    "parse_mode",
    "callback_query_id",
    "file_id",
    "url",
    "secret_token",
    "action",
    "language_code",
    "business_connection_id",
    "inline_message_id",
    "ip_address",
    "message_effect_id",
    "title",
    "first_name",
    "last_name",
    "phone_number",
    "address",
    "emoji",
    "file_name",
    "performer",
}

CONFLICT_POLL = (
    "Conflict: terminated by other getUpdates request; make sure that only one "
    "bot instance is running"
)
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use "
    "deleteWebhook to delete the webhook first"
)


def contains(fragment: str) -> Callable[[Msg], bool]:
    return lambda m: fragment in m.body


class FakeTelegram(CoreAdapter):
    """The fake Bot API over HTTP. Limits: `rate` messages/s overall, `chat_rate` per chat
    (None = off); see `BotApiCore`. `token=None` accepts any token; `routes` are served
    besides the Bot API (a benchmark's statistics)."""

    def __init__(
        self,
        token: str | None = "123456789:AAE-fake-token-abcdefghijklmnopqrstuv",
        *,
        rate: float | None = 30.0,
        chat_rate: float | None = None,
        strict_chats: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
        routes: Sequence[web.RouteDef] = (),
    ) -> None:
        self.core = BotApiCore(
            rate=rate, chat_rate=chat_rate, strict_chats=strict_chats, clock=clock
        )
        self.token = token
        self.host = host
        self.port = port
        self.routes = routes
        self.webhook_url: str | None = None
        # setWebhook's secret_token: every update pushed to the webhook carries it, as
        # Telegram does (a test reads it here or in the recorded setWebhook call)
        self.webhook_secret: str | None = None
        self.confirmed_offset = 0
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(10001)
        self._last_update_id = 0
        self._poll_generation = 0
        self._cond: asyncio.Condition | None = None
        self._runner: web.AppRunner | None = None
        self._webhook_task: asyncio.Task[None] | None = None

    # ---- the core's records -------------------------------------------------------------
    @property
    def chats(self) -> dict[int, list[Msg]]:
        return self.core.chats

    @property
    def events(self) -> list[Event]:
        return self.core.events

    @property
    def stats(self) -> Counter[str]:
        return self.core.stats

    @property
    def limited(self) -> Counter[int]:
        """429s per chat id."""
        return self.core.limited

    @property
    def chat_rate_exempt(self) -> set[int]:
        return self.core.chat_rate_exempt

    # ---- lifecycle ----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """The Bot API root PTB expects as `base_url` (it appends the token)."""
        return f"{self.base_url}/bot"

    async def start(self) -> FakeTelegram:
        self._cond = asyncio.Condition()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_routes(self.routes)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- scripting (see BotApiCore) -----------------------------------------------------
    def server_error(
        self,
        status: int = 502,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        times: int | None = 1,
    ) -> Rule:
        return self.core.server_error(status, method=method, chat_id=chat_id, times=times)

    def time_out(
        self,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        times: int | None = 1,
        after: float = 0.0,
    ) -> Rule:
        """No answer: the connection is dropped `after` seconds (the call takes no effect)."""
        return self.core.time_out(method=method, chat_id=chat_id, times=times, after=after)

    def delay(
        self,
        seconds: float,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        times: int | None = 1,
    ) -> Rule:
        """Answer late (the call still takes effect afterwards, as with a slow Telegram)."""
        return self.core.delay(seconds, method=method, chat_id=chat_id, times=times)

    def block(self, chat_id: int | TgUser) -> None:
        self.core.block(_id(chat_id))

    def unblock(self, chat_id: int | TgUser) -> None:
        self.core.unblock(_id(chat_id))

    def forget_chat(self, chat_id: int | TgUser) -> None:
        """Calls to this chat answer 400 "chat not found" from now on."""
        self.core.forget_chat(_id(chat_id))

    def add_chat(self, chat_id: int | TgUser) -> None:
        self.core.add_chat(_id(chat_id))

    def add_file(self, content: bytes, file_path: str = "documents/file.bin") -> str:
        return self.core.add_file(content, file_path)

    # ---- injecting what users do --------------------------------------------------------
    def mark(self) -> int:
        """The current sequence number: wait for things that happen after it."""
        return self.core.last_seq

    async def _notify(self) -> None:
        assert self._cond is not None
        async with self._cond:
            self._cond.notify_all()

    async def inject(self, payload: dict[str, Any]) -> int:
        """Queue a raw update (update_id is added); returns the mark before it."""
        mark = self.mark()
        self._last_update_id = next(self._update_ids)
        self._updates.append(dict(payload, update_id=self._last_update_id))
        await self._notify()
        return mark

    async def send(self, user: TgUser, text: str | None = None, **fields: Any) -> int:
        """The user sends a message (media as fields, e.g. photo=[...]); returns a mark."""
        message = self.core.user_message(user.to_dict(), user.chat(), text, **fields)
        return await self.inject({"message": message})

    async def command(self, user: TgUser, command: str) -> int:
        return await self.send(user, command)

    async def callback(self, user: TgUser, data: str, message_id: int | None = None) -> int:
        """The user taps a button with this data on a message (forged data too)."""
        query = self.core.callback_query(user.to_dict(), user.chat(), data, message_id)
        return await self.inject({"callback_query": query})

    async def press(self, user: TgUser, label: str) -> int:
        """The user taps the newest button whose label contains `label`; returns a mark."""
        for msg in reversed(self.sent(user.id)):
            for text, data in msg.buttons:
                if label in visible(text) and data is not None:
                    return await self.callback(user, data, msg.message_id)
        raise AssertionError(f"no button {label!r} in chat {user.id}\n{self.transcript(user.id)}")

    async def user_blocks(self, user: TgUser) -> int:
        """The user blocks the bot: 403 from now on, and a my_chat_member 'kicked' update."""
        self.block(user.id)
        return await self.inject(
            {
                "my_chat_member": {
                    "chat": user.chat(),
                    "from": user.to_dict(),
                    "date": int(time.time()),
                    "old_chat_member": {"status": "member", "user": BOT_USER},
                    "new_chat_member": {"status": "kicked", "user": BOT_USER, "until_date": 0},
                }
            }
        )

    # ---- waiting ------------------------------------------------------------------------
    async def until(
        self, check: Callable[[], T | None], within: float = 20.0, what: str = "condition"
    ) -> T:
        """Wait until `check()` returns something truthy (re-checked on every change)."""
        assert self._cond is not None
        found: list[T] = []

        def probe() -> bool:
            value = check()
            if value:
                found.append(value)
                return True
            return False

        try:
            async with self._cond:
                await asyncio.wait_for(self._cond.wait_for(probe), within)
        except TimeoutError:
            raise AssertionError(
                f"timed out after {within}s waiting for {what}\n{self.transcript()}"
            ) from None
        return found[0]

    async def wait_for(
        self,
        chat_id: int | TgUser,
        predicate: Callable[[Msg], bool] | None = None,
        *,
        contains: str | None = None,
        since: int = 0,
        within: float = 20.0,
    ) -> Msg:
        """The first message sent or edited in the chat after `since` that matches."""
        chat = _id(chat_id)

        def check() -> Msg | None:
            for ev in self.events:
                if ev.seq <= since or ev.msg.chat_id != chat:
                    continue
                if contains is not None and contains not in visible(ev.text):
                    continue
                if predicate is not None and not predicate(ev.msg):
                    continue
                return ev.msg
            return None

        what = f"a message to {chat}" + (f" containing {contains!r}" if contains else "")
        return await self.until(check, within, what)

    async def wait_call(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        *,
        since: int = 0,
        within: float = 20.0,
    ) -> Call:
        def check() -> Call | None:
            for call in self.calls:
                if (
                    call.seq > since
                    and call.method == method
                    and (predicate is None or predicate(call))
                ):
                    return call
            return None

        return await self.until(check, within, f"a {method} call")

    async def wait_confirmed(self, within: float = 20.0) -> None:
        """Wait until the bot confirmed (getUpdates offset) every update injected so far, so a
        restart will not receive them again."""
        target = self._last_update_id
        await self.until(
            lambda: self.confirmed_offset > target or None,
            within,
            f"getUpdates to confirm update {target}",
        )

    async def wait_polling(self, since: int = 0, within: float = 20.0) -> Call:
        """Wait for a getUpdates call after `since` (the bot is up and polling)."""
        return await self.wait_call("getUpdates", since=since, within=within)

    # ---- reading ------------------------------------------------------------------------
    def sent(self, chat_id: int | TgUser) -> list[Msg]:
        """The bot's messages in the chat, oldest first (deleted ones included, flagged)."""
        return self.core.sent_messages(_id(chat_id))

    def last(self, chat_id: int | TgUser) -> Msg | None:
        return self.core.last_sent(_id(chat_id))

    def texts(self, chat_id: int | TgUser) -> list[str]:
        """What the person reads (without the invisible bidi marks)."""
        return [m.body for m in self.sent(chat_id)]

    def count(self, chat_id: int | TgUser, text: str | None = None) -> int:
        """How many messages the bot delivered to the chat (containing `text`, if given)."""
        return sum(1 for m in self.sent(chat_id) if text is None or text in m.body)

    def duplicates(self, chat_id: int | TgUser) -> list[str]:
        seen = Counter(m.body for m in self.sent(chat_id))
        return [body for body, n in seen.items() if n > 1]

    def of(self, method: str, chat_id: int | TgUser | None = None) -> list[Call]:
        return self.core.of(method, None if chat_id is None else _id(chat_id))

    def alerts(self) -> list[str]:
        """Texts of answered button presses (what the user saw pop up)."""
        return self.core.alerts()

    def transcript(self, chat_id: int | TgUser | None = None) -> str:
        return self.core.chat_transcript(None if chat_id is None else _id(chat_id))

    # ---- HTTP ---------------------------------------------------------------------------
    def _token_ok(self, token: str) -> bool:
        return self.token is None or token == self.token

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived = self.core.clock()
        path = request.path
        if path.startswith("/file/bot"):
            token, _, file_path = path[len("/file/bot") :].partition("/")
            if not self._token_ok(token):
                return _json(401, ApiError(401, "Unauthorized").body())
            for stored_path, content in self.core.files.values():
                if stored_path == file_path:
                    return web.Response(body=content, content_type="application/octet-stream")
            return _json(404, ApiError(404, "Not Found").body())
        if not path.startswith("/bot"):
            return _json(404, ApiError(404, "Not Found").body())
        token, _, name = path[len("/bot") :].partition("/")
        if not self._token_ok(token):
            return _json(401, ApiError(401, "Unauthorized").body())
        method = METHODS.get(name.lower())
        if method is None:
            return _json(404, ApiError(404, "Not Found").body())
        params, files = await _read_params(request)
        call = self.core.record(method, params, files, at=arrived)
        rule = self.core.scripted(call)
        await self.core.wait_out(rule)
        if rule is not None and rule.timeout:
            # No answer at all: the connection drops, as when Telegram's side times out.
            call.status, call.description = 0, "timeout"
            await self._notify()
            if request.transport is not None:
                request.transport.close()
            raise web.HTTPGatewayTimeout()  # never reaches the closed connection
        try:
            status, body = await self._respond(call, rule)
        finally:
            await self._notify()
        return _json(status, body)

    async def _respond(self, call: Call, rule: Rule | None) -> tuple[int, dict[str, Any]]:
        """What only the HTTP server answers (updates and webhooks), else the core's answer."""
        if rule is None or rule.status is None:
            try:
                if call.method == "getUpdates":
                    call.result = await self._get_updates(call.params)
                    return 200, {"ok": True, "result": call.result}
                if call.method in ("deleteWebhook", "setWebhook", "getWebhookInfo"):
                    call.result = self._webhook(call.method, call.params)
                    return 200, {"ok": True, "result": call.result}
            except ApiError as err:
                return self.core.refuse(call, err)
        return self.core.respond(call, rule)

    def _webhook(self, method: str, p: dict[str, Any]) -> Any:
        if method == "getWebhookInfo":
            return {
                "url": self.webhook_url or "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
        if p.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook_url = p.get("url") or None if method == "setWebhook" else None
        self.webhook_secret = p.get("secret_token") if method == "setWebhook" else None
        if self.webhook_url and self._webhook_task is None:
            self._webhook_task = asyncio.create_task(self._push_webhook())
        return True

    # ---- updates ------------------------------------------------------------------------
    async def _get_updates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise ApiError(409, CONFLICT_WEBHOOK)
        offset = int(p.get("offset") or 0)
        limit = max(1, min(100, int(p.get("limit") or 100)))
        timeout = float(p.get("timeout") or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self.confirmed_offset = max(self.confirmed_offset, offset)
            await self._notify()
        self._poll_generation += 1
        generation = self._poll_generation
        await self._notify()  # an older long poll now ends with 409, as on Telegram
        assert self._cond is not None
        if not self._updates and timeout > 0:
            with contextlib.suppress(TimeoutError):
                async with self._cond:
                    await asyncio.wait_for(
                        self._cond.wait_for(
                            lambda: bool(self._updates) or self._poll_generation != generation
                        ),
                        timeout,
                    )
        if self._poll_generation != generation:
            raise ApiError(409, CONFLICT_POLL)
        return self._updates[:limit]

    async def _push_webhook(self) -> None:
        """Deliver queued updates to the webhook, one at a time, retrying until accepted."""
        assert self._cond is not None
        async with ClientSession(timeout=ClientTimeout(total=10)) as session:
            while True:
                async with self._cond:
                    await self._cond.wait_for(lambda: bool(self._updates and self.webhook_url))
                update = self._updates[0]
                headers = (
                    {"X-Telegram-Bot-Api-Secret-Token": self.webhook_secret}
                    if self.webhook_secret
                    else {}
                )
                try:
                    async with session.post(
                        str(self.webhook_url), json=update, headers=headers
                    ) as resp:
                        accepted = resp.status < 300
                except (OSError, TimeoutError):
                    accepted = False
                if accepted and self._updates and self._updates[0] is update:
                    self._updates.pop(0)
                    self.confirmed_offset = update["update_id"] + 1
                    await self._notify()
                elif not accepted:
                    await asyncio.sleep(0.2)  # Telegram retries a failing webhook later


class ThreadedFakeTelegram:
    """The fake in a background thread with its own loop, for synchronous code.

    `run(coro)` runs a coroutine (e.g. `tg.wait_for(...)`) in the server's loop and returns
    its result.
    """

    def __init__(self, **kwargs: Any) -> None:
        self.server = FakeTelegram(**kwargs)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fake-telegram", daemon=True
        )

    def run(self, coro: Coroutine[Any, Any, T] | Awaitable[T]) -> T:
        async def wrap() -> T:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrap(), self._loop).result()

    def __enter__(self) -> FakeTelegram:
        self._thread.start()
        self.run(self.server.start())
        return self.server

    def __exit__(self, *exc: object) -> None:
        try:
            self.run(self.server.stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop.close()


# ---- request decoding --------------------------------------------------------------------


async def _read_params(
    request: web.Request,
) -> tuple[dict[str, Any], dict[str, tuple[str, bytes, str]]]:
    params: dict[str, Any] = dict(request.query)
    files: dict[str, tuple[str, bytes, str]] = {}
    ctype = request.content_type
    if request.method == "POST" and request.can_read_body:
        if ctype == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                return {**params, **body}, files
        elif ctype == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue
                if part.filename is not None:
                    mime = part.headers.get("Content-Type", "application/octet-stream")
                    files[part.name] = (part.filename, bytes(await part.read()), mime)
                else:
                    params[part.name] = await part.text()
        else:
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return {k: _decode(k, v) for k, v in params.items()}, files


def _decode(name: str, value: Any) -> Any:
    """Form values are JSON-encoded, except plain strings (PTB's RequestData.json_parameters)."""
    if not isinstance(value, str) or name in STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _id(chat: int | TgUser) -> int:
    return chat.id if isinstance(chat, TgUser) else int(chat)


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.json_response(body, status=status)
