"""Each update handled once (issue 17): the update ids of a burst are written together, and a
repeat, within the burst or later, is dropped. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import event, func, select

from bot.db.coordination import HandledUpdate
from bot.runtime import Deps
from bot.telegram_io.update_once import UpdateLedger


async def handled_ids(deps: Deps) -> list[int]:
    async with deps.db.read() as session:
        return sorted((await session.scalars(select(HandledUpdate.update_id))).all())


async def test_a_burst_is_written_together_and_each_id_is_new_once(deps: Deps) -> None:
    ledger = UpdateLedger(deps)
    inserts: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO HANDLED_UPDATE"):
            inserts.append(statement)

    event.listen(deps.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        # Twenty updates arrive while the first is being written, one of them twice.
        burst = [*range(1000, 1020), 1005]
        answers = await asyncio.gather(*(ledger.first_time(i) for i in burst))
    finally:
        event.remove(deps.db.engine.sync_engine, "before_cursor_execute", count)

    assert answers.count(True) == 20
    assert [i for i, new in zip(burst, answers, strict=True) if not new] == [1005]
    assert await handled_ids(deps) == list(range(1000, 1020))
    assert 1 <= len(inserts) <= 2, inserts  # the first id alone, then the rest together

    # Delivered again later (a restarted poller, another replica): dropped.
    assert await ledger.first_time(1007) is False
    assert await UpdateLedger(deps).first_time(1019) is False
    assert await ledger.first_time(1020) is True
    async with deps.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(HandledUpdate)) == 21


async def test_a_database_that_fails_does_not_stop_updates(deps: Deps) -> None:
    ledger = UpdateLedger(deps)
    await deps.db.dispose()
    real_transaction = deps.db.transaction

    def broken() -> object:
        raise ConnectionError("database unreachable")

    deps.db.transaction = broken  # type: ignore[method-assign]
    try:
        answers = await asyncio.gather(*(ledger.first_time(i) for i in (1, 2, 3)))
    finally:
        deps.db.transaction = real_transaction  # type: ignore[method-assign]
    # The handlers run (and meet the same failure, which they answer); nothing is dropped.
    assert answers == [True, True, True]
    assert await ledger.first_time(4) is True
    assert await handled_ids(deps) == [4]
