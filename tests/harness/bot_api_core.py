"""What the fake Telegram does with a Bot API call, whoever carries the call to it.

One core behind every fake of the Bot API: the in-process recorder (`telegram.py`, a PTB
`BaseRequest`), the HTTP server (`fake_server.py`) and the broadcast benchmark's fake
(`bench/fake_bot_api.py`). The core knows the bot user, numbers messages per chat, keeps
each chat's messages and every call in order, enforces the rate limits over any one-second
window, refuses what Telegram refuses (a blocked or unknown chat, HTML it cannot parse, an
edit of a missing or unchanged message, a second answer to a button press) and plays the
failures a test scripts (429 with `retry_after`, 403, 400, 5xx, a late answer, a timeout).

An adapter records the call (`record`), looks up a scripted rule (`scripted`), waits out a
delay or raises its own timeout, then lets the core answer (`respond`): HTTP status and the
JSON body Telegram would send (`{"ok": true, "result": ...}` or `error_code`,
`description`, `parameters.retry_after`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

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

# Methods that put a message into a chat (the ones a person would see).
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
    "sendVideoNote",
    "sendPoll",
}
MEDIA_FIELDS = {
    "sendPhoto": "photo",
    "sendDocument": "document",
    "sendVideo": "video",
    "sendVoice": "voice",
    "sendAudio": "audio",
    "sendAnimation": "animation",
    "sendSticker": "sticker",
    "sendVideoNote": "video_note",
}
EDIT_METHODS = {
    "editMessageText",
    "editMessageReplyMarkup",
    "editMessageCaption",
    "editMessageMedia",
}
OTHER_METHODS = {
    "getMe",
    "getUpdates",
    "deleteWebhook",
    "setWebhook",
    "getWebhookInfo",
    "setMyCommands",
    "deleteMyCommands",
    "getMyCommands",
    "answerCallbackQuery",
    "sendChatAction",
    "deleteMessage",
    "deleteMessages",
    "getChat",
    "getFile",
    "logOut",
    "close",
}
# Telegram's method names are case-insensitive; the value is the canonical spelling.
METHODS = {m.lower(): m for m in SEND_METHODS | EDIT_METHODS | OTHER_METHODS}

ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
}
ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


# Invisible marks that only steer the direction of a line: FSI, PDI (isolates around user text)
# and RLM (keeps an Arabic line that starts with a command right-to-left).
BIDI_MARKS = dict.fromkeys(map(ord, "\u2068\u2069\u200f"))


def visible(text: str) -> str:
    """A text as the person reads it: without the bidi marks, which show nothing."""
    return text.translate(BIDI_MARKS)


class _TagChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag not in ALLOWED_TAGS:
            self.error = self.error or f'Unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.error = self.error or f'Unexpected end tag "{tag}"'
        else:
            self.stack.pop()


def html_error(text: str) -> str | None:
    """Why Telegram would refuse this text with parse_mode HTML, or None if it would accept it."""
    stripped = ENTITY.sub("", text)
    if "&" in stripped:
        return "Bad Request: can't parse entities: unescaped '&'"
    if re.search(r"<(?![a-zA-Z/])", text):
        return "Bad Request: can't parse entities: unescaped '<'"
    checker = _TagChecker()
    checker.feed(text)
    checker.close()
    if checker.error or checker.stack:
        return f"Bad Request: can't parse entities: {checker.error or 'unclosed tag'}"
    return None


class ApiError(Exception):
    """A refusal, as Telegram words it."""

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
class Hold:
    """Calls held unanswered until the test lets them go: `arrived` is set by the first."""

    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    count: int = 0

    def release(self) -> None:
        self.released.set()


@dataclass
class Rule:
    """A scripted failure, delay, hold or timeout for calls matching method and chat."""

    method: str | None
    chat_id: int | None
    status: int | None = None
    description: str = ""
    retry_after: int | None = None
    delay: float = 0.0
    times: int | None = 1  # None: for ever
    timeout: bool = False
    hold: Hold | None = None

    def matches(self, method: str, chat_id: int | None) -> bool:
        return self.method in (None, method) and (self.chat_id is None or self.chat_id == chat_id)


@dataclass
class Call:
    """One API call as it arrived, and how it was answered."""

    seq: int
    method: str
    params: dict[str, Any]
    chat_id: int | None
    at: float = 0.0  # the core's clock on arrival
    status: int = 200
    description: str | None = None
    files: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)  # (name, data, mime)
    result: Any = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.description is None

    @property
    def text(self) -> str | None:
        """What the person reads (the bidi marks, invisible, taken out: see raw_text)."""
        raw = self.raw_text
        return None if raw is None else visible(raw)

    @property
    def raw_text(self) -> str | None:
        if self.method == "copyMessage":
            caption = self.params.get("caption")
            if caption is not None:
                return str(caption)
            return f"[copy of {self.params.get('from_chat_id')}:{self.params.get('message_id')}]"
        return self.params.get("text", self.params.get("caption"))

    @property
    def buttons(self) -> list[list[tuple[str, str | None]]]:
        return _button_rows(self.params.get("reply_markup"))

    @property
    def message_id(self) -> int | None:
        if isinstance(self.result, dict):
            return self.result.get("message_id")
        if self.method in EDIT_METHODS:
            return self.params.get("message_id")
        return None


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
        """What the person reads (the invisible bidi marks taken out: raw_body has them)."""
        return visible(self.raw_body)

    @property
    def raw_body(self) -> str:
        return self.text if self.text is not None else (self.caption or "")

    @property
    def buttons(self) -> list[tuple[str, str | None]]:
        return [button for row in _button_rows(self.reply_markup) for button in row]


@dataclass(frozen=True)
class Event:
    seq: int
    kind: str  # "send" | "edit"
    msg: Msg
    text: str  # the text/caption right after this event


class RateWindow:
    """Counts deliveries in a sliding one-second window (strict, no initial burst allowance)."""

    def __init__(self) -> None:
        self.times: deque[float] = deque()

    def room(self, now: float, limit: float) -> tuple[int, float]:
        """(deliveries still allowed now, seconds until the oldest one leaves the window)."""
        while self.times and self.times[0] <= now - 1.0:
            self.times.popleft()
        return int(limit) - len(self.times), (self.times[0] + 1.0 - now) if self.times else 0.0


class BotApiCore:
    """The fake Bot API's state and answers. Limits: `rate` sends/s overall, `chat_rate` per
    chat (None = off).

    Telegram tolerates short bursts in a private chat (a reply and a prompt), so the per-chat
    limit is off unless a test or benchmark turns it on; `chat_rate_exempt` lists chats it
    then spares (a person in a conversation with the bot while a broadcast goes out).
    `strict_chats` refuses chats nobody introduced (`add_chat`, or a message from the user).
    `answer_once` refuses a second answer to a button press, as Telegram does.
    """

    def __init__(
        self,
        *,
        rate: float | None = None,
        chat_rate: float | None = None,
        strict_chats: bool = False,
        answer_once: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.answer_once = answer_once
        self.chat_rate = chat_rate
        self.strict_chats = strict_chats
        self.clock = clock  # seconds, for the rate windows (tests may pass their own)
        self.calls: list[Call] = []
        self.chats: dict[int, list[Msg]] = defaultdict(list)
        self.events: list[Event] = []
        self.rules: list[Rule] = []
        self.blocked: set[int] = set()
        self.unknown: set[int] = set()
        self.known: set[int] = set()
        self.chat_info: dict[int, dict[str, Any]] = {}  # chat id -> Chat JSON of a known user
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self.stats: Counter[str] = Counter()
        self.limited: Counter[int] = Counter()  # 429s per chat id
        self.chat_rate_exempt: set[int] = set()
        self.open_queries: set[str] = set()  # button presses not answered yet
        self.last_query_id: str | None = None  # the latest button press
        self._seq = itertools.count(1)
        self.last_seq = 0
        self._query_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._msg_ids: dict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._overall = RateWindow()
        self._per_chat: dict[int, RateWindow] = defaultdict(RateWindow)

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

    def rate_limit(
        self,
        retry_after: int = 3,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        times: int | None = 1,
    ) -> Rule:
        return self.fail(
            429,
            f"Too Many Requests: retry after {retry_after}",
            method=method,
            chat_id=chat_id,
            times=times,
            retry_after=retry_after,
        )

    def server_error(
        self,
        status: int = 502,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        times: int | None = 1,
    ) -> Rule:
        description = "Bad Gateway" if status == 502 else "Internal Server Error"
        return self.fail(status, description, method=method, chat_id=chat_id, times=times)

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

    def time_out(
        self,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        times: int | None = 1,
        after: float = 0.0,
    ) -> Rule:
        """The call never gets an answer: the adapter makes the client time out (over HTTP,
        the connection is dropped `after` seconds)."""
        rule = Rule(method, chat_id, times=times, timeout=True, delay=after)
        self.rules.append(rule)
        return rule

    def hold(
        self, *, method: str | None = None, chat_id: int | None = None, times: int | None = 1
    ) -> Rule:
        """Answer only when the test calls `rule.hold.release()` (a slow Telegram, on cue)."""
        rule = Rule(method, chat_id, times=times, hold=Hold())
        self.rules.append(rule)
        return rule

    async def wait_out(self, rule: Rule | None) -> None:
        """What an adapter waits before it answers: a scripted delay, then a hold."""
        if rule is None:
            return
        if rule.delay:
            await asyncio.sleep(rule.delay)
        if rule.hold is not None:
            rule.hold.count += 1
            rule.hold.arrived.set()
            await rule.hold.released.wait()

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: every call to that chat answers 403 from now on."""
        self.blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self.blocked.discard(chat_id)

    def forget_chat(self, chat_id: int) -> None:
        """Calls to this chat answer 400 "chat not found" from now on."""
        self.unknown.add(chat_id)

    def add_chat(self, chat_id: int) -> None:
        self.known.add(chat_id)
        self.unknown.discard(chat_id)

    def add_file(self, content: bytes, file_path: str = "documents/file.bin") -> str:
        file_id = f"file-{next(self._file_ids)}"
        self.files[file_id] = (file_path, content)
        return file_id

    # ---- what users do ------------------------------------------------------------------
    def bump(self) -> int:
        """A new sequence number (calls and users' actions are numbered in one series)."""
        self.last_seq = next(self._seq)
        return self.last_seq

    def next_message_id(self, chat_id: int) -> int:
        return next(self._msg_ids[int(chat_id)])

    def user_message(
        self, user: dict[str, Any], chat: dict[str, Any], text: str | None, **fields: Any
    ) -> dict[str, Any]:
        """The Message JSON of what a user sends (kept in the chat, so the bot can copy it)."""
        chat_id = int(chat["id"])
        self.chat_info[chat_id] = chat
        self.known.add(chat_id)
        msg: dict[str, Any] = {
            "message_id": self.next_message_id(chat_id),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
        }
        if text is not None:
            msg["text"] = text
            if text.startswith("/"):
                msg["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
                ]
        msg.update(fields)
        self.chats[chat_id].append(
            Msg(
                chat_id,
                msg["message_id"],
                False,
                "user",
                text=text,
                caption=fields.get("caption"),
                raw=msg,
            )
        )
        return msg

    def callback_query(
        self, user: dict[str, Any], chat: dict[str, Any], data: str, message_id: int | None
    ) -> dict[str, Any]:
        """The CallbackQuery JSON of a button press on the bot's message (or a forged one)."""
        chat_id = int(chat["id"])
        self.chat_info[chat_id] = chat
        msg = self.find(chat_id, message_id) if message_id else self.last_sent(chat_id)
        message = (
            msg.raw
            if msg is not None
            else {
                "message_id": message_id or 1,
                "date": int(time.time()),
                "chat": chat,
                "from": BOT_USER,
                "text": "…",
            }
        )
        query_id = str(next(self._query_ids))
        self.open_queries.add(query_id)
        self.last_query_id = query_id
        return {
            "id": query_id,
            "from": user,
            "chat_instance": str(chat_id),
            "data": data,
            "message": message,
        }

    def inline_callback_query(self, user: dict[str, Any], data: str) -> dict[str, Any]:
        """A button press on a message sent in inline mode: `inline_message_id`, no message."""
        query_id = str(next(self._query_ids))
        self.open_queries.add(query_id)
        self.last_query_id = query_id
        return {
            "id": query_id,
            "from": user,
            "chat_instance": "inline",
            "data": data,
            "inline_message_id": f"inline-{query_id}",
        }

    # ---- answering ----------------------------------------------------------------------
    def record(
        self,
        method: str,
        params: dict[str, Any],
        files: dict[str, tuple[str, bytes, str]] | None = None,
        at: float | None = None,
    ) -> Call:
        """Keep the call; `at` is its arrival on the core's clock (default: now)."""
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            params = dict(params, reply_markup=json.loads(markup))
        call = Call(
            self.bump(),
            method,
            params,
            _int_or_none(params.get("chat_id")),
            at=self.clock() if at is None else at,
            files=files or {},
        )
        self.calls.append(call)
        self.stats[f"calls.{method}"] += 1
        return call

    def scripted(self, call: Call) -> Rule | None:
        """The first scripted rule for this call (used up after its `times`)."""
        for rule in list(self.rules):
            if rule.matches(call.method, call.chat_id):
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self.rules.remove(rule)
                return rule
        return None

    def refuse(self, call: Call, err: ApiError) -> tuple[int, dict[str, Any]]:
        call.status, call.description = err.status, err.description
        self.stats[f"status.{err.status}"] += 1
        return err.status, err.body()

    def respond(self, call: Call, rule: Rule | None = None) -> tuple[int, dict[str, Any]]:
        """The HTTP status and JSON body Telegram would answer the call with."""
        try:
            result = self.answer(call, rule)
        except ApiError as err:
            return self.refuse(call, err)
        call.result = result
        return 200, {"ok": True, "result": result}

    def answer(self, call: Call, rule: Rule | None = None) -> Any:
        """The call's result, or ApiError as Telegram would refuse it."""
        if rule is not None and rule.status is not None:
            if rule.status == 429:
                self.limited[call.chat_id or 0] += 1
            raise ApiError(rule.status, rule.description, rule.retry_after)
        if "chat_id" in call.params:
            self._check_chat(call)
        if call.params.get("parse_mode") == "HTML":
            body = call.params.get("text", call.params.get("caption"))
            problem = html_error(body) if isinstance(body, str) else None
            if problem:
                raise ApiError(400, problem)
        if call.method in SEND_METHODS:
            self._check_rate(call)
        return self._result(call)

    def _check_chat(self, call: Call) -> None:
        chat = call.chat_id
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat in self.unknown or (self.strict_chats and chat not in self.known):
            raise ApiError(400, "Bad Request: chat not found")

    def _check_rate(self, call: Call) -> None:
        units = max(1, len(call.params.get("media") or call.params.get("message_ids") or [1]))
        now = call.at  # limits count calls as they arrive, not as they are read
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

    def _chat_dict(self, chat_id: int) -> dict[str, Any]:
        if chat_id < 0:
            return {"id": chat_id, "type": "supergroup", "title": "Group"}
        return self.chat_info.get(chat_id) or {
            "id": chat_id,
            "type": "private",
            "first_name": "User",
        }

    def _deliver(self, call: Call, **fields: Any) -> dict[str, Any]:
        chat = call.chat_id
        assert chat is not None
        markup = call.params.get("reply_markup")
        raw: dict[str, Any] = {
            "message_id": self.next_message_id(chat),
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
        chat = _int_or_none(from_chat)
        for m in self.chats.get(chat or 0, []):
            if m.message_id == _int(message_id):
                return m.raw
        return {}

    def _media(self, call: Call, kind: str) -> Any:
        value = call.params.get(kind)
        content = b""
        name = "file.bin"
        if isinstance(value, str) and value.startswith("attach://"):
            name, content, _mime = call.files.get(value[len("attach://") :], (name, b"", ""))
        elif kind in call.files:
            name, content, _mime = call.files[kind]
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
        if kind in ("voice", "audio", "video_note"):
            return dict(item, duration=1)
        if kind == "sticker":
            return dict(
                item, type="regular", width=512, height=512, is_animated=False, is_video=False
            )
        return item

    def _result(self, call: Call) -> Any:
        method, p = call.method, call.params
        if method == "getMe":
            return BOT_USER
        if method == "getUpdates":
            return []
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
        if method in ("deleteMessage", "deleteMessages"):
            ids = p.get("message_ids") or [p.get("message_id")]
            for mid in ids:
                msg = self.find(call.chat_id or 0, _int(mid))
                if method == "deleteMessage" and (msg is None or msg.deleted):
                    raise ApiError(400, "Bad Request: message to delete not found")
                if msg is not None:
                    msg.deleted = True
            return True
        if method == "getChat":
            return dict(
                self._chat_dict(call.chat_id or 0),
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
            if self.answer_once and query_id not in self.open_queries:
                raise ApiError(400, QUERY_TOO_OLD)
            self.open_queries.discard(query_id)
            return True
        return True  # setMyCommands, sendChatAction, ...

    def _edit(self, call: Call) -> Any:
        p = call.params
        if "inline_message_id" in p:
            return True
        msg = self.find(call.chat_id or 0, _int(p.get("message_id")))
        if msg is None or msg.deleted:
            raise ApiError(400, "Bad Request: message to edit not found")
        markup = p.get("reply_markup") if isinstance(p.get("reply_markup"), dict) else None
        new_text = p.get("text", msg.text) if call.method == "editMessageText" else msg.text
        new_caption = (
            p.get("caption", msg.caption) if call.method == "editMessageCaption" else msg.caption
        )
        if (new_text, new_caption, markup) == (msg.text, msg.caption, msg.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
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

    # ---- reading ------------------------------------------------------------------------
    def find(self, chat_id: int, message_id: int | None) -> Msg | None:
        """The bot's message with this id in the chat."""
        for msg in self.chats.get(chat_id, []):
            if msg.message_id == message_id and msg.from_bot:
                return msg
        return None

    def sent_messages(self, chat_id: int) -> list[Msg]:
        """The bot's messages in the chat, oldest first (deleted ones included, flagged)."""
        return [m for m in self.chats.get(chat_id, []) if m.from_bot]

    def last_sent(self, chat_id: int) -> Msg | None:
        sent = self.sent_messages(chat_id)
        return sent[-1] if sent else None

    def of(self, method: str, chat_id: int | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method == method and (chat_id is None or c.chat_id == chat_id)
        ]

    def alerts(self) -> list[str]:
        """Texts of answered button presses (what the user saw pop up)."""
        return [
            c.params.get("text", "")
            for c in self.of("answerCallbackQuery")
            if c.ok and c.params.get("text")
        ]

    def last_alert(self) -> str | None:
        """The text that popped up for the latest button press (None: no text shown)."""
        texts = [
            c.params.get("text")
            for c in self.of("answerCallbackQuery")
            if c.ok and str(c.params.get("callback_query_id")) == self.last_query_id
        ]
        return next((t for t in reversed(texts) if t), None)

    def chat_transcript(self, chat_id: int | None = None) -> str:
        """Each chat as people saw it, then the refused calls (printed when a test fails)."""
        lines = []
        chats = [chat_id] if chat_id is not None else sorted(self.chats)
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


def _button_rows(markup: Any) -> list[list[tuple[str, str | None]]]:
    if isinstance(markup, str):
        markup = json.loads(markup)
    if not isinstance(markup, dict):
        return []
    return [
        [(b.get("text", ""), b.get("callback_data") or b.get("url")) for b in row]
        for row in markup.get("inline_keyboard", [])
    ]


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class CoreAdapter:
    """What the recorder and the HTTP fake server both offer straight from their core."""

    core: BotApiCore

    @property
    def calls(self) -> list[Call]:
        return self.core.calls

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
        return self.core.fail(
            status,
            description,
            method=method,
            chat_id=chat_id,
            times=times,
            retry_after=retry_after,
        )
