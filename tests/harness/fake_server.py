"""A fake Telegram Bot API server on 127.0.0.1, for end-to-end tests and benchmarks.

It answers `/bot<token>/<method>` like Telegram (JSON, form or multipart bodies, as PTB
sends them), serves `/file/bot<token>/<path>`, and behaves like Telegram when things go
wrong: it enforces rate limits over any one-second window (429 with `retry_after`, the
message is not delivered), answers 403 for a chat that blocked the bot, 400 for an unknown
chat, 401 for a wrong token, 404 for an unknown method, and can be scripted to fail with
5xx or to answer late (to provoke client timeouts).

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
import math
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import ClientSession, ClientTimeout, web

from tests.harness.updates import TgUser

T = TypeVar("T")

BOT_ID = 7000001
BOT_USERNAME = "CityExchangeTestBot"
BOT_USER = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": "City Exchange",
    "username": BOT_USERNAME,
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}

SEND_METHODS = {
    "sendMessage",
    "copyMessage",
    "copyMessages",
    "forwardMessage",
    "forwardMessages",
    "sendPhoto",
    "sendDocument",
    "sendVideo",
    "sendVoice",
    "sendAudio",
    "sendAnimation",
    "sendLocation",
    "sendMediaGroup",
    "sendSticker",
    "sendContact",
    "sendVenue",
}
MEDIA_FIELDS = {
    "sendPhoto": "photo",
    "sendDocument": "document",
    "sendVideo": "video",
    "sendVoice": "voice",
    "sendAudio": "audio",
    "sendAnimation": "animation",
    "sendSticker": "sticker",
}
EDIT_METHODS = {"editMessageText", "editMessageReplyMarkup", "editMessageCaption"}
OTHER_METHODS = {
    "getMe",
    "getUpdates",
    "deleteWebhook",
    "setWebhook",
    "getWebhookInfo",
    "setMyCommands",
    "deleteMyCommands",
    "answerCallbackQuery",
    "sendChatAction",
    "deleteMessage",
    "getChat",
    "getFile",
    "logOut",
    "close",
}
METHODS = {m.lower(): m for m in SEND_METHODS | EDIT_METHODS | OTHER_METHODS}
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


class ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass
class Rule:
    """A scripted failure or delay for calls matching method and chat."""

    method: str | None
    chat_id: int | None
    status: int | None = None
    description: str = ""
    retry_after: int | None = None
    delay: float = 0.0
    times: int | None = 1  # None: for ever

    def matches(self, method: str, chat_id: int | None) -> bool:
        return self.method in (None, method) and (self.chat_id is None or self.chat_id == chat_id)


@dataclass
class Call:
    seq: int
    method: str
    params: dict[str, Any]
    chat_id: int | None
    status: int = 200
    description: str | None = None
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    result: Any = None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class Msg:
    """One message in a chat's transcript (the bot's, or one the user sent)."""

    chat_id: int
    message_id: int
    from_bot: bool
    method: str
    text: str | None = None
    caption: str | None = None
    reply_markup: dict[str, Any] | None = None
    copy_of: tuple[Any, Any] | None = None  # (from_chat_id, message_id) for copies/forwards
    media: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)  # the Message JSON as Telegram sends it
    edits: int = 0
    deleted: bool = False
    seq: int = 0  # last change

    @property
    def body(self) -> str:
        return self.text if self.text is not None else (self.caption or "")

    @property
    def buttons(self) -> list[tuple[str, str | None]]:
        markup = self.reply_markup or {}
        return [
            (b.get("text", ""), b.get("callback_data") or b.get("url"))
            for row in markup.get("inline_keyboard", [])
            for b in row
        ]


@dataclass(frozen=True)
class Event:
    seq: int
    kind: str  # "send" | "edit"
    msg: Msg
    text: str  # the text/caption right after this event


class _Window:
    """Counts deliveries in a sliding one-second window (strict, no initial burst allowance)."""

    def __init__(self) -> None:
        self.times: deque[float] = deque()

    def room(self, now: float, limit: float) -> tuple[int, float]:
        while self.times and self.times[0] <= now - 1.0:
            self.times.popleft()
        return int(limit) - len(self.times), (self.times[0] + 1.0 - now) if self.times else 0.0


def contains(fragment: str) -> Callable[[Msg], bool]:
    return lambda m: fragment in m.body


class FakeTelegram:
    """The fake Bot API. Limits: `rate` messages/s overall, `chat_rate` per chat (None = off).

    Telegram tolerates short bursts in a private chat (a reply and a prompt), so the per-chat
    limit is off unless a test or benchmark turns it on; `chat_rate_exempt` lists chats it
    then spares (a person in a conversation with the bot while a broadcast goes out).
    """

    def __init__(
        self,
        token: str = "123456789:AAE-fake-token-abcdefghijklmnopqrstuv",
        *,
        rate: float | None = 30.0,
        chat_rate: float | None = None,
        strict_chats: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.clock = clock  # seconds, for the rate-limit windows (tests may pass their own)
        self.rate = rate
        self.chat_rate = chat_rate
        self.strict_chats = strict_chats
        self.host = host
        self.port = port
        self.calls: list[Call] = []
        self.chats: dict[int, list[Msg]] = defaultdict(list)
        self.events: list[Event] = []
        self.rules: list[Rule] = []
        self.blocked: set[int] = set()
        self.unknown: set[int] = set()
        self.known: set[int] = set()
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self.stats: Counter[str] = Counter()
        self.limited: Counter[int] = Counter()  # 429s per chat id
        self.chat_rate_exempt: set[int] = set()
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.confirmed_offset = 0
        self.users: dict[int, TgUser] = {}
        self._seq = itertools.count(1)
        self._last_seq = 0
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(10001)
        self._last_update_id = 0
        self._query_ids = itertools.count(1)
        self._open_queries: set[str] = set()  # callback queries not answered yet
        self._file_ids = itertools.count(1)
        self._msg_ids: dict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._overall = _Window()
        self._per_chat: dict[int, _Window] = defaultdict(_Window)
        self._poll_generation = 0
        self._cond: asyncio.Condition | None = None
        self._runner: web.AppRunner | None = None
        self._webhook_task: asyncio.Task[None] | None = None

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

    # ---- scripting ----------------------------------------------------------------------
    def fail(
        self,
        status: int = 400,
        description: str = "Bad Request: scripted",
        *,
        method: str | None = None,
        chat_id: int | None = None,
        times: int | None = 1,
        retry_after: int | None = None,
    ) -> Rule:
        rule = Rule(method, chat_id, status, description, retry_after, times=times)
        self.rules.append(rule)
        return rule

    def server_error(
        self,
        status: int = 502,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        times: int | None = 1,
    ) -> Rule:
        return self.fail(
            status,
            "Bad Gateway" if status == 502 else "Internal Server Error",
            method=method,
            chat_id=chat_id,
            times=times,
        )

    def delay(
        self,
        seconds: float,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        times: int | None = 1,
    ) -> Rule:
        """Answer late (the call still takes effect afterwards, as with a slow Telegram)."""
        rule = Rule(method, chat_id, delay=seconds, times=times)
        self.rules.append(rule)
        return rule

    def block(self, chat_id: int | TgUser) -> None:
        self.blocked.add(_id(chat_id))

    def unblock(self, chat_id: int | TgUser) -> None:
        self.blocked.discard(_id(chat_id))

    def forget_chat(self, chat_id: int | TgUser) -> None:
        """Calls to this chat answer 400 "chat not found" from now on."""
        self.unknown.add(_id(chat_id))

    def add_chat(self, chat_id: int | TgUser) -> None:
        self.known.add(_id(chat_id))
        self.unknown.discard(_id(chat_id))

    def add_file(self, content: bytes, file_path: str = "documents/file.bin") -> str:
        file_id = f"file-{next(self._file_ids)}"
        self.files[file_id] = (file_path, content)
        return file_id

    # ---- injecting what users do --------------------------------------------------------
    def _bump(self) -> int:
        self._last_seq = next(self._seq)
        return self._last_seq

    def mark(self) -> int:
        """The current sequence number: wait for things that happen after it."""
        return self._last_seq

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

    def _user_message(self, user: TgUser, text: str | None, **fields: Any) -> dict[str, Any]:
        self.users[user.id] = user
        self.known.add(user.id)
        msg: dict[str, Any] = {
            "message_id": next(self._msg_ids[user.id]),
            "date": int(time.time()),
            "chat": user.chat(),
            "from": user.to_dict(),
        }
        if text is not None:
            msg["text"] = text
            if text.startswith("/"):
                msg["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
                ]
        msg.update(fields)
        self.chats[user.id].append(
            Msg(
                user.id,
                msg["message_id"],
                False,
                "user",
                text=text,
                caption=fields.get("caption"),
                raw=msg,
            )
        )
        return msg

    async def send(self, user: TgUser, text: str | None = None, **fields: Any) -> int:
        """The user sends a message (media as fields, e.g. photo=[...]); returns a mark."""
        return await self.inject({"message": self._user_message(user, text, **fields)})

    async def command(self, user: TgUser, command: str) -> int:
        return await self.send(user, command)

    async def callback(self, user: TgUser, data: str, message_id: int | None = None) -> int:
        """The user taps a button with this data on a message (forged data too)."""
        self.users[user.id] = user
        msg = self._find(user.id, message_id) if message_id else self.last(user.id)
        message = (
            msg.raw
            if msg is not None
            else {
                "message_id": message_id or 1,
                "date": int(time.time()),
                "chat": user.chat(),
                "from": BOT_USER,
                "text": "…",
            }
        )
        query_id = str(next(self._query_ids))
        self._open_queries.add(query_id)
        return await self.inject(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user.to_dict(),
                    "chat_instance": str(user.id),
                    "data": data,
                    "message": message,
                }
            }
        )

    async def press(self, user: TgUser, label: str) -> int:
        """The user taps the newest button whose label contains `label`; returns a mark."""
        for msg in reversed(self.sent(user.id)):
            for text, data in msg.buttons:
                if label in text and data is not None:
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
                if contains is not None and contains not in ev.text:
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
        return [m for m in self.chats.get(_id(chat_id), []) if m.from_bot]

    def last(self, chat_id: int | TgUser) -> Msg | None:
        sent = self.sent(chat_id)
        return sent[-1] if sent else None

    def texts(self, chat_id: int | TgUser) -> list[str]:
        return [m.body for m in self.sent(chat_id)]

    def count(self, chat_id: int | TgUser, text: str | None = None) -> int:
        """How many messages the bot delivered to the chat (containing `text`, if given)."""
        return sum(1 for m in self.sent(chat_id) if text is None or text in m.body)

    def duplicates(self, chat_id: int | TgUser) -> list[str]:
        seen = Counter(m.body for m in self.sent(chat_id))
        return [body for body, n in seen.items() if n > 1]

    def of(self, method: str, chat_id: int | TgUser | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method == method and (chat_id is None or c.chat_id == _id(chat_id))
        ]

    def alerts(self) -> list[str]:
        """Texts of answered button presses (what the user saw pop up)."""
        return [
            c.params.get("text", "")
            for c in self.of("answerCallbackQuery")
            if c.ok and c.params.get("text")
        ]

    def _find(self, chat_id: int, message_id: int) -> Msg | None:
        for msg in self.chats.get(chat_id, []):
            if msg.message_id == message_id and msg.from_bot:
                return msg
        return None

    def transcript(self, chat_id: int | TgUser | None = None) -> str:
        lines = []
        chats = [_id(chat_id)] if chat_id is not None else sorted(self.chats)
        for chat in chats:
            for m in self.chats.get(chat, []):
                who = "bot →" if m.from_bot else "user ←"
                body = m.body.replace("\n", " ⏎ ")[:300]
                buttons = " ".join(f"[{t}]" for t, _ in m.buttons)
                flags = (" (edited)" if m.edits else "") + (" (deleted)" if m.deleted else "")
                lines.append(f"{chat} {who} #{m.message_id} {m.method}: {body} {buttons}{flags}")
        errors = [
            f"!! {c.method} chat={c.chat_id} {c.status} {c.description}"
            for c in self.calls
            if not c.ok
        ]
        return "\n".join(lines + errors) or "(nothing)"

    # ---- HTTP ---------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/file/bot"):
            token, _, file_path = path[len("/file/bot") :].partition("/")
            if token != self.token:
                return _json(401, ApiError(401, "Unauthorized").body())
            for stored_path, content in self.files.values():
                if stored_path == file_path:
                    return web.Response(body=content, content_type="application/octet-stream")
            return _json(404, ApiError(404, "Not Found").body())
        if not path.startswith("/bot"):
            return _json(404, ApiError(404, "Not Found").body())
        token, _, name = path[len("/bot") :].partition("/")
        if token != self.token:
            return _json(401, ApiError(401, "Unauthorized").body())
        method = METHODS.get(name.lower())
        if method is None:
            return _json(404, ApiError(404, "Not Found").body())
        params, files = await _read_params(request)
        call = Call(self._bump(), method, params, _chat_id(params.get("chat_id")), files=files)
        self.calls.append(call)
        self.stats[f"calls.{method}"] += 1
        try:
            result = await self._dispatch(call)
        except ApiError as err:
            call.status, call.description = err.status, err.description
            self.stats[f"status.{err.status}"] += 1
            await self._notify()
            return _json(err.status, err.body())
        call.result = result
        await self._notify()
        return _json(200, {"ok": True, "result": result})

    def _rule_for(self, call: Call) -> Rule | None:
        for rule in list(self.rules):
            if rule.matches(call.method, call.chat_id):
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self.rules.remove(rule)
                return rule
        return None

    async def _dispatch(self, call: Call) -> Any:
        rule = self._rule_for(call)
        if rule is not None and rule.delay:
            await asyncio.sleep(rule.delay)
        if rule is not None and rule.status is not None:
            if rule.status == 429:
                self.limited[call.chat_id or 0] += 1
            raise ApiError(rule.status, rule.description, rule.retry_after)
        p = call.params
        if call.method == "getUpdates":
            return await self._get_updates(p)
        if "chat_id" in p:
            self._check_chat(call)
        if call.method in SEND_METHODS:
            self._check_rate(call)
        return self._answer(call)

    def _check_chat(self, call: Call) -> None:
        chat = call.chat_id
        if chat is None:
            if "chat_id" in call.params:
                raise ApiError(400, "Bad Request: chat not found")
            return
        if chat in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat in self.unknown or (self.strict_chats and chat not in self.known):
            raise ApiError(400, "Bad Request: chat not found")

    def _check_rate(self, call: Call) -> None:
        units = max(1, len(call.params.get("media") or call.params.get("message_ids") or [1]))
        now = self.clock()
        waits = []
        if self.rate is not None:
            room, wait = self._overall.room(now, self.rate)
            if room < units:
                waits.append(wait)
        chat = call.chat_id or 0
        if self.chat_rate is not None and chat not in self.chat_rate_exempt:
            room, wait = self._per_chat[chat].room(now, self.chat_rate)
            if room < units:
                waits.append(wait)
        if waits:
            self.limited[chat] += 1
            self.stats["429"] += 1
            retry = max(1, math.ceil(max(waits)))
            raise ApiError(429, f"Too Many Requests: retry after {retry}", retry)
        for _ in range(units):
            self._overall.times.append(now)
            self._per_chat[chat].times.append(now)
        self.stats["delivered"] += units

    # ---- answers ------------------------------------------------------------------------
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

    def _chat_dict(self, chat_id: int) -> dict[str, Any]:
        if chat_id < 0:
            return {"id": chat_id, "type": "supergroup", "title": "Group"}
        user = self.users.get(chat_id)
        return user.chat() if user else {"id": chat_id, "type": "private", "first_name": "User"}

    def _deliver(self, call: Call, **fields: Any) -> dict[str, Any]:
        chat = call.chat_id
        assert chat is not None
        markup = call.params.get("reply_markup")
        raw: dict[str, Any] = {
            "message_id": next(self._msg_ids[chat]),
            "date": int(time.time()),
            "chat": self._chat_dict(chat),
            "from": BOT_USER,
        }
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            raw["reply_markup"] = markup
        raw.update({k: v for k, v in fields.items() if v is not None})
        copy_of = None
        if call.method in ("copyMessage", "forwardMessage", "copyMessages", "forwardMessages"):
            copy_of = (call.params.get("from_chat_id"), call.params.get("message_id"))
        msg = Msg(
            chat,
            raw["message_id"],
            True,
            call.method,
            text=raw.get("text"),
            caption=raw.get("caption"),
            reply_markup=raw.get("reply_markup"),
            copy_of=copy_of,
            raw=raw,
            seq=call.seq,
            media={k: raw[k] for k in MEDIA_FIELDS.values() if k in raw},
        )
        self.chats[chat].append(msg)
        self.events.append(Event(call.seq, "send", msg, msg.body))
        return raw

    def _source(self, from_chat: Any, message_id: Any) -> dict[str, Any]:
        chat = _chat_id(from_chat)
        for m in self.chats.get(chat or 0, []):
            if m.message_id == _int(message_id):
                return m.raw
        return {}

    def _media(self, call: Call, kind: str) -> Any:
        value = call.params.get(kind)
        content = b""
        name = "file.bin"
        if isinstance(value, str) and value.startswith("attach://"):
            name, content = call.files.get(value[len("attach://") :], (name, b""))
        elif kind in call.files:
            name, content = call.files[kind]
        elif isinstance(value, str) and value in self.files:
            content = self.files[value][1]
        file_id = self.add_file(content, f"{kind}s/{name}")
        item = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(content)}
        if kind == "photo":
            return [dict(item, width=320, height=240)]
        if kind == "document":
            return dict(item, file_name=name)
        if kind in ("video", "animation"):
            return dict(item, width=320, height=240, duration=1)
        if kind in ("voice", "audio"):
            return dict(item, duration=1)
        if kind == "sticker":
            return dict(
                item, type="regular", width=512, height=512, is_animated=False, is_video=False
            )
        return item

    def _answer(self, call: Call) -> Any:
        method, p = call.method, call.params
        if method == "getMe":
            return BOT_USER
        if method in ("deleteWebhook", "setWebhook"):
            if p.get("drop_pending_updates"):
                self._updates.clear()
            self.webhook_url = p.get("url") or None if method == "setWebhook" else None
            self.webhook_secret = p.get("secret_token") if method == "setWebhook" else None
            if self.webhook_url and self._webhook_task is None:
                self._webhook_task = asyncio.create_task(self._push_webhook())
            return True
        if method == "getWebhookInfo":
            return {
                "url": self.webhook_url or "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
        if method == "sendMessage":
            return self._deliver(call, text=p.get("text", ""))
        if method == "copyMessage":
            source = self._source(p.get("from_chat_id"), p.get("message_id"))
            caption = p.get("caption", source.get("caption"))
            fields = {k: v for k, v in source.items() if k in MEDIA_FIELDS.values()}
            raw = self._deliver(
                call, text=None if fields else source.get("text", ""), caption=caption, **fields
            )
            return {"message_id": raw["message_id"]}
        if method == "forwardMessage":
            source = self._source(p.get("from_chat_id"), p.get("message_id"))
            fields = {
                k: v for k, v in source.items() if k in ("text", "caption", *MEDIA_FIELDS.values())
            }
            return self._deliver(call, **fields)
        if method in ("copyMessages", "forwardMessages"):
            out = []
            for mid in p.get("message_ids") or []:
                source = self._source(p.get("from_chat_id"), mid)
                one = Call(call.seq, call.method, dict(p, message_id=mid), call.chat_id)
                raw = self._deliver(one, text=source.get("text"), caption=source.get("caption"))
                out.append({"message_id": raw["message_id"]})
            return out
        if method in MEDIA_FIELDS:
            kind = MEDIA_FIELDS[method]
            return self._deliver(call, caption=p.get("caption"), **{kind: self._media(call, kind)})
        if method == "sendLocation":
            return self._deliver(
                call, location={"latitude": p.get("latitude"), "longitude": p.get("longitude")}
            )
        if method == "sendMediaGroup":
            out = []
            for item in p.get("media") or []:
                kind = item.get("type", "photo")
                sub = Call(
                    call.seq, call.method, {kind: item.get("media")}, call.chat_id, files=call.files
                )
                out.append(
                    self._deliver(
                        call, caption=item.get("caption"), **{kind: self._media(sub, kind)}
                    )
                )
            return out
        if method in EDIT_METHODS:
            return self._edit(call)
        if method == "deleteMessage":
            msg = self._find(call.chat_id or 0, _int(p.get("message_id")))
            if msg is None or msg.deleted:
                raise ApiError(400, "Bad Request: message to delete not found")
            msg.deleted = True
            return True
        if method == "getChat":
            chat = call.chat_id or 0
            return dict(
                self._chat_dict(chat),
                accent_color_id=0,
                max_reaction_count=11,
                accepted_gift_types={
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            )
        if method == "getFile":
            file_id = p.get("file_id", "")
            if file_id not in self.files:
                raise ApiError(400, "Bad Request: invalid file_id")
            file_path, content = self.files[file_id]
            return {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "file_size": len(content),
                "file_path": file_path,
            }
        if method == "answerCallbackQuery":
            query_id = str(p.get("callback_query_id", ""))
            if query_id not in self._open_queries:  # Telegram takes one answer per query
                raise ApiError(
                    400,
                    "Bad Request: query is too old and response timeout expired "
                    "or query ID is invalid",
                )
            self._open_queries.discard(query_id)
            return True
        return True  # setMyCommands, sendChatAction, ...

    def _edit(self, call: Call) -> Any:
        p = call.params
        if "inline_message_id" in p:
            return True
        msg = self._find(call.chat_id or 0, _int(p.get("message_id")))
        if msg is None or msg.deleted:
            raise ApiError(400, "Bad Request: message to edit not found")
        markup = p.get("reply_markup") if isinstance(p.get("reply_markup"), dict) else None
        new_text = p.get("text", msg.text) if call.method == "editMessageText" else msg.text
        new_caption = (
            p.get("caption", msg.caption) if call.method == "editMessageCaption" else msg.caption
        )
        if (new_text, new_caption, markup) == (msg.text, msg.caption, msg.reply_markup):
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message "
                "content and reply markup are exactly the same as a current "
                "content and reply markup of the message",
            )
        msg.text, msg.caption, msg.reply_markup = new_text, new_caption, markup
        msg.edits += 1
        msg.seq = call.seq
        raw = dict(msg.raw, edit_date=int(time.time()))
        for key, value in (
            ("text", msg.text),
            ("caption", msg.caption),
            ("reply_markup", msg.reply_markup),
        ):
            if value is None:
                raw.pop(key, None)
            else:
                raw[key] = value
        msg.raw = raw
        self.events.append(Event(call.seq, "edit", msg, msg.body))
        return raw

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


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    params: dict[str, Any] = dict(request.query)
    files: dict[str, tuple[str, bytes]] = {}
    ctype = request.content_type
    if request.method == "POST" and request.can_read_body:
        if ctype == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                return {**params, **body}, files
        elif ctype == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if part.name is None:
                    continue
                if part.filename is not None:
                    files[part.name] = (part.filename, bytes(await part.read()))
                else:
                    params[part.name] = await part.text()  # type: ignore[union-attr]
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


def _chat_id(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _id(chat: int | TgUser) -> int:
    return chat.id if isinstance(chat, TgUser) else int(chat)


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.json_response(body, status=status)
