"""Who is talking: the official behind a Telegram user, their role and locale."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db import officials
from bot.db.models import Official, OfficialStatus, Role
from bot.i18n import negotiate
from bot.runtime import Deps
from bot.services.errors import ErrorCode, NotAllowed

ROLE_RANK = {Role.OFFICIAL: 0, Role.ORGANISER: 1, Role.ADMIN: 2}
REGISTERED = (OfficialStatus.ACTIVE, OfficialStatus.UNREACHABLE)


@dataclass(frozen=True)
class Me:
    tg_user_id: int
    official_id: int | None
    role: Role
    status: str | None
    locale: str
    city_id: int | None
    name: str | None

    @property
    def registered(self) -> bool:
        return self.status in REGISTERED

    def has_role(self, role: Role) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


def effective_role(settings: Settings, official: Official | None, tg_user_id: int) -> Role:
    if tg_user_id in settings.admin_ids:
        return Role.ADMIN
    if official is None or official.status not in REGISTERED:
        return Role.OFFICIAL
    return Role(official.role)


def me_from(
    settings: Settings,
    official: Official | None,
    tg_user_id: int,
    language_code: str | None,
) -> Me:
    return Me(
        tg_user_id=tg_user_id,
        official_id=official.id if official else None,
        role=effective_role(settings, official, tg_user_id),
        status=official.status if official else None,
        locale=official.locale if official else negotiate(language_code),
        city_id=official.city_id if official else None,
        name=official.name if official else None,
    )


async def whoami(deps: Deps, tg_user_id: int, language_code: str | None) -> Me:
    # Every update runs this, read fresh each time (never cached, so a removed or blocked
    # official is refused from their next update on).
    async with deps.db.read() as session:
        official = await officials.official_by_tg(session, tg_user_id)
    return me_from(deps.settings, official, tg_user_id, language_code)


async def require_role(
    session: AsyncSession, settings: Settings, tg_user_id: int, role: Role
) -> Official | None:
    """The acting official if their role is at least `role` (admins may have no row yet)."""
    official = await officials.official_by_tg(session, tg_user_id)
    if ROLE_RANK[effective_role(settings, official, tg_user_id)] < ROLE_RANK[role]:
        raise NotAllowed(ErrorCode.NOT_ALLOWED, required=role.value)
    return official
