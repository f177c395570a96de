"""The library's search across languages, for bench_library.py: a stand-in translator whose
dictionary is the relevance set's human translations
(`bench/data/library_relevance_translations.json`), the set's entries translated through the
bot's own path (the translation service, its cache, the library's translation job's
`translate_entry`), and recall@3 of the queries asked in the four other languages.

What this measures is search given good translations: a machine translator's mistakes are
not in it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.db import library_search as index
from bot.db.engine import Database
from bot.runtime import Deps
from bot.services import library_translation
from bot.translation import TranslationUnavailable

TRANSLATIONS = Path(__file__).resolve().parent / "data" / "library_relevance_translations.json"
LANGUAGES = ("en", "fr", "ar", "it", "es")


def load() -> dict[str, Any]:
    return dict(json.loads(TRANSLATIONS.read_text(encoding="utf-8")))


class DictionaryTranslator:
    """A translator that knows only the relevance set, from its human translations."""

    name = "dictionary"

    def __init__(self, rel: dict[str, Any], tr: dict[str, Any]) -> None:
        self.phrases: dict[tuple[str, str], str] = {}
        self.languages: dict[str, str] = {}
        self.calls = 0
        for e in rel["entries"]:
            for field in ("question", "answer"):
                original = e[field]
                self.languages[original] = e["language"]
                for lang, words in tr["entries"][e["id"]].items():
                    self.phrases[(original, lang)] = words[field]

    async def translate(self, text: str, source: str, target: str) -> str:
        self.calls += 1
        try:
            return self.phrases[(text, target)]
        except KeyError:
            raise TranslationUnavailable(f"not in the dictionary: {target}") from None

    async def detect(self, text: str) -> str | None:
        return self.languages.get(text)

    async def close(self) -> None:
        return None


async def translate_set(deps: Deps, ids: dict[str, int]) -> dict[int, int]:
    """Each of the set's entries through the library's translation path; per entry, the
    languages it is indexed in afterwards."""
    return {i: await library_translation.translate_entry(deps, i) for i in ids.values()}


def cross_queries(rel: dict[str, Any], tr: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(language, query, relevant entry keys): each query in the four languages it was not
    written in."""
    out = []
    for q, translated in zip(rel["queries"], tr["queries"], strict=True):
        assert translated["query"] == q["query"]
        for lang in LANGUAGES:
            if lang != q["language"]:
                out.append((lang, translated[lang], q["relevant"]))
    return out


async def recall_at_3(
    db: Database, queries: list[tuple[str, str, list[str]]], ids: dict[str, int]
) -> tuple[float, dict[str, float]]:
    """Recall@3 over the queries, and per language of the query."""
    per: dict[str, list[float]] = {}
    async with db.read() as session:
        for lang, query, relevant in queries:
            hits = {h.entry_id for h in await index.search(session, query, 3)}
            wanted = {ids[r] for r in relevant}
            per.setdefault(lang, []).append(len(wanted & hits) / len(wanted))
    every = [s for scores in per.values() for s in scores]
    return sum(every) / len(every), {k: sum(v) / len(v) for k, v in sorted(per.items())}
