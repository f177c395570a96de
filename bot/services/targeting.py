"""Who an announcement reaches: one target filter (broadcasts and reminders), checked here and
resolved by bot/db/audience.py.

A target is stored as JSON: ``{"countries": ["TN"], "cities": [3], "topics": [5],
"languages": ["fr"], "roles": ["organiser"]}``. An empty or missing list does not filter; a
person must match every list that is given, and any one value within a list. Only active
officials are ever targeted: unreachable ones (they blocked the bot) are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import audience
from bot.db.models import Official, Role
from bot.i18n import SUPPORTED_LOCALES
from bot.services.errors import ErrorCode, InvalidInput

DIMENSIONS = ("countries", "cities", "topics", "languages", "roles")
ROLES = tuple(r.value for r in Role)


def normalize(target: Mapping[str, Any] | None) -> dict[str, list[Any]]:
    """A clean target: known keys only, sorted unique values of the right type; empty lists dropped.

    Raises InvalidInput for a value of the wrong shape (a forged or corrupted filter).
    """
    out: dict[str, list[Any]] = {}
    for key, values in (target or {}).items():
        if key not in DIMENSIONS:
            raise InvalidInput(ErrorCode.INVALID, key=key)
        if not isinstance(values, list):
            raise InvalidInput(ErrorCode.INVALID, key=key)
        clean: set[Any] = set()
        for value in values:
            if key in ("cities", "topics"):
                if not isinstance(value, int) or isinstance(value, bool):
                    raise InvalidInput(ErrorCode.INVALID, key=key)
            elif key == "countries":
                if not (isinstance(value, str) and len(value) == 2 and value.isalpha()):
                    raise InvalidInput(ErrorCode.INVALID, key=key)
                value = value.upper()
            elif key == "languages":
                if value not in SUPPORTED_LOCALES:
                    raise InvalidInput(ErrorCode.INVALID, key=key)
            elif value not in ROLES:
                raise InvalidInput(ErrorCode.INVALID, key=key)
            clean.add(value)
        if clean:
            out[key] = sorted(clean)
    return out


async def count_recipients(
    session: AsyncSession, target: Mapping[str, Any] | None, admin_ids: Iterable[int] = ()
) -> int:
    return await audience.count(session, normalize(target), admin_ids)


async def resolve_recipients(
    session: AsyncSession, target: Mapping[str, Any] | None, admin_ids: Iterable[int] = ()
) -> list[Official]:
    """The officials themselves (reminders render a text per recipient)."""
    return await audience.officials(session, normalize(target), admin_ids)
