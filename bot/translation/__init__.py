"""Machine translation of what officials write: the backends (none, a LibreTranslate server,
Argos Translate in process) behind one small interface, and the offline language detector.

Nothing here touches the database or Telegram: bot/services/translation.py decides what to
translate, stores each translation once and never calls a backend inside a transaction.
"""

from __future__ import annotations

from typing import Protocol

from bot.config import Settings


class TranslationUnavailable(Exception):
    """The backend is down, too slow, refused the language pair or answered nonsense."""


class Translator(Protocol):
    """A machine translator: one text from one language into another."""

    name: str

    async def translate(self, text: str, source: str, target: str) -> str: ...

    async def detect(self, text: str) -> str | None:
        """The backend's guess of the text's language, or None when it has none."""
        ...

    async def close(self) -> None: ...


def build_translator(settings: Settings) -> Translator | None:
    """The backend the settings choose; None when translation is off."""
    if settings.translation_backend == "libretranslate":
        from bot.translation.libretranslate import LibreTranslate

        key = settings.translation_api_key
        return LibreTranslate(settings.translation_url, key.get_secret_value() if key else None)
    if settings.translation_backend == "argos":
        from bot.translation.argos import ArgosTranslator

        return ArgosTranslator()
    return None
