"""What every command line command needs: one-line refusals, the argument types, the database
migrated (or one line saying why it cannot be opened), and the dependencies built."""

from __future__ import annotations

import argparse
import re
import socket
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NoReturn

from bot.config import Settings
from bot.db.engine import Database
from bot.runtime import Deps
from bot.services.errors import ErrorCode, NotFound

MAX_DAYS = 36500  # --days: a hundred years is "everything"; more does not fit a date
MAX_EXPIRY_DAYS = 3650  # --expires: ten years; leave it out for a link that never expires
MAX_COUNT = 1_000_000  # --uses: a million people; the database column holds 32 bits
DURATION_RE = re.compile(r"^(\d+)\s*([dhm])$")
UNIT_MINUTES = {"d": 24 * 60, "h": 60, "m": 1}


class CommandError(Exception):
    """A refusal or a failure, printed as one line "error: ..."; `status` is the exit code:
    2 for a wrong argument (argparse's convention), 1 for what fails at run time."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class DatabaseUnavailable(CommandError):
    """The database cannot be opened or migrated."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a wrong argument is one line (the usage is in --help), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


# ---- argument types ------------------------------------------------------------------------


def day(text: str) -> datetime:
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("use a date like 2026-01-31") from None
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("use a whole number of days, at least 1")
    if value > MAX_DAYS:
        raise argparse.ArgumentTypeError(f"at most {MAX_DAYS} days")
    return value


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("use a whole number, at least 1")
    if value > MAX_COUNT:
        raise argparse.ArgumentTypeError(f"at most {MAX_COUNT:,} (leave it out for no limit)")
    return value


def duration(text: str) -> timedelta:
    match = DURATION_RE.match(text.strip().lower())
    if not match:
        raise argparse.ArgumentTypeError("use a number and d, h or m, e.g. 14d")
    number = match.group(1).lstrip("0") or "0"
    # more than nine digits is over any bound below (and int() refuses thousands of them)
    minutes = int(number) * UNIT_MINUTES[match.group(2)] if len(number) <= 9 else -1
    if minutes == 0:
        raise argparse.ArgumentTypeError("must be more than 0, e.g. 14d")
    if minutes < 0 or minutes > MAX_EXPIRY_DAYS * UNIT_MINUTES["d"]:
        raise argparse.ArgumentTypeError(
            f"at most {MAX_EXPIRY_DAYS} days (leave --expires out for a link that never expires)"
        )
    return timedelta(minutes=minutes)


def end_of(until: datetime | None) -> datetime | None:
    """The first moment after the day --until names (None: no bound, also for 9999-12-31,
    whose next day no date can hold)."""
    if until is None or until.date() == date.max:
        return None
    return until + timedelta(days=1)


def check_period(since: datetime | None, until: datetime | None) -> None:
    if since and until and since > until:
        raise CommandError(f"--since {since:%Y-%m-%d} is after --until {until:%Y-%m-%d}", 2)


def _first_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_output(output: str) -> Path:
    """The file an export will be written to, tried before any work: its directory (created
    when missing, as the export would) and the file itself. CommandError (exit 2) if not."""
    target = Path(output)

    def refuse(reason: str) -> CommandError:
        return CommandError(f"cannot write the export to {output}: {reason}", 2)

    try:
        if target.is_dir():
            raise refuse("it is a directory")
        existing = _first_existing(target.parent)
        if not existing.is_dir():
            raise refuse(f"{existing} is a file, not a directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            with target.open("r+b"):
                pass
        else:
            with target.open("xb"):
                pass
            target.unlink()
    except OSError as exc:
        raise refuse(exc.strerror or str(exc)) from None
    return target


# ---- names the database does not know ------------------------------------------------------


async def unknown_name(deps: Deps, exc: NotFound) -> CommandError:
    """One line for a city, country or topic the database does not know, with those it does."""
    from bot.services.catalogue import list_cities, list_topics

    none = "none (run seed first)"
    what = exc.details.get("what")
    if exc.code == ErrorCode.CITY:
        cities = ", ".join(c.name for c in await list_cities(deps)) or none
        return CommandError(f"no city named {exc.details.get('name')!r}; known cities: {cities}")
    if what == "country":
        countries = ", ".join(sorted({c.country for c in await list_cities(deps)})) or none
        return CommandError(
            f"no city in country {exc.details.get('country')!r}; "
            f"countries with cities (ISO codes): {countries}"
        )
    if what == "topic":
        topics = ", ".join(t.slug for t in await list_topics(deps)) or none
        return CommandError(f"no topic {exc.details.get('slug')!r}; known topics: {topics}")
    return CommandError(f"not found: {what or exc.code}")


# ---- the database --------------------------------------------------------------------------


def make_deps(settings: Settings) -> Deps:
    _check_sqlite_path(settings.database_url)
    return Deps(settings=settings, db=Database(settings.database_url))


async def migrate(settings: Settings) -> None:
    """Bring the database to the newest schema (its own short-lived engine); one line
    (DatabaseUnavailable) when it cannot be opened."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.db.migrate import NewerDatabase, upgrade_if_needed

    _check_sqlite_path(settings.database_url)
    db: Database | None = None
    try:
        db = Database(settings.database_url)
        await upgrade_if_needed(db)
    except NewerDatabase as exc:
        raise DatabaseUnavailable(str(exc)) from None
    except (SQLAlchemyError, OSError) as exc:
        raise DatabaseUnavailable(database_problem(settings.database_url, exc)) from None
    finally:
        if db is not None:
            await db.dispose()


def database_problem(url: str, exc: BaseException) -> str:
    """'cannot open the database (where): why', without the password."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return f"cannot open the database ({url.split(':', 1)[0]}): {_reason(exc)}"
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or ":memory:")
        return f"cannot open the database (sqlite {path}): {_sqlite_reason(path) or _reason(exc)}"
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"
    return f"cannot open the database (postgresql at {where}): {_reason(exc)}"


def _check_sqlite_path(url: str) -> None:
    """A SQLite file whose directory is missing (or is a file) is refused before any
    connection is tried: aiosqlite's worker thread would otherwise print its own traceback when
    the process exits."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    reason = _sqlite_reason(Path(parsed.database))
    if reason is not None:
        raise DatabaseUnavailable(f"cannot open the database (sqlite {parsed.database}): {reason}")


def _sqlite_reason(path: Path) -> str | None:
    try:
        existing = _first_existing(path.parent)
        if not existing.is_dir():
            return f"{existing} is a file, not a directory"
        if existing != path.parent:
            return f"the directory {path.parent} does not exist"
    except OSError:
        pass
    return None


def _reason(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused (is the server running and listening there?)"
    if isinstance(cause, TimeoutError):
        return "no answer in time"
    if isinstance(cause, socket.gaierror):
        return f"unknown host ({cause.strerror})"
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__
