"""Quiet hours: /quiet sets, shows and clears them; not_before holds nudges and digests
until they end, in the official's city time, across midnight and DST changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.db.models import Official
from bot.services.errors import InvalidInput
from bot.services.quiet_hours import not_before, parse_range
from tests.factories import make_city, make_official, next_tg_id
from tests.harness.updates import Harness, TgUser


@dataclass
class Window:
    quiet_start: int | None
    quiet_end: int | None


NIGHT = Window(22 * 60, 7 * 60)
TUNIS = "Africa/Tunis"  # UTC+1, no DST


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2026, 3, 2, 20, 59), None),  # 21:59 local: not yet quiet
        (utc(2026, 3, 2, 21, 0), utc(2026, 3, 3, 6, 0)),  # 22:00: until 07:00 tomorrow
        (utc(2026, 3, 2, 23, 30), utc(2026, 3, 3, 6, 0)),  # 00:30 local, after midnight
        (utc(2026, 3, 3, 5, 59), utc(2026, 3, 3, 6, 0)),
        (utc(2026, 3, 3, 6, 0), None),  # 07:00: over
    ],
)
def test_not_before_across_midnight(now: datetime, expected: datetime | None) -> None:
    assert not_before(NIGHT, now, TUNIS) == expected


def test_not_before_within_a_day_and_when_unset() -> None:
    lunch = Window(12 * 60, 14 * 60)
    assert not_before(lunch, utc(2026, 3, 2, 11, 30), TUNIS) == utc(2026, 3, 2, 13, 0)
    assert not_before(lunch, utc(2026, 3, 2, 13, 0), TUNIS) is None
    assert not_before(Window(None, None), utc(2026, 3, 2, 23, 0), TUNIS) is None
    assert not_before(NIGHT, utc(2026, 3, 2, 23, 0), None) == utc(2026, 3, 3, 7, 0)  # no city: UTC


def test_not_before_on_the_night_clocks_change() -> None:
    rome = "Europe/Rome"
    # 23:00 CET on 28 March; the clocks go forward that night, so 07:00 is CEST (05:00 UTC).
    assert not_before(NIGHT, utc(2026, 3, 28, 22, 0), rome) == utc(2026, 3, 29, 5, 0)
    # 23:00 CEST on 24 October; back to CET that night, so 07:00 is 06:00 UTC.
    assert not_before(NIGHT, utc(2026, 10, 24, 21, 0), rome) == utc(2026, 10, 25, 6, 0)


def test_parse_range() -> None:
    assert parse_range("22:00-07:00") == (1320, 420)
    assert parse_range(" 7.30 – 9.00 ") == (450, 540)
    assert parse_range("22h00 to 6h15") == (1320, 375)
    for bad in ("", "tonight", "25:00-07:00", "22:00-07:60", "22:00", "x" * 5000):
        with pytest.raises(InvalidInput):
            parse_range(bad)
    with pytest.raises(InvalidInput):
        parse_range("08:00-08:00")


async def stored(h: Harness, tg_id: int) -> tuple[int | None, int | None]:
    async with h.deps.db.transaction() as s:
        row = await s.scalar(select(Official).where(Official.tg_user_id == tg_id))
        assert row is not None
        return row.quiet_start, row.quiet_end


async def test_quiet_command(harness: Harness) -> None:
    h = harness
    city = await make_city(h.deps.db, "Gabès")
    user = TgUser(next_tg_id())
    await make_official(h.deps.db, city, tg_id=user.id)

    await h.command(user, "/quiet")
    assert "You have no quiet hours" in h.last_text(user)
    assert "/quiet 22:00-07:00" in h.last_text(user)

    await h.command(user, "/quiet 22:00-07:00")
    assert await stored(h, user.id) == (1320, 420)
    text = h.last_text(user).replace("\u202f", " ")
    assert "Quiet hours: 10:00 PM to 7:00 AM (Africa/Tunis)" in text

    await h.command(user, "/quiet whenever")
    assert "like this: /quiet 22:00-07:00" in h.last_text(user)
    await h.command(user, "/quiet 09:00-09:00")
    assert "must differ" in h.last_text(user)
    assert await stored(h, user.id) == (1320, 420)

    await h.command(user, "/quiet off")
    assert await stored(h, user.id) == (None, None)
    assert "You have no quiet hours" in h.last_text(user)


async def test_quiet_needs_registration(harness: Harness) -> None:
    stranger = TgUser(next_tg_id())
    await harness.command(stranger, "/quiet 22:00-07:00")
    assert "finish registering" in harness.last_text(stranger)
