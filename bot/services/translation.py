"""Machine translation of what officials write, for readers of other languages.

The text's language is detected offline, else taken from the writer's language setting; a
reader of that language gets it as it is. Each translation is stored once per text and target
language. The backend is only ever called outside a transaction (SQLite's write lock is never
held while a translator thinks), within TRANSLATION_TIMEOUT_SECONDS; when it is slow, down or
answers nonsense, the reader gets the original with a note: nothing waits longer, nothing is
lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from weakref import WeakKeyDictionary

from bot.db import translations
from bot.i18n import SUPPORTED_LOCALES
from bot.runtime import Deps
from bot.translation import TranslationUnavailable, Translator
from bot.translation.detect import detect_language

log = logging.getLogger(__name__)

TRANSLATED = "translated"
UNAVAILABLE = "unavailable"
# After a failure the backend is not asked again for this long: a translator that is down
# costs the next messages nothing.
PAUSE_AFTER_FAILURE = timedelta(seconds=30)


@dataclass(frozen=True)
class Rendition:
    """How a text reaches readers of one language: translated, or (translator unavailable)
    the original with a note. Readers of the text's own language get no Rendition."""

    status: str  # TRANSLATED | UNAVAILABLE
    source: str  # the text's language
    target: str
    text: str | None = None  # the translation

    def as_log(self) -> dict[str, str | None]:
        """What the exchange log records of it."""
        return {"status": self.status, "from": self.source, "to": self.target, "text": self.text}


@dataclass
class _Pause:
    until: datetime = datetime.min.replace(tzinfo=UTC)


_pauses: WeakKeyDictionary[Translator, _Pause] = WeakKeyDictionary()


def _pause(translator: Translator) -> _Pause:
    return _pauses.setdefault(translator, _Pause())


def available(deps: Deps) -> bool:
    """Translation is on and its backend is not resting after a failure."""
    translator = deps.translator
    return translator is not None and deps.clock.now() >= _pause(translator).until


async def source_language(deps: Deps, text: str, writer_locale: str) -> str:
    """The text's language: the offline detector's when it is sure, else the backend's guess
    when it is one of ours, else the writer's language setting."""
    found = detect_language(text)
    if found is not None:
        return found
    translator = deps.translator
    if translator is not None and deps.clock.now() >= _pause(translator).until:
        try:
            async with asyncio.timeout(deps.settings.translation_timeout_seconds):
                guess = await translator.detect(text)
        except Exception:  # whatever goes wrong in a translator, the message goes on
            _pause(translator).until = deps.clock.now() + PAUSE_AFTER_FAILURE
            guess = None
        if guess in SUPPORTED_LOCALES:
            return str(guess)
    return writer_locale


async def _ask(deps: Deps, translator: Translator, text: str, source: str, target: str) -> str:
    pause = _pause(translator)
    if deps.clock.now() < pause.until:
        raise TranslationUnavailable("paused after a failure")
    try:
        async with asyncio.timeout(deps.settings.translation_timeout_seconds):
            translated = await translator.translate(text, source, target)
    # Timeouts, refusals, and whatever else a backend (Argos in a thread) may raise: the
    # message goes on untranslated, never held back by a translator.
    except Exception as exc:
        pause.until = deps.clock.now() + PAUSE_AFTER_FAILURE
        log.warning(
            "translation unavailable backend=%s source=%s target=%s error=%s",
            translator.name,
            source,
            target,
            exc if isinstance(exc, TranslationUnavailable) else type(exc).__name__,
        )
        raise TranslationUnavailable(str(exc)) from exc
    if translated.strip() == text.strip():
        # Sent back untouched: the backend does not know the pair (or the text's language).
        raise TranslationUnavailable("returned the text untranslated")
    return translated


async def renditions(
    deps: Deps,
    text: str | None,
    writer_locale: str,
    targets: Iterable[str],
    author_id: int | None,
) -> dict[str, Rendition]:
    """The text for readers of each target language that needs a translation, by language;
    the others (the text's own language, translation off, no text) are not in it."""
    translator = deps.translator
    wanted = {t for t in targets if t in SUPPORTED_LOCALES}
    if translator is None or not text or not text.strip() or not wanted:
        return {}
    source = await source_language(deps, text, writer_locale)
    wanted.discard(source)
    if not wanted:
        return {}
    digest = translations.text_hash(text)
    async with deps.db.read() as session:
        known = await translations.stored(session, digest, wanted)
    missing = sorted(wanted - known.keys())
    answers = await asyncio.gather(
        *(_ask(deps, translator, text, source, t) for t in missing), return_exceptions=True
    )
    fresh = {t: a for t, a in zip(missing, answers, strict=True) if isinstance(a, str)}
    if fresh:
        async with deps.db.transaction() as session:
            await translations.add(session, digest, source, fresh, author_id, deps.clock.now())
    done = {**known, **fresh}
    return {
        t: Rendition(TRANSLATED, source, t, done[t])
        if t in done
        else Rendition(UNAVAILABLE, source, t)
        for t in wanted
    }
