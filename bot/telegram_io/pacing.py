"""Pacing sends to Telegram's limits: the strict window (`Pacer`) and the application Bot's
rate limiter (`SharedWindow`): the bot's replies take slots in the same window, ahead of the
outbox, and wait out a 429 instead of failing.

The rules (overall window, even spacing, per-chat spacing, 429 pauses) are described in
bot/telegram_io/sender.py, which drains the outbox through the same `Pacer`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot import metrics
from bot.telegram_io.send_outcomes import retry_after_seconds

if TYPE_CHECKING:
    from bot.telegram_io.shared_pace import SharedPace

log = logging.getLogger(__name__)

# Bot API methods that deliver a message: what Telegram's message limits count.
MESSAGE_METHODS = frozenset(
    {
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
        "sendPoll",
        "sendDice",
        "sendVideoNote",
    }
)
# Set while the sender itself sends, so its (already paced) sends are not counted twice when
# it shares the application's Bot (SEND_TRANSPORT=default).
outbox_send: ContextVar[bool] = ContextVar("outbox_send", default=False)


class Timer(Protocol):
    """Monotonic time for pacing; tests pass a fake one whose sleep only moves the clock."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> Awaitable[None]: ...


class RealTimer:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class Pacer:
    """When the next send may go: a strict window overall and per chat, plus 429 pauses.

    Overall: at most `capacity` sends in any `window` seconds (capacity = the rate, rounded
    down), and sends spaced `window / capacity` apart with a catch-up of a few sends after a
    late one. Per chat: sends spaced `1 / per_chat_rate` apart. All times are the caller's
    monotonic seconds, so the class runs on a fake clock in tests.
    """

    def __init__(self, rate: float, per_chat_rate: float, margin: float = 0.0) -> None:
        self.capacity = max(1, int(rate))
        self.window = self.capacity / rate + margin
        self.interval = self.window / self.capacity
        self.tolerance = self.interval * max(1, self.capacity // 100)
        self.chat_interval = 1.0 / per_chat_rate + margin
        self._log: deque[float] = deque(maxlen=self.capacity)
        self._tat: float | None = None
        self._chat_last: dict[int, float] = {}
        self._outbox_last: dict[int, float] = {}
        self._paused_until = -math.inf
        self.replies_waiting = 0

    def ready_at(self, *, reply: bool = False) -> float:
        """The earliest time the next send (to any chat) may go.

        The bot's replies come first: while `replies_waiting` replies wait for a slot, the
        outbox's next send (`reply=False`) moves back by that many slots.
        """
        at = self._paused_until
        if self._tat is not None:
            at = max(at, self._tat - self.tolerance)
        if len(self._log) == self.capacity:
            at = max(at, self._log[0] + self.window + 1e-9)  # strictly after the window closes
        if not reply and self.replies_waiting:
            at += self.replies_waiting * self.interval
        return at

    def chat_ready_at(self, chat_id: int) -> float:
        last = self._chat_last.get(chat_id)
        return -math.inf if last is None else last + self.chat_interval

    def record(self, chat_id: int, now: float, *, reply: bool = False) -> None:
        """A send to `chat_id` goes now (the outbox's, or with `reply` one of the bot's replies)."""
        self._log.append(now)
        self._tat = max(self._tat if self._tat is not None else now, now) + self.interval
        self._chat_last[chat_id] = now
        if not reply:
            self._outbox_last[chat_id] = now
        if len(self._chat_last) > 50_000:
            horizon = now - self.chat_interval
            self._chat_last = {c: t for c, t in self._chat_last.items() if t > horizon}
            self._outbox_last = {c: t for c, t in self._outbox_last.items() if t > horizon}

    def answered(self, chat_id: int, now: float) -> None:
        """Telegram answered the outbox's send to `chat_id` now: the chat's spacing runs from
        here (a request that reached Telegram late must not bring the next one too close)."""
        self._chat_last[chat_id] = max(self._chat_last.get(chat_id, now), now)
        self._outbox_last[chat_id] = max(self._outbox_last.get(chat_id, now), now)

    def outbox_chat_ready_at(self, chat_id: int) -> float:
        """When a reply may follow the outbox's last send to this chat (a broadcast copy and a
        reply in the same second draw a 429 just as two replies would)."""
        last = self._outbox_last.get(chat_id)
        return -math.inf if last is None else last + self.chat_interval

    def pause(self, until: float) -> None:
        """Telegram said 429: nothing goes before `until`."""
        self._paused_until = max(self._paused_until, until)

    def record_chat(self, chat_id: int, now: float) -> None:
        """A send to `chat_id` goes now, outside the overall window (no outbox in this process)."""
        self._chat_last[chat_id] = now

    def pause_chat(self, chat_id: int, until: float) -> None:
        """Telegram said 429 to a reply in this chat: nothing goes to it before `until`."""
        last = until - self.chat_interval
        self._chat_last[chat_id] = max(self._chat_last.get(chat_id, last), last)


def pacer_for(settings: Any) -> Pacer:
    return Pacer(
        settings.send_rate_per_second,
        settings.send_rate_per_chat_per_second,
        settings.send_window_margin_seconds,
    )


class ReplySpacing(Enum):
    """`rate_limit_args` of a reply that must keep its chat's interval: a message that follows
    another one in the same chat at once (the broadcast preview's copy and its buttons)."""

    CHAT = "chat"


class SharedWindow(BaseRateLimiter[ReplySpacing]):
    """The application Bot's rate limiter: its replies take slots in the outbox's window, ahead
    of the outbox, and a reply that draws a 429 waits `retry_after` and goes again.

    Without the shared window the sender fills it during a broadcast and any reply, prompt or
    progress message in the same second draws a 429. A reply takes the next free slot (one
    spacing interval, milliseconds) before any queued outbox send (`Pacer.replies_waiting`):
    a person waiting for an answer comes before a broadcast. `window=False` (no outbox in this
    process: tests, benchmarks) leaves the overall window out and keeps the rest.

    Replies are not spaced from each other in a chat (Telegram tolerates a reply and a prompt
    in a row in a private chat) unless the call asks for it with
    `rate_limit_args=ReplySpacing.CHAT`; a reply does wait a chat's interval after the
    outbox's send to it, and the outbox after a reply. A 429 on a reply (Telegram's
    per-chat limit, mostly) holds that chat, for replies and the outbox alike, for
    `retry_after`; then the reply goes again: at most `attempts` tries and `max_wait` seconds
    of waiting, then the RetryAfter is raised.
    The outbox's own sends (`outbox_send`) pass straight through: it paces and retries them.
    """

    def __init__(
        self,
        pacer: Pacer,
        timer: Timer | None = None,
        *,
        window: bool = True,
        attempts: int = 3,
        max_wait: float = 20.0,
    ) -> None:
        self.pacer = pacer
        self.timer: Timer = timer or RealTimer()
        self.window = window
        self.attempts = attempts
        self.max_wait = max_wait
        # chat id (0: calls without one) -> until when a 429 holds every reply to it
        self._held: dict[int, float] = {}
        # replicas on PostgreSQL: a reply also takes one of the slots shared by every process
        self.shared: SharedPace | None = None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: ReplySpacing | None,
    ) -> Any:
        if outbox_send.get():
            return await callback(*args, **kwargs)
        try:
            chat_id = int(data.get("chat_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            chat_id = 0
        spaced = rate_limit_args is ReplySpacing.CHAT
        waited = 0.0
        for attempt in range(1, self.attempts + 1):
            await self._wait(lambda: self._held.get(chat_id, -math.inf))
            if self._held.get(chat_id, math.inf) <= self.timer.now():
                del self._held[chat_id]
            if endpoint in MESSAGE_METHODS:
                await self._take_slot(chat_id, spaced)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                metrics.RATE_LIMITED.labels("reply").inc()
                pause = retry_after_seconds(exc)
                if attempt == self.attempts or waited + pause > self.max_wait:
                    log.warning(
                        "reply rate limited, giving up method=%s chat_id=%s attempts=%s "
                        "retry_after=%s",
                        endpoint,
                        chat_id,
                        attempt,
                        pause,
                    )
                    raise  # the error handler logs it; the person may try again
                log.info(
                    "reply rate limited method=%s chat_id=%s retry_after=%s",
                    endpoint,
                    chat_id,
                    pause,
                )
                waited += pause
                until = self.timer.now() + pause
                self._held[chat_id] = max(self._held.get(chat_id, until), until)
                self.pacer.pause_chat(chat_id, until)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _take_slot(self, chat_id: int, spaced: bool) -> None:
        """Wait for the chat's interval since its last message (when spaced) or since the
        outbox's last send to it, then for the next free slot, first in line."""
        pacer = self.pacer

        def chat_ready() -> float:
            if spaced:
                return pacer.chat_ready_at(chat_id)
            return pacer.outbox_chat_ready_at(chat_id)

        while True:
            await self._wait(chat_ready)
            if self.window:
                pacer.replies_waiting += 1
                try:
                    await self._wait(lambda: pacer.ready_at(reply=True))
                finally:
                    pacer.replies_waiting -= 1
            if chat_ready() <= self.timer.now():
                break
        if self.window and self.shared is not None:
            at = await self.shared.next_slot()
            await self._wait(lambda: at)
        now = self.timer.now()
        if self.window:
            self.pacer.record(chat_id, now, reply=True)
        else:
            self.pacer.record_chat(chat_id, now)

    async def _wait(self, ready_at: Callable[[], float]) -> None:
        while (wait := ready_at() - self.timer.now()) > 0:
            await self.timer.sleep(wait)
