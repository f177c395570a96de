"""End to end, several replicas on one database (issue 17): one send limit for all of them,
and each Telegram update handled once.

The bots run as `python -m bot run` against the fake Bot API, which answers 429 to any send
beyond SEND_RATE_PER_SECOND in a one-second window overall or beyond one a second in a chat.
Every process is given the bot's whole limit: only the database keeps them under it together.
"""

from __future__ import annotations

import asyncio
import re
import signal
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bot.db import outbox
from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.db.models import City, Delivery, Topic
from tests.harness.fake_server import FakeTelegram
from tests.harness.process import TOKEN, bot_processes, empty_tables
from tests.harness.updates import TgUser
from tests.test_e2e_outbox import (
    DONE_WAIT,
    RATE,
    SETTINGS,
    WAIT,
    clean_logs,
    refused_sends,
    sent_by_process,
    until_senders,
)
from tests.test_e2e_webhook import free_port, message_update, post

pytestmark = pytest.mark.e2e

FIRST_CHAT = 710001
SECRET = "Replica_secret-" + "r3pl1ca" * 6


@pytest.fixture
def pg_e2e_url(pg_url: str) -> str:
    """PostgreSQL only (skipped when unreachable, failed on CI), every table emptied."""
    asyncio.run(empty_tables(pg_url))
    return pg_url


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN, rate=RATE, chat_rate=1.0) as server:
        yield server


async def migrate(url: str) -> None:
    db = Database(url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()


async def fill_outbox(url: str, chats: int, per_chat: int) -> int:
    """`per_chat` notices to each of `chats` chats, straight into the outbox, due now."""
    db = Database(url)
    now = datetime.now(UTC)
    try:
        async with db.transaction() as session:
            await outbox.enqueue(
                session,
                [
                    outbox.delivery_row(
                        dedupe_key=f"test:{n}:{c}",
                        source="notice",
                        chat_id=FIRST_CHAT + c,
                        now=now,
                        text=f"Notice {n} for {FIRST_CHAT + c}",
                    )
                    for n in range(per_chat)
                    for c in range(chats)
                ],
            )
    finally:
        await db.dispose()
    return chats * per_chat


async def sent_rows(url: str) -> int:
    db = Database(url)
    try:
        async with db.read() as session:
            return int(
                await session.scalar(
                    select(func.count()).select_from(Delivery).where(Delivery.status == "sent")
                )
                or 0
            )
    finally:
        await db.dispose()


def notices(fake: FakeTelegram) -> Counter[str]:
    return Counter(
        m.text or ""
        for chat, msgs in fake.chats.items()
        if chat >= FIRST_CHAT
        for m in msgs
        if m.from_bot and (m.text or "").startswith("Notice ")
    )


async def test_three_processes_keep_one_limit_together(
    request: pytest.FixtureRequest, tmp_path: Path, fake: FakeTelegram, pg_e2e_url: str
) -> None:
    """Each process is set to the bot's whole limit; together they never pass it, overall or
    in any chat, and each notice goes once."""
    chats, per_chat = 40, 4
    await migrate(pg_e2e_url)
    async with bot_processes(request, tmp_path / "cwd", fake, pg_e2e_url, **SETTINGS) as bots:
        workers = [await bots.start("--no-updates") for _ in range(3)]
        await until_senders(pg_e2e_url, bots, 3)
        total = await fill_outbox(pg_e2e_url, chats, per_chat)
        await fake.until(lambda: sum(notices(fake).values()) >= total, DONE_WAIT, "every notice")
        for worker in workers:
            assert await bots.stop(worker) == 0

        received = notices(fake)
        assert len(received) == total and set(received.values()) == {1}, received
        assert fake.stats["429"] == 0 and not fake.limited, fake.limited
        assert refused_sends(fake) == []
        by_process = sent_by_process(bots)
        assert sum(by_process.values()) == total, by_process
        assert len([n for n in by_process.values() if n]) == 3, f"all three send: {by_process}"
        assert await sent_rows(pg_e2e_url) == total
        clean_logs(bots)


async def new_database(url: str) -> None:
    """The schema dropped: a database no process has started on."""
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await db.dispose()


async def catalogue_counts(url: str) -> tuple[int, int]:
    db = Database(url)
    try:
        async with db.read() as session:
            cities = await session.scalar(select(func.count()).select_from(City))
            topics = await session.scalar(select(func.count()).select_from(Topic))
            return int(cities or 0), int(topics or 0)
    finally:
        await db.dispose()


async def test_replicas_started_together_on_a_new_database_all_run(
    request: pytest.FixtureRequest, tmp_path: Path, fake: FakeTelegram, pg_url: str
) -> None:
    """The first start of three replicas at once: one migrates and seeds the catalogue, the
    others wait for it and find it done; all three run (CI saw one refuse to start with a
    duplicate city when two seeded at the same moment)."""
    await new_database(pg_url)
    try:
        async with bot_processes(request, tmp_path / "cwd", fake, pg_url, **SETTINGS) as bots:
            workers = [await bots.start("--no-updates") for _ in range(3)]
            await until_senders(pg_url, bots, 3)
            for worker in workers:
                assert await bots.stop(worker) == 0
            seeded = re.findall(r"catalogue seeded cities=(\d+) topics=(\d+)", bots.output())
            assert len(seeded) == 1, bots.output()
            assert await catalogue_counts(pg_url) == tuple(int(n) for n in seeded[0])
            clean_logs(bots)
    finally:
        await new_database(pg_url)
        await migrate(pg_url)


PERSON = TgUser(630001, "Nadia")


async def test_an_update_posted_to_two_webhook_replicas_is_handled_once(
    request: pytest.FixtureRequest, tmp_path: Path, fake: FakeTelegram, pg_e2e_url: str
) -> None:
    """Behind a load balancer Telegram's second delivery of an update (the first answer was
    slow) reaches the other replica: it is acknowledged and dropped there."""
    async with bot_processes(request, tmp_path / "cwd", fake, pg_e2e_url, **SETTINGS) as bots:
        ports = [free_port(), free_port()]
        for i, port in enumerate(ports):
            mark = fake.mark()
            await bots.start(
                WEBHOOK_URL=f"http://127.0.0.1:{port}/",
                WEBHOOK_PORT=str(port),
                WEBHOOK_SECRET=SECRET,
            )
            await fake.wait_call("setWebhook", since=mark, within=WAIT)
            # Serving: the fake pushes to the webhook set last, this one.
            ready = TgUser(640001 + i, "Ready")
            mark = await fake.command(ready, "/help")
            await fake.wait_for(ready, contains="City Exchange connects", since=mark, within=WAIT)

        update = message_update(95001, PERSON, "/help")
        assert await post(ports[0], update, SECRET) == 200
        assert await post(ports[1], update, SECRET) == 200
        # One person's updates run in order: once each replica has answered a later one, it
        # has handled (or dropped) the repeat.
        for i, port in enumerate(ports):
            assert await post(port, message_update(95002 + i, PERSON, "/language"), SECRET) == 200
        await fake.until(
            lambda: fake.count(PERSON, "Choose your language") >= 2, WAIT, "both replicas"
        )
        assert fake.count(PERSON, "City Exchange connects") == 1, fake.transcript(PERSON)
        clean_logs(bots)


async def test_an_update_handled_before_a_kill_is_not_handled_again(
    request: pytest.FixtureRequest, tmp_path: Path, fake: FakeTelegram, e2e_db_url: str
) -> None:
    """Polling: the process handles an update and is killed (-9) before its next getUpdates
    confirms it; Telegram gives it to the restarted process, which drops it."""
    async with bot_processes(request, tmp_path / "cwd", fake, e2e_db_url, **SETTINGS) as bots:
        first = await bots.start()
        await fake.wait_polling(within=WAIT)
        mark = fake.mark()
        # The poll under way returns the update; the next one, which confirms it, waits.
        confirming = fake.core.hold(method="getUpdates", times=1)
        await fake.command(PERSON, "/help")
        await fake.wait_for(PERSON, contains="City Exchange connects", since=mark, within=WAIT)
        assert confirming.hold is not None
        await asyncio.wait_for(confirming.hold.arrived.wait(), WAIT)
        assert await bots.stop(first, signal.SIGKILL) == -signal.SIGKILL

        mark = fake.mark()
        second = await bots.start()
        redelivered = await fake.wait_call("getUpdates", since=mark, within=WAIT)
        while not redelivered.result:  # the restarted process's first polls, until it gets it
            redelivered = await fake.wait_call("getUpdates", since=redelivered.seq, within=WAIT)
        assert [u["message"]["text"] for u in redelivered.result] == ["/help"]
        await fake.command(PERSON, "/language")
        await fake.wait_for(PERSON, contains="Choose your language", since=mark, within=WAIT)
        assert fake.count(PERSON, "City Exchange connects") == 1, fake.transcript(PERSON)
        assert await bots.stop(second) == 0
        confirming.hold.release()
        assert "update delivered again, dropped" in bots.output()
