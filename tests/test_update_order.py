"""Updates of one person run in arrival order; another person's update is not held behind them;
one person cannot queue more than their share."""

from __future__ import annotations

import asyncio
from typing import Any

from telegram import Update
from telegram.ext import ApplicationBuilder, MessageHandler, filters

from bot.telegram_io.update_order import PerUserUpdateProcessor
from tests.harness.telegram import RecordingRequest
from tests.harness.updates import Harness, TgUser

TOKEN = "123456789:ORDER-token-abcdefghijklmnopqrstuvwxyz0123"
AMINA, BRUNO = TgUser(101), TgUser(202, first_name="Bruno")


async def test_one_person_in_order_others_not_blocked() -> None:
    tg = RecordingRequest()
    processor = PerUserUpdateProcessor(concurrency=4)
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .request(tg)
        .get_updates_request(tg)
        .concurrent_updates(processor)
        .build()
    )
    release_first = asyncio.Event()
    bruno_done = asyncio.Event()
    started: list[str] = []
    finished: list[str] = []

    async def handle(update: Update, _context: Any) -> None:
        assert update.effective_message is not None
        text = update.effective_message.text or ""
        started.append(text)
        if text == "amina 1":
            await release_first.wait()  # held until Bruno has been served
        if text == "bruno 1":
            bruno_done.set()
        finished.append(text)

    app.add_handler(MessageHandler(filters.TEXT, handle))
    h = Harness(app, tg)
    await app.initialize()
    try:
        updates = [
            h.update({"message": h.message_dict(u, t)})
            for u, t in ((AMINA, "amina 1"), (AMINA, "amina 2"), (BRUNO, "bruno 1"))
        ]
        tasks = [
            asyncio.create_task(processor.process_update(u, app.process_update(u))) for u in updates
        ]
        # Never set if Bruno waited behind Amina (the timeout only turns a hang into a failure).
        await asyncio.wait_for(bruno_done.wait(), timeout=10)
        assert started == ["amina 1", "bruno 1"]  # Amina's second message waits for her first
        assert finished == ["bruno 1"]
        release_first.set()
        await asyncio.gather(*tasks)
        assert finished == ["bruno 1", "amina 1", "amina 2"]
        assert processor._people == {}  # idle people leave no turn behind
    finally:
        release_first.set()
        await app.shutdown()


async def test_a_flood_past_the_cap_is_dropped_with_one_notice_per_burst() -> None:
    tg = RecordingRequest()
    told: list[int] = []

    async def slow_down(update: Update) -> None:
        assert update.effective_user is not None
        told.append(update.effective_user.id)

    processor = PerUserUpdateProcessor(concurrency=4, per_person=3, on_overflow=slow_down)
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .request(tg)
        .get_updates_request(tg)
        .concurrent_updates(processor)
        .build()
    )
    release = asyncio.Event()
    handled: list[str] = []

    async def handle(update: Update, _context: Any) -> None:
        assert update.effective_message is not None
        text = update.effective_message.text or ""
        if text.startswith("amina"):
            await release.wait()  # Amina's first update is slow: her others queue behind it
        handled.append(text)

    app.add_handler(MessageHandler(filters.TEXT, handle))
    h = Harness(app, tg)
    await app.initialize()

    def run(user: TgUser, text: str) -> asyncio.Task[None]:
        update = h.update({"message": h.message_dict(user, text)})
        return asyncio.create_task(processor.process_update(update, app.process_update(update)))

    try:
        flood = [run(AMINA, f"amina {i}") for i in range(10)]
        await asyncio.wait_for(run(BRUNO, "bruno 1"), timeout=10)  # served meanwhile
        assert handled == ["bruno 1"] and told == [AMINA.id]  # one notice for seven drops
        release.set()
        await asyncio.gather(*flood)
        assert handled == ["bruno 1", "amina 0", "amina 1", "amina 2"]

        release.clear()  # her queue emptied: the next flood is a new burst
        second = [run(AMINA, f"amina again {i}") for i in range(5)]
        await asyncio.sleep(0)  # one turn of the loop: all five arrive while the first is held
        release.set()
        await asyncio.gather(*second)
        assert handled[4:] == ["amina again 0", "amina again 1", "amina again 2"]
        assert told == [AMINA.id, AMINA.id]
        assert processor._people == {}
    finally:
        release.set()
        await app.shutdown()
