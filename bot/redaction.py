"""Secrets never reach a log line: every line the process writes (its own, python-telegram-bot's,
httpx's, tornado's, tracebacks included) goes through one formatter that replaces each secret
registered here by a label."""

from __future__ import annotations

import logging

_secrets: dict[str, str] = {}  # secret -> what a log line shows instead


def hide(secret: str, label: str) -> None:
    """From now on, `secret` appears in log lines as `label`."""
    if secret:
        _secrets[secret] = label


def redact(text: str) -> str:
    # Longest first: a secret that contains another is replaced whole.
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, _secrets[secret])
    return text


class RedactingFormatter(logging.Formatter):
    """Replaces every registered secret in the formatted line, tracebacks included; the
    registry is read at each line, so a secret made after start (the webhook's) is covered."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
