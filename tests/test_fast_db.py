"""The hot path's driver-level statements (bot/db/fast.py) keep the session's guarantees."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Generator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Float, Integer, Text, bindparam, insert, select, text

from bot.config import Settings
from bot.db import fast
from bot.db.engine import Database
from bot.db.models import DialogState, UTCDateTime
from bot.services import identity
from tests.factories import make_official

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ADD_STEP = fast.Statement(
    insert(DialogState).values(
        tg_user_id=7, step="ex.answer", data={}, updated_at=bindparam("now", type_=UTCDateTime())
    )
)


def _add_then_fail() -> Generator[tuple[fast.Statement, dict[str, object]], object, None]:
    yield ADD_STEP, {"now": NOW}
    raise RuntimeError("after the first statement")


async def _steps(db: Database) -> list[int]:
    async with db.read() as session:
        return list((await session.scalars(select(DialogState.tg_user_id))).all())


async def test_a_failing_program_leaves_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError):
        await db.fast_transaction(_add_then_fail())
    assert await _steps(db) == []


async def test_identity_sees_a_removal_at_once(db: Database) -> None:
    official = await make_official(db, None, tg_id=4242)
    async with db.fast_statement() as conn:
        assert (await fast.official_by_tg(conn, 4242)) is not None
    async with db.transaction() as session:
        row = await session.get(type(official), official.id)
        assert row is not None
        row.status = "removed"
    async with db.fast_statement() as conn:
        found = await fast.official_by_tg(conn, 4242)
    assert found is not None and found.status == "removed"
    assert not identity.me_from(
        Settings(_env_file=None, telegram_bot_token="1:x"),  # type: ignore[call-arg]
        found,
        4242,
        "en",
    ).registered


TRIPLES = fast.Rows("triples", n=Integer, x=Float, label=Text)


def _triples_statement(dialect_name: str) -> object:
    t = TRIPLES.table(dialect_name)
    return select(t.c.n, t.c.x, t.c.label).order_by(t.c.n)


READ_TRIPLES = fast.Statement(_triples_statement)


async def test_rows_passed_as_one_parameter_come_back_as_given(db: Database) -> None:
    """fast.Rows: any number of rows, any text (quotes, Arabic, JSON-like), in one statement,
    read inside a session's own transaction."""
    rows = [(i, i / 4, f"row {i} «{'x' * i}» d'été \\ \"}}] مدينة") for i in range(1, 40)]
    async with db.transaction() as session:
        conn = await fast.in_session(session)
        dialect = conn.dialect.name
        assert await conn.fetch(READ_TRIPLES, TRIPLES.params(rows, dialect)) == rows
        assert await conn.fetch(READ_TRIPLES, TRIPLES.params([], dialect)) == []


@pytest.mark.sqlite_only
async def test_sqlite_write_waits_for_another_process_lock(db: Database) -> None:
    """Another process writing: the fast write is not refused, it waits (in its thread)."""
    path = db.engine.url.database
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    def add() -> Generator[tuple[fast.Statement, dict[str, object]], object, None]:
        yield ADD_STEP, {"now": NOW}

    task = asyncio.create_task(db.fast_transaction(add()))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not task.done()
    other.execute("COMMIT")
    other.close()
    await task
    assert await _steps(db) == [7]


def _add_then_raise(f: fast.PlpgsqlFunction, dialect: object) -> str:
    fail = f.arg("fail", "BOOLEAN")
    return f"""
BEGIN
    {f.sql(ADD_STEP, dialect, "a")};
    IF {fail} THEN
        RAISE EXCEPTION 'after the first statement';
    END IF;
    RETURN 1;
END"""


async def test_a_plpgsql_function_is_one_atomic_statement(db: Database, settings: Settings) -> None:
    """On PostgreSQL a fast program can run as one function call: all of it or nothing, and
    each new connection gets the function before its first call."""
    if not db.is_postgres:
        pytest.skip("PostgreSQL only (SQLite runs the program itself)")
    function = fast.PlpgsqlFunction("cx_test_add_step", "INTEGER", _add_then_raise)
    async with db.fast_statement() as conn:
        with pytest.raises(Exception, match="after the first statement"):
            await function.call(conn, {"fail": True, "a": {"now": NOW}})
    assert await _steps(db) == []
    other = Database(settings.database_url)  # other connections: created there too
    try:
        async with other.fast_statement() as conn:
            assert await function.call(conn, {"fail": False, "a": {"now": NOW}}) == 1
    finally:
        await other.dispose()
    assert await _steps(db) == [7]


ADD_ANY_STEP = fast.Statement(
    insert(DialogState).values(
        tg_user_id=bindparam("tg_user_id"),
        step="ex.answer",
        data=bindparam("data"),
        updated_at=bindparam("now", type_=UTCDateTime()),
    )
)


def _file_size(path: str) -> int:
    return os.path.getsize(path)


@pytest.mark.sqlite_only
async def test_the_wal_is_checkpointed_off_the_relay_path(db: Database) -> None:
    """The fast path's commits never checkpoint (autocheckpoint is off on its connection); the
    checkpointer's thread does, so the write-ahead log stays small under a stream of writes."""
    url = db.url
    fast_db = Database(url, checkpoint_every=8)
    assert fast_db.checkpointer is not None
    wal = f"{fast_db.checkpointer.path}-wal"
    sizes = []
    try:
        for tg_user_id in range(1, 401):

            def add(
                tg_user_id: int = tg_user_id,
            ) -> Generator[tuple[fast.Statement, dict[str, object]], object, None]:
                yield (
                    ADD_ANY_STEP,
                    {"tg_user_id": tg_user_id, "data": {"text": "x" * 3000}, "now": NOW},
                )

            await fast_db.fast_transaction(add())
            await fast_db.checkpointer.idle()
            sizes.append(_file_size(wal))
    finally:
        await fast_db.dispose()
    # 400 commits of ~4 pages would be ~6.5 MB of log; SQLite's own autocheckpoint would let
    # it reach 1000 pages (4 MB) before copying it back.
    assert max(sizes) < 1_000_000, max(sizes)
    assert len(await _steps(db)) == 400


async def test_a_connection_the_server_closed_is_replaced_not_used(db: Database) -> None:
    """PostgreSQL restarted (here: the fast connection's backend terminated): the next fast
    read gets a new connection instead of failing on the old one."""
    if not db.is_postgres:
        pytest.skip("PostgreSQL only (SQLite connections are files)")
    await make_official(db, None, tg_id=5151)
    async with db.fast_statement() as conn:
        old = conn.raw
        pid = await old.fetchval("SELECT pg_backend_pid()")
    closed = asyncio.Event()
    old.add_termination_listener(lambda _conn: closed.set())
    async with db.engine.connect() as admin:
        await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    await asyncio.wait_for(closed.wait(), timeout=10)  # the client has read the server's goodbye
    assert old.is_closed()
    async with db.fast_statement() as conn:
        assert conn.raw is not old
        found = await fast.official_by_tg(conn, 5151)
    assert found is not None and found.id
