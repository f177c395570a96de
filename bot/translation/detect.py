"""Which of the bot's languages a text is written in, offline (py3langid ships its model)."""

from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import Any

from bot.i18n import SUPPORTED_LOCALES

# Below this normalised probability the detector is guessing (very short texts, names).
MIN_CONFIDENCE = 0.9


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(SUPPORTED_LOCALES))
    return identifier


async def warm_up() -> None:
    """Load the model (about a second) away from the event loop, before the first message."""
    await asyncio.to_thread(_identifier)


def detect_language(text: str) -> str | None:
    """The language of the text among the bot's five, or None when unsure."""
    if not text.strip():
        return None
    language, confidence = _identifier().classify(text)
    return str(language) if confidence >= MIN_CONFIDENCE else None
