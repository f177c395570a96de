"""The hot path's statements, run straight on the driver (asyncpg, sqlite3 in a thread).

A relayed reply runs a handful of small statements; through the ORM session each costs far
more Python than the database spends on it. Here the same SQLAlchemy statements are compiled
once per dialect and executed on a driver connection with their parameters processed by the
columns' own types (so stored values are exactly what the ORM would write). SQL only, like
repo.py: callers own the transaction (`Database.fast_transaction` / `Database.fast_read`).
Used only where the ORM's cost showed in bench/bench_exchange.py (identity, relaying).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Generator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Dialect

from bot.db.models import Official

Row = Sequence[Any]
BUSY_TIMEOUT_MS = 30_000
T = TypeVar("T")


class Compiled:
    """One statement compiled for one dialect, with its bind order and type processing."""

    def __init__(self, statement: Any, dialect: Dialect,
                 result_types: Sequence[Any] = ()) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.insert_prefetch or compiled.update_prefetch:  # type: ignore[attr-defined]
            # Python-side defaults are computed by the session when it runs a statement; here
            # nobody would, so such columns must be given explicitly.
            raise ValueError(f"give every column with a Python default: {compiled.string[:60]}")
        self.sql: str = compiled.string
        order = list(compiled.positiontup or [])
        binds = [(name, compiled.binds[name]) for name in order]  # names as rendered
        self._binds: list[tuple[str, Any, Callable[[Any], Any] | None]] = [
            (name, b.effective_value, b.type.dialect_impl(dialect).bind_processor(dialect))
            for name, b in binds]
        self._results: list[Callable[[Any], Any] | None] = [
            t.dialect_impl(dialect).result_processor(dialect, None) if t is not None else None
            for t in result_types]

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        out = []
        for name, default, process in self._binds:
            value = params.get(name, default)
            if isinstance(value, Enum):
                value = value.value
            out.append(process(value) if process is not None and value is not None else value)
        return out

    def row(self, raw: Row) -> tuple[Any, ...]:
        if not self._results:
            return tuple(raw)
        return tuple(p(v) if p is not None and v is not None else v
                     for p, v in zip(self._results + [None] * (len(raw) - len(self._results)), raw,
                                     strict=True))


class Statement:
    """A SQLAlchemy statement for the fast path, compiled on first use for each dialect.
    `statement` may be a function of the dialect's name, for statements written per dialect."""

    def __init__(self, statement: Any, result_types: Sequence[Any] = ()) -> None:
        self.statement = statement
        self.result_types = result_types
        self._compiled: dict[str, Compiled] = {}

    def on(self, dialect: Dialect) -> Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            stmt = self.statement(dialect.name) if callable(self.statement) else self.statement
            compiled = self._compiled[dialect.name] = Compiled(stmt, dialect, self.result_types)
        return compiled


Rows = list[tuple[Any, ...]]
# A transaction's body, written once for both drivers: it yields (statement, parameters) and is
# sent back the rows; what it returns is the transaction's result. On SQLite it runs whole at
# once (no hop per statement), on PostgreSQL a round trip a statement.
Program = Generator[tuple["Statement", Mapping[str, Any]], Rows, T]


class SqliteDriver:
    """A sqlite3 connection with a thread of its own for what may wait (another process's write
    lock); the hot path's microsecond statements run on the caller's thread (see FastConn)."""

    def __init__(self, path: str, pragmas: Sequence[str]) -> None:
        self._path = path
        self._pragmas = pragmas
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="fast-sqlite")
        self.conn: sqlite3.Connection | None = None

    async def open(self) -> SqliteDriver:
        await self.call(self._open)
        return self

    def _open(self) -> None:
        conn = sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        for pragma in self._pragmas:
            conn.execute(pragma).close()
        self.conn = conn

    def begin_now(self) -> bool:
        """BEGIN IMMEDIATE without waiting: False when another connection holds the write lock."""
        assert self.conn is not None
        self.conn.execute("PRAGMA busy_timeout=0").close()
        try:
            self.conn.execute("BEGIN IMMEDIATE").close()
            return True
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return False
            raise
        finally:
            self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}").close()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def close(self) -> None:
        try:
            if self.conn is not None:
                await self.call(self.conn.close)
        finally:
            self._thread.shutdown(wait=False)


class FastConn:
    """A driver connection: one round trip (PostgreSQL) or one thread hop (SQLite) a statement."""

    def __init__(self, raw: Any, dialect: Dialect) -> None:
        self.raw = raw
        self.dialect = dialect
        self.postgres = dialect.name == "postgresql"

    async def fetch(self, statement: Statement, params: Mapping[str, Any]) -> Rows:
        if not self.postgres:
            # Run here, not in the connection's thread: these reads use a unique index and
            # take microseconds (WAL readers take no lock), while a hop to the thread and back
            # costs a hundred times that once the event loop is busy (GIL hand-over).
            return self._fetch_sync(statement, params)
        stmt = statement.on(self.dialect)
        rows = await self.raw.fetch(stmt.sql, *stmt.args(params))
        return [stmt.row(r) for r in rows]

    def _fetch_sync(self, statement: Statement, params: Mapping[str, Any]) -> Rows:
        stmt = statement.on(self.dialect)
        cursor = self.raw.conn.execute(stmt.sql, stmt.args(params))
        try:
            return [stmt.row(r) for r in cursor.fetchall()]
        finally:
            cursor.close()

    async def first(self, statement: Statement, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        rows = await self.fetch(statement, params)
        return rows[0] if rows else None

    async def transaction(self, program: Program[T]) -> T:
        """Run the program in one transaction: committed when it returns, rolled back if it raises."""
        if not self.postgres:
            # The relay's write takes well under a millisecond once the write lock is held, so it
            # runs here; only when another process holds the lock is it waited for in the thread.
            if self.raw.begin_now():
                return self._run_sync(program)
            return await self.raw.call(self._transaction_sync, program)
        async with self.raw.transaction():
            try:
                step = next(program)
                while True:
                    step = program.send(await self.fetch(*step))
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]

    def _transaction_sync(self, program: Program[T]) -> T:
        self.raw.conn.execute("BEGIN IMMEDIATE").close()
        return self._run_sync(program)

    def _run_sync(self, program: Program[T]) -> T:
        conn = self.raw.conn
        try:
            try:
                step = next(program)
                while True:
                    step = program.send(self._fetch_sync(*step))
            except StopIteration as done:
                result: T = done.value
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
        return result


class FastPool:
    """A few driver connections of the database's own, opened on first use, closed in dispose."""

    def __init__(self, connect: Callable[[], Any], size: int) -> None:
        self._connect = connect
        self._size = size
        self._idle: list[Any] = []
        self._all: list[Any] = []
        self._free = asyncio.Semaphore(size)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        async with self._free:
            if self._idle:
                conn = self._idle.pop()
            else:
                conn = await self._connect()
                self._all.append(conn)
            ok = False
            try:
                yield conn
                ok = True
            finally:
                if ok:
                    self._idle.append(conn)
                else:  # its state is unknown (a cancelled statement, a broken link): not reused
                    self._all.remove(conn)
                    await _close(conn)

    async def close(self) -> None:
        conns, self._all, self._idle = self._all, [], []
        for conn in conns:
            await _close(conn)


async def _close(conn: Any) -> None:
    try:
        await conn.close()
    except Exception:  # already broken; nothing more to release
        pass


# ---- the statements ---------------------------------------------------------------------


@dataclass(frozen=True)
class OfficialRow:
    """The columns identity needs of an official (stands in for the ORM object there)."""

    id: int
    role: str
    status: str
    locale: str
    city_id: int | None
    name: str | None


IDENTITY = Statement(select(Official.id, Official.role, Official.status, Official.locale,
                            Official.city_id, Official.name)
                     .where(Official.tg_user_id == bindparam("tg_user_id")))


async def official_by_tg(conn: FastConn, tg_user_id: int) -> OfficialRow | None:
    row = await conn.first(IDENTITY, {"tg_user_id": tg_user_id})
    return OfficialRow(*row) if row is not None else None
