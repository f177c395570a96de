"""Fixtures: databases (SQLite and PostgreSQL), a controllable clock, and the bot harness."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.app import build_application
from bot.clock import FakeClock
from bot.config import Settings
from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.i18n import load_catalogs, set_locale
from bot.runtime import Deps
from bot.translation.libretranslate import LibreTranslate
from tests.harness.fake_server import FakeTelegram
from tests.harness.fake_translator import FakeTranslator
from tests.harness.outbox import FakeTimer
from tests.harness.process import TOKEN, BotProcesses, bot_processes, database_url, empty_tables
from tests.harness.telegram import RecordingRequest
from tests.harness.updates import Harness

ADMIN_TG_ID = 900001
TEST_TOKEN = "123456789:TEST-token-abcdefghijklmnopqrstuvwxyz0123"
PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: starts the real bot process against the fake Bot API")
    config.addinivalue_line("markers", "sqlite_only: runs on SQLite only")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session", autouse=True)
def catalogs() -> None:
    load_catalogs()


@pytest.fixture(autouse=True)
def _reset_locale() -> Iterator[None]:
    set_locale(None)
    yield
    set_locale(None)


async def _migrate(url: str, reset_pg: bool = False) -> None:
    db = Database(url)
    try:
        if reset_pg:
            async with db.engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        await upgrade(db)
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


def _pg_reachable() -> bool:
    async def probe() -> bool:
        db = Database(PG_URL)
        try:
            async with db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False
        finally:
            await db.dispose()

    return asyncio.run(probe())


@pytest.fixture(scope="session")
def pg_url() -> str:
    if not _pg_reachable():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_URL} (CI must test on it)")
        pytest.skip("PostgreSQL not reachable")
    asyncio.run(_migrate(PG_URL, reset_pg=True))
    return PG_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty database: a fresh SQLite file, or PostgreSQL with every table emptied."""
    if request.param == "sqlite":
        path = tmp_path / "bot.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    if request.node.get_closest_marker("sqlite_only"):
        pytest.skip("SQLite only")
    url: str = request.getfixturevalue("pg_url")

    asyncio.run(empty_tables(url))
    return url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module (or with indirect parametrisation) to change settings."""
    return {}


@pytest.fixture
def settings(db_url: str, settings_overrides: dict[str, Any]) -> Settings:
    values: dict[str, Any] = {
        "telegram_bot_token": TEST_TOKEN,
        "database_url": db_url,
        "admin_ids": frozenset({ADMIN_TG_ID}),
        "default_locale": "en",
        "bot_username": "CityExchangeTestBot",
        "send_transport": "default",  # the outbox talks through the harness's request too
    }
    values.update(settings_overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def deps(settings: Settings, db: Database, clock: FakeClock) -> Deps:
    return Deps(settings=settings, db=db, clock=clock)


@pytest.fixture
def tg() -> RecordingRequest:
    return RecordingRequest()


@pytest.fixture(params=["sqlite", "postgresql"])
def e2e_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """For end-to-end tests: a fresh SQLite file (the bot's CLI migrates it) or PostgreSQL."""
    return database_url(request, tmp_path)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """The fake Bot API HTTP server (a module may override it with other limits)."""
    async with FakeTelegram(TOKEN) as server:
        yield server


@pytest.fixture
async def bots(
    request: pytest.FixtureRequest, tmp_path: Path, fake: FakeTelegram, e2e_db_url: str
) -> AsyncIterator[BotProcesses]:
    """Real bot processes against `fake` and `e2e_db_url`, all stopped at the end."""
    async with bot_processes(request, tmp_path / "cwd", fake, e2e_db_url) as procs:
        yield procs


@pytest.fixture
def timer() -> FakeTimer:
    """The replies' pacing time (spacing in a chat, waiting out a 429): moves only when they
    wait, so no test sleeps. A module may give its `tg` the same clock (`timer.now`)."""
    return FakeTimer()


@pytest.fixture
async def harness(
    request: pytest.FixtureRequest, deps: Deps, tg: RecordingRequest, timer: FakeTimer
) -> AsyncIterator[Harness]:
    app = build_application(deps, request=tg, get_updates_request=tg, background=False, timer=timer)
    await app.initialize()
    h = Harness(app, tg)
    try:
        yield h
    finally:
        await app.shutdown()
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            print("\n--- what each chat received, in order ---\n" + tg.transcript())


@pytest.fixture
async def translator(harness: Harness) -> AsyncIterator[FakeTranslator]:
    """The fake LibreTranslate server, and the harness's bot translating through it."""
    async with FakeTranslator() as fake:
        client = LibreTranslate(fake.url)
        harness.deps.translator = client
        try:
            yield fake
        finally:
            await client.close()
