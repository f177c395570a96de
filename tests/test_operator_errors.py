"""An operator's mistakes and the host's refusals, met by the real command line (`python -m
bot ...`, what `city-exchange-bot` runs): a wrong argument or setting is one line on stderr
(exit 2), a run-time failure one line (exit 1), never a traceback, never a secret, and the line
names what is actually wrong. Found by running the bot as an operator would.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy.engine import make_url

from bot.db.models import DeliveryStatus, Invite
from tests.harness.fake_server import FakeTelegram
from tests.harness.process import TOKEN, BotProcesses, base_env, bot_processes
from tests.test_cli_input import cli, count, one_line, seeded  # noqa: F401  (fixture)
from tests.test_e2e_outbox import (
    DONE_WAIT,
    ORGANISER,
    SETTINGS,
    broadcast_to_everyone,
    copies,
    delivery_counts,
    seed_network,
)
from tests.test_e2e_outbox import fake as outbox_fake  # noqa: F401  (fixture)

pytestmark = pytest.mark.e2e


def no_traceback(code: int, err: str) -> str:
    """The one line printed; a traceback fails with its last line (the exception)."""
    last = err.strip().splitlines()[-1] if err.strip() else ""
    assert "Traceback" not in err, f"traceback, exit {code}: {last}"
    return one_line(err)


# ---- 1. invite --uses beyond the database's integer ------------------------------------


@pytest.mark.parametrize("uses", ["99999999999999999999999"])
async def test_invite_uses_too_large_is_one_line(tmp_path: Path, seeded: str, uses: str) -> None:  # noqa: F811
    """`invite --uses` beyond what the database's column holds (32 bits on PostgreSQL) is a
    wrong argument, refused before anything is written (it was an INSERT's traceback)."""
    code, out, err = await cli(
        tmp_path, "invite", "--city", "Nice", "--uses", uses,
        DATABASE_URL=seeded, BOT_USERNAME="CxBot",
    )  # fmt: skip
    line = no_traceback(code, err)
    assert code == 2 and line.startswith("error: argument --uses:") and out == ""
    assert await count(seeded, Invite) == 0


async def test_invite_uses_beyond_int32_on_postgresql_is_one_line(
    tmp_path: Path, ops_pg_seeded: str
) -> None:
    code, out, err = await cli(
        tmp_path, "invite", "--city", "Nice", "--uses", "3000000000",
        DATABASE_URL=ops_pg_seeded, BOT_USERNAME="CxBot",
    )  # fmt: skip
    line = no_traceback(code, err)
    assert code == 2 and line.startswith("error: argument --uses:") and out == ""


# ---- 2. --until on the last day a date can hold -----------------------------------------


@pytest.mark.parametrize(
    "command",
    [["stats", "--until", "9999-12-31"], ["export", "--until", "9999-12-31", "-o", "x.csv"]],
)
async def test_until_the_last_representable_day_is_not_a_traceback(
    tmp_path: Path,
    seeded: str,  # noqa: F811
    command: list[str],
) -> None:
    """`--until 9999-12-31` (an operator's "no upper bound") means no bound (the day after it
    overflowed a date: a traceback)."""
    code, _out, err = await cli(tmp_path, *command, DATABASE_URL=seeded)
    assert code == 0 and "Traceback" not in err, err


# ---- 3. export to stdout that cannot take it ---------------------------------------------


async def test_export_to_a_full_stdout_is_one_line(tmp_path: Path, seeded: str) -> None:  # noqa: F811
    """`export -o - > /dev/full` (a full disk behind a redirect): one line, exit 1."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    with Path("/dev/full").open("wb") as full:  # noqa: ASYNC230
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "export", "-o", "-", "--no-progress",
            cwd=workdir, env=base_env(DATABASE_URL=seeded),
            stdout=full, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _out, err_bytes = await asyncio.wait_for(proc.communicate(), 30)
    err = err_bytes.decode()
    assert proc.returncode == 1
    assert no_traceback(1, err).startswith("error: cannot write the export")


# ---- 4. export replaces the output file (its mode; a device) -------------------------------


async def test_export_keeps_the_mode_of_an_existing_output_file(
    tmp_path: Path,
    seeded: str,  # noqa: F811
) -> None:
    """The exchange log (names, message texts) goes into a file the operator made private
    (0600) and stays private: the file is written into, not replaced by the temporary one
    (a rename made it 0644; as root the same move made `-o /dev/null` 0644)."""
    target = tmp_path / "private.csv"
    target.write_bytes(b"")
    target.chmod(0o600)
    code, _out, err = await cli(
        tmp_path, "export", "-o", str(target), "--no-progress", DATABASE_URL=seeded
    )
    assert code == 0, err
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


# ---- 5. a port that is taken is blamed on the database --------------------------------------


@pytest.fixture
def busy_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


@pytest.mark.parametrize("setting", ["METRICS_PORT", "WEBHOOK_PORT"])
async def test_a_port_in_use_is_not_called_a_database_problem(
    tmp_path: Path, fake: FakeTelegram, busy_port: int, setting: str
) -> None:
    """METRICS_PORT or WEBHOOK_PORT already taken (a second replica on the host, another
    service): one line naming the setting and the port, not "cannot open the database"."""
    env = base_env(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=fake.base_url,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        **{setting: str(busy_port)},
    )
    if setting == "WEBHOOK_PORT":
        env["WEBHOOK_URL"] = "https://bot.example.org/hook"
    code, _out, err = await BotProcesses(tmp_path, env).cli("run", "--poll-timeout", "1")
    line = err.strip().splitlines()[-1]
    assert code == 1 and "Traceback" not in err
    assert "database" not in line, line
    assert setting in line or str(busy_port) in line, line


# ---- 6. WEBHOOK_PORT is not range-checked ---------------------------------------------------


@pytest.mark.parametrize("port", ["70000", "-5"])
async def test_webhook_port_out_of_range_is_a_configuration_error(
    tmp_path: Path, fake: FakeTelegram, port: str
) -> None:
    """WEBHOOK_PORT out of range is a configuration error before anything starts (70000 made
    the bot listen on 4464 with the webhook registered, so no update ever arrived)."""
    env = base_env(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=fake.base_url,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        WEBHOOK_URL="https://bot.example.org/hook",
        WEBHOOK_PORT=port,
    )
    procs = BotProcesses(tmp_path, env)
    proc = await procs.start()
    try:
        code = await asyncio.wait_for(proc.wait(), 20)
    except TimeoutError:
        code = None
    finally:
        await procs.stop_all()
    out = procs.output()
    assert code == 2, f"still running or wrong exit ({code}):\n{out}"
    assert "configuration error: WEBHOOK_PORT" in out, out
    assert not fake.of("setWebhook")


# ---- 7. a .env that is not UTF-8 -------------------------------------------------------------


@pytest.mark.parametrize("command", [["stats"], ["run"], ["--help"]])
async def test_a_latin1_dotenv_is_one_line(tmp_path: Path, command: list[str]) -> None:
    """A `.env` saved in Latin-1/cp1252 (an accent in a comment, "# Gabès"): one line saying
    to save it as UTF-8, from every command (it was a UnicodeDecodeError traceback)."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    (workdir / ".env").write_bytes(
        b"# bot de l'\xe9change, Gab\xe8s\n"
        + f"DATABASE_URL=sqlite+aiosqlite:///{tmp_path / 'bot.db'}\n".encode()
    )
    code, _out, err = await BotProcesses(workdir, base_env()).cli(*command)
    if command == ["--help"]:
        assert code == 0  # argparse answers before the settings are read
        return
    line = no_traceback(code, err)
    assert code == 2 and ".env" in line, line


# ---- 8. DATABASE_URL values the validator accepts and the commands cannot use ---------------


@pytest.mark.parametrize(
    "url",
    ["sqlite+aiosqlite:///:memory:", "sqlite+aiosqlite:///", "sqlite:///"],
)
async def test_an_in_memory_or_empty_sqlite_url_is_one_line(tmp_path: Path, url: str) -> None:
    """A database in memory, or no file at all, is refused as DATABASE_URL: each command
    would open its own empty database (it was `no such table: city`, a traceback)."""
    code, _out, err = await cli(tmp_path, "stats", DATABASE_URL=url)
    line = no_traceback(code, err)
    assert code in (1, 2) and "DATABASE_URL" in line or "database" in line


async def test_a_libpq_sslmode_in_the_postgresql_url_is_understood(
    tmp_path: Path, pg_url: str
) -> None:
    """`DATABASE_URL=postgres://user:pw@host/db?sslmode=...` (what managed PostgreSQL services
    hand out) works: libpq's `sslmode` becomes asyncpg's `ssl` (it was a TypeError traceback
    from every command). This server has no TLS: `disable` migrates, `require` is one line."""

    def with_sslmode(mode: str) -> str:
        url = make_url(pg_url).set(drivername="postgres", query={"sslmode": mode})
        return url.render_as_string(hide_password=False)

    code, out, err = await cli(tmp_path, "migrate", DATABASE_URL=with_sslmode("disable"))
    assert code == 0 and "database is up to date" in out, err
    code, _out, err = await cli(tmp_path, "migrate", DATABASE_URL=with_sslmode("require"))
    line = no_traceback(code, err)
    assert code == 1 and "cannot open the database" in line and "SSL" in line, line


# ---- 9. WEBHOOK_URL that Telegram refuses --------------------------------------------------


def refuse_set_webhook(description: str) -> web.RouteDef:
    """Telegram's answer to setWebhook with a URL it will not post to (http://, a port other
    than 443, 80, 88 or 8443, a host it cannot resolve)."""

    async def refuse(_request: web.Request) -> web.Response:
        return web.json_response(
            {"ok": False, "error_code": 400, "description": description}, status=400
        )

    return web.route("*", "/bot{token}/setWebhook", refuse)


async def test_a_webhook_url_telegram_refuses_is_one_line_naming_the_setting(
    tmp_path: Path,
) -> None:
    """A Bot API server refuses WEBHOOK_URL ("bad webhook"): that is the setting to fix, not a
    server that cannot be reached (PTB's BadRequest is a NetworkError)."""
    route = refuse_set_webhook(
        "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
    )
    async with FakeTelegram(TOKEN, routes=[route]) as fake:
        env = base_env(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=fake.base_url,
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            WEBHOOK_URL="http://bot.example.org",
            WEBHOOK_PORT=str(_free_port()),
        )
        procs = BotProcesses(tmp_path, env)
        code, _out, err = await procs.cli("run")
    # python-telegram-bot logs its own traceback of the refusal first; the last line is ours
    line = err.strip().splitlines()[-1]
    assert code == 2 and line.startswith("configuration error: WEBHOOK_URL"), line
    assert "cannot reach" not in line


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- 10. numeric settings without an upper bound (inf, huge) -----------------------------


@pytest.mark.parametrize(
    "setting",
    [
        "SEMANTIC_JOB_SECONDS=inf",  # "never": the scheduler's timedelta overflows at start
        "SEND_LEASE_SECONDS=inf",
        "SEND_RATE_PER_SECOND=inf",
        "DIGEST_JOB_SECONDS=1e15",
        "NUDGE_DELAY_HOURS=inf",  # starts; the followups job then fails every minute
        "REMINDER_GRACE_MINUTES=99999999999999",  # the reminders job fails every 15 s
    ],
)
async def test_an_unusable_number_is_a_configuration_error(
    tmp_path: Path, fake: FakeTelegram, setting: str
) -> None:
    """`inf`, `nan` and numbers past any sensible bound are configuration errors at start
    (they were an OverflowError at start, or in a job at each of its runs)."""
    name, value = setting.split("=", 1)
    env = base_env(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=fake.base_url,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        FOLLOWUP_JOB_SECONDS="0.5",
        REMINDER_JOB_SECONDS="0.5",
        **{name: value},
    )
    procs = BotProcesses(tmp_path, env)
    proc = await procs.start()
    try:
        code = await asyncio.wait_for(proc.wait(), 8)
    except TimeoutError:
        code = None
    finally:
        await procs.stop_all()
    out = procs.output()
    assert "Traceback" not in out, [ln for ln in out.splitlines() if "Error" in ln][-1:]
    assert code == 2 and f"configuration error: {name}" in out, out


# ---- 3b. export to a pipe closed early --------------------------------------------------------


async def test_export_to_a_pipe_closed_early_is_not_a_traceback(
    tmp_path: Path,
    seeded: str,  # noqa: F811
) -> None:
    """`export -o - | head`: the reader going away early is one line, not a traceback."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (head) has gone
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "export", "-o", "-", "--no-progress",
        cwd=workdir, env=base_env(DATABASE_URL=seeded),
        stdout=write_end, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    os.close(write_end)
    _out, err_bytes = await asyncio.wait_for(proc.communicate(), 30)
    err = err_bytes.decode()
    assert "Traceback" not in err, err.strip().splitlines()[-1]


# ---- 11. a city name typed in decomposed Unicode ---------------------------------------------


async def test_a_decomposed_city_name_is_found(tmp_path: Path, seeded: str) -> None:  # noqa: F811
    """`invite --city Gabès` with the è typed as e + U+0300 (macOS file names, some input
    methods) finds Gabès (it said "no city named 'Gabès'; known cities: ..., Gabès")."""
    decomposed = "Gabe\u0300s"
    code, out, err = await cli(
        tmp_path, "invite", "--city", decomposed, DATABASE_URL=seeded, BOT_USERNAME="CxBot"
    )
    assert code == 0, one_line(err)
    assert out.startswith("https://t.me/CxBot?start=")


# ---- 12. a database migrated by a newer version of the bot -----------------------------------


async def _set_revision(url: str, revision: str) -> None:
    from sqlalchemy import text

    from bot.db.engine import Database

    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    finally:
        await db.dispose()


@pytest.mark.parametrize("command", [["migrate"], ["stats"], ["run"]])
async def test_a_database_from_a_newer_version_is_one_line(
    tmp_path: Path,
    seeded: str,  # noqa: F811
    fake: FakeTelegram,
    command: list[str],
) -> None:
    """A database a newer version of the bot migrated (a rollback; an older replica in a
    rolling update): one line naming the migration, from every command, `run` included (it
    was Alembic's "Can't locate revision" traceback, a crash loop under compose)."""
    await _set_revision(seeded, "9999")
    code, _out, err = await cli(
        tmp_path, *command,
        DATABASE_URL=seeded, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=fake.base_url,
    )  # fmt: skip
    line = no_traceback(code, err)
    assert code == 1 and "9999" in line, line


# ---- 13. TRANSLATION_URL is not checked ----------------------------------------------------


def test_a_translation_url_without_scheme_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """TRANSLATION_URL is checked like TELEGRAM_API_BASE_URL: without a scheme it is refused
    at start (the bot started, and every translation failed)."""
    from bot.config import ConfigError, load_settings

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="TRANSLATION_URL"):
        load_settings(translation_backend="libretranslate", translation_url="localhost:5000")


# ---- SIGTERM / SIGINT during a broadcast: nothing lost, nothing twice ----------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM], ids=["SIGTERM"])
async def test_broadcast_across_a_graceful_stop_goes_once(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    outbox_fake: FakeTelegram,  # noqa: F811
    e2e_db_url: str,
    sig: int,
) -> None:
    """SIGTERM a third of the way through a broadcast to 201 officials: exit 0; after a
    restart every copy went exactly once, the report says "Delivered: 201 of 201", and every
    outbox row is sent."""
    fake = outbox_fake
    chats = await seed_network(e2e_db_url, officials=200)
    total = len(chats)
    async with bot_processes(request, tmp_path / "cwd", fake, e2e_db_url, **SETTINGS) as bots:
        first = await bots.start()
        source_id, sent_mark = await broadcast_to_everyone(fake, "Evacuation drill.", total)
        await fake.until(
            lambda: len(copies(fake, source_id, sent_mark)) >= total // 3,
            DONE_WAIT,
            "a third of the broadcast to go out",
        )
        assert await bots.stop(first, sig) == 0
        at_stop = copies(fake, source_id, sent_mark)
        assert len(at_stop) < total
        second = await bots.start()
        report = await fake.wait_for(
            ORGANISER, contains="delivery report", since=sent_mark, within=DONE_WAIT
        )
        assert await bots.stop(second) == 0
        received = copies(fake, source_id, sent_mark)
        assert sorted(received) == sorted(chats)
        assert {c: n for c, n in received.items() if n > 1} == {}
        assert f"Delivered: {total} of {total}" in report.body
        statuses, _ = await delivery_counts(e2e_db_url)
        assert set(statuses) == {DeliveryStatus.SENT}, statuses
        assert "Traceback" not in bots.output()


# ---- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def ops_pg_seeded(pg_url: str) -> str:
    from tests.test_cli_input import _seed

    asyncio.run(_seed(pg_url))
    return pg_url


def test_telegram_webhooks_need_https_on_its_ports_a_bot_api_server_of_ones_own_does_not(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bot.config import ConfigError, load_settings

    monkeypatch.chdir(tmp_path)
    for url in ("http://bot.example.org", "https://bot.example.org:8080", "bot.example.org"):
        with pytest.raises(ConfigError, match="WEBHOOK_URL"):
            load_settings(webhook_url=url)
    assert load_settings(webhook_url="https://bot.example.org:8443").webhook_url
    own = load_settings(
        webhook_url="http://10.0.0.5:8080", telegram_api_base_url="http://10.0.0.2:8081"
    )
    assert own.webhook_url == "http://10.0.0.5:8080"


def test_an_unknown_log_level_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from bot.config import ConfigError, load_settings

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="LOG_LEVEL: expected one of .*DEBUG"):
        load_settings(log_level="VERBOSE")  # it was taken as INFO without a word
    assert load_settings(log_level="warning").log_level == "WARNING"
