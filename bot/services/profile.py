"""A person's profile: reading it, the bot's language for them, the weekly digest flag."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import catalogue, officials
from bot.db.models import Official, Role
from bot.i18n import SUPPORTED_LOCALES, negotiate
from bot.runtime import Deps
from bot.services import settings_access
from bot.services.catalogue import CityInfo, TopicInfo, city_info, topic_info
from bot.services.errors import ErrorCode, InvalidInput, NotAllowed, NotFound
from bot.services.identity import effective_role


@dataclass(frozen=True)
class Profile:
    official_id: int
    tg_user_id: int
    chat_id: int
    name: str | None
    position: str | None
    city: CityInfo | None
    locale: str
    languages: list[str]
    topics: list[TopicInfo]
    role: Role
    status: str
    digest_opt_in: bool
    name_latin: str | None = None  # how colleagues abroad write a name not in Latin letters


async def load_profile(session: AsyncSession, deps: Deps, official: Official) -> Profile:
    """Within a service's transaction: the profile of `official`, city and topics included."""
    city = await catalogue.city_by_id(session, official.city_id)
    topic_ids = await officials.topic_ids_of(session, official.id)
    topics = [topic_info(t) for t in await catalogue.topics_by_ids(session, topic_ids)]
    return Profile(
        official_id=official.id,
        tg_user_id=official.tg_user_id,
        chat_id=official.chat_id,
        name=official.name,
        position=official.position,
        city=city_info(city) if city else None,
        locale=official.locale,
        languages=list(official.languages or []),
        topics=topics,
        role=effective_role(deps.settings, official, official.tg_user_id),
        status=official.status,
        digest_opt_in=official.digest_opt_in,
        name_latin=official.name_latin,
    )


async def get_or_create_official(
    session: AsyncSession, deps: Deps, tg_user_id: int, chat_id: int, language_code: str | None
) -> Official:
    """The person's row, created (registering) on their first contact; chat id kept current."""
    official = await officials.official_by_tg(session, tg_user_id)
    if official is None:
        official = await officials.add_official(
            session,
            tg_user_id=tg_user_id,
            chat_id=chat_id,
            locale=negotiate(language_code),
            now=deps.clock.now(),
        )
    elif official.chat_id != chat_id:
        official.chat_id = chat_id
    return official


async def require_official(session: AsyncSession, tg_user_id: int) -> Official:
    official = await officials.official_by_tg(session, tg_user_id)
    if official is None:
        raise NotFound(ErrorCode.NO_PROFILE)
    return official


@settings_access.audited
async def set_locale(
    deps: Deps, tg_user_id: int, chat_id: int, locale: str, language_code: str | None = None
) -> str:
    if locale not in SUPPORTED_LOCALES:
        raise InvalidInput(ErrorCode.LANGUAGE)
    async with deps.db.transaction() as session:
        known = await officials.official_by_tg(session, tg_user_id)
        settings_access.ensure(known, "language", registering=True)
        official = await get_or_create_official(session, deps, tg_user_id, chat_id, language_code)
        official.locale = locale
        official.locale_chosen = True
        return locale


async def get_profile(deps: Deps, tg_user_id: int) -> Profile:
    async with deps.db.transaction() as session:
        official = await require_official(session, tg_user_id)
        code = settings_access.refusal_code(official)
        if code is not None and tg_user_id not in deps.settings.admin_ids:
            raise NotAllowed(code)
        return await load_profile(session, deps, official)


async def get_profile_any(deps: Deps, tg_user_id: int) -> Profile:
    """The profile whatever the status (registration steps, /privacy)."""
    async with deps.db.transaction() as session:
        return await load_profile(session, deps, await require_official(session, tg_user_id))


@settings_access.audited
async def set_digest(deps: Deps, tg_user_id: int, enabled: bool) -> bool:
    async with deps.db.transaction() as session:
        official = await require_official(session, tg_user_id)
        settings_access.ensure(official, "digest")
        official.digest_opt_in = enabled
        return enabled


async def machine_translation(deps: Deps, tg_user_id: int) -> bool | None:
    """Whether others' words reach this person translated; None before they have a profile."""
    async with deps.db.read() as session:
        official = await officials.official_by_tg(session, tg_user_id)
        return None if official is None else official.machine_translation


@settings_access.audited
async def set_machine_translation(deps: Deps, tg_user_id: int, enabled: bool) -> bool:
    async with deps.db.transaction() as session:
        official = await require_official(session, tg_user_id)
        settings_access.ensure(official, "machine_translation", registering=True)
        official.machine_translation = enabled
        return enabled
