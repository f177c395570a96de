"""Argos Translate in process (the optional `argos` extra), with the language packages the
organiser installed on the machine; nothing is downloaded at run time."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.translation import TranslationUnavailable


class ArgosTranslator:
    name = "argos"

    def __init__(self) -> None:
        try:
            import argostranslate.translate as argos  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:
            raise TranslationUnavailable(
                "TRANSLATION_BACKEND=argos needs the argos extra: pip install '.[argos]'"
            ) from exc
        self._argos: Any = argos

    def _translate(self, text: str, source: str, target: str) -> str:
        languages = {lang.code: lang for lang in self._argos.get_installed_languages()}
        if source not in languages or target not in languages:
            raise TranslationUnavailable(f"no Argos package installed for {source}->{target}")
        translation = languages[source].get_translation(languages[target])
        if translation is None:
            raise TranslationUnavailable(f"no Argos package installed for {source}->{target}")
        return str(translation.translate(text))

    async def translate(self, text: str, source: str, target: str) -> str:
        return await asyncio.to_thread(self._translate, text, source, target)

    async def detect(self, text: str) -> str | None:
        return None  # the offline detector decides

    async def close(self) -> None:
        return None
