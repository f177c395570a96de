"""A removed, pending or rejected person changes no setting; refusals are audited, one row per
person, action and setting in an hour, counted, so nobody can fill the audit log."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.db.models import AuditLog, DialogState, Official, OfficialStatus, OfficialTopic
from bot.services.invites import create_invite
from tests.factories import make_city, make_official, make_topic, next_tg_id
from tests.harness.updates import Harness, TgUser, tr

REFUSALS = {
    OfficialStatus.REMOVED: "Your access was removed. Ask your organiser for a new invite link.",
    OfficialStatus.PENDING: (
        "Your request to join is still waiting for an organiser. You can change your settings "
        "once it is approved."
    ),
    OfficialStatus.REJECTED: (
        "Your request to join was not approved, so you cannot change any settings. Ask your "
        "organiser for an invite link if you should be part of the exchange."
    ),
}
# Every way to change a setting: typed commands and button presses (as a stale or forged
# button would send them), and the plain messages of an edit step left open.
COMMANDS = ["/language", "/quiet 22:00-07:00"]
BUTTONS = [
    "language:set:ar",
    "profile:digest:on",
    "profile:digest:off",
    "profile:edit:name",
    "profile:edit:position",
    "profile:edit:topics",
    "profile:edit:languages",
]
OPEN_STEPS = [
    ("profile.name", None, "New Name"),
    ("profile.position", None, "New position"),
    ("profile.topics", "topics:toggle:{topic}:0", None),
    ("profile.topics", "topics:done", None),
    ("profile.languages", "work-languages:toggle:ar", None),
    ("profile.languages", "work-languages:done", None),
]


async def settings_of(h: Harness, tg_id: int) -> tuple[Any, ...]:
    async with h.deps.db.transaction() as s:
        o = await s.scalar(select(Official).where(Official.tg_user_id == tg_id))
        assert o is not None
        topics = (
            await s.scalars(select(OfficialTopic.topic_id).where(OfficialTopic.official_id == o.id))
        ).all()
        return (
            o.locale,
            o.digest_opt_in,
            o.quiet_start,
            o.quiet_end,
            o.name,
            o.position,
            list(o.languages),
            sorted(topics),
            o.status,
        )


async def refusal_rows(h: Harness, tg_id: int) -> dict[str, int]:
    async with h.deps.db.transaction() as s:
        rows = (
            await s.scalars(
                select(AuditLog).where(
                    AuditLog.actor_tg_id == tg_id, AuditLog.action == "setting.denied"
                )
            )
        ).all()
    found: dict[str, int] = {}
    for row in rows:
        setting = row.details["setting"]
        assert setting not in found, f"two rows for {setting} within the hour"
        found[setting] = row.details["count"]
    return found


@pytest.mark.parametrize(
    ("status", "locale"),
    [
        (OfficialStatus.REMOVED, "fr"),
        (OfficialStatus.PENDING, "ar"),
        (OfficialStatus.REJECTED, "es"),
    ],
)
async def test_barred_people_change_no_setting(
    harness: Harness, status: OfficialStatus, locale: str
) -> None:
    h = harness
    city = await make_city(h.deps.db, "Gabès")
    topic = await make_topic(h.deps.db, "flood-risk")
    other = await make_topic(h.deps.db, "early-warning", position=1)
    person = await make_official(
        h.deps.db, city, topics=[topic], status=status, locale=locale, languages=["en"]
    )
    user = TgUser(person.tg_user_id, "Nadia", locale)
    before = await settings_of(h, user.id)
    refusal = tr(locale, REFUSALS[status])

    for command in COMMANDS:
        await h.command(user, command)
        assert h.last_text(user) == refusal, command
    for data in BUTTONS:
        await h.callback(user, data)
        assert h.tg.alerts()[-1] == refusal, data
    for step, data, typed in OPEN_STEPS:
        async with h.deps.db.transaction() as s:
            s.add(
                DialogState(tg_user_id=user.id, step=step, data={}, updated_at=h.deps.clock.now())
            )
        if typed is not None:
            await h.send(user, typed)
            assert h.last_text(user) == refusal, step
        else:
            await h.callback(user, data.format(topic=other.id))
            assert h.tg.alerts()[-1] == refusal, data
        async with h.deps.db.transaction() as s:
            await s.delete(await s.get(DialogState, user.id))

    assert await settings_of(h, user.id) == before
    async with h.deps.db.transaction() as s:
        assert await s.get(DialogState, user.id) is None
    assert await refusal_rows(h, user.id) == {
        "language": 2,
        "quiet_hours": 1,
        "digest": 2,
        "name": 2,
        "position": 2,
        "topics": 3,
        "languages": 3,
    }


async def test_refusals_are_counted_not_flooded(harness: Harness) -> None:
    h = harness
    city = await make_city(h.deps.db, "Nice", "FR", "Europe/Paris", ["fr"])
    removed = await make_official(h.deps.db, city, status=OfficialStatus.REMOVED, locale="it")
    user = TgUser(removed.tg_user_id, "Marco", "it")
    for _ in range(40):
        await h.callback(user, "profile:digest:on")
    await h.command(user, "/pending")  # a command of another role: refused, counted alike
    await h.command(user, "/pending")
    assert h.last_text(user) == tr("it", "You are not allowed to do that.")
    assert await refusal_rows(h, user.id) == {"digest": 40}

    h.deps.clock.advance(minutes=61)
    await h.callback(user, "profile:digest:on")
    async with h.deps.db.transaction() as s:
        rows = (
            await s.scalars(
                select(AuditLog).where(AuditLog.actor_tg_id == user.id).order_by(AuditLog.id)
            )
        ).all()
    assert [(r.action, r.details) for r in rows] == [
        ("setting.denied", {"setting": "digest", "count": 40}),
        ("access.denied", {"command": "cmd_pending", "count": 2}),
        ("setting.denied", {"setting": "digest", "count": 1}),
    ]
    assert (await settings_of(h, user.id))[1] is False


async def test_people_registering_may_still_choose_their_language(harness: Harness) -> None:
    h = harness
    await make_city(h.deps.db, "Gabès")
    invite = await create_invite(h.deps, "Gabès")
    user = TgUser(next_tg_id(), "Amina", "en")
    await h.command(user, f"/start {invite.code}")
    await h.command(user, "/language")
    await h.press(user, "Français")
    assert h.last_text(user) == tr("fr", "Language set to {language}.").format(language="français")
    newcomer = TgUser(next_tg_id(), "Sami", "en")  # no row yet: /language works before /start
    await h.command(newcomer, "/language")
    await h.press(newcomer, "Español")
    assert h.last_text(newcomer) == tr("es", "Language set to {language}.").format(
        language="español"
    )
    assert (await settings_of(h, user.id))[0] == "fr"
    assert await refusal_rows(h, user.id) == {}
