"""A recording `BaseRequest` that answers like the Bot API, with scripted failures.

Every call is kept in order with its decoded parameters; helpers read what each chat
received. Failures are scripted per method and/or chat: 429 with retry_after, 403 for a
blocked chat, 400, 5xx, or a timeout raised before anything is sent.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from telegram.error import TimedOut
from telegram.request import BaseRequest, RequestData

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
    "forwardMessage",
    "sendPhoto",
    "sendDocument",
    "sendVideo",
    "sendAudio",
    "sendVoice",
    "sendAnimation",
    "sendLocation",
    "sendVenue",
    "sendContact",
    "sendSticker",
    "sendMediaGroup",
    "copyMessages",
    "sendVideoNote",
    "sendPoll",
}
EDIT_METHODS = {
    "editMessageText",
    "editMessageCaption",
    "editMessageReplyMarkup",
    "editMessageMedia",
}
MEDIA_FIELDS = {
    "sendPhoto": "photo",
    "sendDocument": "document",
    "sendVideo": "video",
    "sendAudio": "audio",
    "sendVoice": "voice",
    "sendAnimation": "animation",
    "sendSticker": "sticker",
    "sendVideoNote": "video_note",
}


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


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int = 200
    result: Any = None
    error: str | None = None
    files: dict[str, tuple[str, bytes, str]] = field(
        default_factory=dict
    )  # name -> (filename, content, mime)

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        try:
            return int(value) if value is not None else None
        except (TypeError, ValueError):
            return None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None

    @property
    def text(self) -> str | None:
        if self.method == "copyMessage":
            caption = self.params.get("caption")
            return (
                caption
                if caption is not None
                else (
                    f"[copy of {self.params.get('from_chat_id')}:{self.params.get('message_id')}]"
                )
            )
        return self.params.get("text", self.params.get("caption"))

    @property
    def buttons(self) -> list[list[tuple[str, str | None]]]:
        markup = self.params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        if not isinstance(markup, dict):
            return []
        return [
            [(b.get("text"), b.get("callback_data") or b.get("url")) for b in row]
            for row in markup.get("inline_keyboard", [])
        ]

    @property
    def message_id(self) -> int | None:
        if isinstance(self.result, dict):
            return self.result.get("message_id")
        if self.method in EDIT_METHODS:
            return self.params.get("message_id")
        return None


@dataclass
class Rule:
    method: str | None
    chat_id: int | None
    status: int
    description: str
    retry_after: int | None = None
    times: int | None = 1  # None: for ever
    timeout: bool = False


@dataclass
class RecordingRequest(BaseRequest):
    """Answers Bot API calls in-process and records them."""

    calls: list[Call] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    _ids: dict[int, itertools.count] = field(
        default_factory=lambda: defaultdict(lambda: itertools.count(1))
    )
    _files: itertools.count = field(default_factory=lambda: itertools.count(1))
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)

    # ---- BaseRequest ----------------------------------------------------------------
    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        call = Call(api_method, params)
        if request_data is not None and request_data.contains_files:
            for name, (filename, content, mime) in request_data.multipart_data.items():
                data = content if isinstance(content, bytes) else content.read()
                call.files[name] = (filename, data, mime)
                params.setdefault(name, f"attach://{name}")
        self.calls.append(call)
        rule = self._match(api_method, call.chat_id)
        if rule is not None:
            if rule.timeout:
                call.error = "timeout"
                call.status = 0
                raise TimedOut("Timed out (scripted)")
            call.status = rule.status
            call.error = rule.description
            body: dict[str, Any] = {
                "ok": False,
                "error_code": rule.status,
                "description": rule.description,
            }
            if rule.retry_after is not None:
                body["parameters"] = {"retry_after": rule.retry_after}
            return rule.status, json.dumps(body).encode()
        if params.get("parse_mode") == "HTML":
            body_text = params.get("text", params.get("caption"))
            problem = html_error(body_text) if isinstance(body_text, str) else None
            if problem:
                call.status, call.error = 400, problem
                return 400, json.dumps(
                    {"ok": False, "error_code": 400, "description": problem}
                ).encode()
        call.result = self._answer(api_method, params)
        return 200, json.dumps({"ok": True, "result": call.result}).encode()

    # ---- scripting failures ---------------------------------------------------------
    def _match(self, method: str, chat_id: int | None) -> Rule | None:
        for rule in self.rules:
            if rule.method not in (None, method):
                continue
            if rule.chat_id is not None and rule.chat_id != chat_id:
                continue
            if rule.times is not None:
                rule.times -= 1
                if rule.times <= 0:
                    self.rules.remove(rule)
            return rule
        return None

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
        rule = Rule(method, chat_id, status, description, retry_after, times)
        self.rules.append(rule)
        return rule

    def rate_limit(
        self,
        retry_after: int = 3,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        times: int = 1,
    ) -> Rule:
        return self.fail(
            429,
            f"Too Many Requests: retry after {retry_after}",
            method=method,
            chat_id=chat_id,
            times=times,
            retry_after=retry_after,
        )

    def block(self, chat_id: int) -> Rule:
        """The user blocked the bot: every call to that chat answers 403 from now on."""
        return self.fail(403, "Forbidden: bot was blocked by the user", chat_id=chat_id, times=None)

    def unblock(self, chat_id: int) -> None:
        self.rules = [r for r in self.rules if not (r.status == 403 and r.chat_id == chat_id)]

    def server_error(
        self,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        times: int = 1,
        status: int = 502,
    ) -> Rule:
        return self.fail(status, "Bad Gateway", method=method, chat_id=chat_id, times=times)

    def time_out(
        self, *, method: str | None = None, chat_id: int | None = None, times: int = 1
    ) -> Rule:
        rule = Rule(method, chat_id, 0, "timeout", None, times, timeout=True)
        self.rules.append(rule)
        return rule

    # ---- answers --------------------------------------------------------------------
    def next_message_id(self, chat_id: int) -> int:
        return next(self._ids[int(chat_id)])

    def _message(self, chat_id: Any, **fields: Any) -> dict[str, Any]:
        chat_id = int(chat_id)
        msg = {
            "message_id": self.next_message_id(chat_id),
            "date": int(time.time()),
            "chat": {
                "id": chat_id,
                "type": "private" if chat_id > 0 else "supergroup",
                "first_name": "User",
            }
            if chat_id > 0
            else {"id": chat_id, "type": "supergroup", "title": "Group"},
            "from": BOT_USER,
        }
        msg.update({k: v for k, v in fields.items() if v is not None})
        self.messages[(chat_id, msg["message_id"])] = msg
        return msg

    def _upload_name(self, p: dict[str, Any]) -> str:
        last = self.calls[-1] if self.calls else None
        if last is not None and last.files:
            return next(iter(last.files.values()))[0]
        return _filename(p.get("document"))

    def _file(self, kind: str) -> dict[str, Any]:
        n = next(self._files)
        return {"file_id": f"{kind}-{n}", "file_unique_id": f"u{kind}{n}", "file_size": 1024}

    def _answer(self, method: str, p: dict[str, Any]) -> Any:
        markup = p.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        if method == "getMe":
            return BOT_USER
        if method == "sendMessage":
            return self._message(p["chat_id"], text=p.get("text", ""), reply_markup=markup)
        if method in ("copyMessage", "forwardMessage"):
            if method == "forwardMessage":
                return self._message(p["chat_id"], text="(forwarded)")
            msg = self._message(
                p["chat_id"], text=p.get("caption") or "(copy)", reply_markup=markup
            )
            return {"message_id": msg["message_id"]}
        if method == "copyMessages":
            return [
                {"message_id": self._message(p["chat_id"])["message_id"]}
                for _ in p.get("message_ids", [])
            ]
        if method in MEDIA_FIELDS:
            kind = MEDIA_FIELDS[method]
            media: Any = self._file(kind)
            if kind == "photo":
                media = [dict(media, width=320, height=240)]
            elif kind == "document":
                media = dict(media, file_name=self._upload_name(p))
            return self._message(
                p["chat_id"], caption=p.get("caption"), reply_markup=markup, **{kind: media}
            )
        if method == "sendMediaGroup":
            return [
                self._message(p["chat_id"], caption=item.get("caption"))
                for item in p.get("media", [])
            ]
        if method == "sendLocation":
            return self._message(
                p["chat_id"],
                location={"latitude": p.get("latitude"), "longitude": p.get("longitude")},
            )
        if method in EDIT_METHODS:
            if "inline_message_id" in p:
                return True
            key = (int(p["chat_id"]), int(p["message_id"]))
            msg = dict(
                self.messages.get(key)
                or {
                    "message_id": key[1],
                    "date": int(time.time()),
                    "chat": {"id": key[0], "type": "private"},
                    "from": BOT_USER,
                }
            )
            if "text" in p:
                msg["text"] = p["text"]
            if "caption" in p:
                msg["caption"] = p["caption"]
            msg["reply_markup"] = markup
            msg = {k: v for k, v in msg.items() if v is not None}
            self.messages[key] = msg
            return msg
        if method == "getFile":
            return dict(
                self._file("file"), file_id=p.get("file_id"), file_path="documents/file.bin"
            )
        if method == "getUpdates":
            return []
        if method == "getChat":
            return {"id": int(p["chat_id"]), "type": "private", "first_name": "User"}
        return True

    # ---- reading what people saw ----------------------------------------------------
    def sent(self, chat_id: int | None = None, *, include_edits: bool = True) -> list[Call]:
        methods = SEND_METHODS | (EDIT_METHODS if include_edits else set())
        return [
            c
            for c in self.calls
            if c.ok and c.method in methods and (chat_id is None or c.chat_id == chat_id)
        ]

    def texts(self, chat_id: int, *, include_edits: bool = True) -> list[str]:
        return [c.text or "" for c in self.sent(chat_id, include_edits=include_edits)]

    def last(self, chat_id: int) -> Call:
        sent = self.sent(chat_id)
        assert sent, f"nothing was sent to chat {chat_id}\n{self.transcript()}"
        return sent[-1]

    def last_text(self, chat_id: int) -> str:
        return self.last(chat_id).text or ""

    def alerts(self) -> list[str]:
        return [
            c.params.get("text", "")
            for c in self.calls
            if c.method == "answerCallbackQuery" and c.params.get("text")
        ]

    def of(self, method: str, chat_id: int | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method == method and (chat_id is None or c.chat_id == chat_id)
        ]

    def find_button(self, chat_id: int, label: str) -> tuple[int, str]:
        """(message id, callback data) of the newest button in the chat whose text contains
        label."""
        for call in reversed(self.sent(chat_id)):
            for row in call.buttons:
                for text, data in row:
                    if label in (text or "") and data is not None:
                        mid = call.message_id
                        assert mid is not None
                        return mid, data
        raise AssertionError(f"no button {label!r} in chat {chat_id}\n{self.transcript(chat_id)}")

    def clear(self) -> None:
        self.calls.clear()

    def transcript(self, chat_id: int | None = None) -> str:
        lines = []
        for c in self.calls:
            if c.method in ("getMe", "setMyCommands", "deleteWebhook"):
                continue
            if chat_id is not None and c.chat_id != chat_id:
                continue
            status = "" if c.ok else f" !! {c.status} {c.error}"
            body = (c.text or c.params.get("text") or "").replace("\n", " ⏎ ")
            buttons = " | ".join(f"[{t}]" for row in c.buttons for t, _ in row)
            lines.append(
                f"→ {c.chat_id} {c.method}: {body[:300]}"
                f"{(' ' + buttons) if buttons else ''}{status}"
            )
        return "\n".join(lines) or "(no calls)"


def _filename(document: Any) -> str:
    if isinstance(document, str) and not document.startswith("attach://"):
        return document
    return "file.bin"
