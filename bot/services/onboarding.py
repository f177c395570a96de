"""Joining the exchange: /start (with an invite or as a request), the city and privacy steps,
organisers deciding on requests, and people blocking or unblocking the bot."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import audit_log, catalogue, dialogs, invites, officials
from bot.db.models import Official, OfficialStatus, Role
from bot.runtime import Deps
from bot.services.catalogue import CityInfo, city_info
from bot.services.dialog import expect_step
from bot.services.erasure import strip_personal_data
from bot.services.errors import ErrorCode, NotAllowed, NotFound, ServiceError
from bot.services.identity import require_role
from bot.services.invites import redeem
from bot.services.profile import Profile, get_or_create_official, load_profile, require_official

# Steps of the registration dialog, in order.
STEP_CITY = "reg.city"
STEP_PICK_CITY = "reg.pick_city"
STEP_NAME = "reg.name"
STEP_NAME_LATIN = "reg.name_latin"
STEP_POSITION = "reg.position"
STEP_TOPICS = "reg.topics"
STEP_LANGUAGES = "reg.languages"
STEP_PRIVACY = "reg.privacy"


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


async def start(
    deps: Deps, tg_user_id: int, chat_id: int, code: str | None, language_code: str | None
) -> StartResult:
    """Handle /start with or without an invite code."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        official = await get_or_create_official(session, deps, tg_user_id, chat_id, language_code)
        if official.status == OfficialStatus.UNREACHABLE:
            official.status = OfficialStatus.ACTIVE
            await audit_log.record(
                session,
                now,
                "official.reachable",
                actor=official,
                target_type="official",
                target_id=official.id,
            )
            return StartResult("welcome_back", None, await load_profile(session, deps, official))
        if official.status == OfficialStatus.ACTIVE:
            return StartResult("already", None, await load_profile(session, deps, official))
        if official.status == OfficialStatus.PENDING:
            return StartResult("pending", None, await load_profile(session, deps, official))
        # A removed person comes back only with a new invite an organiser gave them: not on
        # their own, and not with the link they had joined with. A refused request to join
        # may be followed by any invite.
        if official.status == OfficialStatus.REMOVED and (
            not code or await same_invite(session, official, code)
        ):
            raise NotAllowed(ErrorCode.REMOVED)
        if official.status == OfficialStatus.REJECTED and not code:
            raise NotAllowed(ErrorCode.NOT_APPROVED)
        state = await dialogs.get_dialog(session, tg_user_id)
        # The same invite link opened again (people do) resumes, as a plain /start does;
        # another invite starts over with its city.
        again = code is not None and await same_invite(session, official, code)
        if (again or not code) and state is not None and state.step.startswith("reg."):
            city = await catalogue.city_by_id(session, official.city_id)
            return StartResult(
                "resume",
                state.step,
                await load_profile(session, deps, official),
                city_info(city) if city else None,
                Role(state.data.get("role", Role.OFFICIAL)),
            )

        if code:
            invite = await redeem(session, official, code, now)
            city = await catalogue.city_by_id(session, invite.city_id)
            assert city is not None
            await dialogs.put_dialog(
                session, tg_user_id, STEP_CITY, {"mode": "invite", "role": invite.role}, now
            )
            return StartResult(
                "invite",
                STEP_CITY,
                await load_profile(session, deps, official),
                city_info(city),
                Role(invite.role),
            )

        official.status = OfficialStatus.REGISTERING
        official.invite_id = None
        await dialogs.put_dialog(session, tg_user_id, STEP_PICK_CITY, {"mode": "request"}, now)
        return StartResult("request", STEP_PICK_CITY, await load_profile(session, deps, official))


async def same_invite(session: AsyncSession, official: Official, code: str) -> bool:
    """Whether `code` is the invite this person registered, or is registering, with."""
    invite = await invites.invite_by_code(session, code.strip())
    return invite is not None and official.invite_id == invite.id


async def confirm_city(deps: Deps, tg_user_id: int, confirmed: bool) -> str | None:
    """The official confirms the invite's city; declining ends the registration."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        state = await expect_step(session, tg_user_id, STEP_CITY)
        official = await require_official(session, tg_user_id)
        if not confirmed:
            await dialogs.clear_dialog(session, tg_user_id)
            official.city_id = None
            return None
        # The invite's mode and role travel with every step, up to the last one.
        await dialogs.put_dialog(session, tg_user_id, STEP_NAME, state.data, now)
        return STEP_NAME


async def pick_city(deps: Deps, tg_user_id: int, city_id: int) -> CityInfo:
    """Without an invite: the city whose organisers will review the request."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        await expect_step(session, tg_user_id, STEP_PICK_CITY)
        official = await require_official(session, tg_user_id)
        city = await catalogue.city_by_id(session, city_id)
        if city is None:
            raise NotFound(ErrorCode.CITY)
        official.city_id = city.id
        await dialogs.put_dialog(session, tg_user_id, STEP_NAME, {"mode": "request"}, now)
        return city_info(city)


async def accept_privacy(deps: Deps, tg_user_id: int) -> FinishResult:
    """Last step: the official accepts the notice and is active (invite) or pending (request)."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        state = await expect_step(session, tg_user_id, STEP_PRIVACY)
        official = await require_official(session, tg_user_id)
        official.privacy_accepted_at = now
        mode = state.data.get("mode", "invite")
        notify: list[Recipient] = []
        if mode == "invite":
            official.status = OfficialStatus.ACTIVE
            role = Role(state.data.get("role", Role.OFFICIAL))
            await audit_log.record(
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
                await audit_log.record(
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
            await audit_log.record(
                session,
                now,
                "official.requested",
                actor=official,
                target_type="official",
                target_id=official.id,
                city_id=official.city_id,
            )
            notify = [
                Recipient(o.id, o.chat_id, o.locale)
                for o in await officials.organisers(session, deps.settings.admin_ids)
                if o.id != official.id
            ]
        await dialogs.clear_dialog(session, tg_user_id)
        return FinishResult(await load_profile(session, deps, official), mode != "invite", notify)


async def decline_privacy(deps: Deps, tg_user_id: int) -> None:
    """Without consent nothing personal is kept: the unfinished profile is dropped."""
    async with deps.db.transaction() as session:
        await expect_step(session, tg_user_id, STEP_PRIVACY)
        official = await require_official(session, tg_user_id)
        await strip_personal_data(session, official)
        official.status = OfficialStatus.REGISTERING
        official.city_id = None
        await dialogs.clear_dialog(session, tg_user_id)


async def pending_requests(deps: Deps, actor_tg_id: int) -> list[Profile]:
    async with deps.db.transaction() as session:
        await require_role(session, deps.settings, actor_tg_id, Role.ORGANISER)
        waiting = await officials.with_status(session, OfficialStatus.PENDING)
        return [await load_profile(session, deps, o) for o in waiting]


async def decide(deps: Deps, actor_tg_id: int, official_id: int, approve: bool) -> Decision:
    """An organiser approves or rejects a pending request; refused if already decided."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        actor = await require_role(session, deps.settings, actor_tg_id, Role.ORGANISER)
        official = await officials.official_by_id(session, official_id, for_update=True)
        if official is None:
            raise NotFound(ErrorCode.OFFICIAL)
        if official.status != OfficialStatus.PENDING:
            raise ServiceError(ErrorCode.ALREADY_DECIDED, status=official.status)
        official.status = OfficialStatus.ACTIVE if approve else OfficialStatus.REJECTED
        await audit_log.record(
            session,
            now,
            "official.approved" if approve else "official.rejected",
            actor=actor,
            actor_tg_id=actor_tg_id,
            target_type="official",
            target_id=official.id,
            city_id=official.city_id,
        )
        return Decision(await load_profile(session, deps, official), approve)


async def set_reachable(deps: Deps, tg_user_id: int, reachable: bool) -> bool:
    """Telegram told us the person blocked (or unblocked) the bot; True when status changed."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        official = await officials.official_by_tg(session, tg_user_id)
        if official is None:
            return False
        before = official.status
        if not reachable and before == OfficialStatus.ACTIVE:
            official.status = OfficialStatus.UNREACHABLE
        elif reachable and before == OfficialStatus.UNREACHABLE:
            official.status = OfficialStatus.ACTIVE
        if official.status == before:
            return False
        await audit_log.record(
            session,
            now,
            "official.reachable" if reachable else "official.unreachable",
            actor=official,
            target_type="official",
            target_id=official.id,
        )
        return True
