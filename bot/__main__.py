"""Command line: run the bot, migrate, seed cities and topics, create invites."""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from bot import PROJECT_ROOT, cli_reports, redaction
from bot.cli_common import make_deps, migrate
from bot.config import ConfigError, Settings, load_settings
from bot.i18n import CatalogError, load_catalogs
from bot.services.errors import ServiceError

log = logging.getLogger("bot")

SAMPLE_SEED = PROJECT_ROOT / "bot" / "data" / "seed.toml"
DURATION_RE = re.compile(r"^(\d+)\s*([dhm])$")


def parse_duration(text: str) -> timedelta:
    match = DURATION_RE.match(text.strip().lower())
    if not match:
        raise argparse.ArgumentTypeError("use a number and d, h or m, e.g. 14d")
    value, unit = int(match.group(1)), match.group(2)
    return {"d": timedelta(days=value), "h": timedelta(hours=value), "m": timedelta(minutes=value)}[
        unit
    ]


def setup_logging(level: str, secrets: Sequence[str] = ()) -> None:
    """One handler for every logger; the bot token (and later the webhook secret) is replaced
    in every line it writes, at every level."""
    for secret in secrets:
        redaction.hide(secret, "<token>")
    handler = logging.StreamHandler()
    handler.setFormatter(
        redaction.RedactingFormatter("%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    )
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), handlers=[handler])
    # httpx logs request URLs, which contain the bot token: keep it quiet.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


class StartError(Exception):
    """The bot cannot start (Bot API or database unreachable); one line for the operator."""


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError
    from telegram.error import InvalidToken, NetworkError

    token = settings.require_token()
    load_catalogs(settings.locales_dir, settings.default_locale)
    try:
        # Check the token, the Bot API and the database before PTB starts: its bootstrap logs
        # a traceback (with the token in it) for what is one line of configuration.
        asyncio.run(_preflight(settings, token))
        return _run(settings, args)
    except InvalidToken:
        # PTB's own message repeats the token; never let it reach a log.
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN was rejected by the Bot API (401 Unauthorized): "
            "check it with @BotFather"
        ) from None
    except NetworkError as exc:
        reason = str(exc).replace(token, "<token>")
        raise StartError(
            f"cannot reach the Bot API at {settings.telegram_api_base_url}: {reason}"
        ) from None
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        scheme = settings.database_url.split(":", 1)[0]
        raise StartError(f"cannot open the database ({scheme}): {reason}") from None


async def _preflight(settings: Settings, token: str) -> None:
    from telegram import Bot

    async with Bot(token, base_url=settings.api_base, base_file_url=settings.file_base):
        pass
    await migrate(settings)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from telegram.ext import Application

    from bot.app import ALLOWED_UPDATES, build_application

    deps = make_deps(settings)
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


async def bot_username(settings: Settings) -> str | None:
    if settings.bot_username:
        return settings.bot_username.lstrip("@")
    if settings.telegram_bot_token is None:
        return None
    from telegram import Bot
    from telegram.error import TelegramError

    try:
        async with Bot(settings.require_token(), base_url=settings.api_base) as tg:
            return tg.username
    except (TelegramError, ConfigError):
        return None


def cmd_invite(settings: Settings, args: argparse.Namespace) -> int:
    from bot.db.models import Role
    from bot.services.catalogue import list_cities
    from bot.services.errors import InvalidInput, NotFound
    from bot.services.invites import create_invite

    async def go() -> None:
        await migrate(settings)
        deps = make_deps(settings)
        try:
            created = await create_invite(
                deps, args.city, role=Role(args.role), uses=args.uses, expires_in=args.expires
            )
        except NotFound:
            known = ", ".join(c.name for c in await list_cities(deps))
            raise SystemExit(
                f"error: no city named {args.city!r}; "
                f"known cities: {known or 'none (run seed first)'}"
            ) from None
        except InvalidInput as exc:
            raise SystemExit(f"error: invalid {exc.code}") from None
        finally:
            await deps.db.dispose()
        username = await bot_username(settings)
        link = f"https://t.me/{username or '<bot_username>'}?start={created.code}"
        print(link)
        details = [
            f"city={created.city.name}",
            f"role={created.role.value}",
            f"uses={created.uses_left if created.uses_left is not None else 'unlimited'}",
        ]
        if created.expires_at:
            details.append(f"expires={created.expires_at:%Y-%m-%d %H:%M} UTC")
        print(" ".join(details), file=sys.stderr)
        if username is None:
            print(
                "set BOT_USERNAME (or a valid TELEGRAM_BOT_TOKEN) to print the full link",
                file=sys.stderr,
            )

    asyncio.run(go())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="city-exchange-bot", description=__doc__)
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
        help=f"seed file (default: the sample, {SAMPLE_SEED.relative_to(PROJECT_ROOT)})",
    )
    seed.set_defaults(func=cmd_seed)

    invite = sub.add_parser("invite", help="create an invite link for a city")
    invite.add_argument("--city", required=True)
    invite.add_argument("--role", choices=["official", "organiser"], default="official")
    invite.add_argument("--uses", type=int, default=None, help="how many people may use it")
    invite.add_argument("--expires", type=parse_duration, default=None, help="e.g. 14d, 12h")
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
    except CatalogError as exc:
        print(f"translation error: {exc}", file=sys.stderr)
        return 2
    except ServiceError as exc:
        detail = ", ".join(f"{k}={v}" for k, v in exc.details.items())
        print(f"error: {exc.code}{' (' + detail + ')' if detail else ''}", file=sys.stderr)
        return 1
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            return 1
        raise
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
