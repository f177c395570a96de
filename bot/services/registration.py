"""Joining the exchange: invites, the profile steps, approval, language, erasure, roles."""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import outbox, repo
from bot.db.models import (
    AuditLog,
    City,
    Delivery,
    DeliveryStatus,
    DialogState,
    ExchangeMessage,
    Invite,
    Official,
    OfficialStatus,
    OfficialTopic,
    Question,
    Role,
    Topic,
)
from bot.i18n import SUPPORTED_LOCALES, negotiate
from bot.runtime import Deps
from bot.services import InvalidInput, NotAllowed, NotFound, ServiceError
from bot.services.identity import REGISTERED, effective_role, require_role

NAME_MIN, NAME_MAX = 2, 100
POSITION_MIN, POSITION_MAX = 2, 120
INVITE_CODE_BYTES = 12

# Steps of the registration dialog, in order.
STEP_CITY = "reg.city"
STEP_PICK_CITY = "reg.pick_city"
STEP_NAME = "reg.name"
STEP_POSITION = "reg.position"
STEP_TOPICS = "reg.topics"
STEP_LANGUAGES = "reg.languages"
STEP_PRIVACY = "reg.privacy"
# Profile edits reuse the same inputs outside registration.
STEP_EDIT_NAME = "profile.name"
STEP_EDIT_POSITION = "profile.position"
STEP_EDIT_TOPICS = "profile.topics"
STEP_EDIT_LANGUAGES = "profile.languages"


@dataclass(frozen=True)
class CityInfo:
    id: int
    name: str
    country: str
    timezone: str
    languages: list[str]


@dataclass(frozen=True)
class TopicInfo:
    id: int
    slug: str
    group: str
    names: dict[str, str]
    group_names: dict[str, str]

    def name(self, locale: str) -> str:
        return self.names.get(locale) or self.names.get("en") or self.slug

    def group_name(self, locale: str) -> str:
        return self.group_names.get(locale) or self.group_names.get("en") or self.group


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


@dataclass(frozen=True)
class StartResult:
    """What /start led to: already, welcome_back, invite, request, pending or resume."""

    kind: str
    step: str | None
    profile: Profile
    city: CityInfo | None = None
    role: Role = Role.OFFICIAL


@dataclass(frozen=True)
class Recipient:
    official_id: int
    chat_id: int
    locale: str


@dataclass(frozen=True)
class FinishResult:
    profile: Profile
    pending: bool
    notify: list[Recipient] = field(default_factory=list)  # organisers to tell of a request


@dataclass(frozen=True)
class Decision:
    official: Profile
    approved: bool


@dataclass(frozen=True)
class InviteCreated:
    code: str
    city: CityInfo
    role: Role
    uses_left: int | None
    expires_at: datetime | None


def city_info(city: City) -> CityInfo:
    return CityInfo(city.id, city.name, city.country, city.timezone, list(city.languages or []))


def topic_info(topic: Topic) -> TopicInfo:
    return TopicInfo(topic.id, topic.slug, topic.group, dict(topic.names), dict(topic.group_names))


async def _profile(session: AsyncSession, deps: Deps, official: Official) -> Profile:
    city = await repo.city_by_id(session, official.city_id)
    topic_ids = await repo.topic_ids_of(session, official.id)
    topics: list[TopicInfo] = []
    if topic_ids:
        rows = await session.scalars(
            select(Topic).where(Topic.id.in_(topic_ids)).order_by(Topic.position, Topic.slug)
        )
        topics = [topic_info(t) for t in rows]
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
    )


async def _get_or_create(
    session: AsyncSession, deps: Deps, tg_user_id: int, chat_id: int, language_code: str | None
) -> Official:
    official = await repo.official_by_tg(session, tg_user_id)
    if official is None:
        now = deps.clock.now()
        official = Official(
            tg_user_id=tg_user_id,
            chat_id=chat_id,
            locale=negotiate(language_code),
            status=OfficialStatus.REGISTERING,
            role=Role.OFFICIAL,
            languages=[],
            created_at=now,
            updated_at=now,
        )
        session.add(official)
        await session.flush()
    elif official.chat_id != chat_id:
        official.chat_id = chat_id
    return official


async def _require(session: AsyncSession, tg_user_id: int) -> Official:
    official = await repo.official_by_tg(session, tg_user_id)
    if official is None:
        raise NotFound("no_profile")
    return official


async def _expect_step(session: AsyncSession, tg_user_id: int, *steps: str) -> DialogState:
    state = await repo.get_dialog(session, tg_user_id)
    if state is None or state.step not in steps:
        raise ServiceError("stale")
    return state


def _first_step_after_city(official: Official) -> str:
    return STEP_NAME


async def start(
    deps: Deps, tg_user_id: int, chat_id: int, code: str | None, language_code: str | None
) -> StartResult:
    """Handle /start with or without an invite code."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        official = await _get_or_create(session, deps, tg_user_id, chat_id, language_code)
        if official.status == OfficialStatus.UNREACHABLE:
            official.status = OfficialStatus.ACTIVE
            await repo.audit(
                session,
                now,
                "official.reachable",
                actor=official,
                target_type="official",
                target_id=official.id,
            )
            return StartResult("welcome_back", None, await _profile(session, deps, official))
        if official.status == OfficialStatus.ACTIVE:
            return StartResult("already", None, await _profile(session, deps, official))
        if official.status == OfficialStatus.PENDING:
            return StartResult("pending", None, await _profile(session, deps, official))
        if official.status in (OfficialStatus.REMOVED, OfficialStatus.REJECTED) and not code:
            raise NotAllowed("removed")
        state = await repo.get_dialog(session, tg_user_id)
        if not code and state is not None and state.step.startswith("reg."):
            city = await repo.city_by_id(session, official.city_id)
            return StartResult(
                "resume",
                state.step,
                await _profile(session, deps, official),
                city_info(city) if city else None,
                Role(state.data.get("role", Role.OFFICIAL)),
            )

        if code:
            invite = await session.scalar(select(Invite).where(Invite.code == code.strip()))
            if invite is None or invite.revoked:
                raise InvalidInput("invite_invalid")
            if invite.expires_at is not None and invite.expires_at <= now:
                raise InvalidInput("invite_expired")
            if invite.uses_left is not None and invite.uses_left <= 0:
                raise InvalidInput("invite_used_up")
            if official.invite_id != invite.id:
                if invite.uses_left is not None:
                    invite.uses_left -= 1
                official.invite_id = invite.id
            official.city_id = invite.city_id
            official.status = OfficialStatus.REGISTERING
            city = await session.get(City, invite.city_id)
            assert city is not None
            await repo.put_dialog(
                session, tg_user_id, STEP_CITY, {"mode": "invite", "role": invite.role}, now
            )
            return StartResult(
                "invite",
                STEP_CITY,
                await _profile(session, deps, official),
                city_info(city),
                Role(invite.role),
            )

        official.status = OfficialStatus.REGISTERING
        official.invite_id = None
        await repo.put_dialog(session, tg_user_id, STEP_PICK_CITY, {"mode": "request"}, now)
        return StartResult("request", STEP_PICK_CITY, await _profile(session, deps, official))


async def list_cities(deps: Deps) -> list[CityInfo]:
    async with deps.db.transaction() as session:
        return [city_info(c) for c in await repo.all_cities(session)]


async def list_topics(deps: Deps) -> list[TopicInfo]:
    async with deps.db.transaction() as session:
        return [topic_info(t) for t in await repo.all_topics(session)]


async def confirm_city(deps: Deps, tg_user_id: int, confirmed: bool) -> str | None:
    """The official confirms the invite's city; declining ends the registration."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        await _expect_step(session, tg_user_id, STEP_CITY)
        official = await _require(session, tg_user_id)
        if not confirmed:
            await repo.clear_dialog(session, tg_user_id)
            official.city_id = None
            return None
        await repo.put_dialog(session, tg_user_id, STEP_NAME, {}, now)
        return STEP_NAME


async def pick_city(deps: Deps, tg_user_id: int, city_id: int) -> CityInfo:
    """Without an invite: the city whose organisers will review the request."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        await _expect_step(session, tg_user_id, STEP_PICK_CITY)
        official = await _require(session, tg_user_id)
        city = await session.get(City, city_id)
        if city is None:
            raise NotFound("city")
        official.city_id = city.id
        await repo.put_dialog(session, tg_user_id, STEP_NAME, {"mode": "request"}, now)
        return city_info(city)


def clean_text(text: str, lo: int, hi: int, code: str) -> str:
    """Collapse whitespace, drop control characters, and check the length."""
    cleaned = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch == " ")
    cleaned = " ".join(cleaned.split())
    if not (lo <= len(cleaned) <= hi):
        raise InvalidInput(code, min=lo, max=hi)
    return cleaned


async def _mode(session: AsyncSession, tg_user_id: int) -> str:
    state = await repo.get_dialog(session, tg_user_id)
    return str((state.data if state else {}).get("mode", "invite"))


async def set_name(deps: Deps, tg_user_id: int, text: str) -> str | None:
    """Save the name; returns the next step (None when it was a profile edit)."""
    name = clean_text(text, NAME_MIN, NAME_MAX, "name_length")
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        state = await _expect_step(session, tg_user_id, STEP_NAME, STEP_EDIT_NAME)
        official = await _require(session, tg_user_id)
        official.name = name
        if state.step == STEP_EDIT_NAME:
            await repo.clear_dialog(session, tg_user_id)
            return None
        await repo.put_dialog(session, tg_user_id, STEP_POSITION, state.data, now)
        return STEP_POSITION


async def set_position(deps: Deps, tg_user_id: int, text: str) -> str | None:
    position = clean_text(text, POSITION_MIN, POSITION_MAX, "position_length")
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        state = await _expect_step(session, tg_user_id, STEP_POSITION, STEP_EDIT_POSITION)
        official = await _require(session, tg_user_id)
        official.position = position
        if state.step == STEP_EDIT_POSITION:
            await repo.clear_dialog(session, tg_user_id)
            return None
        await repo.put_dialog(session, tg_user_id, STEP_TOPICS, state.data, now)
        return STEP_TOPICS


async def toggle_topic(deps: Deps, tg_user_id: int, topic_id: int) -> list[int]:
    async with deps.db.transaction() as session:
        await _expect_step(session, tg_user_id, STEP_TOPICS, STEP_EDIT_TOPICS)
        official = await _require(session, tg_user_id)
        if await session.get(Topic, topic_id) is None:
            raise NotFound("topic")
        current = set(await repo.topic_ids_of(session, official.id))
        current ^= {topic_id}
        await repo.set_topics(session, official.id, sorted(current))
        return sorted(current)


async def selected_topics(deps: Deps, tg_user_id: int) -> list[int]:
    async with deps.db.transaction() as session:
        official = await _require(session, tg_user_id)
        return await repo.topic_ids_of(session, official.id)


async def topics_done(deps: Deps, tg_user_id: int) -> str | None:
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        state = await _expect_step(session, tg_user_id, STEP_TOPICS, STEP_EDIT_TOPICS)
        official = await _require(session, tg_user_id)
        if not await repo.topic_ids_of(session, official.id):
            raise InvalidInput("no_topics")
        if state.step == STEP_EDIT_TOPICS:
            await repo.clear_dialog(session, tg_user_id)
            return None
        if not official.languages:
            official.languages = [official.locale]
        await repo.put_dialog(session, tg_user_id, STEP_LANGUAGES, state.data, now)
        return STEP_LANGUAGES


async def toggle_language(deps: Deps, tg_user_id: int, code: str) -> list[str]:
    if code not in SUPPORTED_LOCALES:
        raise InvalidInput("language")
    async with deps.db.transaction() as session:
        await _expect_step(session, tg_user_id, STEP_LANGUAGES, STEP_EDIT_LANGUAGES)
        official = await _require(session, tg_user_id)
        langs = list(official.languages or [])
        langs = [x for x in langs if x != code] if code in langs else [*langs, code]
        official.languages = [x for x in SUPPORTED_LOCALES if x in langs]
        return list(official.languages)


async def languages_done(deps: Deps, tg_user_id: int) -> str | None:
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        state = await _expect_step(session, tg_user_id, STEP_LANGUAGES, STEP_EDIT_LANGUAGES)
        official = await _require(session, tg_user_id)
        if not official.languages:
            raise InvalidInput("no_languages")
        if state.step == STEP_EDIT_LANGUAGES:
            await repo.clear_dialog(session, tg_user_id)
            return None
        await repo.put_dialog(session, tg_user_id, STEP_PRIVACY, state.data, now)
        return STEP_PRIVACY


async def _organisers(session: AsyncSession, deps: Deps, city_id: int | None) -> list[Recipient]:
    rows = await session.scalars(
        select(Official)
        .where(
            Official.status == OfficialStatus.ACTIVE,
            (Official.role.in_([Role.ORGANISER, Role.ADMIN]))
            | (Official.tg_user_id.in_(sorted(deps.settings.admin_ids) or [0])),
        )
        .order_by(Official.id)
    )
    return [Recipient(o.id, o.chat_id, o.locale) for o in rows]


async def accept_privacy(deps: Deps, tg_user_id: int) -> FinishResult:
    """Last step: the official accepts the notice and is active (invite) or pending (request)."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        state = await _expect_step(session, tg_user_id, STEP_PRIVACY)
        official = await _require(session, tg_user_id)
        official.privacy_accepted_at = now
        mode = state.data.get("mode", "invite")
        notify: list[Recipient] = []
        if mode == "invite":
            official.status = OfficialStatus.ACTIVE
            role = Role(state.data.get("role", Role.OFFICIAL))
            await repo.audit(
                session,
                now,
                "official.registered",
                actor=official,
                target_type="official",
                target_id=official.id,
                city_id=official.city_id,
                invite_id=official.invite_id,
            )
            if role != Role.OFFICIAL and official.role != role:
                official.role = role
                await repo.audit(
                    session,
                    now,
                    "role.granted",
                    actor=official,
                    target_type="official",
                    target_id=official.id,
                    role=role.value,
                    via="invite",
                    invite_id=official.invite_id,
                )
        else:
            official.status = OfficialStatus.PENDING
            await repo.audit(
                session,
                now,
                "official.requested",
                actor=official,
                target_type="official",
                target_id=official.id,
                city_id=official.city_id,
            )
            notify = [
                r
                for r in await _organisers(session, deps, official.city_id)
                if r.official_id != official.id
            ]
        await repo.clear_dialog(session, tg_user_id)
        return FinishResult(await _profile(session, deps, official), mode != "invite", notify)


async def decline_privacy(deps: Deps, tg_user_id: int) -> None:
    """Without consent nothing personal is kept: the unfinished profile is dropped."""
    async with deps.db.transaction() as session:
        await _expect_step(session, tg_user_id, STEP_PRIVACY)
        official = await _require(session, tg_user_id)
        await _strip_personal_data(session, official)
        official.status = OfficialStatus.REGISTERING
        official.city_id = None
        await repo.clear_dialog(session, tg_user_id)


async def cancel_dialog(deps: Deps, tg_user_id: int) -> str | None:
    """Leave whatever flow is open; returns the step that was left."""
    async with deps.db.transaction() as session:
        state = await repo.get_dialog(session, tg_user_id)
        if state is None:
            return None
        await repo.clear_dialog(session, tg_user_id)
        return state.step


async def set_locale(
    deps: Deps, tg_user_id: int, chat_id: int, locale: str, language_code: str | None = None
) -> str:
    if locale not in SUPPORTED_LOCALES:
        raise InvalidInput("language")
    async with deps.db.transaction() as session:
        official = await _get_or_create(session, deps, tg_user_id, chat_id, language_code)
        official.locale = locale
        official.locale_chosen = True
        return locale


async def get_profile(deps: Deps, tg_user_id: int) -> Profile:
    async with deps.db.transaction() as session:
        official = await _require(session, tg_user_id)
        if official.status not in REGISTERED and tg_user_id not in deps.settings.admin_ids:
            raise NotAllowed("not_registered")
        return await _profile(session, deps, official)


async def get_profile_any(deps: Deps, tg_user_id: int) -> Profile:
    """The profile whatever the status (registration steps, /privacy)."""
    async with deps.db.transaction() as session:
        return await _profile(session, deps, await _require(session, tg_user_id))


async def begin_edit(deps: Deps, tg_user_id: int, field_name: str) -> str:
    steps = {
        "name": STEP_EDIT_NAME,
        "position": STEP_EDIT_POSITION,
        "topics": STEP_EDIT_TOPICS,
        "languages": STEP_EDIT_LANGUAGES,
    }
    if field_name not in steps:
        raise InvalidInput("field")
    async with deps.db.transaction() as session:
        official = await _require(session, tg_user_id)
        if official.status not in REGISTERED:
            raise NotAllowed("not_registered")
        await repo.put_dialog(session, tg_user_id, steps[field_name], {}, deps.clock.now())
        return steps[field_name]


async def set_digest(deps: Deps, tg_user_id: int, enabled: bool) -> bool:
    async with deps.db.transaction() as session:
        official = await _require(session, tg_user_id)
        official.digest_opt_in = enabled
        return enabled


async def pending_requests(deps: Deps, actor_tg_id: int) -> list[Profile]:
    async with deps.db.transaction() as session:
        await require_role(session, deps.settings, actor_tg_id, Role.ORGANISER)
        rows = await session.scalars(
            select(Official).where(Official.status == OfficialStatus.PENDING).order_by(Official.id)
        )
        return [await _profile(session, deps, o) for o in rows]


async def decide(deps: Deps, actor_tg_id: int, official_id: int, approve: bool) -> Decision:
    """An organiser approves or rejects a pending request; refused if already decided."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        actor = await require_role(session, deps.settings, actor_tg_id, Role.ORGANISER)
        official = await session.get(Official, official_id, with_for_update=True)
        if official is None:
            raise NotFound("official")
        if official.status != OfficialStatus.PENDING:
            raise ServiceError("already_decided", status=official.status)
        official.status = OfficialStatus.ACTIVE if approve else OfficialStatus.REJECTED
        await repo.audit(
            session,
            now,
            "official.approved" if approve else "official.rejected",
            actor=actor,
            actor_tg_id=actor_tg_id,
            target_type="official",
            target_id=official.id,
            city_id=official.city_id,
        )
        return Decision(await _profile(session, deps, official), approve)


async def _strip_personal_data(session: AsyncSession, official: Official) -> None:
    official.name = None
    official.position = None
    official.languages = []
    official.quiet_start = official.quiet_end = None
    official.digest_opt_in = False
    await session.execute(
        OfficialTopic.__table__.delete().where(OfficialTopic.official_id == official.id)
    )


async def erase(deps: Deps, tg_user_id: int) -> None:
    """Erase a person's data; the exchange log keeps anonymous rows (no text, no ids)."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        official = await _require(session, tg_user_id)
        await _strip_personal_data(session, official)
        await session.execute(
            update(ExchangeMessage)
            .where(ExchangeMessage.from_official_id == official.id)
            .values(text=None)
        )
        await session.execute(
            update(Question).where(Question.asker_id == official.id).values(text=None)
        )
        await session.execute(
            update(AuditLog).where(AuditLog.actor_id == official.id).values(actor_tg_id=None)
        )
        # Nothing more is sent to them, and the outbox keeps no chat id of theirs either.
        await session.execute(
            update(Delivery)
            .where(Delivery.recipient_id == official.id, Delivery.status == DeliveryStatus.PENDING)
            .values(status=DeliveryStatus.CANCELLED, last_error=outbox.GONE_ERROR)
        )
        await session.execute(
            update(Delivery)
            .where(Delivery.recipient_id == official.id)
            .values(chat_id=-official.id)
        )
        await repo.clear_dialog(session, tg_user_id)
        # The Telegram ids are personal data too: replace them by a value no user can have.
        official.tg_user_id = -official.id
        official.chat_id = -official.id
        official.status = OfficialStatus.ERASED
        official.role = Role.OFFICIAL
        official.erased_at = now
        await repo.audit(
            session,
            now,
            "official.erased",
            actor=official,
            target_type="official",
            target_id=official.id,
        )


async def set_role(deps: Deps, actor_tg_id: int, target: int, role: Role) -> Profile:
    """Admins promote or demote; `target` is a Telegram user id or an official's number."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        actor = await require_role(session, deps.settings, actor_tg_id, Role.ADMIN)
        official = await repo.official_by_tg(session, target)
        if official is None and 0 < target < 2**31:
            official = await session.get(Official, target)
        if official is None or official.status not in REGISTERED:
            raise NotFound("official")
        if official.tg_user_id in deps.settings.admin_ids:
            raise ServiceError("configured_admin")
        if role == Role.ADMIN:
            raise InvalidInput("role")
        previous = official.role
        if previous != role:
            official.role = role
            await repo.audit(
                session,
                now,
                "role.granted" if role == Role.ORGANISER else "role.revoked",
                actor=actor,
                actor_tg_id=actor_tg_id,
                target_type="official",
                target_id=official.id,
                role=role.value,
                previous=previous,
            )
        return await _profile(session, deps, official)


async def set_reachable(deps: Deps, tg_user_id: int, reachable: bool) -> bool:
    """Telegram told us the person blocked (or unblocked) the bot; True when status changed."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        official = await repo.official_by_tg(session, tg_user_id)
        if official is None:
            return False
        before = official.status
        if not reachable and before == OfficialStatus.ACTIVE:
            official.status = OfficialStatus.UNREACHABLE
        elif reachable and before == OfficialStatus.UNREACHABLE:
            official.status = OfficialStatus.ACTIVE
        if official.status == before:
            return False
        await repo.audit(
            session,
            now,
            "official.reachable" if reachable else "official.unreachable",
            actor=official,
            target_type="official",
            target_id=official.id,
        )
        return True


async def create_invite(
    deps: Deps,
    city_name: str,
    *,
    role: Role = Role.OFFICIAL,
    uses: int | None = None,
    expires_in: timedelta | None = None,
    actor_tg_id: int | None = None,
) -> InviteCreated:
    """A new unguessable invite code for a city. From Telegram, organisers only."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        actor = None
        if actor_tg_id is not None:
            actor = await require_role(session, deps.settings, actor_tg_id, Role.ORGANISER)
            if role == Role.ORGANISER:
                await require_role(session, deps.settings, actor_tg_id, Role.ADMIN)
        if role == Role.ADMIN:
            raise InvalidInput("role")
        if uses is not None and uses < 1:
            raise InvalidInput("uses")
        city = await repo.city_by_name(session, city_name)
        if city is None:
            raise NotFound("city", name=city_name)
        invite = Invite(
            code=secrets.token_urlsafe(INVITE_CODE_BYTES),
            city_id=city.id,
            role=role,
            uses_left=uses,
            expires_at=now + expires_in if expires_in else None,
            created_by_id=actor.id if actor else None,
            created_at=now,
        )
        session.add(invite)
        await session.flush()
        await repo.audit(
            session,
            now,
            "invite.created",
            actor=actor,
            actor_tg_id=actor_tg_id,
            target_type="invite",
            target_id=invite.id,
            city_id=city.id,
            role=role.value,
            uses=uses,
        )
        return InviteCreated(invite.code, city_info(city), role, uses, invite.expires_at)
