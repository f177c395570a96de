"""Pacing sends to Telegram's limits: the strict window (`Pacer`) and the application Bot's
rate limiter that takes its slots in the same window (`SharedWindow`).

The rules (overall window, even spacing, per-chat spacing, 429 pauses) are described in
bot/telegram_io/sender.py, which drains the outbox through the same `Pacer`.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from typing import Any, Protocol

from telegram.ext import BaseRateLimiter

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
        self._paused_until = -math.inf

    def ready_at(self) -> float:
        """The earliest time the next send (to any chat) may go."""
        at = self._paused_until
        if self._tat is not None:
            at = max(at, self._tat - self.tolerance)
        if len(self._log) == self.capacity:
            at = max(at, self._log[0] + self.window + 1e-9)  # strictly after the window closes
        return at

    def chat_ready_at(self, chat_id: int) -> float:
        last = self._chat_last.get(chat_id)
        return -math.inf if last is None else last + self.chat_interval

    def record(self, chat_id: int, now: float) -> None:
        """A send to `chat_id` goes now."""
        self._log.append(now)
        self._tat = max(self._tat if self._tat is not None else now, now) + self.interval
        self._chat_last[chat_id] = now
        if len(self._chat_last) > 50_000:
            horizon = now - self.chat_interval
            self._chat_last = {c: t for c, t in self._chat_last.items() if t > horizon}

    def pause(self, until: float) -> None:
        """Telegram said 429: nothing goes before `until`."""
        self._paused_until = max(self._paused_until, until)


def pacer_for(settings: Any) -> Pacer:
    return Pacer(
        settings.send_rate_per_second,
        settings.send_rate_per_chat_per_second,
        settings.send_window_margin_seconds,
    )


class SharedWindow(BaseRateLimiter[None]):
    """The application Bot's rate limiter: its messages take slots in the outbox's window.

    Without it the sender fills the whole window during a broadcast and any reply, prompt
    or progress message in the same second draws a 429 (and is lost: PTB does not retry
    it). A reply waits for the next free slot (one spacing interval, milliseconds, while a
    broadcast runs) and the outbox's next send moves back. Replies are not spaced per chat:
    Telegram tolerates a reply and a prompt in a row in a private chat; the outbox does wait
    a chat's interval after a reply to it.
    """

    def __init__(self, pacer: Pacer, timer: Timer | None = None) -> None:
        self.pacer = pacer
        self.timer: Timer = timer or RealTimer()

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
        rate_limit_args: None,
    ) -> Any:
        if endpoint in MESSAGE_METHODS and not outbox_send.get():
            while (wait := self.pacer.ready_at() - self.timer.now()) > 0:
                await self.timer.sleep(wait)
            try:
                chat_id = int(data.get("chat_id"))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                chat_id = 0
            self.pacer.record(chat_id, self.timer.now())
        return await callback(*args, **kwargs)
