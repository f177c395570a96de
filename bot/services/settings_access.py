"""Who may change their own settings (the bot's language, the weekly digest, quiet hours, the
profile), and the record of refused attempts.

Registered officials change all of them. Someone still registering, or not known yet, may
choose the bot's language and fill in the registration steps. A person whose request to join
is pending or was rejected, or who was removed, changes nothing; each refused attempt is
audited (`setting.denied`, counted per person and setting, see `audit.record_refusal`).

A service that changes a setting calls `ensure` within its transaction and is decorated
with `audited`: the refusal rolls that transaction back, then is recorded in one of its own.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, TypeVar

from bot.db import officials
from bot.db.models import Official, OfficialStatus
from bot.runtime import Deps
from bot.services.audit import record_refusal
from bot.services.errors import ErrorCode, NotAllowed
from bot.services.identity import REGISTERED

SETTING_DENIED = "setting.denied"

P = ParamSpec("P")
R = TypeVar("R")

_BARRED = {
    OfficialStatus.PENDING: ErrorCode.PENDING,
    OfficialStatus.REJECTED: ErrorCode.REJECTED,
    OfficialStatus.REMOVED: ErrorCode.REMOVED,
}


def refusal_code(official: Official | None, *, registering: bool = False) -> ErrorCode | None:
    """Why this person may not change their settings, or None when they may. `registering`:
    the change is also open to someone registering (the language, the registration steps)."""
    if official is None:
        return None if registering else ErrorCode.NOT_REGISTERED
    if official.status in REGISTERED:
        return None
    if registering and official.status == OfficialStatus.REGISTERING:
        return None
    return _BARRED.get(OfficialStatus(official.status), ErrorCode.NOT_REGISTERED)


class SettingRefused(NotAllowed):
    """A setting this person may not change (`setting` names it in the audit log)."""

    def __init__(self, code: ErrorCode, setting: str) -> None:
        super().__init__(code)
        self.setting = setting


def ensure(official: Official | None, setting: str, *, registering: bool = False) -> None:
    """Within the changing service's transaction: refuse unless this person may change it."""
    code = refusal_code(official, registering=registering)
    if code is not None:
        raise SettingRefused(code, setting)


def audited(
    func: Callable[Concatenate[Deps, int, P], Awaitable[R]],
) -> Callable[Concatenate[Deps, int, P], Awaitable[R]]:
    """On a service changing a setting of the person `tg_user_id`: a refusal from `ensure`
    is recorded (its own transaction: the service's was rolled back), then raised on."""

    @functools.wraps(func)
    async def wrapper(deps: Deps, tg_user_id: int, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await func(deps, tg_user_id, *args, **kwargs)
        except SettingRefused as refused:
            async with deps.db.transaction() as session:
                official = await officials.official_by_tg(session, tg_user_id)
                await record_refusal(
                    session,
                    deps.clock.now(),
                    SETTING_DENIED,
                    tg_user_id,
                    official,
                    setting=refused.setting,
                )
            raise

    return wrapper


@audited
async def require(deps: Deps, tg_user_id: int, setting: str, *, registering: bool = False) -> None:
    """Before offering a choice (the /language buttons): refused, and recorded, at once."""
    async with deps.db.read() as session:
        official = await officials.official_by_tg(session, tg_user_id)
    ensure(official, setting, registering=registering)
