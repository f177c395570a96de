"""The library across languages: each entry is indexed in its own language and, when
translation is on, in every other language its words have been translated into, so an Arabic
query finds an Italian answer.

Indexing (in the transaction that writes an entry) only reads translations already stored:
no translator is ever called in a person's request. The job below asks the translation
service for what is missing (outside any transaction, cached like every translation) and
indexes the entry again. A translator that is down or slow costs nothing: the entry stays
indexed in its own language and the job tries again later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from weakref import WeakKeyDictionary

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import library, library_search, translations
from bot.db.engine import Database
from bot.db.library_models import LibraryEntry
from bot.i18n import SUPPORTED_LOCALES
from bot.runtime import Deps
from bot.services import translation

log = logging.getLogger(__name__)

BATCH = 20  # entries per run of the job
# An entry whose words could not all be translated is tried again after this long.
RETRY_AFTER = timedelta(minutes=10)
# Between full looks at every entry, the job looks only at entries written since the last
# full one (a full look counts every entry's index rows: 0.1-0.4 s at 100,000 entries).
FULL_LOOK_EVERY = timedelta(hours=1)


@dataclass
class _Progress:
    """Per database, in this process: entries the job tried lately (and when), and when it
    last looked at every entry and saw all those pending."""

    tried: dict[int, datetime] = field(default_factory=dict)
    full_look_at: datetime | None = None


_progress: WeakKeyDictionary[Database, _Progress] = WeakKeyDictionary()


async def _words(session: AsyncSession, entry: LibraryEntry) -> list[tuple[str, int | None]]:
    """The entry's words as indexed: its title (an organiser's) and each message still in it,
    with whose words they are."""
    rows = await library.parts(session, entry.id)
    words = [(entry.title or "", None)] + [
        (r.part.text, r.part.official_id) for r in rows if r.part.text
    ]
    return [(text, author) for text, author in words if text.strip()]


async def indexed_texts(session: AsyncSession, entry: LibraryEntry) -> dict[str, str]:
    """The entry's words per language: all of them as written under the entry's language,
    and, under each other language, their stored translations when every one of them is
    there (or was written in that language). An entry is in a language whole or not at all,
    so an entry indexed in fewer than all five still has translating to do."""
    words = [text for text, _author in await _words(session, entry)]
    texts = {entry.language: "\n".join(words)}
    known = await translations.stored_of(session, {translations.text_hash(w) for w in words})
    for lang in SUPPORTED_LOCALES:
        if lang == entry.language or not words:
            continue
        rendered = []
        for w in words:
            source, into = known.get(translations.text_hash(w), ("", {}))
            rendered.append(w if source == lang else into.get(lang))
        if all(r is not None for r in rendered):
            texts[lang] = "\n".join(r for r in rendered if r is not None)
    return texts


async def translate_entry(deps: Deps, entry_id: int) -> int:
    """Ask for the translations the entry still lacks, then index it again. The number of
    languages it is indexed in now."""
    async with deps.db.read() as session:
        entry = await library.entry(session, entry_id)
        if entry is None:
            return 0
        language, words = entry.language, await _words(session, entry)
    for text, author in words:
        # Outside any transaction; stored once per text and language, like every translation.
        await translation.renditions(deps, text, language, SUPPORTED_LOCALES, author)
    async with deps.db.transaction() as session:
        entry = await library.entry_locked(session, entry_id)
        if entry is None:
            return 0
        texts = await indexed_texts(session, entry)
        await library_search.write(session, entry_id, texts)
        return len(texts)


async def translate_pending(deps: Deps, batch: int = BATCH) -> int:
    """The scheduler's job: entries not yet indexed in every language get translated and
    indexed again, newest first. Nothing while translation is off or the translator rests
    after a failure. How many entries are now in every language."""
    if not translation.available(deps):
        return 0
    now = deps.clock.now()
    progress = _progress.setdefault(deps.db, _Progress())
    tried = progress.tried
    for entry_id, at in list(tried.items()):
        if now - at >= RETRY_AFTER:
            del tried[entry_id]
    last = progress.full_look_at
    full = last is None or now - last >= FULL_LOOK_EVERY
    async with deps.db.read() as session:
        pending = await library_search.not_in_every_language(
            session,
            len(SUPPORTED_LOCALES),
            batch,
            skip=tried.keys(),
            since=None if full or last is None else last - RETRY_AFTER,
        )
    done = 0
    for entry_id in pending:
        if not translation.available(deps):
            break  # it failed meanwhile: the rest waits for the next run
        if await translate_entry(deps, entry_id) >= len(SUPPORTED_LOCALES):
            done += 1
        else:
            tried[entry_id] = now
    else:
        if full and len(pending) < batch:
            # Every entry pending then was handled: until the next full look, only those
            # written since (and those that failed, when written lately) are looked at.
            progress.full_look_at = now
    if pending:
        log.info("library translated entries=%s complete=%s", len(pending), done)
    return done


async def job(deps: Deps) -> None:
    """The scheduler's entry point (every LIBRARY_TRANSLATION_JOB_SECONDS)."""
    await translate_pending(deps)
