"""One data path: the engine's sessions keep their guarantees on both databases (atomic
transactions, fresh identity, SQLite's writers waiting for each other, any text stored as
given, PostgreSQL connections replaced after the server closed them)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from bot.db.engine import Database
from bot.db.models import DialogState, ExchangeKind, ExchangeMessage, Official
from bot.services import identity
from tests.factories import make_official
from tests.harness.updates import Harness
from tests.test_exchange import ask, question_calls, world

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
# Quotes, backslashes, JSON-like braces, right-to-left script, an emoji, a NUL-free control.
AWKWARD = "We «keep» d'été \\ \"}] {'a': 1} مدينة 🚒 batteries\tin every siren; -- DROP"


async def _steps(db: Database) -> list[int]:
    async with db.read() as session:
        return list((await session.scalars(select(DialogState.tg_user_id))).all())


async def test_a_failing_transaction_leaves_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            session.add(DialogState(tg_user_id=7, step="ex.answer", data={}, updated_at=NOW))
            await session.flush()
            raise RuntimeError("after the first statement")
    assert await _steps(db) == []


async def test_identity_sees_a_removal_at_once(deps) -> None:
    official = await make_official(deps.db, None, tg_id=4242)
    assert (await identity.whoami(deps, 4242, "en")).registered
    async with deps.db.transaction() as session:
        row = await session.get(Official, official.id)
        assert row is not None
        row.status = "removed"
    me = await identity.whoami(deps, 4242, "en")
    assert me.status == "removed" and not me.registered


@pytest.mark.sqlite_only
async def test_sqlite_write_waits_for_another_process_lock(db: Database) -> None:
    """Another process writing: a transaction is not refused, it waits for the lock."""
    path = db.engine.url.database
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    async def add() -> None:
        async with db.transaction() as session:
            session.add(DialogState(tg_user_id=7, step="ex.answer", data={}, updated_at=NOW))

    task = asyncio.create_task(add())
    await asyncio.sleep(0.2)
    assert not task.done()
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(task, timeout=10)
    assert await _steps(db) == [7]


async def test_awkward_text_round_trips_through_a_relay(harness: Harness) -> None:
    h = harness
    w = await world(h)
    await ask(h, w.asker)
    (q_msg,) = question_calls(h, w.nice2)
    await h.send(w.nice2, AWKWARD, reply_to=q_msg.message_id)
    assert "Luc Bernard, Nice" in h.last_text(w.asker)
    async with h.deps.db.read() as session:
        stored = (
            await session.scalars(
                select(ExchangeMessage.text).where(ExchangeMessage.kind == ExchangeKind.ANSWER)
            )
        ).all()
    assert stored == [AWKWARD]


async def test_a_relay_works_after_postgresql_closed_idle_connections(harness: Harness) -> None:
    """PostgreSQL restarted (here: every other backend of the database terminated while the
    pool's connections sat idle): the next relay gets new connections instead of failing."""
    h = harness
    db = h.deps.db
    if not db.is_postgres:
        pytest.skip("PostgreSQL only (SQLite connections are files)")
    w = await world(h)
    await ask(h, w.asker)
    (q_msg,) = question_calls(h, w.nice2)
    others = (
        "SELECT pid FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND backend_type = 'client backend'"
    )
    admin = Database(db.url)
    try:
        async with admin.engine.connect() as conn:
            await conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM ({others}) AS o"))
            for _ in range(100):  # the server ends them asynchronously
                await conn.commit()  # pg_stat_activity is read once per transaction
                if not (await conn.execute(text(others))).all():
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail("the other backends were not terminated")
    finally:
        await admin.dispose()
    await h.send(w.nice2, "We rent generators.", reply_to=q_msg.message_id)
    assert "Luc Bernard, Nice" in h.last_text(w.asker)


async def test_a_telegram_reply_ends_an_answer_step_left_open(harness: Harness) -> None:
    """Pressing Answer and then replying to the question with Telegram's Reply instead: the
    answer is relayed once and the open step ends with it (the relay's write deletes the dialog
    row only when the reply's lookup found one open)."""
    h = harness
    w = await world(h)
    await ask(h, w.asker)
    (q_msg,) = question_calls(h, w.nice2)
    await h.press(w.nice2, "Answer")
    assert await _steps(h.deps.db) == [w.nice2.id]
    await h.send(w.nice2, "Batteries in every siren.", reply_to=q_msg.message_id)
    assert "Batteries in every siren." in h.last_text(w.asker)
    assert await _steps(h.deps.db) == []
    # Without a step, a reply still relays, and writes no dialog row.
    (q_luc,) = question_calls(h, w.nice1)
    await h.send(w.nice1, "Solar panels on the masts.", reply_to=q_luc.message_id)
    assert "Solar panels on the masts." in h.last_text(w.asker)
    assert await _steps(h.deps.db) == []
