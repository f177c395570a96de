"""Engine and session factory for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.db.fast import (
    CHECKPOINT_EVERY,
    FastConn,
    FastPool,
    Program,
    SqliteDriver,
    T,
    WalCheckpointer,
)

READ_ONLY = "city_exchange_read_only"
# The hot path's connections (usually one or two: SQLite's fast reads never wait while holding
# one) keep 16 MB of pages instead of SQLite's default 2 MB, so the exchange log's indexes a
# relay looks up and writes stay in memory: measured 330 -> 250 µs of statements per relay on
# the 1,000,000-message bench database.
FAST_SQLITE_CACHE = "PRAGMA cache_size=-16000"
FAST_POOL_SIZE = 8
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
    "PRAGMA synchronous=NORMAL",
)


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            for pragma in SQLITE_PRAGMAS:
                cur.execute(pragma)
            cur.close()

        # aiosqlite's default BEGIN is deferred; take the write lock at BEGIN so two writers
        # wait for each other instead of failing with "database is locked" on upgrade.
        # Read-only transactions (Database.read) stay deferred: WAL lets them run beside a writer.
        # Sent straight to the driver: one trip to aiosqlite's thread instead of three (cursor,
        # execute, close), for every transaction.
        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            read_only = conn.get_execution_options().get(READ_ONLY, False)
            sql = "BEGIN" if read_only else "BEGIN IMMEDIATE"
            conn.connection.dbapi_connection.run_async(lambda driver: driver.execute(sql))

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_no_autobegin(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


class Database:
    """Owns the engine; services open sessions from it and own their transaction."""

    def __init__(
        self, url: str, *, checkpoint_every: int = CHECKPOINT_EVERY, **engine_kwargs: Any
    ) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time. Queueing this process's writers here, instead of in
        # SQLite's busy handler (which sleeps and polls), lets concurrent updates hand the lock
        # on at once. Other processes still meet BEGIN IMMEDIATE and busy_timeout.
        self._write_lock: asyncio.Lock | None = None if self.is_postgres else asyncio.Lock()
        self._fast = FastPool(self._fast_connect, FAST_POOL_SIZE)
        path = self.engine.url.database
        self.checkpointer = (
            WalCheckpointer(path, checkpoint_every)
            if not self.is_postgres and path and path != ":memory:"
            else None
        )

    @property
    def dialect(self) -> Dialect:
        return self.engine.dialect

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        if self._write_lock is None:
            async with self.sessionmaker() as session, session.begin():
                yield session
            return
        async with self._write_lock, self.sessionmaker() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading only: on SQLite a deferred transaction, so readers do not queue
        behind writers for the write lock. Writing in it fails on SQLite when another
        connection wrote in between; use `transaction()` for anything that writes."""
        async with self.sessionmaker() as session, session.begin():
            if not self.is_postgres:
                await session.connection(execution_options={READ_ONLY: True})
            yield session

    async def _fast_connect(self) -> Any:
        if self.is_postgres:
            import asyncpg

            url = self.engine.url.set(drivername="postgresql")
            conn = await asyncpg.connect(url.render_as_string(hide_password=False))
            for json_type in ("json", "jsonb"):  # decoded as the session's connections do
                await conn.set_type_codec(
                    json_type, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
                )
            return conn
        return await SqliteDriver(
            self.engine.url.database or ":memory:",
            (*SQLITE_PRAGMAS, FAST_SQLITE_CACHE),
            self.checkpointer,
        ).open()

    @asynccontextmanager
    async def fast_statement(self) -> AsyncIterator[FastConn]:
        """A driver connection for the hot path's single statements (bot/db/fast.py): no
        transaction around them; each is atomic and consistent on its own (a read, or a call
        of a fast.PlpgsqlFunction)."""
        async with self._fast.acquire() as raw:
            yield FastConn(raw, self.dialect)

    async def fast_transaction(self, program: Program[T]) -> T:
        """`transaction()` for a bot/db/fast.py program: committed when it returns, rolled back
        if it raises; on SQLite queued behind this process's other writers, as there."""
        if self._write_lock is None:
            async with self._fast.acquire() as raw:
                return await FastConn(raw, self.dialect).transaction(program)
        async with self._write_lock, self._fast.acquire() as raw:
            return await FastConn(raw, self.dialect).transaction(program)

    async def dispose(self) -> None:
        await self._fast.close()
        if self.checkpointer is not None:
            await self.checkpointer.close()
        await self.engine.dispose()
