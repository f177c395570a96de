"""Invite codes: finding one by its code and adding new ones. SQL only; never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Invite, Role


async def invite_by_code(session: AsyncSession, code: str) -> Invite | None:
    return await session.scalar(select(Invite).where(Invite.code == code))


async def add_invite(
    session: AsyncSession,
    *,
    code: str,
    city_id: int,
    role: Role,
    uses_left: int | None,
    expires_at: datetime | None,
    created_by_id: int | None,
    now: datetime,
) -> Invite:
    invite = Invite(
        code=code,
        city_id=city_id,
        role=role,
        uses_left=uses_left,
        expires_at=expires_at,
        created_by_id=created_by_id,
        created_at=now,
    )
    session.add(invite)
    await session.flush()
    return invite
