"""Command line: run the bot, migrate, seed cities and topics, create invites."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from bot import PACKAGE_DIR, cli_reports, redaction
from bot.cli_common import (
    CommandError,
    DatabaseUnavailable,
    OneLineParser,
    database_problem,
    duration,
    make_deps,
    migrate,
    positive,
    unknown_name,
)
from bot.config import SAMPLE_SEED, ConfigError, ListenError, Settings, load_settings
from bot.i18n import CatalogError, load_catalogs
from bot.services.errors import ServiceError

if TYPE_CHECKING:
    from telegram.error import TelegramError

    from bot.embedding import Encoder

log = logging.getLogger("bot")

# PTB's message when an answer is not JSON (an HTML page from a proxy, a wrong URL)
NOT_JSON = "Invalid server response"


def setup_logging(level: str, secrets: Sequence[str] = ()) -> None:
    """One handler for every logger; the bot token (and later the webhook secret) is replaced
    in every line it writes, at every level."""
    for secret in secrets:
        redaction.hide(secret, "<token>")
    handler = logging.StreamHandler()
    handler.setFormatter(
        redaction.RedactingFormatter("%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    )
    logging.basicConfig(level=level.upper(), handlers=[handler])  # checked by Settings
    # httpx logs request URLs, which contain the bot token: keep it quiet.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


class StartError(Exception):
    """The bot cannot start (Bot API or database unreachable); one line for the operator."""


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError
    from telegram.error import TelegramError

    token = settings.require_token()
    load_catalogs(settings.locales_dir, settings.default_locale)
    encoder = _encoder(settings)
    try:
        # Check the token, the Bot API and the database before PTB starts: its bootstrap logs
        # a traceback (with the token in it) for what is one line of configuration.
        asyncio.run(_preflight(settings, token))
        return _run(settings, args, encoder)
    except TelegramError as exc:
        failure = bot_api_failure(settings, token, exc)
        if isinstance(failure, ConfigError):
            raise failure from None
        raise StartError(str(failure)) from None
    except (DatabaseUnavailable, ListenError) as exc:
        raise StartError(str(exc)) from None
    except (SQLAlchemyError, OSError) as exc:  # the listening ports raise ListenError
        raise StartError(database_problem(settings.database_url, exc)) from None


async def _preflight(settings: Settings, token: str) -> None:
    from telegram import Bot

    with quiet_telegram_log():
        async with Bot(token, base_url=settings.api_base, base_file_url=settings.file_base):
            pass
    await migrate(settings)


@contextmanager
def quiet_telegram_log() -> Iterator[None]:
    """PTB logs a traceback with the whole page for an answer that is not JSON; the one line
    bot_api_failure makes says it instead."""
    logger = logging.getLogger("telegram")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def bot_api_failure(
    settings: Settings, token: str, exc: TelegramError
) -> ConfigError | CommandError:
    """One line for what went wrong with the Bot API (never the token): a rejected token is a
    setting to fix (ConfigError); anything else fails at run time (CommandError)."""
    from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError

    base = settings.telegram_api_base_url
    cause = exc.__cause__
    if exc.message == NOT_JSON or (isinstance(cause, TelegramError) and cause.message == NOT_JSON):
        # a status other than 2xx comes as "Bad Gateway (502). Parsing the server response ..."
        status = "" if exc.message == NOT_JSON else exc.message.split(". ", 1)[0] + " "
        return CommandError(
            f"the Bot API at {base} answered {status}with a page that is not the Bot API's "
            "JSON (a proxy's error page?): check TELEGRAM_API_BASE_URL"
        )
    if isinstance(exc, InvalidToken):
        # PTB's own message repeats the token; never let it reach a log.
        return ConfigError(
            "TELEGRAM_BOT_TOKEN was rejected by the Bot API (401 Unauthorized): "
            "check it with @BotFather"
        )
    reason = str(exc).replace(token, "<token>")
    if isinstance(exc, BadRequest) and "webhook" in reason.lower() and settings.webhook_url:
        return ConfigError(f"WEBHOOK_URL {settings.webhook_url} was refused: {reason}")
    if isinstance(exc, NetworkError) and not isinstance(exc, BadRequest):
        return CommandError(f"cannot reach the Bot API at {base}: {reason}")
    return CommandError(f"the Bot API at {base} refused the request: {reason}")


def _encoder(settings: Settings) -> Encoder | None:
    """The library's sentence encoder when SEMANTIC_SEARCH is on (numpy and the model load
    only then); without the extra, one line."""
    if not settings.semantic_search:
        return None
    from bot.embedding import EmbeddingUnavailable, Encoder

    try:
        return Encoder()
    except EmbeddingUnavailable as exc:
        raise ConfigError(f"SEMANTIC_SEARCH: {exc}") from None


def _run(settings: Settings, args: argparse.Namespace, encoder: Encoder | None) -> int:
    from telegram.ext import Application

    from bot.app import ALLOWED_UPDATES, build_application
    from bot.translation import TranslationUnavailable, build_translator

    deps = make_deps(settings)
    if not deps.db.is_postgres:  # a file relative to the working directory: say which one
        log.info("database sqlite file=%s", Path(make_url(deps.db.url).database or "").resolve())
    try:
        deps.translator = build_translator(settings)
    except TranslationUnavailable as exc:
        raise ConfigError(f"TRANSLATION_BACKEND: {exc}") from None
    deps.encoder = encoder
    app: Application = build_application(deps)  # type: ignore[type-arg]
    if args.no_updates:
        return asyncio.run(_run_worker(app))
    if settings.webhook_url:
        from bot.telegram_io.webhook import run_webhook

        run_webhook(app, settings, ALLOWED_UPDATES)
    else:
        app.run_polling(
            allowed_updates=ALLOWED_UPDATES, poll_interval=0.0, timeout=args.poll_timeout
        )
    return 0


async def _run_worker(app: object) -> int:
    """Sender and scheduler only, no updates: extra replicas help in polling mode too."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    app.bot_data.takes_updates = False  # type: ignore[attr-defined]
    async with app:  # type: ignore[attr-defined]
        await app.post_init(app)  # type: ignore[attr-defined]
        await app.start()  # type: ignore[attr-defined]
        await stop.wait()
        await app.stop()  # type: ignore[attr-defined]
        # run_polling calls post_shutdown itself; here it stops the sender (its claims are
        # given back) and the scheduler.
        await app.post_shutdown(app)  # type: ignore[attr-defined]
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    asyncio.run(migrate(settings))
    print("database is up to date")
    return 0


def cmd_seed(settings: Settings, args: argparse.Namespace) -> int:
    from bot.services.seed import read_seed_file, seed

    data = read_seed_file(Path(args.file))

    async def go() -> None:
        await migrate(settings)
        deps = make_deps(settings)
        try:
            result = await seed(deps, data)
        finally:
            await deps.db.dispose()
        print(
            f"cities: {result.cities_added} added, {result.cities_updated} updated; "
            f"topics: {result.topics_added} added, {result.topics_updated} updated"
        )

    asyncio.run(go())
    return 0


async def bot_username(settings: Settings) -> str:
    """For invite links: BOT_USERNAME, else getMe through TELEGRAM_API_BASE_URL."""
    if settings.bot_username and settings.bot_username.strip().lstrip("@"):
        return settings.bot_username.strip().lstrip("@")
    secret = settings.telegram_bot_token
    if secret is None or not secret.get_secret_value().strip():
        raise ConfigError(
            "an invite link needs the bot's username: set BOT_USERNAME "
            "(e.g. BOT_USERNAME=CityExchangeBot), or TELEGRAM_BOT_TOKEN to ask the Bot API for it"
        )
    token = settings.require_token()
    from telegram import Bot
    from telegram.error import TelegramError

    try:
        with quiet_telegram_log():
            async with Bot(token, base_url=settings.api_base) as tg:
                return tg.username
    except TelegramError as exc:
        failure = bot_api_failure(settings, token, exc)
        if isinstance(failure, CommandError):
            failure = CommandError(f"{failure}; or set BOT_USERNAME")
        raise failure from None


def cmd_invite(settings: Settings, args: argparse.Namespace) -> int:
    from bot.db.models import Role
    from bot.services.errors import NotFound
    from bot.services.invites import create_invite

    async def go() -> None:
        # Before the invite is made: without the username there is no link to give.
        username = await bot_username(settings)
        await migrate(settings)
        deps = make_deps(settings)
        try:
            created = await create_invite(
                deps, args.city, role=Role(args.role), uses=args.uses, expires_in=args.expires
            )
        except NotFound as exc:
            raise await unknown_name(deps, exc) from None
        finally:
            await deps.db.dispose()
        print(f"https://t.me/{username}?start={created.code}")
        details = [
            f"city={created.city.name}",
            f"role={created.role.value}",
            f"uses={created.uses_left if created.uses_left is not None else 'unlimited'}",
        ]
        if created.expires_at:
            details.append(f"expires={created.expires_at:%Y-%m-%d %H:%M} UTC")
        print(" ".join(details), file=sys.stderr)

    asyncio.run(go())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="city-exchange-bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="migrate the database, then run the bot")
    run.add_argument(
        "--no-updates",
        action="store_true",
        help="run only the sender and scheduler (an extra replica)",
    )
    run.add_argument("--poll-timeout", type=int, default=30, help=argparse.SUPPRESS)
    run.set_defaults(func=cmd_run)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)

    seed = sub.add_parser("seed", help="add or update cities and topics from a TOML/JSON file")
    seed.add_argument(
        "file",
        nargs="?",
        default=str(SAMPLE_SEED),
        help=f"seed file (default: the sample, {SAMPLE_SEED.relative_to(PACKAGE_DIR.parent)})",
    )
    seed.set_defaults(func=cmd_seed)

    invite = sub.add_parser("invite", help="create an invite link for a city")
    invite.add_argument("--city", required=True)
    invite.add_argument("--role", choices=["official", "organiser"], default="official")
    invite.add_argument("--uses", type=positive, default=None, help="how many people may use it")
    invite.add_argument("--expires", type=duration, default=None, help="e.g. 14d, 12h")
    invite.set_defaults(func=cmd_invite)

    cli_reports.add_commands(sub)  # export, stats
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        token = settings.telegram_bot_token
        setup_logging(settings.log_level, [token.get_secret_value().strip()] if token else [])
        return int(args.func(settings, args) or 0)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except StartError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.status
    except CatalogError as exc:
        print(f"translation error: {exc}", file=sys.stderr)
        return 2
    except ServiceError as exc:
        detail = ", ".join(f"{k}={v}" for k, v in exc.details.items())
        print(f"error: {exc.code}{' (' + detail + ')' if detail else ''}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
