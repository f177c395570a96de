"""Webhook mode: never without a secret token, and the secret never in a log line.

Telegram sends the secret given to setWebhook in the X-Telegram-Bot-Api-Secret-Token header of
every update; python-telegram-bot's webhook server answers 403 to a request without it or with
another one, so nobody who reaches the URL can act as any user (an admin included).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from typing import Any

from telegram.ext import Application

from bot import redaction
from bot.config import ListenError, Settings

log = logging.getLogger(__name__)

URL_PATH = "telegram"
SECRET_LABEL = "<webhook secret>"
# token_urlsafe(32): 43 characters from A-Z a-z 0-9 _ -, all of which Telegram accepts.
GENERATED_SECRET_BYTES = 32


def webhook_secret(settings: Settings) -> str:
    """WEBHOOK_SECRET, or a new random one; either way hidden from every log line from now on."""
    configured = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    secret = configured or secrets.token_urlsafe(GENERATED_SECRET_BYTES)
    redaction.hide(secret, SECRET_LABEL)
    return secret


def run_webhook(
    app: Application[Any, Any, Any, Any, Any, Any],
    settings: Settings,
    allowed_updates: Sequence[str],
) -> None:
    """Serve updates on WEBHOOK_LISTEN:WEBHOOK_PORT/telegram and register WEBHOOK_URL with its
    secret; until stopped."""
    assert settings.webhook_url
    secret = webhook_secret(settings)
    log.info(
        "webhook mode listen=%s port=%s path=/%s secret=%s",
        settings.webhook_listen,
        settings.webhook_port,
        URL_PATH,
        "configured" if settings.webhook_secret else "generated",
    )
    try:
        app.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=URL_PATH,
            webhook_url=f"{settings.webhook_url.rstrip('/')}/{URL_PATH}",
            secret_token=secret,
            allowed_updates=allowed_updates,
        )
    except OSError as exc:  # the port is taken, or WEBHOOK_LISTEN is not this host's
        raise ListenError(
            settings.webhook_listen, settings.webhook_port, "WEBHOOK_LISTEN, WEBHOOK_PORT", exc
        ) from None
