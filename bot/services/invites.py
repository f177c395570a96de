"""Invite codes: organisers create them for a city; a person redeems one with /start."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import audit_log, catalogue, invites
from bot.db.models import Invite, Official, OfficialStatus, Role
from bot.runtime import Deps
from bot.services.catalogue import CityInfo, city_info
from bot.services.errors import ErrorCode, InvalidInput, NotFound
from bot.services.identity import require_role

INVITE_CODE_BYTES = 12


@dataclass(frozen=True)
class InviteCreated:
    code: str
    city: CityInfo
    role: Role
    uses_left: int | None
    expires_at: datetime | None


async def redeem(session: AsyncSession, official: Official, code: str, now: datetime) -> Invite:
    """Within /start's transaction: check the code, use it up once per person, set the city."""
    invite = await invites.invite_by_code(session, code.strip())
    if invite is None or invite.revoked:
        raise InvalidInput(ErrorCode.INVITE_INVALID)
    if invite.expires_at is not None and invite.expires_at <= now:
        raise InvalidInput(ErrorCode.INVITE_EXPIRED)
    mine = official.invite_id == invite.id  # used once by this person already: theirs still
    if invite.uses_left is not None and invite.uses_left <= 0 and not mine:
        raise InvalidInput(ErrorCode.INVITE_USED_UP)
    if not mine:
        if invite.uses_left is not None:
            invite.uses_left -= 1
        official.invite_id = invite.id
    official.city_id = invite.city_id
    official.status = OfficialStatus.REGISTERING
    return invite


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
            raise InvalidInput(ErrorCode.ROLE)
        if uses is not None and uses < 1:
            raise InvalidInput(ErrorCode.USES)
        city = await catalogue.city_by_name(session, city_name)
        if city is None:
            raise NotFound(ErrorCode.CITY, name=city_name)
        invite = await invites.add_invite(
            session,
            code=secrets.token_urlsafe(INVITE_CODE_BYTES),
            city_id=city.id,
            role=role,
            uses_left=uses,
            expires_at=now + expires_in if expires_in else None,
            created_by_id=actor.id if actor else None,
            now=now,
        )
        await audit_log.record(
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
