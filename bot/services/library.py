"""The library of answered exchanges: the asker shares a resolved question (or keeps it
private), anyone reads an entry, a person withdraws their words, organisers pin, retitle and
remove entries. Every write re-indexes the entry in the same transaction (and, with semantic
search on, writes the vector of its question or title; the vector goes with the entry)."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import audit_log, dialogs, library, library_search, questions, routings
from bot.db.catalogue import city_by_id
from bot.db.library_models import LibraryEntry
from bot.db.models import ExchangeKind, Official, Question, QuestionStatus, Role
from bot.db.search_terms import language_of
from bot.runtime import Deps
from bot.services import library_semantic
from bot.services.errors import ErrorCode, InvalidInput, NotAllowed, NotFound, ServiceError
from bot.services.exchange import lookups
from bot.services.identity import effective_role, require_role
from bot.services.library_translation import indexed_texts
from bot.services.library_types import STEP_TITLE, TITLE_MAX, EntryView, Part, Shared

log = logging.getLogger(__name__)


async def _my_question(session: AsyncSession, me: Official, question_id: int) -> Question:
    question = await questions.get(session, question_id)
    if question is None or question.asker_id != me.id:
        raise NotAllowed(ErrorCode.NOT_ASKER)
    return question


def title_of(entry: LibraryEntry, question_text: str | None) -> str:
    return entry.title or question_text or ""


async def reindex(session: AsyncSession, entry_id: int) -> None:
    """The entry's words as search reads them, from what is in it now: in the entry's
    language, and in each other language its words' stored translations cover (no
    translator is called here; library_translation's job asks for what is missing)."""
    entry = await library.entry_locked(session, entry_id)
    if entry is None:
        return
    await library_search.write(session, entry_id, await indexed_texts(session, entry))


async def share(deps: Deps, tg_user_id: int, question_id: int) -> Shared:
    """The asker lets their resolved question into the library (once)."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        me = await lookups.registered(session, tg_user_id)
        question = await _my_question(session, me, question_id)
        if question.status != QuestionStatus.RESOLVED:
            raise ServiceError(ErrorCode.NOT_RESOLVED)
        if not question.text:
            raise ServiceError(ErrorCode.NO_WORDS)
        if await library.entry_of_question(session, question.id) is not None:
            raise ServiceError(ErrorCode.ALREADY_SHARED)
        if not await routings.answered_count(session, question.id):
            raise ServiceError(ErrorCode.NOT_ANSWERED)
        entry_id = await library.add(session, question, language_of(question.text, me.locale), now)
        await reindex(session, entry_id)
        await library_semantic.write(deps, session, entry_id, question.text)
        others = {
            r.part.official_id
            for r in await library.parts(session, entry_id)
            if r.part.official_id not in (None, me.id)
        }
        people = await lookups.load_people(session, [o for o in others if o is not None])
        log.info("library entry added entry_id=%s question_id=%s", entry_id, question.id)
        return Shared(
            entry_id,
            list(people.values()),
            await lookups.topic_of(session, question.topic_id),
            question.text,
        )


async def read(deps: Deps, tg_user_id: int, entry_id: int) -> EntryView:
    """The whole exchange, with the authors as a reader sees them."""
    async with deps.db.read() as session:
        me = await lookups.registered(session, tg_user_id)
        entry = await library.entry(session, entry_id)
        if entry is None:
            raise NotFound(ErrorCode.ENTRY_GONE)
        rows = await library.parts(session, entry_id)
        city = await city_by_id(session, entry.city_id)
        question = next((r.part.text for r in rows if r.part.kind == ExchangeKind.QUESTION), None)
        role = effective_role(deps.settings, me, tg_user_id)
        return EntryView(
            entry.id,
            title_of(entry, question),
            await lookups.topic_of(session, entry.topic_id),
            city.name if city else "",
            entry.created_at,
            entry.pinned,
            [
                Part(
                    r.part.kind,
                    r.name,
                    r.city_name or "",
                    r.part.text,
                    r.part.created_at,
                    r.name_latin,
                    dict(r.city_names or {}),
                )
                for r in rows
            ],
            mine=any(r.part.official_id == me.id and r.part.text for r in rows),
            organiser=role in (Role.ORGANISER, Role.ADMIN),
            city_names=dict(city.names or {}) if city else {},
        )


async def withdraw(deps: Deps, tg_user_id: int, entry_id: int) -> bool:
    """The person's words leave the entry. The asker's question is the entry: withdrawing it
    removes the whole entry (True)."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        me = await lookups.registered(session, tg_user_id)
        entry = await library.entry(session, entry_id)
        if entry is None:
            raise NotFound(ErrorCode.ENTRY_GONE)
        question = await questions.get(session, entry.question_id)
        if question is not None and question.asker_id == me.id:
            await library_search.write(session, entry_id, {})
            await library.remove(session, entry_id)
            log.info("library entry withdrawn by its asker entry_id=%s", entry_id)
            return True
        if not await library.withdraw(session, entry_id, me.id):
            raise ServiceError(ErrorCode.NO_WORDS_HERE)
        entry.updated_at = now
        await reindex(session, entry_id)
        log.info("library words withdrawn entry_id=%s official_id=%s", entry_id, me.id)
        return False


async def _organiser_entry(
    session: AsyncSession, deps: Deps, tg_user_id: int, entry_id: int
) -> tuple[Official | None, LibraryEntry]:
    actor = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
    entry = await library.entry(session, entry_id)
    if entry is None:
        raise NotFound(ErrorCode.ENTRY_GONE)
    return actor, entry


async def toggle_pin(deps: Deps, tg_user_id: int, entry_id: int) -> bool:
    """Pinned entries come first in their topic and among equal results. Pinned now?"""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        actor, entry = await _organiser_entry(session, deps, tg_user_id, entry_id)
        entry.pinned = not entry.pinned
        entry.updated_at = now
        await audit_log.record(
            session,
            now,
            "library.pinned" if entry.pinned else "library.unpinned",
            actor=actor,
            actor_tg_id=tg_user_id,
            target_type="library_entry",
            target_id=entry.id,
        )
        return entry.pinned


async def begin_title(deps: Deps, tg_user_id: int, entry_id: int) -> None:
    """The organiser's next message becomes the entry's title."""
    async with deps.db.transaction() as session:
        await _organiser_entry(session, deps, tg_user_id, entry_id)
        await dialogs.put_dialog(
            session, tg_user_id, STEP_TITLE, {"entry_id": entry_id}, deps.clock.now()
        )


async def set_title(deps: Deps, tg_user_id: int, title: str) -> int:
    now = deps.clock.now()
    title = " ".join(title.split())
    if not 3 <= len(title) <= TITLE_MAX:
        raise InvalidInput(ErrorCode.TITLE_LENGTH, max=TITLE_MAX)
    async with deps.db.transaction() as session:
        data = await lookups.expect_step(session, tg_user_id, STEP_TITLE)
        actor, entry = await _organiser_entry(session, deps, tg_user_id, int(data["entry_id"]))
        entry.title = title
        entry.updated_at = now
        await reindex(session, entry.id)
        await library_semantic.write(deps, session, entry.id, title)
        await dialogs.clear_dialog(session, tg_user_id)
        await audit_log.record(
            session,
            now,
            "library.retitled",
            actor=actor,
            actor_tg_id=tg_user_id,
            target_type="library_entry",
            target_id=entry.id,
        )
        return entry.id


async def remove(deps: Deps, tg_user_id: int, entry_id: int) -> None:
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        actor, entry = await _organiser_entry(session, deps, tg_user_id, entry_id)
        await library_search.write(session, entry.id, {})
        await library.remove(session, entry.id)
        await audit_log.record(
            session,
            now,
            "library.removed",
            actor=actor,
            actor_tg_id=tg_user_id,
            target_type="library_entry",
            target_id=entry_id,
        )


async def erase_person(session: AsyncSession, official_id: int) -> None:
    """For /deleteme: entries of their questions go; elsewhere their words go and their
    messages are shown as an official of their city."""
    for entry_id in await library.entries_asked_by(session, official_id):
        await library_search.write(session, entry_id, {})
        await library.remove(session, entry_id)
    touched = await library.entries_with_words_of(session, official_id)
    await library.anonymise(session, official_id)
    for entry_id in touched:
        await reindex(session, entry_id)
