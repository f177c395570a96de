"""Filling in the profile, one step each: name (and, for a name not in Latin letters, how
colleagues abroad should write it), position, topics, working languages.

The same steps serve registration (each leads to the next) and later edits from /profile
(each ends the edit).
"""

from __future__ import annotations

import unicodedata

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import catalogue, dialogs, officials
from bot.db.models import DialogState, Official
from bot.i18n import SUPPORTED_LOCALES, written_in_latin
from bot.runtime import Deps
from bot.services import settings_access
from bot.services.dialog import expect_step
from bot.services.errors import ErrorCode, InvalidInput, NotFound
from bot.services.onboarding import (
    STEP_LANGUAGES,
    STEP_NAME,
    STEP_NAME_LATIN,
    STEP_POSITION,
    STEP_PRIVACY,
    STEP_TOPICS,
)
from bot.services.profile import require_official

NAME_MIN, NAME_MAX = 2, 100
POSITION_MIN, POSITION_MAX = 2, 120

# Profile edits reuse the registration inputs outside registration.
STEP_EDIT_NAME = "profile.name"
STEP_EDIT_NAME_LATIN = "profile.name_latin"
STEP_EDIT_POSITION = "profile.position"
STEP_EDIT_TOPICS = "profile.topics"
STEP_EDIT_LANGUAGES = "profile.languages"


def clean_text(text: str, lo: int, hi: int, code: ErrorCode) -> str:
    """Collapse whitespace, drop control characters, and check the length."""
    cleaned = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch == " ")
    cleaned = " ".join(cleaned.split())
    if not (lo <= len(cleaned) <= hi):
        raise InvalidInput(code, min=lo, max=hi)
    return cleaned


async def open_step(
    session: AsyncSession, tg_user_id: int, setting: str, *steps: str
) -> tuple[DialogState, Official]:
    """Within a step's transaction: the open step (one of `steps`) and the person, who must
    still be registering (a registration step) or registered (an edit from /profile)."""
    state = await expect_step(session, tg_user_id, *steps)
    official = await require_official(session, tg_user_id)
    settings_access.ensure(official, setting, registering=state.step.startswith("reg."))
    return state, official


@settings_access.audited
async def begin_edit(deps: Deps, tg_user_id: int, field_name: str) -> str:
    steps = {
        "name": STEP_EDIT_NAME,
        "latin": STEP_EDIT_NAME_LATIN,
        "position": STEP_EDIT_POSITION,
        "topics": STEP_EDIT_TOPICS,
        "languages": STEP_EDIT_LANGUAGES,
    }
    if field_name not in steps:
        raise InvalidInput(ErrorCode.FIELD)
    async with deps.db.transaction() as session:
        setting = "name" if field_name == "latin" else field_name
        settings_access.ensure(await require_official(session, tg_user_id), setting)
        await dialogs.put_dialog(session, tg_user_id, steps[field_name], {}, deps.clock.now())
        return steps[field_name]


@settings_access.audited
async def set_name(deps: Deps, tg_user_id: int, text: str) -> str | None:
    """Save the name; returns the next step (None when it was a profile edit). A name not in
    Latin letters leads to the question of how colleagues abroad should write it."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        state, official = await open_step(session, tg_user_id, "name", STEP_NAME, STEP_EDIT_NAME)
        official.name = clean_text(text, NAME_MIN, NAME_MAX, ErrorCode.NAME_LENGTH)
        # The Latin form was the old name's: the next step asks for the new one's (a person
        # who cancels there has none, rather than the old name's).
        official.name_latin = None
        editing = state.step == STEP_EDIT_NAME
        if written_in_latin(official.name):
            nxt = None if editing else STEP_POSITION
        else:
            nxt = STEP_EDIT_NAME_LATIN if editing else STEP_NAME_LATIN
        if nxt is None:
            await dialogs.clear_dialog(session, tg_user_id)
        else:
            await dialogs.put_dialog(session, tg_user_id, nxt, state.data, now)
        return nxt


@settings_access.audited
async def set_name_latin(deps: Deps, tg_user_id: int, text: str | None) -> str | None:
    """Save how colleagues abroad should write the name (None: no such form); returns the next
    step (None when it was a profile edit)."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        state, official = await open_step(
            session, tg_user_id, "name", STEP_NAME_LATIN, STEP_EDIT_NAME_LATIN
        )
        latin = None
        if text is not None:
            latin = clean_text(text, NAME_MIN, NAME_MAX, ErrorCode.NAME_LENGTH)
            if not written_in_latin(latin):
                raise InvalidInput(ErrorCode.NAME_NOT_LATIN)
        official.name_latin = latin
        if state.step == STEP_EDIT_NAME_LATIN:
            await dialogs.clear_dialog(session, tg_user_id)
            return None
        await dialogs.put_dialog(session, tg_user_id, STEP_POSITION, state.data, now)
        return STEP_POSITION


@settings_access.audited
async def set_position(deps: Deps, tg_user_id: int, text: str) -> str | None:
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        state, official = await open_step(
            session, tg_user_id, "position", STEP_POSITION, STEP_EDIT_POSITION
        )
        official.position = clean_text(text, POSITION_MIN, POSITION_MAX, ErrorCode.POSITION_LENGTH)
        if state.step == STEP_EDIT_POSITION:
            await dialogs.clear_dialog(session, tg_user_id)
            return None
        await dialogs.put_dialog(session, tg_user_id, STEP_TOPICS, state.data, now)
        return STEP_TOPICS


@settings_access.audited
async def toggle_topic(deps: Deps, tg_user_id: int, topic_id: int) -> list[int]:
    async with deps.db.transaction() as session:
        _state, official = await open_step(
            session, tg_user_id, "topics", STEP_TOPICS, STEP_EDIT_TOPICS
        )
        if await catalogue.topic_by_id(session, topic_id) is None:
            raise NotFound(ErrorCode.NOT_FOUND, what="topic")
        current = set(await officials.topic_ids_of(session, official.id))
        current ^= {topic_id}
        await officials.set_topics(session, official.id, sorted(current))
        return sorted(current)


async def selected_topics(deps: Deps, tg_user_id: int) -> list[int]:
    async with deps.db.transaction() as session:
        official = await require_official(session, tg_user_id)
        return await officials.topic_ids_of(session, official.id)


@settings_access.audited
async def topics_done(deps: Deps, tg_user_id: int) -> str | None:
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        state, official = await open_step(
            session, tg_user_id, "topics", STEP_TOPICS, STEP_EDIT_TOPICS
        )
        if not await officials.topic_ids_of(session, official.id):
            raise InvalidInput(ErrorCode.NO_TOPICS)
        if state.step == STEP_EDIT_TOPICS:
            await dialogs.clear_dialog(session, tg_user_id)
            return None
        if not official.languages:
            official.languages = [official.locale]
        await dialogs.put_dialog(session, tg_user_id, STEP_LANGUAGES, state.data, now)
        return STEP_LANGUAGES


@settings_access.audited
async def toggle_language(deps: Deps, tg_user_id: int, code: str) -> list[str]:
    if code not in SUPPORTED_LOCALES:
        raise InvalidInput(ErrorCode.LANGUAGE)
    async with deps.db.transaction() as session:
        _state, official = await open_step(
            session, tg_user_id, "languages", STEP_LANGUAGES, STEP_EDIT_LANGUAGES
        )
        langs = list(official.languages or [])
        langs = [x for x in langs if x != code] if code in langs else [*langs, code]
        official.languages = [x for x in SUPPORTED_LOCALES if x in langs]
        return list(official.languages)


@settings_access.audited
async def languages_done(deps: Deps, tg_user_id: int) -> str | None:
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        state, official = await open_step(
            session, tg_user_id, "languages", STEP_LANGUAGES, STEP_EDIT_LANGUAGES
        )
        if not official.languages:
            raise InvalidInput(ErrorCode.NO_LANGUAGES)
        if state.step == STEP_EDIT_LANGUAGES:
            await dialogs.clear_dialog(session, tg_user_id)
            return None
        await dialogs.put_dialog(session, tg_user_id, STEP_PRIVACY, state.data, now)
        return STEP_PRIVACY
