"""The real bot process for end-to-end tests: started as a user starts it, against the fake.

The bot runs as `python -m bot ...` (what the `city-exchange-bot` script runs; another command,
e.g. an installed wheel's script, can be given) in a temporary directory, so no `.env` is read;
settings come from the environment only.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.db.engine import Database
from bot.db.models import Base
from tests.harness.fake_server import FakeTelegram

TABLES = [t.name for t in reversed(Base.metadata.sorted_tables)]

TOKEN = "123456789:AAE-e2e-token-abcdefghijklmnopqrstuvwxyz0"
ADMIN_ID = 900001
PROCESS_WAIT = 30.0  # seconds for a process to finish a command or to stop
PYTHON_M_BOT = (sys.executable, "-m", "bot")


class BotProcesses:
    """Runs the CLI as a user would; keeps every process's output for the log assertions."""

    def __init__(
        self, workdir: Path, env: dict[str, str], command: Sequence[str] = PYTHON_M_BOT
    ) -> None:
        self.workdir = workdir
        self.env = env
        self.command = tuple(command)
        self.logs: list[Path] = []
        self.running: list[asyncio.subprocess.Process] = []

    def _log(self, name: str) -> Path:
        path = self.workdir / f"{len(self.logs):02d}-{name}.log"
        self.logs.append(path)
        return path

    async def cli(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        """Run a command to completion; (exit code, stdout, stderr)."""
        proc = await asyncio.create_subprocess_exec(
            *self.command,
            *args,
            cwd=self.workdir,
            env=env or self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), PROCESS_WAIT)
        self._log(args[0]).write_bytes(out + err)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    async def start(self, *args: str, **env: str) -> asyncio.subprocess.Process:
        """`run` (plus `args`, e.g. --no-updates) with a short long-poll timeout, so a stop
        never waits on an open poll; `env` adds settings for this process only."""
        name = "worker" if "--no-updates" in args else "run"
        with self._log(name).open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                *self.command,
                "run",
                "--poll-timeout",
                "2",
                *args,
                cwd=self.workdir,
                env={**self.env, **env},
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        self.running.append(proc)
        return proc

    async def stop(self, proc: asyncio.subprocess.Process, sig: int = signal.SIGTERM) -> int:
        if proc.returncode is None:
            proc.send_signal(sig)
        code = await asyncio.wait_for(proc.wait(), PROCESS_WAIT)
        self.running.remove(proc)
        return code

    async def stop_all(self) -> None:
        for proc in list(self.running):
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
        self.running.clear()

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())


def base_env(**values: str) -> dict[str, str]:
    """A clean environment: nothing from the developer's shell that Settings would read."""
    env = {
        k: os.environ[k]
        for k in ("PATH", "HOME", "LANG", "SYSTEMROOT", "TMPDIR")
        if k in os.environ
    }
    env.update(PYTHONUNBUFFERED="1", LOG_LEVEL="INFO", **values)
    return env


async def empty_tables(url: str) -> None:
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    finally:
        await db.dispose()


def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """For a fixture parametrised with "sqlite"/"postgresql": a fresh SQLite file (not
    migrated: the CLI does it), or PostgreSQL with every table emptied (skipped when
    PostgreSQL is unreachable, failed on CI, by the `pg_url` fixture)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'city_exchange.db'}"
    url: str = request.getfixturevalue("pg_url")
    asyncio.run(empty_tables(url))
    return url


@asynccontextmanager
async def bot_processes(
    request: pytest.FixtureRequest,
    workdir: Path,
    fake: FakeTelegram,
    db_url: str | None,
    *,
    command: Sequence[str] = PYTHON_M_BOT,
    **settings: str,
) -> AsyncIterator[BotProcesses]:
    """Processes against `fake` and `db_url` (None: the bot's default, a file in `workdir`),
    run as `command`; all killed at the end. A failed test prints what each chat received and
    every process's output."""
    os.makedirs(workdir, exist_ok=True)
    if db_url is not None:
        settings["DATABASE_URL"] = db_url
    env = base_env(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=fake.base_url,
        ADMIN_IDS=str(ADMIN_ID),
        **settings,
    )
    procs = BotProcesses(workdir, env, command)
    try:
        yield procs
    finally:
        await procs.stop_all()
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            print("\n--- what each chat received ---\n" + fake.transcript())
            print("\n--- process output ---\n" + procs.output())
