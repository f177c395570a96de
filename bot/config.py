"""One validated settings object, read from the environment and `.env`."""

from __future__ import annotations

import logging
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot import PACKAGE_DIR

SUPPORTED_LOCALES = ("en", "fr", "ar", "it", "es")
TOKEN_RE = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{30,}$")
# What Telegram accepts as a webhook's secret_token.
WEBHOOK_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line for the operator."""


class ListenError(Exception):
    """A port from the settings cannot be listened on (taken by another process, or an address
    this host does not have); the message names the setting, in one line."""

    def __init__(self, listen: str, port: int, setting: str, exc: OSError) -> None:
        reason = (exc.strerror or str(exc)).lower()
        super().__init__(f"cannot listen on {listen}:{port} ({setting}): {reason}")


SAMPLE_SEED = PACKAGE_DIR / "data" / "seed.toml"  # the 16 cities of the exchange and 36 topics


# Upper bounds of the durations below: beyond them a value is a mistake (and past a date's or a
# timer's range, a crash when a job first runs).
HOUR_SECONDS = 3600
DAY_SECONDS = 24 * HOUR_SECONDS
WEEK_HOURS = 7 * 24
YEAR_HOURS = 365 * 24
TELEGRAM_API = "https://api.telegram.org"
LOG_LEVELS = tuple(logging.getLevelNamesMapping())  # DEBUG, INFO, WARN(ING), ERROR, ...
# Telegram's servers post webhooks to HTTPS URLs on these ports only (Bot API, setWebhook).
WEBHOOK_PORTS = (443, 80, 88, 8443)


class Settings(BaseSettings):
    # `inf` and `nan` are refused: every number here is a real count, size or duration.
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", allow_inf_nan=False
    )

    telegram_bot_token: SecretStr | None = None
    # A file in the working directory, like `.env`: the bot may be installed where it cannot write.
    database_url: str = "sqlite+aiosqlite:///city_exchange.db"
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    default_locale: str = "en"
    telegram_api_base_url: str = TELEGRAM_API
    bot_username: str | None = None
    # Cities and topics loaded at start when the database has none; empty to disable.
    seed_file: str = str(SAMPLE_SEED)

    # exchange
    route_top_k: int = Field(3, ge=1, le=50)
    ask_rate_limit_per_hour: int = Field(10, ge=1, le=1_000_000)
    # updates handled at once (different people; one person's updates always in order)
    concurrent_updates: int = Field(32, ge=1, le=256)
    # one person's updates waiting or running; more are dropped (one "slow down" per burst)
    max_queued_updates_per_person: int = Field(20, ge=1, le=1000)
    # Counted in the recipient city's working hours (8 a working day by default).
    nudge_delay_hours: float = Field(8.0, gt=0, le=YEAR_HOURS)
    escalation_delay_hours: float = Field(24.0, gt=0, le=YEAR_HOURS)
    followup_job_seconds: float = Field(60.0, gt=0, le=DAY_SECONDS)

    # outbox sender
    send_rate_per_second: float = Field(30.0, gt=0, le=10_000)
    send_rate_per_chat_per_second: float = Field(1.0, gt=0, le=100)
    # sends waiting for a prompt answer; a slow one gives its slot to the next, up to
    # send_max_in_flight waiting at once: the pacing, not these, sets the rate
    send_concurrency: int = Field(4, ge=1, le=64)
    send_max_in_flight: int = Field(64, ge=1, le=1000)
    send_max_attempts: int = Field(5, ge=1, le=100)
    # rows claimed per round trip to the database, and how long a claim holds once its sender
    # stops renewing it (a live sender renews every quarter of it) before another may take it
    send_claim_batch: int = Field(500, ge=1, le=5000)
    send_lease_seconds: float = Field(10.0, ge=1, le=HOUR_SECONDS)
    # widens the one-second window a little: request arrival at Telegram jitters by a few ms
    send_window_margin_seconds: float = Field(0.01, ge=0, le=1)
    send_backoff_base_seconds: float = Field(2.0, gt=0, le=HOUR_SECONDS)
    send_backoff_max_seconds: float = Field(300.0, gt=0, le=DAY_SECONDS)
    send_poll_seconds: float = Field(1.0, gt=0, le=HOUR_SECONDS)
    # "aiohttp": the outbox gets its own faster HTTP client; "default": PTB's httpx one
    send_transport: str = Field("aiohttp", pattern="^(aiohttp|default)$")
    broadcast_progress_seconds: float = Field(5.0, gt=0, le=HOUR_SECONDS)
    # the bot's own replies after a 429: tries in all, and the most they wait in total
    reply_max_attempts: int = Field(3, ge=1, le=10)
    reply_max_wait_seconds: float = Field(20.0, ge=0, le=300)
    reminder_grace_minutes: int = Field(60, ge=0, le=WEEK_HOURS * 60)

    # scheduler: reminders, weekly digest
    reminder_job_seconds: float = Field(15.0, gt=0, le=DAY_SECONDS)
    digest_job_seconds: float = Field(300.0, gt=0, le=DAY_SECONDS)
    digest_weekday: int = Field(0, ge=0, le=6)  # 0 = Monday, in each official's city timezone
    digest_hour: int = Field(8, ge=0, le=23)
    # a digest later than this waits a week
    digest_catch_up_hours: float = Field(12.0, ge=0, le=WEEK_HOURS)

    # exports: Telegram bots may upload documents up to 50 MB; stay under it with headroom
    export_upload_limit_bytes: int = Field(48 * 1024 * 1024, ge=1024, le=2 * 1024**3)
    # zip files larger than this
    export_compress_bytes: int = Field(5 * 1024 * 1024, ge=0, le=2 * 1024**3)
    export_progress_seconds: float = Field(3.0, gt=0, le=HOUR_SECONDS)

    # machine translation of what officials write: none | libretranslate | argos
    translation_backend: Literal["none", "libretranslate", "argos"] = "none"
    translation_url: str = "http://127.0.0.1:5000"  # LibreTranslate's base URL
    translation_api_key: SecretStr | None = None
    # slower than this (or down): the original goes out with a short note
    translation_timeout_seconds: float = Field(5.0, gt=0, le=120)
    # how often library entries not yet in every language are translated and indexed again
    library_translation_job_seconds: float = Field(60.0, gt=0, le=DAY_SECONDS)
    # the library searched by meaning too, across languages, with the `semantic` extra's
    # multilingual model (offline, on the CPU); off: full-text search only
    semantic_search: bool = False
    # how often library entries without a meaning vector get one (after turning it on)
    semantic_job_seconds: float = Field(60.0, gt=0, le=DAY_SECONDS)

    # one alert to the admins per kind of error (type and place) in this many seconds
    error_alert_window_seconds: float = Field(300.0, gt=0, le=WEEK_HOURS * 3600)

    # process roles
    webhook_url: str | None = None
    # unset or empty: a new random secret each start (one process taking webhook updates)
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(8080, ge=1, le=65535)
    # /healthz and /metrics (Prometheus) on this port; unset: not served
    metrics_port: int | None = Field(None, ge=1, le=65535)
    metrics_listen: str = "127.0.0.1"
    log_level: str = "INFO"

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _parse_admin_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p for p in re.split(r"[,\s]+", value.strip()) if p]
            try:
                return frozenset(int(p) for p in parts)
            except ValueError as exc:
                raise ValueError("expected Telegram user ids separated by commas") from exc
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # The message never repeats the value: it is a secret.
        if value is None or not value.get_secret_value():
            return None
        if not WEBHOOK_SECRET_RE.match(value.get_secret_value()):
            raise ValueError("expected 1 to 256 characters: letters A-Z a-z, digits, _ and -")
        return value

    @field_validator("translation_backend", mode="before")
    @classmethod
    def _lower_backend(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        value = value.strip().upper()
        if value not in LOG_LEVELS:
            raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
        return value

    @field_validator("default_locale")
    @classmethod
    def _check_locale(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            raise ValueError(f"expected one of {', '.join(SUPPORTED_LOCALES)}")
        return value

    @field_validator("translation_url")
    @classmethod
    def _check_translation_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        try:
            parts = urlsplit(value)
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http(s) URL such as http://127.0.0.1:5000")
        return value

    @field_validator("telegram_api_base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        expected = "expected an http(s) URL such as https://api.telegram.org"
        if re.search(r"\s", value):
            raise ValueError(expected)
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018  (raises ValueError for a bad or out-of-range port)
        except ValueError:
            raise ValueError(expected) from None
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.query
            or parts.fragment
            or "@" in parts.netloc
        ):
            raise ValueError(expected)
        return value

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        try:
            parts = urlsplit(value)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            parts, port = None, None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected the bot's public address, e.g. https://bot.example.org")
        # Telegram's own servers post to HTTPS on four ports; a self-hosted Bot API server
        # (TELEGRAM_API_BASE_URL) takes any.
        official = info.data.get("telegram_api_base_url") == TELEGRAM_API
        if official and (parts.scheme != "https" or port not in WEBHOOK_PORTS):
            raise ValueError(
                "Telegram posts updates only to https:// on port "
                f"{', '.join(map(str, WEBHOOK_PORTS))}, e.g. https://bot.example.org"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _check_db_url(cls, value: str) -> str:
        if value.startswith("postgres://") or value.startswith("postgresql://"):
            value = "postgresql+asyncpg://" + value.split("://", 1)[1]
        elif value.startswith("sqlite:///"):
            value = "sqlite+aiosqlite:///" + value[len("sqlite:///") :]
        expected = "expected sqlite+aiosqlite:///path or postgresql+asyncpg://user@host:port/db"
        if not (
            value.startswith("sqlite+aiosqlite://") or value.startswith("postgresql+asyncpg://")
        ):
            raise ValueError(expected)
        try:
            url = make_url(value)  # raises for a port that is not a number, among others
        except (ArgumentError, ValueError):
            raise ValueError(expected) from None
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            # each command would open its own empty database, gone when it ends
            raise ValueError("expected a file, e.g. sqlite+aiosqlite:///city_exchange.db")
        if "sslmode" in url.query:
            # libpq's name, in the URLs managed PostgreSQL services give; asyncpg calls it ssl
            query = {k: v for k, v in url.query.items() if k != "sslmode"}
            url = url.set(query={**query, "ssl": url.query["sslmode"]})
            value = url.render_as_string(hide_password=False)
        return value

    @cached_property
    def api_base(self) -> str:
        """Bot API root, e.g. https://api.telegram.org/bot (PTB appends the token)."""
        return f"{self.telegram_api_base_url}/bot"

    @cached_property
    def file_base(self) -> str:
        return f"{self.telegram_api_base_url}/file/bot"

    @property
    def locales_dir(self) -> Path:
        return PACKAGE_DIR / "locales"

    def require_token(self) -> str:
        if self.telegram_bot_token is None or not self.telegram_bot_token.get_secret_value():
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN is not set: put it in the environment or in .env "
                "(get one from @BotFather)"
            )
        token = self.telegram_bot_token.get_secret_value().strip()
        if not TOKEN_RE.match(token):
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN is malformed: a token is the bot's number, a colon and "
                "about 35 letters, digits, - or _, like 123456789:AAH4x... "
                "(copy it whole from @BotFather)"
            )
        return token


def load_settings(**overrides: object) -> Settings:
    """Read settings; a bad value becomes one ConfigError line naming the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f".env is not UTF-8 text ({exc.reason} at byte {exc.start}): save it as UTF-8"
        ) from None
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]).upper() if err["loc"] else "settings"
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{name}: {msg}") from None
