"""Engine and session factory for SQLite (default) and PostgreSQL: the one connection pool."""

from __future__ import annotations

import asyncio
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

READ_ONLY = "city_exchange_read_only"
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
    "PRAGMA synchronous=NORMAL",
    # 16 MB of pages per connection instead of SQLite's 2 MB: the officials, their topics and
    # the indexes routing and relaying read stay in memory instead of being read again from
    # the file on every question.
    "PRAGMA cache_size=-16000",
)


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        # Every session ends its transaction itself (Database.transaction / read commit or
        # roll back), so the pool's extra ROLLBACK on each return, a trip to aiosqlite's
        # thread per transaction, is not needed.
        kwargs.setdefault("pool_reset_on_return", None)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            # The driver must not open transactions itself: the "begin" listener below does
            # (SQLAlchemy's documented recipe for choosing SQLite's BEGIN).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            for pragma in SQLITE_PRAGMAS:
                cur.execute(pragma)
            cur.close()

        # SQLite's default BEGIN is deferred; take the write lock at BEGIN so two writers
        # wait for each other instead of failing with "database is locked" on upgrade.
        # Read-only transactions (Database.read) stay deferred: WAL lets them run beside a writer.
        # Sent with the adapted connection's public `run_async`: one call on aiosqlite's thread
        # instead of three (cursor, execute, close), for every transaction.
        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            read_only = conn.get_execution_options().get(READ_ONLY, False)
            sql = "BEGIN" if read_only else "BEGIN IMMEDIATE"
            conn.connection.dbapi_connection.run_async(lambda driver: driver.execute(sql))

        return engine
    # A connection the server closed while idle in the pool (a restart, an idle timeout) is
    # noticed before use and replaced, instead of failing the statement.
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


class Database:
    """Owns the engine; services open sessions from it and own their transaction."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time. Queueing this process's writers here, instead of in
        # SQLite's busy handler (which sleeps and polls), lets concurrent updates hand the lock
        # on at once. Other processes still meet BEGIN IMMEDIATE and busy_timeout.
        self._write_lock: asyncio.Lock | None = None if self.is_postgres else asyncio.Lock()

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

    async def dispose(self) -> None:
        await self.engine.dispose()
