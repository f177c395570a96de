"""Updates of different people run concurrently; one person's updates run in arrival order, and
one person cannot queue more than a few.

Dialog steps live in the database and depend on the previous step having been written, so
two messages of one person must never overlap. Different people's updates spend most of
their time waiting on the database and on Telegram, so they may overlap.

A person who sends faster than the bot answers (700 messages pasted at once) would otherwise
fill every admitted place with updates waiting for their turn, and everyone else's updates
would queue behind them. Past `per_person` waiting or running updates, a person's messages and
button presses are dropped; the first drop of a burst (until their queue is empty again) calls
`on_overflow`, which tells them once to slow down.

An update Telegram delivers again (a slow webhook answer, a poller killed before it confirmed,
another replica behind the load balancer) is dropped: `first_time` remembers each update id in
the database and says whether it is new (bot/telegram_io/update_once.py).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot import metrics

log = logging.getLogger(__name__)

# Updates admitted (running or waiting for their person's turn) per running slot: bounds the
# memory a flood can take, while one person's queue cannot take every running slot.
QUEUE_FACTOR = 16

Overflow = Callable[[Update], Awaitable[None]]
FirstTime = Callable[[int], Awaitable[bool]]


@dataclass
class _Person:
    """One person's turn: the updates holding or waiting for it, and this burst's drops."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    queued: int = 0
    dropped: int = 0


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """At most `concurrency` updates run at once; a person's updates one after another, at most
    `per_person` of them waiting or running."""

    __slots__ = (
        "_first_time",
        "_on_overflow",
        "_people",
        "_per_person",
        "_running",
        "last_update_at",
    )

    def __init__(
        self,
        concurrency: int,
        per_person: int = 20,
        on_overflow: Overflow | None = None,
        first_time: FirstTime | None = None,
    ) -> None:
        super().__init__(concurrency * QUEUE_FACTOR)
        self._running = asyncio.BoundedSemaphore(concurrency)
        self._per_person = per_person
        self._on_overflow = on_overflow
        self._first_time = first_time
        # time.monotonic() of the last update received (the health check reports its age)
        self.last_update_at: float | None = None
        # user id -> their turn; dropped when nothing holds or waits for it
        self._people: dict[int, _Person] = {}

    @staticmethod
    def _key(update: object) -> int | None:
        if isinstance(update, Update):
            user = update.effective_user
            if user is not None:
                return user.id
            chat = update.effective_chat
            if chat is not None:
                return chat.id
        return None

    @staticmethod
    def _droppable(update: object) -> bool:
        """Messages and button presses; never a change of membership (a block must be seen)."""
        return isinstance(update, Update) and update.my_chat_member is None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        self.last_update_at = time.monotonic()
        key = self._key(update)
        if key is None:
            async with self._running:
                await self._once(update, coroutine)
            return
        person = self._people.setdefault(key, _Person())
        if person.queued >= self._per_person and self._droppable(update):
            _close(coroutine)  # never started: nothing of it ran
            metrics.UPDATES.labels("flood").inc()
            person.dropped += 1
            if person.dropped == 1:
                log.warning("update flood user_id=%s queued=%s", key, person.queued)
                await self._overflow(update)
            return
        person.queued += 1
        try:
            # The person's turn first, then a running slot: waiting in line holds no slot.
            async with person.lock, self._running:
                await self._once(update, coroutine)
        finally:
            person.queued -= 1
            if person.queued == 0:
                del self._people[key]
                if person.dropped:
                    log.warning("update flood over user_id=%s dropped=%s", key, person.dropped)

    async def _once(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the update's handlers, unless it was taken before (delivered again)."""
        if (
            isinstance(update, Update)
            and self._first_time is not None
            and not await self._first_time(update.update_id)
        ):
            _close(coroutine)
            metrics.UPDATES.labels("repeated").inc()
            log.info("update delivered again, dropped update_id=%s", update.update_id)
            return
        start = time.perf_counter()
        try:
            await coroutine
        finally:
            metrics.HANDLER_SECONDS.observe(time.perf_counter() - start)
            metrics.UPDATES.labels("handled").inc()

    async def _overflow(self, update: object) -> None:
        if self._on_overflow is None or not isinstance(update, Update):
            return
        try:
            await self._on_overflow(update)
        except Exception:  # telling them is a courtesy; it must not break the processor
            log.exception("slow-down notice failed update_id=%s", update.update_id)

    async def initialize(self) -> None:
        """Nothing to allocate: the turns are made on demand."""

    async def shutdown(self) -> None:
        """Nothing to free: a turn is dropped when its person is idle."""


def _close(coroutine: Awaitable[Any]) -> None:
    if inspect.iscoroutine(coroutine):
        coroutine.close()
