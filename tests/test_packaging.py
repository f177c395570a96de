"""What an operator installs: the wheel carries everything the bot reads at run time, and
`.env.example` lists every setting with its true default.

The wheel is built from a copy of the sources (as the Dockerfile copies them), installed into a
new virtual environment, and run from an empty directory, far from the checkout. That
environment gets the bot from the wheel alone; the libraries it needs come from the test
environment's site-packages (a `.pth` line, after its own), so nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bot.config import Settings
from bot.db.engine import Database
from bot.db.models import City, Official, Topic
from tests import PROJECT_ROOT
from tests.harness.fake_server import FakeTelegram
from tests.harness.process import TOKEN, bot_processes
from tests.harness.updates import TgUser

pytestmark = pytest.mark.e2e

# What the Dockerfile copies to build the image.
SOURCES = ("pyproject.toml", "README.md", "alembic.ini", "bot", "handlers", "locales", "migrations")
WAIT = 30.0
LOCALES = ("ar", "es", "fr", "it")


def run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        path = PROJECT_ROOT / name
        if path.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(path, src / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy(path, src / name)
    dist = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
        "-q", "-w", dist, src, cwd=src)  # fmt: skip
    (built,) = dist.glob("city_exchange_bot-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with the wheel installed; the libraries from the tests'."""
    env = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", env, cwd=env)
    run(env / "bin" / "pip", "install", "-q", "--no-deps", "--no-index", wheel, cwd=env)
    (site,) = (env / "lib").glob("python3*/site-packages")
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "test-libraries.pth").write_text("\n".join(sorted(ours)) + "\n")
    return env


def test_the_wheel_carries_catalogues_migrations_alembic_config_and_the_seed(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    migrations = sorted(p.name for p in (PROJECT_ROOT / "migrations" / "versions").glob("*.py"))
    expected = {
        "bot/alembic.ini",
        "bot/data/seed.toml",
        "bot/locales/messages.pot",
        "bot/migrations/env.py",
        "bot/migrations/script.py.mako",
        *(f"bot/locales/{loc}/LC_MESSAGES/messages.po" for loc in LOCALES),
        *(f"bot/migrations/versions/{name}" for name in migrations),
    }
    assert len(migrations) > 10
    assert expected - names == set()


async def counts(url: str) -> tuple[int, int, list[tuple[str, str]]]:
    db = Database(url)
    try:
        async with db.transaction() as s:
            cities = await s.scalar(select(func.count()).select_from(City))
            topics = await s.scalar(select(func.count()).select_from(Topic))
            people = (await s.execute(select(Official.name, Official.locale))).all()
            return int(cities or 0), int(topics or 0), [(n or "", loc) for n, loc in people]
    finally:
        await db.dispose()


async def on_server(url: str, statement: str) -> None:
    admin = Database(url)
    try:
        async with admin.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def new_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str | None, str]]:
    """(DATABASE_URL to give, or None for the default; the URL the test reads): a database
    nobody has migrated. On PostgreSQL a database of its own, dropped at the end."""
    if request.param == "sqlite":
        yield None, f"sqlite+aiosqlite:///{tmp_path / 'cwd' / 'city_exchange.db'}"
        return
    server = request.getfixturevalue("pg_url")
    name = f"cxb_wheel_{tmp_path.name.lower().replace('-', '_')}"[:60]
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    asyncio.run(on_server(server, f"DROP DATABASE IF EXISTS {name}"))
    asyncio.run(on_server(server, f"CREATE DATABASE {name}"))
    yield url, url
    asyncio.run(on_server(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


async def test_the_installed_wheel_migrates_seeds_and_speaks_french_from_any_directory(
    request: pytest.FixtureRequest,
    venv: Path,
    new_database: tuple[str | None, str],
    tmp_path: Path,
) -> None:
    given, url = new_database
    script = venv / "bin" / "city-exchange-bot"
    where = run(venv / "bin" / "python", "-c", "import bot; print(bot.__file__)", cwd=tmp_path)
    assert where.startswith(str(venv)), where  # the bot from the wheel, not the checkout

    async with FakeTelegram(TOKEN) as fake:
        settings = {"DATABASE_URL": given} if given else {}
        async with bot_processes(
            request, tmp_path / "cwd", fake, None, command=[str(script)], **settings
        ) as bots:
            code, out, err = await bots.cli("migrate")
            assert code == 0, out + err
            code, out, err = await bots.cli("seed")
            assert code == 0 and "cities: 16 added" in out, out + err
            assert (await counts(url))[:2] == (16, 36)

            await bots.start()
            amina = TgUser(620001, "Amina", "fr")
            mark = await fake.command(amina, "/start")
            await fake.wait_for(amina, contains="Je suis le bot City Exchange", since=mark,
                                within=WAIT)  # fmt: skip
    if given is None:
        assert (tmp_path / "cwd" / "city_exchange.db").is_file()


def example_settings() -> Iterator[tuple[str, str, bool]]:
    """(NAME, value, commented out) for each setting line of .env.example."""
    for line in (PROJECT_ROOT / ".env.example").read_text().splitlines():
        body = line.removeprefix("# ")
        name, sep, value = body.partition("=")
        if sep and name.isupper() and " " not in name:
            yield name, value, body != line


def test_env_example_lists_every_setting_once_with_its_default() -> None:
    lines = list(example_settings())
    names = [name for name, _, _ in lines]
    fields = {name.upper(): field for name, field in Settings.model_fields.items()}
    assert sorted(names) == sorted(fields)  # each setting, once
    for name, value, commented in lines:
        if not commented or not value or fields[name].default is None:
            continue  # to fill in, or an example of a setting that is unset by default
        shown = Settings(_env_file=None, **{name.lower(): value})  # type: ignore[arg-type]
        assert getattr(shown, name.lower()) == fields[name].default, name


def test_env_example_as_env_stops_the_bot_with_one_line_asking_for_the_token(
    tmp_path: Path,
) -> None:
    shutil.copy(PROJECT_ROOT / ".env.example", tmp_path / ".env")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert done.returncode != 0 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert "TELEGRAM_BOT_TOKEN is not set: put it in the environment or in .env" in line
