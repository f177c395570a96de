"""Registration, approval, /language, /profile, /privacy, /deleteme and role commands."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.db.models import (
    AuditLog,
    DialogState,
    Invite,
    Official,
    OfficialStatus,
    OfficialTopic,
    Role,
)
from bot.services.invites import create_invite
from tests.conftest import ADMIN_TG_ID
from tests.factories import make_city, make_official, make_topic, next_tg_id
from tests.harness.updates import STICKER, Harness, TgUser, tr


async def seed_basic(h: Harness) -> None:
    await make_city(h.deps.db, "Gabès")
    await make_city(h.deps.db, "Potenza", "IT", "Europe/Rome", ["it", "en"])
    await make_topic(
        h.deps.db, "flood-risk", names={"en": "Flood risk", "fr": "Risque d'inondation"}
    )
    await make_topic(
        h.deps.db,
        "early-warning",
        names={"en": "Early warning", "fr": "Alerte précoce"},
        position=1,
    )


async def official_row(h: Harness, tg_id: int) -> Official | None:
    async with h.deps.db.transaction() as s:
        return await s.scalar(select(Official).where(Official.tg_user_id == tg_id))


async def register_via_invite(h: Harness, user: TgUser, city: str = "Gabès") -> None:
    invite = await create_invite(h.deps, city)
    await h.command(user, f"/start {invite.code}")
    await h.press(user, "Yes")
    await h.send(user, "Amina Ben Salah")
    await h.send(user, "Head of civil protection")
    await h.press(user, "Flood risk")
    await h.press(user, "Done")
    await h.press(user, "Done")
    await h.press(user, "I accept")


async def test_invite_registration_full_flow(harness: Harness) -> None:
    h = harness
    await seed_basic(h)
    user = TgUser(next_tg_id(), "Amina", "fr-FR")
    invite = await create_invite(h.deps, "Gabès", uses=1)

    await h.command(user, f"/start {invite.code}")
    assert "en français" in h.texts(user)[0]  # a language's name mid-sentence, as French writes it
    assert "Gabès" in h.last_text(user)
    await h.press(user, tr("fr", "Yes, that's my city"))
    assert h.last_text(user) != ""
    await h.send(user, "Amina <Ben> & Salah_*")
    await h.send(user, "Cheffe de la protection civile")
    await h.press(user, "Risque d'inondation")
    assert "✅ Risque d'inondation" in [t for row in h.tg.last(user.id).buttons for t, _ in row]
    await h.press(user, tr("fr", "Done"))
    await h.press(user, "English")
    await h.press(user, tr("fr", "Done"))
    await h.press(user, tr("fr", "I accept"))

    row = await official_row(h, user.id)
    assert row is not None
    assert row.status == OfficialStatus.ACTIVE
    assert row.name == "Amina <Ben> & Salah_*"
    assert row.locale == "fr"
    assert row.languages == ["en", "fr"]
    assert "Amina &lt;Ben&gt; &amp; Salah_*" in "\n".join(h.texts(user))
    async with h.deps.db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(OfficialTopic)) == 1
        assert (await s.scalar(select(Invite))).uses_left == 0  # type: ignore[union-attr]
        assert await s.get(DialogState, user.id) is None


async def test_used_up_expired_and_invalid_invites_are_refused(harness: Harness) -> None:
    h = harness
    await seed_basic(h)
    first, second = TgUser(next_tg_id()), TgUser(next_tg_id(), "Marco", "it")
    invite = await create_invite(h.deps, "Gabès", uses=1)
    await h.command(first, f"/start {invite.code}")
    await h.command(second, f"/start {invite.code}")
    assert h.last_text(second) == tr(
        "it", "This invite link has already been used. Please ask your organiser for a new one."
    )

    expiring = await create_invite(h.deps, "Gabès", expires_in=timedelta(days=14))
    h.deps.clock.advance(days=15)
    await h.command(second, f"/start {expiring.code}")
    assert h.last_text(second) == tr(
        "it", "This invite link has expired. Please ask your organiser for a new one."
    )

    await h.command(second, "/start not-a-real-code")
    assert h.last_text(second) == tr(
        "it", "This invite link is not valid. Please check it with your organiser."
    )


async def test_restart_mid_registration_continues(harness: Harness, deps, tg) -> None:
    from bot.app import build_application
    from tests.harness.updates import Harness as H

    h = harness
    await seed_basic(h)
    user = TgUser(next_tg_id())
    invite = await create_invite(h.deps, "Gabès")
    await h.command(user, f"/start {invite.code}")
    await h.press(user, "Yes")
    await h.send(user, "Amina Ben Salah")
    await h.app.shutdown()

    app2 = build_application(deps, request=tg, background=False)
    await app2.initialize()
    h2 = H(app2, tg)
    await h2.send(user, "Head of civil protection")
    assert "Which topics" in h2.last_text(user)
    await h2.press(user, "Flood risk")
    await h2.press(user, "Done")
    await h2.press(user, "Done")
    await h2.press(user, "I accept")
    await app2.shutdown()
    await h.app.initialize()  # the fixture shuts it down again
    row = await official_row(h, user.id)
    assert row is not None and row.status == OfficialStatus.ACTIVE
    assert row.position == "Head of civil protection"


async def test_tapping_the_invite_link_again_resumes_registration(harness: Harness) -> None:
    h = harness
    await seed_basic(h)
    user = TgUser(next_tg_id(), "Lucia", "it")
    invite = await create_invite(h.deps, "Gabès", role=Role.ORGANISER, uses=2)
    await h.command(user, f"/start {invite.code}")
    await h.command(user, f"/start {invite.code}")  # before confirming the city
    city_prompt = tr(
        "it", "You were invited to join City Exchange for <b>{city}</b>. Is that your city?"
    ).format(city="Gabès (Tunisia)")
    assert h.texts(user)[-2:] == [tr("it", "Let's continue where you left off."), city_prompt]
    await h.press(user, tr("it", "Yes, that's my city"))
    await h.send(user, "Lucia Bianchi")
    await h.send(user, "Responsabile della protezione civile")
    await h.press(user, "Flood risk")
    await h.command(user, f"/start {invite.code}")  # in the middle of choosing topics
    assert h.texts(user)[-2:] == [
        tr("it", "Let's continue where you left off."),
        tr("it", "Which topics do you work on? Tap to select, then Done."),
    ]
    assert "✅ Flood risk" in [t for row in h.tg.last(user.id).buttons for t, _ in row]
    await h.press(user, tr("it", "Done"))
    await h.command(user, f"/start {invite.code}")  # at the working languages
    assert h.last_text(user) == tr(
        "it", "Which languages can you work in? Tap to select, then Done."
    )
    await h.press(user, tr("it", "Done"))
    await h.press(user, tr("it", "I accept"))

    row = await official_row(h, user.id)
    assert row is not None and row.status == OfficialStatus.ACTIVE
    assert (row.name, row.position, row.role) == (
        "Lucia Bianchi",
        "Responsabile della protezione civile",
        Role.ORGANISER,
    )
    texts = h.texts(user)
    assert texts.count(tr("it", "What is your full name?")) == 1
    assert texts.count(city_prompt) == 2  # the first time, and once more before confirming
    async with h.deps.db.transaction() as s:
        assert (await s.scalar(select(Invite))).uses_left == 1  # type: ignore[union-attr]

    # Another person's link mid-registration is a new invite: its city is confirmed afresh.
    other = TgUser(next_tg_id())
    await h.command(other, f"/start {invite.code}")
    await h.press(other, "Yes")
    potenza = await create_invite(h.deps, "Potenza")
    await h.command(other, f"/start {potenza.code}")
    assert "Potenza (Italy)" in h.last_text(other) and "Is that your city?" in h.last_text(other)


async def test_bad_input_during_registration(harness: Harness) -> None:
    h = harness
    await seed_basic(h)
    user = TgUser(next_tg_id())
    invite = await create_invite(h.deps, "Gabès")
    await h.command(user, f"/start {invite.code}")
    await h.press(user, "Yes")
    await h.send(user, None, sticker=STICKER)
    assert "as text" in h.last_text(user)
    await h.send(user, "x" * 5000)
    assert "between 2 and 100" in h.last_text(user)
    await h.send(user, "Amina")
    await h.send(user, "Head")
    await h.press(user, "Done")  # no topic chosen
    assert "at least one topic" in h.tg.alerts()[-1]
    await h.callback(user, "topics:toggle:999999:0")  # a topic that does not exist
    await h.callback(user, "topics:toggle:abc:0")  # forged
    await h.callback(user, "join-request:approve:1")  # organiser button, as an official
    await h.callback(user, "zzz")
    assert "no longer active" in h.tg.alerts()[-1]
    row = await official_row(h, user.id)
    assert row is not None and row.status == OfficialStatus.REGISTERING


async def test_request_to_join_and_approval(harness: Harness) -> None:
    h = harness
    await seed_basic(h)
    city = await make_city(h.deps.db, "Nice", "FR", "Europe/Paris", ["fr"])
    organiser = await make_official(h.deps.db, city, role=Role.ORGANISER, name="Org", locale="fr")
    user = TgUser(next_tg_id(), "Sami", "ar")
    await h.command(user, "/start")
    await h.press(user, "Gabès")
    await h.send(user, "سامي")
    await h.send(user, "Sami")  # how colleagues abroad write the name
    await h.send(user, "مهندس")
    await h.press(user, "Flood risk")
    await h.press(user, tr("ar", "Done"))
    await h.press(user, tr("ar", "Done"))
    await h.press(user, tr("ar", "I accept"))
    row = await official_row(h, user.id)
    assert row is not None and row.status == OfficialStatus.PENDING
    assert "سامي (Sami)" in h.last_text(organiser.chat_id)

    await h.press(TgUser(organiser.tg_user_id, "Org", "fr"), tr("fr", "Approve"))
    row = await official_row(h, user.id)
    assert row is not None and row.status == OfficialStatus.ACTIVE
    assert tr("ar", "Your request was approved. Welcome to City Exchange!") in h.last_text(user)
    # a second decision on the same request changes nothing
    await h.callback(TgUser(ADMIN_TG_ID), f"join-request:reject:{row.id}")
    assert (await official_row(h, user.id)).status == OfficialStatus.ACTIVE  # type: ignore[union-attr]


async def test_official_cannot_use_organiser_or_admin_commands(harness: Harness) -> None:
    h = harness
    await seed_basic(h)
    city = await make_city(h.deps.db, "Rosso", "MR", "Africa/Nouakchott")
    plain = await make_official(h.deps.db, city, locale="es")
    other = await make_official(h.deps.db, city)
    user = TgUser(plain.tg_user_id, "Ana", "es")
    for cmd in ("/pending", f"/promote {other.tg_user_id}", f"/demote {other.tg_user_id}"):
        await h.command(user, cmd)
        assert h.last_text(user) == tr("es", "You are not allowed to do that.")
    assert (await official_row(h, other.tg_user_id)).role == Role.OFFICIAL  # type: ignore[union-attr]
    async with h.deps.db.transaction() as s:
        denied = (await s.scalars(select(AuditLog).where(AuditLog.action == "access.denied"))).all()
    assert len(denied) == 3


async def test_admin_promotes_and_demotes_with_audit(harness: Harness) -> None:
    h = harness
    await seed_basic(h)
    city = await make_city(h.deps.db, "Madrid", "ES", "Europe/Madrid", ["es"])
    target = await make_official(h.deps.db, city, name="Lucía", locale="es")
    admin = TgUser(ADMIN_TG_ID, "Admin")
    await h.command(admin, f"/promote {target.tg_user_id}")
    assert "Lucía is now an organiser" in h.last_text(admin)
    assert h.last_text(target.chat_id) == tr(
        "es", "You are now an organiser. Send /help to see what you can do."
    )
    await h.command(admin, f"/demote {target.id}")
    assert (await official_row(h, target.tg_user_id)).role == Role.OFFICIAL  # type: ignore[union-attr]
    await h.command(admin, "/promote 424242")
    assert "No registered official" in h.last_text(admin)
    await h.command(admin, "/promote")
    assert h.last_text(admin) == "Usage: /promote &lt;Telegram user id or official number&gt;"
    await h.command(admin, "/promote abc")
    assert "not a number" in h.last_text(admin)
    async with h.deps.db.transaction() as s:
        actions = (await s.scalars(select(AuditLog.action).order_by(AuditLog.id))).all()
    assert actions == ["role.granted", "role.revoked"]


async def test_language_profile_and_deleteme(harness: Harness) -> None:
    h = harness
    await seed_basic(h)
    user = TgUser(next_tg_id(), "Amina", "en")
    await register_via_invite(h, user)
    await h.command(user, "/language")
    await h.press(user, "Italiano")
    assert h.last_text(user) == tr("it", "Language set to {language}.").format(language="italiano")
    await h.command(user, "/profile")
    assert "Amina Ben Salah" in h.last_text(user)
    await h.press(user, tr("it", "Edit name"))
    await h.send(user, "Amina B. S.")
    assert (await official_row(h, user.id)).name == "Amina B. S."  # type: ignore[union-attr]

    await h.command(user, "/privacy")
    assert str(user.id) in h.last_text(user)
    await h.command(user, "/deleteme")
    await h.press(user, tr("it", "No, keep it"))
    assert (await official_row(h, user.id)) is not None
    await h.command(user, "/deleteme")
    await h.press(user, tr("it", "Yes, erase my data"))
    assert await official_row(h, user.id) is None
    async with h.deps.db.transaction() as s:
        erased = (await s.scalars(select(Official))).one()
        assert erased.status == OfficialStatus.ERASED
        assert erased.name is None and erased.position is None and erased.tg_user_id < 0
        assert await s.scalar(select(func.count()).select_from(OfficialTopic)) == 0
    await h.command(user, "/profile")
    assert "/start" in h.last_text(user)


async def test_blocked_official_is_unreachable_until_start(harness: Harness) -> None:
    h = harness
    await seed_basic(h)
    user = TgUser(next_tg_id())
    await register_via_invite(h, user)
    await h.block(user)
    assert (await official_row(h, user.id)).status == OfficialStatus.UNREACHABLE  # type: ignore[union-attr]
    h.tg.unblock(user.id)
    await h.command(user, "/start")
    assert (await official_row(h, user.id)).status == OfficialStatus.ACTIVE  # type: ignore[union-attr]
    assert "Welcome back" in h.last_text(user)


async def test_garbage_and_unknown_commands_get_help(harness: Harness) -> None:
    h = harness
    user = TgUser(next_tg_id(), "X", "es")
    await h.send(user, "asdfgh")
    assert "/help" in h.last_text(user)
    await h.command(user, "/frobnicate")
    assert "/help" in h.last_text(user)


async def test_a_second_configured_admin_can_act(harness: Harness, settings) -> None:  # type: ignore[no-untyped-def]
    h = harness
    await seed_basic(h)
    second_admin = 900002
    settings.admin_ids = frozenset({ADMIN_TG_ID, second_admin})
    city = await make_city(h.deps.db, "Tataouine")
    target = await make_official(h.deps.db, city, name="Youssef")
    await h.command(TgUser(second_admin, "Second"), f"/promote {target.tg_user_id}")
    assert h.last_text(second_admin) == "Youssef is now an organiser."
    assert (await official_row(h, target.tg_user_id)).role == Role.ORGANISER  # type: ignore[union-attr]


async def test_a_removed_organiser_cannot_rejoin_with_the_link_they_joined_with(
    harness: Harness,
) -> None:
    """An admin removes an organiser who had joined with an organiser invite (any number of
    uses, no expiry: what the command line makes by default). Opening that link again is
    refused with the removal notice; a new invite an organiser gives them lets them back in,
    as an official."""
    h = harness
    await seed_basic(h)
    invite = await create_invite(h.deps, "Gabès", role=Role.ORGANISER)
    karim = TgUser(next_tg_id(), "Karim")

    async def register(code: str, *, tick_topic: bool) -> None:
        await h.command(karim, f"/start {code}")
        await h.press(karim, "Yes")
        await h.send(karim, "Karim Haddad")
        await h.send(karim, "Head of civil protection")
        if tick_topic:
            await h.press(karim, "Flood risk")
        await h.press(karim, "Done")
        await h.press(karim, "Done")
        await h.press(karim, "I accept")

    async def status() -> tuple[OfficialStatus, Role]:
        async with h.deps.db.transaction() as s:
            row = await s.scalar(select(Official).where(Official.tg_user_id == karim.id))
            assert row is not None
            return row.status, row.role

    await register(invite.code, tick_topic=True)
    assert await status() == (OfficialStatus.ACTIVE, Role.ORGANISER)
    async with h.deps.db.transaction() as s:
        official_id = await s.scalar(select(Official.id).where(Official.tg_user_id == karim.id))
    admin = TgUser(ADMIN_TG_ID, "Admin")
    await h.callback(admin, f"cities:remove:{official_id}")
    await h.press(admin, "Yes, remove")
    assert "removed you" in h.last_text(karim)

    await h.command(karim, f"/start {invite.code}")  # the old link, still in the chat
    assert "removed" in h.last_text(karim)
    assert await status() == (OfficialStatus.REMOVED, Role.OFFICIAL)

    again = await create_invite(h.deps, "Gabès")
    await register(again.code, tick_topic=False)
    assert await status() == (OfficialStatus.ACTIVE, Role.OFFICIAL)


async def request_to_join(
    h: Harness, user: TgUser, locale: str = "en", name: str = "Sami Ben"
) -> None:
    await h.command(user, "/start")
    await h.press(user, "Gabès")
    await h.send(user, name)
    if name == "سامي":
        await h.send(user, "Sami")
    await h.send(user, "Engineer")
    await h.press(user, {"fr": "Risque d'inondation"}.get(locale, "Flood risk"))
    await h.press(user, tr(locale, "Done"))
    await h.press(user, tr(locale, "Done"))
    await h.press(user, tr(locale, "I accept"))


async def test_a_refused_requester_sending_start_is_told_the_request_was_not_approved(
    harness: Harness,
) -> None:
    """A request to join is rejected; the person sends /start. They never had access: they
    read that their request was not approved (it said "Your access was removed")."""
    h = harness
    await seed_basic(h)
    org = await make_official(h.deps.db, None, role=Role.ORGANISER, name="Org")
    user = TgUser(next_tg_id(), "Sami", "fr")
    await request_to_join(h, user, "fr")
    await h.press(TgUser(org.tg_user_id, "Org"), "Reject")
    assert (await official_row(h, user.id)).status == OfficialStatus.REJECTED  # type: ignore[union-attr]
    await h.command(user, "/start")
    assert h.last_text(user).startswith("Votre demande d'adhésion n'a pas été approuvée.")


async def test_the_audit_log_names_each_action_in_the_readers_language(harness: Harness) -> None:
    """/audit after a request to join and a person blocking the bot: a French organiser reads
    the actions in French (it showed "official.requested", "official.unreachable")."""
    h = harness
    await seed_basic(h)
    org = await make_official(h.deps.db, None, role=Role.ORGANISER, name="Org", locale="fr")
    user = TgUser(next_tg_id(), "Sami", "en")
    await request_to_join(h, user)
    ou = TgUser(org.tg_user_id, "Org", "fr")
    await h.press(ou, tr("fr", "Approve"))
    await h.block(user)
    await h.command(ou, "/audit")
    page = h.last_text(ou)
    assert "official.requested" not in page and "demande d&#x27;adhésion" in page
    assert "official.unreachable" not in page and "bot bloqué" in page


async def test_promote_with_an_out_of_range_number_finds_nobody(harness: Harness) -> None:
    """/promote 99999999999999999999999: "No registered official has that id" (it was "Sorry,
    something went wrong" and an error alert with a traceback)."""
    h = harness
    await seed_basic(h)
    admin = TgUser(ADMIN_TG_ID, "Admin")
    await h.command(admin, "/promote 99999999999999999999999")
    texts = h.texts(admin)
    assert not any("Error while handling an update" in t for t in texts)
    assert texts[-1] == "No registered official has that id."


async def test_a_new_name_never_keeps_the_old_names_latin_form(harness: Harness) -> None:
    """An official named سامي (Latin form "Sami") changes the name to كريم in /profile, then
    sends /cancel at the question of the Latin form: the new name has no Latin form (readers
    in Latin letters went on seeing "Sami")."""
    h = harness
    await seed_basic(h)
    city = await make_city(h.deps.db, "Rosso", "MR", "Africa/Nouakchott", ["ar", "fr"])
    o = await make_official(h.deps.db, city, name="سامي", locale="en")
    async with h.deps.db.transaction() as s:
        row = await s.get(Official, o.id)
        assert row is not None
        row.name_latin = "Sami"
    u = TgUser(o.tg_user_id, "S", "en")
    await h.command(u, "/profile")
    await h.press(u, "Edit name")
    await h.send(u, "كريم")
    await h.command(u, "/cancel")
    assert h.last_text(u) == "Cancelled."
    r = await official_row(h, u.id)
    assert r is not None
    assert (r.name, r.name_latin) == ("كريم", None)


async def test_the_person_a_single_use_invite_was_used_by_may_open_it_again(
    harness: Harness,
) -> None:
    """With a one-person invite: /cancel mid-registration ("Open your invite link again to
    start over"), or "I do not accept" ("Open your invite link again if you change your
    mind"), then the same person opens the same link: registration starts again (it said the
    link had already been used: their own use counted against them)."""
    h = harness
    await seed_basic(h)
    used_up = "This invite link has already been used. Please ask your organiser for a new one."
    for how in ("cancel", "privacy"):
        user = TgUser(next_tg_id(), "Amina", "en")
        invite = await create_invite(h.deps, "Gabès", uses=1)
        await h.command(user, f"/start {invite.code}")
        await h.press(user, "Yes")
        await h.send(user, "Amina Ben")
        if how == "cancel":
            await h.command(user, "/cancel")
            assert "Open your invite link again" in h.last_text(user)
        else:
            await h.send(user, "Head of civil protection")
            await h.press(user, "Flood risk")
            await h.press(user, "Done")
            await h.press(user, "Done")
            await h.press(user, "I do not accept")
            assert "Open your invite link again if you change your mind" in h.last_text(user)
        await h.command(user, f"/start {invite.code}")
        assert h.last_text(user) != used_up, how
        assert "Is that your city?" in "\n".join(h.texts(user)[-2:]), how
