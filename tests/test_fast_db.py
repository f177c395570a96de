"""The hot path's driver-level statements (bot/db/fast.py) keep the session's guarantees."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Generator
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, insert, select

from bot.config import Settings
from bot.db import fast
from bot.db.engine import Database
from bot.db.models import DialogState, UTCDateTime
from bot.services import identity
from tests.factories import make_official

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ADD_STEP = fast.Statement(insert(DialogState).values(tg_user_id=7, step="ex.answer", data={},
                                                     updated_at=bindparam("now", type_=UTCDateTime())))


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
    async with db.fast_read() as conn:
        assert (await fast.official_by_tg(conn, 4242)) is not None
    async with db.transaction() as session:
        row = await session.get(type(official), official.id)
        assert row is not None
        row.status = "removed"
    async with db.fast_read() as conn:
        found = await fast.official_by_tg(conn, 4242)
    assert found is not None and found.status == "removed"
    assert not identity.me_from(Settings(_env_file=None, telegram_bot_token="1:x"),  # type: ignore[call-arg]
                                found, 4242, "en").registered


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
