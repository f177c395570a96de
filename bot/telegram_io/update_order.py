"""Updates of different people run concurrently; one person's updates run in arrival order.

Dialog steps live in the database and depend on the previous step having been written, so
two messages of one person must never overlap. Different people's updates spend most of
their time waiting on the database and on Telegram, so they may overlap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

# Updates admitted (running or waiting for their person's turn) per running slot: bounds the
# memory a flood can take, while one person's queue cannot take every running slot.
QUEUE_FACTOR = 16


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """At most `concurrency` updates run at once; a person's updates one after another."""

    __slots__ = ("_locks", "_running")

    def __init__(self, concurrency: int) -> None:
        super().__init__(concurrency * QUEUE_FACTOR)
        self._running = asyncio.BoundedSemaphore(concurrency)
        # user id -> (lock, updates holding or waiting for it); dropped when it reaches 0
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

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

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = self._key(update)
        if key is None:
            async with self._running:
                await coroutine
            return
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            # The person's turn first, then a running slot: waiting in line holds no slot.
            async with lock, self._running:
                await coroutine
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def initialize(self) -> None:
        """Nothing to allocate: the locks are made on demand."""

    async def shutdown(self) -> None:
        """Nothing to free: the locks are dropped when their person is idle."""
