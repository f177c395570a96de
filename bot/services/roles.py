"""Roles: admins promote officials to organisers and demote them again (/promote, /demote)."""

from __future__ import annotations

from bot.db import audit_log, officials
from bot.db.models import Official, Role
from bot.runtime import Deps
from bot.services.errors import ErrorCode, InvalidInput, NotFound, ServiceError
from bot.services.identity import REGISTERED, require_role
from bot.services.profile import Profile, load_profile

TELEGRAM_ID_BOUND = 2**52  # Telegram user ids have at most 52 significant bits


async def set_role(deps: Deps, actor_tg_id: int, target: int, role: Role) -> Profile:
    """Admins promote or demote; `target` is a Telegram user id or an official's number."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        actor = await require_role(session, deps.settings, actor_tg_id, Role.ADMIN)
        if not 0 < target < TELEGRAM_ID_BOUND:  # no one's id, and past the database's integers
            raise NotFound(ErrorCode.OFFICIAL)
        official: Official | None = await officials.official_by_tg(session, target)
        if official is None and target < 2**31:
            official = await officials.official_by_id(session, target)
        if official is None or official.status not in REGISTERED:
            raise NotFound(ErrorCode.OFFICIAL)
        if official.tg_user_id in deps.settings.admin_ids:
            raise ServiceError(ErrorCode.CONFIGURED_ADMIN)
        if role == Role.ADMIN:
            raise InvalidInput(ErrorCode.ROLE)
        previous = official.role
        if previous != role:
            official.role = role
            await audit_log.record(
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
        return await load_profile(session, deps, official)
