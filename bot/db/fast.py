"""The hot path's statements, run straight on the driver (asyncpg, sqlite3 in a thread).

A relayed reply runs a handful of small statements; through the ORM session each costs far
more Python than the database spends on it. Here the same SQLAlchemy statements are compiled
once per dialect and executed on a driver connection with their parameters processed by the
columns' own types (so stored values are exactly what the ORM would write). SQL only, like
repo.py: callers own the transaction (`Database.fast_transaction` / `Database.fast_statement`).
Used only where the ORM's cost showed in bench/bench_exchange.py (identity, relaying).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable, Generator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    ColumnElement,
    Integer,
    Text,
    all_,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Official

log = logging.getLogger(__name__)

Row = Sequence[Any]
BUSY_TIMEOUT_MS = 30_000
CHECKPOINT_EVERY = 64  # fast-path commits between WAL checkpoints (a relay writes ~15 pages)
CHECKPOINT_WAIT_S = 0.1
T = TypeVar("T")


class Compiled:
    """One statement compiled for one dialect, with its bind order and type processing."""

    def __init__(self, statement: Any, dialect: Dialect, result_types: Sequence[Any] = ()) -> None:
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
            for name, b in binds
        ]
        results = [
            t.dialect_impl(dialect).result_processor(dialect, None) if t is not None else None
            for t in result_types
        ]
        # Only the columns that need converting (JSON, datetimes) are touched per row.
        self._results: list[tuple[int, Callable[[Any], Any]]] = [
            (i, p) for i, p in enumerate(results) if p is not None
        ]

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """The driver values of every bind parameter, in order (`value`, inlined: a relay
        processes some forty of them)."""
        out = []
        for name, default, process in self._binds:
            value = params.get(name, default)
            if value is not None:
                if isinstance(value, Enum):
                    value = value.value
                if process is not None:
                    value = process(value)
            out.append(value)
        return out

    @property
    def bind_names(self) -> list[str]:
        return [name for name, _default, _process in self._binds]

    def value(self, index: int, params: Mapping[str, Any]) -> Any:
        """The driver value of the index-th bind parameter (its default when not given)."""
        name, default, process = self._binds[index]
        value = params.get(name, default)
        if isinstance(value, Enum):
            value = value.value
        return process(value) if process is not None and value is not None else value

    def row(self, raw: Row) -> tuple[Any, ...]:
        if not self._results:
            return tuple(raw)
        values = list(raw)
        for i, process in self._results:
            if values[i] is not None:
                values[i] = process(values[i])
        return tuple(values)


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


class WalCheckpointer:
    """Checkpoints SQLite's write-ahead log on a thread and connection of its own.

    A connection that commits past the WAL's autocheckpoint threshold copies the log into the
    database file (and syncs it) inside that commit: some 8 ms on the event loop every hundred
    relays. The fast path's connection has autocheckpoint off and, every `every` commits, has a
    checkpoint run here instead: PASSIVE (writers go on), then RESTART for what they wrote
    meanwhile. While RESTART finishes, new writers wait (the fast path then takes its thread,
    see FastConn.transaction), so the log is copied whole and the next write starts it from
    the beginning: the WAL file stays small under a steady stream of writes.
    """

    def __init__(self, path: str, every: int = CHECKPOINT_EVERY) -> None:
        self.path = path
        self._every = every
        self._commits = 0
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="wal-checkpoint")
        self._conn: sqlite3.Connection | None = None
        self._running: Future[None] | None = None  # done() is set by the thread, loop or not

    def committed(self) -> None:
        self._commits += 1
        if self._commits < self._every or (self._running is not None and not self._running.done()):
            return
        self._commits = 0
        self._running = self._thread.submit(self._checkpoint)

    def _checkpoint(self) -> None:
        try:
            if self._conn is None:
                # A short wait: RESTART holds writers off while it waits for readers, and a
                # long reader (an export) must not stall them; it is tried again later.
                self._conn = sqlite3.connect(
                    self.path,
                    timeout=CHECKPOINT_WAIT_S,
                    isolation_level=None,
                    check_same_thread=False,
                )
            # PASSIVE copies what it can while writers go on; RESTART then holds them off only
            # for the frames written meanwhile, and the next write starts the log over.
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").close()
            self._conn.execute("PRAGMA wal_checkpoint(RESTART)").close()
        except sqlite3.Error as exc:  # retried after the next commits
            log.warning("WAL checkpoint failed error=%r", exc)

    async def idle(self) -> None:
        """Wait for the checkpoint under way, if any."""
        if self._running is not None:
            await asyncio.wrap_future(self._running)

    async def close(self) -> None:
        await self.idle()
        if self._conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._conn.close)
            self._conn = None
        self._thread.shutdown(wait=False)


class SqliteDriver:
    """A sqlite3 connection with a thread of its own for what may wait (another process's write
    lock); the hot path's microsecond statements run on the caller's thread (see FastConn)."""

    def __init__(
        self, path: str, pragmas: Sequence[str], checkpointer: WalCheckpointer | None = None
    ) -> None:
        self._path = path
        self._pragmas = pragmas
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="fast-sqlite")
        self.conn: sqlite3.Connection | None = None
        self.checkpointer = checkpointer

    async def open(self) -> SqliteDriver:
        await self.call(self._open)
        return self

    def _open(self) -> None:
        conn = sqlite3.connect(
            self._path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        for pragma in self._pragmas:
            conn.execute(pragma).close()
        if self.checkpointer is not None:
            conn.execute("PRAGMA wal_autocheckpoint=0").close()
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

    async def first(
        self, statement: Statement, params: Mapping[str, Any]
    ) -> tuple[Any, ...] | None:
        rows = await self.fetch(statement, params)
        return rows[0] if rows else None

    async def transaction(self, program: Program[T]) -> T:
        """Run the program in one transaction: committed when it returns, rolled back if it
        raises."""
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
        if self.raw.checkpointer is not None:
            self.raw.checkpointer.committed()
        return result


class PlpgsqlFunction:
    """A fast-path program as one PL/pgSQL function: on PostgreSQL, a transaction's statements
    in a single round trip (a function call is one atomic statement) instead of one each.

    The body is written with the same SQLAlchemy statements the SQLite program runs: `sql()`
    renders one with each bind parameter either an expression given (a variable of the body)
    or a new argument of the function, typed by the cast the dialect renders for it. The
    function is created in the connection's pg_temp schema when first called on it, so it is
    always this code's, and the schema and migrations know nothing of it.
    """

    _PLACEHOLDER = re.compile(
        r"\$(\d+)::(TIMESTAMP WITH(?:OUT)? TIME ZONE|DOUBLE PRECISION|[A-Z]+(?:\(\d+\))?)"
    )

    def __init__(
        self, name: str, returns: str, build: Callable[[PlpgsqlFunction, Dialect], str]
    ) -> None:
        self.name = f"pg_temp.{name}"
        self._returns = returns
        self._build = build
        # Each argument: name, SQL type, and where its value comes from: (prefix, statement, bind
        # index) for a statement's parameter, None for one given directly.
        self._args: list[tuple[str, str, tuple[str, Compiled, int] | None]] = []
        self._ddl: str | None = None
        self._call: str = ""
        self._created: weakref.WeakSet[Any] = weakref.WeakSet()

    def arg(self, name: str, sql_type: str) -> str:
        """An argument given directly (by that name in `call`'s parameters)."""
        self._args.append((name, sql_type, None))
        return name

    def sql(
        self,
        statement: Statement,
        dialect: Dialect,
        prefix: str,
        inputs: Mapping[str, str] | None = None,
    ) -> str:
        """The statement for the body: parameter `x` is `inputs[x]` when given, else argument
        `<prefix>_x`, filled from `call`'s parameters for `prefix`."""
        compiled = statement.on(dialect)
        names = compiled.bind_names
        known = {a[0] for a in self._args}

        def render(match: re.Match[str]) -> str:
            index, sql_type = int(match.group(1)) - 1, match.group(2)
            bind = names[index]
            if inputs and bind in inputs:
                return f"({inputs[bind]})::{sql_type}"
            arg = f"{prefix}_{bind}"
            if arg not in known:
                known.add(arg)
                self._args.append((arg, sql_type, (prefix, compiled, index)))
            return arg

        rendered = self._PLACEHOLDER.sub(render, compiled.sql)
        if re.search(r"\$\d", rendered):
            raise ValueError(f"a parameter without a cast in {compiled.sql[:60]}")
        return rendered

    def _prepare(self, dialect: Dialect) -> str:
        if self._ddl is None:
            body = self._build(self, dialect)
            signature = ", ".join(f"{name} {sql_type}" for name, sql_type, _source in self._args)
            self._ddl = (
                f"CREATE OR REPLACE FUNCTION {self.name}({signature}) RETURNS {self._returns} "
                f"LANGUAGE plpgsql AS $body$\n{body}\n$body$"
            )
            placeholders = ", ".join(f"${i + 1}" for i in range(len(self._args)))
            self._call = f"SELECT {self.name}({placeholders})"
        return self._ddl

    async def call(self, conn: FastConn, params: Mapping[str, Any]) -> Any:
        """Run it (creating it on this connection first if need be): its result. `params` has
        each direct argument by name and, for each prefix, a mapping of its statement's
        parameters."""
        ddl = self._prepare(conn.dialect)
        if conn.raw not in self._created:
            await conn.raw.execute(ddl)
            self._created.add(conn.raw)
        values = [
            params[name] if source is None else source[1].value(source[2], params[source[0]])
            for name, _type, source in self._args
        ]
        return await conn.raw.fetchval(self._call, *values)


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
            conn = None
            while self._idle and conn is None:
                conn = self._idle.pop()
                if _closed(conn):  # the server went away meanwhile (a restart): not reused
                    self._all.remove(conn)
                    await _close(conn)
                    conn = None
            if conn is None:
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


def _closed(conn: Any) -> bool:
    """An asyncpg connection whose server closed it (noticed without a round trip); a SQLite
    connection never is."""
    is_closed = getattr(conn, "is_closed", None)
    return bool(is_closed()) if is_closed is not None else False


async def _close(conn: Any) -> None:
    try:
        await conn.close()
    except Exception:  # already broken; nothing more to release
        pass


class _Borrowed:
    """A session's own sqlite3 connection, lent to FastConn for reads (see `in_session`)."""

    checkpointer = None

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn


async def in_session(session: AsyncSession) -> FastConn:
    """The fast path's reads on a session's own connection, inside its transaction: they see
    what the session wrote (flushed) and cost what the driver costs, not the ORM's result
    machinery. On SQLite the read runs on the caller's thread (aiosqlite's stays idle meanwhile:
    the session awaits nothing else); meant for reads of a few milliseconds at most."""
    await session.flush()
    conn = await session.connection()
    driver = (await conn.get_raw_connection()).driver_connection
    if conn.dialect.name == "postgresql":
        return FastConn(driver, conn.dialect)
    return FastConn(_Borrowed(driver._conn), conn.dialect)  # aiosqlite's sqlite3 connection


def ids_in(
    column: Any, name: str, dialect_name: str, *, negate: bool = False
) -> ColumnElement[bool]:
    """`column IN :name` (or NOT IN) for a list of integers passed as one parameter, as a
    statement compiled once needs: an array on PostgreSQL, a JSON array on SQLite."""
    if dialect_name == "postgresql":
        param = bindparam(name, type_=postgresql.ARRAY(Integer))
        return column != all_(param) if negate else column == any_(param)
    values = select(literal_column("value")).select_from(
        func.json_each(bindparam(name, type_=JSON))
    )
    return column.not_in(values) if negate else column.in_(values)


class Rows:
    """Rows of values passed as statement parameters and read as a table, so that a statement
    compiled once inserts any number of rows (INSERT ... SELECT FROM it): arrays read by
    unnest() on PostgreSQL, one JSON array of arrays read by json_each() on SQLite."""

    def __init__(self, name: str, **columns: Any) -> None:
        self.name = name
        self.columns = columns  # column name -> SQLAlchemy type

    def table(self, dialect_name: str) -> Any:
        if dialect_name == "postgresql":
            arrays = [
                bindparam(f"{self.name}_{c}", type_=postgresql.ARRAY(t))
                for c, t in self.columns.items()
            ]
            return func.unnest(*arrays).table_valued(*self.columns).render_derived(name=self.name)
        each = func.json_each(bindparam(self.name, type_=Text)).table_valued("value")
        return select(
            *[
                cast(func.json_extract(each.c.value, f"$[{i}]"), t).label(c)
                for i, (c, t) in enumerate(self.columns.items())
            ]
        ).subquery(self.name)

    def params(self, rows: Sequence[Sequence[Any]], dialect_name: str) -> dict[str, Any]:
        if dialect_name == "postgresql":
            return {
                f"{self.name}_{c}": [row[i] for row in rows] for i, c in enumerate(self.columns)
            }
        return {self.name: json.dumps([list(row) for row in rows])}


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


IDENTITY = Statement(
    select(
        Official.id,
        Official.role,
        Official.status,
        Official.locale,
        Official.city_id,
        Official.name,
    ).where(Official.tg_user_id == bindparam("tg_user_id"))
)


async def official_by_tg(conn: FastConn, tg_user_id: int) -> OfficialRow | None:
    row = await conn.first(IDENTITY, {"tg_user_id": tg_user_id})
    return OfficialRow(*row) if row is not None else None
