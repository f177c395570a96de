"""The command line as a new user runs it: `python -m bot ...` as a real process.

Every refusal is one line on stderr, never a traceback: exit 2 for a wrong argument or setting
(argparse's convention), 1 for what fails at run time or is not in the database.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.__main__ import SAMPLE_SEED
from bot.config import Settings
from bot.db.engine import Database
from bot.db.models import AuditLog, Invite
from bot.runtime import Deps
from bot.services.seed import read_seed_file, seed
from tests.harness.fake_server import FakeTelegram
from tests.harness.process import TOKEN, BotProcesses, base_env

pytestmark = pytest.mark.e2e

AT_LEAST_ONE_DAY = "error: argument --days: use a whole number of days, at least 1"
KNOWN_CITIES = "known cities: Madrid, Nice, Potenza, Torino, Boghé, Kaédi"


async def _seed(url: str) -> None:
    db = Database(url)
    try:
        settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
        await seed(Deps(settings=settings, db=db), read_seed_file(SAMPLE_SEED))
    finally:
        await db.dispose()


@pytest.fixture
def seeded(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated SQLite database with the sample cities and topics."""
    path = tmp_path / "cli.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite+aiosqlite:///{path}"
    asyncio.run(_seed(url))
    return url


async def cli(tmp_path: Path, *args: str, **env: str) -> tuple[int, str, str]:
    workdir = tmp_path / "cwd"
    workdir.mkdir(exist_ok=True)
    return await BotProcesses(workdir, base_env(**env)).cli(*args)


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


async def count(url: str, model: type, *where: object) -> int:
    db = Database(url)
    try:
        async with db.transaction() as s:
            return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)
    finally:
        await db.dispose()


# ---- export: the output file is checked before the query -------------------------------------


def _under_a_file(tmp: Path) -> tuple[str, str]:
    (tmp / "report.txt").write_text("not a directory")
    return str(tmp / "report.txt" / "exchanges.csv"), "report.txt is a file, not a directory"


def _a_directory(tmp: Path) -> tuple[str, str]:
    (tmp / "exports").mkdir()
    return str(tmp / "exports"), "is a directory"


def _name_too_long(tmp: Path) -> tuple[str, str]:
    return str(tmp / ("x" * 300 + ".csv")), "File name too long"


@pytest.mark.parametrize("bad_output", [_under_a_file, _a_directory, _name_too_long])
async def test_export_checks_the_output_before_it_starts(
    tmp_path: Path, seeded: str, bad_output: Callable[[Path], tuple[str, str]]
) -> None:
    output, reason = bad_output(tmp_path)
    code, out, err = await cli(tmp_path, "export", "-o", output, DATABASE_URL=seeded)
    line = one_line(err)  # no progress bar: it never started
    assert code == 2 and line.startswith("error: cannot write the export to ") and reason in line
    assert out == ""
    assert await count(seeded, AuditLog, AuditLog.action == "export.created") == 0


async def test_export_format_is_case_insensitive(tmp_path: Path, seeded: str) -> None:
    target = tmp_path / "log.txt"
    code, _out, err = await cli(
        tmp_path, "export", "--format", "JSONL", "-o", str(target), "--no-progress",
        DATABASE_URL=seeded,
    )  # fmt: skip
    assert code == 0 and one_line(err) == f"exported 0 rows to {target}"
    assert target.exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["export", "--since", "2026-05-01", "--until", "2026-01-01", "-o", "x.csv"],
            "error: --since 2026-05-01 is after --until 2026-01-01",
        ),
        (
            ["stats", "--since", "2026-05-01", "--until", "2026-01-01"],
            "error: --since 2026-05-01 is after --until 2026-01-01",
        ),
        (["stats", "--days", "99999999"], "error: argument --days: at most 36500 days"),
        (["stats", "--days", "0"], AT_LEAST_ONE_DAY),
        (["stats", "--days", "-3"], AT_LEAST_ONE_DAY),
        (["stats", "--days", "7", "--since", "2026-01-01"], "not allowed with argument"),
        (["export", "--format", "pdf", "-o", "x.pdf"], "error: argument --format: invalid"),
        (["export", "--since", "2026-02-30", "-o", "x.csv"], "a date like 2026-01-31"),
        (["export"], "the following arguments are required: -o/--output"),
        (
            ["invite", "--city", "Nice", "--expires", "99999999d"],
            "error: argument --expires: at most 3650 days",
        ),
        (
            ["invite", "--city", "Nice", "--expires", "0d"],
            "error: argument --expires: must be more than 0",
        ),
        (
            ["invite", "--city", "Nice", "--uses", "0"],
            "error: argument --uses: use a whole number, at least 1",
        ),
    ],
)
async def test_a_wrong_argument_is_one_line_and_exit_2(
    tmp_path: Path, seeded: str, args: list[str], expected: str
) -> None:
    code, out, err = await cli(tmp_path, *args, DATABASE_URL=seeded, BOT_USERNAME="CxBot")
    assert code == 2 and expected in one_line(err) and out == ""
    assert await count(seeded, Invite) == 0
    assert await count(seeded, AuditLog, AuditLog.action == "export.created") == 0


async def test_names_not_in_the_database_are_one_line_with_the_known_ones(
    tmp_path: Path, seeded: str
) -> None:
    env = {"DATABASE_URL": seeded, "BOT_USERNAME": "CxBot"}
    code, _out, invite_err = await cli(tmp_path, "invite", "--city", "Atlantis", **env)
    assert code == 1
    code2, _out, export_err = await cli(
        tmp_path, "export", "--city", "Atlantis", "-o", str(tmp_path / "x.csv"), **env
    )
    assert code2 == 1
    # the same line whichever command was given the name
    assert one_line(invite_err) == one_line(export_err)
    assert one_line(invite_err).startswith(f"error: no city named 'Atlantis'; {KNOWN_CITIES}")

    code, _out, err = await cli(tmp_path, "export", "--country", "ZZ", "-o", "x.csv", **env)
    assert code == 1 and one_line(err) == (
        "error: no city in country 'ZZ'; countries with cities (ISO codes): ES, FR, IT, MR, TN"
    )
    code, _out, err = await cli(tmp_path, "export", "--topic", "floods", "-o", "x.csv", **env)
    assert code == 1 and one_line(err).startswith("error: no topic 'floods'; known topics: ")
    assert "flood-risk" in err
    assert await count(seeded, AuditLog, AuditLog.action == "export.created") == 0


# ---- the database: one line when it cannot be opened -----------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["migrate"],
        ["seed"],
        ["stats"],
        ["export", "-o", "x.csv"],
        ["invite", "--city", "Nice"],
    ],
)
async def test_a_sqlite_file_in_a_missing_directory_is_one_line(
    tmp_path: Path, command: list[str]
) -> None:
    path = tmp_path / "no-such-dir" / "bot.db"
    code, _out, err = await cli(
        tmp_path, *command, DATABASE_URL=f"sqlite+aiosqlite:///{path}", BOT_USERNAME="CxBot"
    )
    assert code == 1 and one_line(err) == (
        f"error: cannot open the database (sqlite {path}): "
        f"the directory {path.parent} does not exist"
    )


async def test_a_sqlite_file_under_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file, not a directory")
    path = tmp_path / "data" / "bot.db"
    code, _out, err = await cli(tmp_path, "stats", DATABASE_URL=f"sqlite+aiosqlite:///{path}")
    assert code == 1 and one_line(err) == (
        f"error: cannot open the database (sqlite {path}): {path.parent} is a file, not a directory"
    )


async def test_postgresql_on_a_closed_port_is_one_line(tmp_path: Path) -> None:
    server = FakeTelegram(TOKEN)  # take a free port, then close it
    await server.start()
    port = server.port
    await server.stop()
    url = f"postgresql+asyncpg://cxb:s3cret-pw@127.0.0.1:{port}/cxb"
    code, _out, err = await cli(tmp_path, "stats", DATABASE_URL=url)
    line = one_line(err)
    assert code == 1 and line.startswith(
        f"error: cannot open the database (postgresql at 127.0.0.1:{port}/cxb): "
    )
    assert "refused" in line and "s3cret-pw" not in err


async def test_postgresql_unknown_database_is_one_line(tmp_path: Path, pg_url: str) -> None:
    url = make_url(pg_url).set(database="cxb_no_such_database")
    code, _out, err = await cli(
        tmp_path, "migrate", DATABASE_URL=url.render_as_string(hide_password=False)
    )
    assert code == 1 and one_line(err) == (
        f"error: cannot open the database (postgresql at {url.host}:{url.port or 5432}"
        '/cxb_no_such_database): database "cxb_no_such_database" does not exist'
    )


# ---- the Bot API: invite links, tokens, a proxy's HTML --------------------------------------


async def test_invite_asks_get_me_for_the_link(tmp_path: Path, seeded: str) -> None:
    async with FakeTelegram(TOKEN) as fake:
        code, out, err = await cli(
            tmp_path, "invite", "--city", "Nice",
            DATABASE_URL=seeded, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=fake.base_url,
        )  # fmt: skip
        assert fake.of("getMe")
    assert code == 0 and out.startswith("https://t.me/CityExchangeTestBot?start=")
    assert one_line(err) == "city=Nice role=official uses=unlimited"


async def test_invite_without_username_or_token_says_the_link_needs_it(
    tmp_path: Path, seeded: str
) -> None:
    code, out, err = await cli(tmp_path, "invite", "--city", "Nice", DATABASE_URL=seeded)
    assert code == 2 and out == ""
    assert one_line(err) == (
        "configuration error: an invite link needs the bot's username: set BOT_USERNAME "
        "(e.g. BOT_USERNAME=CityExchangeBot), or TELEGRAM_BOT_TOKEN to ask the Bot API for it"
    )
    assert await count(seeded, Invite) == 0


PROXY_PAGE = "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body>\n</html>\n"


def proxy_error_page(status: int) -> web.RouteDef:
    """What a reverse proxy in front of a dead Bot API server answers: an HTML page."""

    async def page(_request: web.Request) -> web.Response:
        return web.Response(
            status=status,
            text=PROXY_PAGE,
            content_type="text/html",
        )

    return web.route("*", "/bot{tail:.*}", page)


@pytest.mark.parametrize(("status", "said"), [(502, "Bad Gateway (502) "), (200, "")])
@pytest.mark.parametrize("command", [["run"], ["invite", "--city", "Nice"]])
async def test_a_bot_api_url_answering_html_is_one_line(
    tmp_path: Path, seeded: str, status: int, said: str, command: list[str]
) -> None:
    async with FakeTelegram(TOKEN, routes=[proxy_error_page(status)]) as fake:
        code, out, err = await cli(
            tmp_path, *command,
            DATABASE_URL=seeded, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=fake.base_url,
        )  # fmt: skip
    line = one_line(err)
    assert code == 1 and out == ""
    assert f"the Bot API at {fake.base_url} answered {said}with a page that is not" in line
    assert "check TELEGRAM_API_BASE_URL" in line and TOKEN.split(":")[1] not in err
    assert await count(seeded, Invite) == 0


@pytest.mark.parametrize("command", [["run"], ["invite", "--city", "Nice"]])
async def test_a_malformed_token_says_what_a_token_looks_like(
    tmp_path: Path, seeded: str, command: list[str]
) -> None:
    code, out, err = await cli(
        tmp_path, *command, DATABASE_URL=seeded, TELEGRAM_BOT_TOKEN="12345:not-a-token"
    )
    assert code == 2 and out == ""
    assert one_line(err) == (
        "configuration error: TELEGRAM_BOT_TOKEN is malformed: a token is the bot's number, "
        "a colon and about 35 letters, digits, - or _, like 123456789:AAH4x... "
        "(copy it whole from @BotFather)"
    )
