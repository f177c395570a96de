"""A recording `BaseRequest`: the fake Bot API core, answering in-process.

PTB's requests go straight to `BotApiCore` (no HTTP); every call is kept in order with its
decoded parameters, and helpers read what each chat received. Failures are scripted per
method and/or chat on the core's terms: 429 with retry_after, 403 for a blocked chat, 400,
5xx, a late answer, or a timeout raised before anything is sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from telegram.error import TimedOut
from telegram.request import BaseRequest, RequestData

from tests.harness.bot_api_core import (
    BOT_USER,
    EDIT_METHODS,
    SEND_METHODS,
    BotApiCore,
    Call,
    CoreAdapter,
    Rule,
    html_error,
    visible,
)

__all__ = ["BOT_USER", "Call", "RecordingRequest", "html_error"]


class RecordingRequest(CoreAdapter, BaseRequest):
    """Answers Bot API calls in-process and records them."""

    def __init__(self, core: BotApiCore | None = None) -> None:
        # Some handlers answer a button press twice (a blank answer, then an alert); Telegram
        # refuses the second, so the in-process fake would hide the alert the tests read.
        self.core = core or BotApiCore(answer_once=False)
        self._answered: asyncio.Condition | None = None

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
        params = dict(request_data.parameters) if request_data else {}
        files: dict[str, tuple[str, bytes, str]] = {}
        if request_data is not None and request_data.contains_files:
            for name, (filename, content, mime) in request_data.multipart_data.items():
                files[name] = (
                    filename,
                    content if isinstance(content, bytes) else content.read(),
                    mime,
                )
                params.setdefault(name, f"attach://{name}")
        call = self.core.record(url.rsplit("/", 1)[-1], params, files)
        rule = self.core.scripted(call)
        await self.core.wait_out(rule)
        if rule is not None and rule.timeout:
            call.status, call.description = 0, "timeout"
            raise TimedOut("Timed out (scripted)")
        status, body = self.core.respond(call, rule)
        if self._answered is not None:
            async with self._answered:
                self._answered.notify_all()
        return status, json.dumps(body).encode()

    async def until(self, check: Callable[[], bool], within: float = 20.0) -> None:
        """Wait until `check()` holds, checked again after each answer (for a sender pass
        running in another task); `within` only turns a hang into a failure."""
        self._answered = self._answered or asyncio.Condition()
        async with self._answered:
            await asyncio.wait_for(self._answered.wait_for(check), within)

    # ---- scripting failures (see BotApiCore) -----------------------------------------
    def rate_limit(
        self,
        retry_after: int = 3,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        times: int = 1,
    ) -> Rule:
        return self.core.rate_limit(retry_after, method=method, chat_id=chat_id, times=times)

    def block(self, chat_id: int) -> None:
        self.core.block(chat_id)

    def unblock(self, chat_id: int) -> None:
        self.core.unblock(chat_id)

    def server_error(
        self,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        times: int = 1,
        status: int = 502,
    ) -> Rule:
        return self.core.server_error(status, method=method, chat_id=chat_id, times=times)

    def time_out(
        self, *, method: str | None = None, chat_id: int | None = None, times: int = 1
    ) -> Rule:
        return self.core.time_out(method=method, chat_id=chat_id, times=times)

    def hold(
        self, *, method: str | None = None, chat_id: int | None = None, times: int = 1
    ) -> Rule:
        return self.core.hold(method=method, chat_id=chat_id, times=times)

    # ---- reading what people saw ----------------------------------------------------
    def sent(self, chat_id: int | None = None, *, include_edits: bool = True) -> list[Call]:
        methods = SEND_METHODS | (EDIT_METHODS if include_edits else set())
        return [
            c
            for c in self.calls
            if c.ok and c.method in methods and (chat_id is None or c.chat_id == chat_id)
        ]

    def texts(self, chat_id: int, *, include_edits: bool = True) -> list[str]:
        """What the person reads: the texts without the invisible bidi marks (raw_texts has
        them, for the tests of direction)."""
        return [c.text or "" for c in self.sent(chat_id, include_edits=include_edits)]

    def raw_texts(self, chat_id: int, *, include_edits: bool = True) -> list[str]:
        return [c.raw_text or "" for c in self.sent(chat_id, include_edits=include_edits)]

    def last(self, chat_id: int) -> Call:
        sent = self.sent(chat_id)
        assert sent, f"nothing was sent to chat {chat_id}\n{self.transcript()}"
        return sent[-1]

    def last_text(self, chat_id: int) -> str:
        return self.last(chat_id).text or ""

    def alerts(self) -> list[str]:
        return self.core.alerts()

    def last_alert(self) -> str:
        """What popped up for the latest button press (so a test cannot read an older one)."""
        text = self.core.last_alert()
        assert text is not None, f"the last button press showed no text\n{self.transcript()}"
        return text

    def of(self, method: str, chat_id: int | None = None) -> list[Call]:
        return self.core.of(method, chat_id)

    def find_button(self, chat_id: int, label: str) -> tuple[int, str]:
        """(message id, callback data) of the newest button in the chat whose text contains
        label."""
        for call in reversed(self.sent(chat_id)):
            for row in call.buttons:
                for text, data in row:
                    if label in visible(text or "") and data is not None:
                        mid = call.message_id
                        assert mid is not None
                        return mid, data
        raise AssertionError(f"no button {label!r} in chat {chat_id}\n{self.transcript(chat_id)}")

    def clear(self) -> None:
        self.calls.clear()

    def transcript(self, chat_id: int | None = None) -> str:
        """Every call in order, refusals flagged (printed when a test fails)."""
        lines = []
        for c in self.calls:
            if c.method in ("getMe", "setMyCommands", "deleteWebhook"):
                continue
            if chat_id is not None and c.chat_id != chat_id:
                continue
            status = "" if c.ok else f" !! {c.status} {c.description}"
            body = (c.text or c.params.get("text") or "").replace("\n", " ⏎ ")
            buttons = " | ".join(f"[{t}]" for row in c.buttons for t, _ in row)
            lines.append(
                f"→ {c.chat_id} {c.method}: {body[:300]}"
                f"{(' ' + buttons) if buttons else ''}{status}"
            )
        return "\n".join(lines) or "(no calls)"
