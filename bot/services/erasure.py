"""Erasing a person's data (/deleteme, or privacy declined): what is kept is anonymous."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import audit_log, dialogs, erasure, officials
from bot.db.models import Official, OfficialStatus, Role
from bot.runtime import Deps
from bot.services.profile import require_official


async def strip_personal_data(session: AsyncSession, official: Official) -> None:
    """Within a service's transaction: drop what the profile says about the person."""
    official.name = None
    official.position = None
    official.languages = []
    official.quiet_start = official.quiet_end = None
    official.digest_opt_in = False
    await officials.drop_topics(session, official.id)


async def erase(deps: Deps, tg_user_id: int) -> None:
    """Erase a person's data; the exchange log keeps anonymous rows (no text, no ids)."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        official = await require_official(session, tg_user_id)
        await strip_personal_data(session, official)
        await erasure.anonymise_traces(session, official.id)
        await dialogs.clear_dialog(session, tg_user_id)
        # The Telegram ids are personal data too: replace them by a value no user can have.
        official.tg_user_id = -official.id
        official.chat_id = -official.id
        official.status = OfficialStatus.ERASED
        official.role = Role.OFFICIAL
        official.erased_at = now
        await audit_log.record(
            session,
            now,
            "official.erased",
            actor=official,
            target_type="official",
            target_id=official.id,
        )
