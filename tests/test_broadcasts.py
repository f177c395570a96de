"""Broadcasts as organisers use them: audience, preview, send now or later, progress, cancel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from bot.db.audience import recipients_query
from bot.db.models import (
    Broadcast,
    BroadcastStatus,
    Delivery,
    DeliveryStatus,
    Official,
    OfficialStatus,
    Role,
)
from bot.services import broadcast_progress, erasure
from bot.services import network as network_service
from handlers.broadcast_list import progress_job
from handlers.profile_texts import withdrawn_notice
from tests.conftest import ADMIN_TG_ID
from tests.factories import make_city, make_official, make_topic, next_tg_id
from tests.harness.outbox import drain
from tests.harness.updates import PHOTO, STICKER, Harness, TgUser, tr


async def network(h: Harness) -> dict[str, Any]:
    db = h.deps.db
    gabes = await make_city(db, "Gabès")
    kasserine = await make_city(db, "Kasserine")
    potenza = await make_city(db, "Potenza", "IT", "Europe/Rome", ["it", "en"])
    flood = await make_topic(db, "flood-risk", names={"en": "Flood risk"})
    heat = await make_topic(db, "heat", names={"en": "Heatwaves"}, position=1)
    org_tg = next_tg_id()
    people = {
        "organiser": await make_official(
            db,
            gabes,
            tg_id=org_tg,
            role=Role.ORGANISER,
            topics=[flood],
            languages=["ar", "fr"],
            locale="en",
        ),
        "gabes_flood": await make_official(
            db, gabes, topics=[flood], languages=["ar", "fr"], locale="fr"
        ),
        "kass_heat": await make_official(
            db, kasserine, topics=[heat], languages=["ar"], locale="ar"
        ),
        "potenza_both": await make_official(
            db, potenza, topics=[flood, heat], languages=["it", "en"], locale="it"
        ),
        "blocked": await make_official(
            db, gabes, topics=[flood], status=OfficialStatus.UNREACHABLE
        ),
        "pending": await make_official(db, gabes, topics=[flood], status=OfficialStatus.PENDING),
        "admin": await make_official(
            db, potenza, tg_id=ADMIN_TG_ID, topics=[heat], languages=["en"]
        ),
    }
    return {
        "people": people,
        "cities": (gabes, kasserine, potenza),
        "topics": (flood, heat),
        "organiser": TgUser(org_tg, "Leila"),
    }


async def matching(h: Harness, target: dict[str, Any]) -> set[int]:
    async with h.deps.db.transaction() as s:
        found = await s.scalars(
            recipients_query(target, h.deps.settings.admin_ids).with_only_columns(Official.id)
        )
        return set(found.all())


async def broadcast_now(h: Harness, org: TgUser, text: str) -> None:
    """The organiser broadcasts a text to everyone, at once."""
    await h.command(org, "/broadcast")
    await h.send(org, text)
    await h.press(org, "Preview")
    await h.press(org, "Send now")


async def test_targeting_combinations_give_the_right_recipients(harness: Harness) -> None:
    h = harness
    net = await network(h)
    p = {k: v.id for k, v in net["people"].items()}
    gabes, kasserine, potenza = net["cities"]
    flood, heat = net["topics"]
    active = {p["organiser"], p["gabes_flood"], p["kass_heat"], p["potenza_both"], p["admin"]}

    assert await matching(h, {}) == active  # nobody blocked or pending
    assert await matching(h, {"countries": ["TN"]}) == {
        p["organiser"],
        p["gabes_flood"],
        p["kass_heat"],
    }
    assert await matching(h, {"cities": [kasserine.id, potenza.id]}) == {
        p["kass_heat"],
        p["potenza_both"],
        p["admin"],
    }
    assert await matching(h, {"topics": [flood.id]}) == {
        p["organiser"],
        p["gabes_flood"],
        p["potenza_both"],
    }
    assert await matching(h, {"languages": ["it"]}) == {p["potenza_both"]}
    assert await matching(h, {"languages": ["fr", "it"]}) == {
        p["organiser"],
        p["gabes_flood"],
        p["potenza_both"],
    }
    assert await matching(h, {"roles": ["organiser"]}) == {p["organiser"]}
    assert await matching(h, {"roles": ["admin"]}) == {p["admin"]}  # admin by configuration
    assert await matching(h, {"countries": ["TN"], "topics": [heat.id]}) == {p["kass_heat"]}
    assert await matching(h, {"countries": ["IT"], "topics": [flood.id], "languages": ["en"]}) == {
        p["potenza_both"]
    }
    assert await matching(h, {"cities": [gabes.id], "roles": ["admin"]}) == set()


async def test_organiser_broadcasts_a_photo_to_a_country(harness: Harness) -> None:
    h = harness
    net = await network(h)
    org = net["organiser"]
    p = net["people"]

    await h.command(org, "/broadcast")
    assert "Send me the message to broadcast" in h.last_text(org)
    photo_msg = await h.send(org, None, photo=PHOTO, caption="Drill on <Friday> & Saturday")
    assert "Who should receive this broadcast?" in h.last_text(org)
    assert "5 officials will receive it." in h.last_text(org)

    await h.press(org, "Countries")
    await h.press(org, "Tunisia")
    assert "3 officials will receive it." in h.last_text(org)
    await h.press(org, "Back")
    assert "Countries: Tunisia" in h.last_text(org)
    await h.press(org, "Preview")
    [preview] = h.tg.of("copyMessage", org.id)
    assert (preview.params["from_chat_id"], preview.params["message_id"]) == (
        org.id,
        photo_msg["message_id"],
    )
    assert "exactly as recipients will see it" in h.last_text(org)
    assert "3 officials will receive it." in h.last_text(org)

    await h.press(org, "Send now")
    assert "Broadcast #1 is on its way to 3 officials" in h.last_text(org)
    async with h.deps.db.transaction() as s:
        b = await s.get(Broadcast, 1)
        assert b is not None and b.status == BroadcastStatus.SENDING and b.total == 3
        assert await s.scalar(select(func.count()).select_from(Delivery)) == 3
    await h.press(org, "Send now")  # a second tap sends nothing more
    assert "no longer active" in h.tg.alerts()[-1]

    await progress_job(h.app.bot, h.deps)
    assert "0 of 3 sent" in h.last_text(org)
    stats = await drain(h)
    assert stats.sent == 3
    for who in ("gabes_flood", "kass_heat"):
        [copy] = h.tg.of("copyMessage", p[who].chat_id)
        assert (copy.params["from_chat_id"], copy.params["message_id"]) == (
            org.id,
            photo_msg["message_id"],
        )
    assert h.tg.of("copyMessage", p["potenza_both"].chat_id) == []
    assert h.tg.of("copyMessage", p["blocked"].chat_id) == []

    await progress_job(h.app.bot, h.deps)
    assert any("finished: 3 of 3 sent" in t for t in h.texts(org))
    await drain(h)  # the report goes through the outbox
    assert "Delivered: 3 of 3" in h.last_text(org)
    await progress_job(h.app.bot, h.deps)
    await drain(h)
    assert sum("delivery report" in t for t in h.texts(org)) == 1  # reported once
    await h.command(org, "/broadcasts")
    assert "#1 · done · 3 of 3 sent · 0 failed · 0 unreachable" in h.last_text(org)


async def test_the_final_report_survives_a_failed_send(harness: Harness) -> None:
    h = harness
    net = await network(h)
    org = net["organiser"]
    await broadcast_now(h, org, "Evacuation drill")
    await drain(h)
    h.tg.server_error(method="sendMessage", chat_id=org.id)  # the report's first try
    await progress_job(h.app.bot, h.deps)
    assert (await drain(h)).retried == 1
    assert not any("delivery report" in t for t in h.texts(org))

    h.deps.clock.advance(minutes=1)  # past the retry's backoff
    await drain(h)
    await progress_job(h.app.bot, h.deps)
    await drain(h)
    assert [t for t in h.texts(org) if "delivery report" in t] == [
        "<b>Broadcast #1: delivery report</b>\nDelivered: 5 of 5\nFailed: 0\n"
        "Unreachable (they blocked the bot): 0"
    ]


async def test_officials_who_leave_after_the_confirm_are_not_sent_to(harness: Harness) -> None:
    """Removed or erased between Send now and the sender's turn: nothing reaches them, their
    rows say why, the report counts them, and the erased one's chat id is gone from the outbox."""
    h = harness
    net = await network(h)
    org = net["organiser"]
    p = net["people"]
    await broadcast_now(h, org, "Evacuation drill on Friday")
    assert "on its way to 5 officials" in h.last_text(org)
    await network_service.remove_official(h.deps, org.id, p["gabes_flood"].id, withdrawn_notice)
    await erasure.erase(h.deps, p["kass_heat"].tg_user_id, withdrawn_notice)

    stats = await drain(h)
    assert stats.sent == 3
    for gone in ("gabes_flood", "kass_heat"):
        assert h.tg.of("copyMessage", p[gone].chat_id) == []
    assert len(h.tg.of("copyMessage", p["potenza_both"].chat_id)) == 1
    async with h.deps.db.transaction() as s:
        rows = {
            d.recipient_id: d
            for d in await s.scalars(select(Delivery).where(Delivery.broadcast_id == 1))
        }
    for gone in ("gabes_flood", "kass_heat"):
        row = rows[p[gone].id]
        assert (row.status, row.last_error) == (
            DeliveryStatus.CANCELLED,
            "recipient no longer registered",
        )
    assert rows[p["kass_heat"].id].chat_id == -p["kass_heat"].id  # erased: no chat id kept

    await progress_job(h.app.bot, h.deps)
    await drain(h)
    assert h.last_text(org) == (
        "<b>Broadcast #1: delivery report</b>\nDelivered: 3 of 5\nFailed: 0\n"
        "Unreachable (they blocked the bot): 0\nNot sent (no longer registered): 2"
    )
    await h.command(org, "/broadcasts")
    assert "#1 · done · 3 of 5 sent · 0 failed · 0 unreachable · 2 not sent" in h.last_text(org)


async def test_progress_is_edited_in_place_no_more_often_than_the_interval(
    harness: Harness,
) -> None:
    h = harness
    net = await network(h)
    org = net["organiser"]
    await broadcast_now(h, org, "Meeting notes")
    await progress_job(h.app.bot, h.deps)
    [progress] = [c for c in h.tg.of("sendMessage", org.id) if "is going out" in (c.text or "")]
    await drain(h, max_rows=2)
    edits = lambda: [c for c in h.tg.of("editMessageText", org.id) if "going out" in (c.text or "")]  # noqa: E731
    await progress_job(h.app.bot, h.deps)  # too soon: no edit
    assert not edits()
    h.deps.clock.advance(seconds=h.deps.settings.broadcast_progress_seconds)
    await progress_job(h.app.bot, h.deps)
    [edit] = edits()
    assert edit.params["message_id"] == progress.message_id and "2 of 5 sent" in (edit.text or "")


async def test_schedule_goes_at_its_time_in_the_organisers_timezone(harness: Harness) -> None:
    h = harness
    net = await network(h)
    org = net["organiser"]
    h.deps.clock.set(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    await h.command(org, "/broadcast")
    await h.send(org, "Workshop tomorrow")
    await h.press(org, "Preview")
    await h.press(org, "Schedule")
    assert "Africa/Tunis" in h.last_text(org)
    await h.send(org, "tomorrow morning")
    assert "could not read that date" in h.last_text(org)
    await h.send(org, "2026-03-01 10:00")
    assert "has passed" in h.last_text(org)
    await h.send(org, "2026-03-02 14:30")  # Tunis is UTC+1
    assert "Mar 2, 2026, 2:30:00\u202fPM" in h.last_text(
        org
    ) or "Mar 2, 2026, 2:30:00 PM" in h.last_text(org)
    await h.press(org, "Confirm")
    assert "Scheduled: broadcast #1 goes to 5 officials" in h.last_text(org)

    assert (await drain(h)).sent == 0
    await progress_job(h.app.bot, h.deps)
    h.deps.clock.set(datetime(2026, 3, 2, 13, 29, tzinfo=UTC))
    assert (await drain(h)).sent == 0
    await h.command(org, "/broadcasts")
    assert "scheduled for" in h.last_text(org) and "5 recipients" in h.last_text(org)

    h.deps.clock.set(datetime(2026, 3, 2, 13, 30, tzinfo=UTC))
    assert (await drain(h)).sent == 5
    await progress_job(h.app.bot, h.deps)
    await drain(h)
    assert "Delivered: 5 of 5" in h.last_text(org)


async def test_cancel_a_scheduled_broadcast_sends_nothing(harness: Harness) -> None:
    h = harness
    net = await network(h)
    org = net["organiser"]
    await h.command(org, "/broadcast")
    await h.send(org, "Postponed")
    await h.press(org, "Preview")
    await h.press(org, "Schedule")
    await h.send(org, "2026-03-05 10:00")
    await h.press(org, "Confirm")

    await h.command(org, "/broadcasts")
    await h.press(org, "Cancel #1")
    assert "5 messages not sent yet will stay unsent" in h.last_text(org)
    await h.press(org, "Yes, cancel it")
    assert "Broadcast #1 cancelled: 0 sent, 5 not sent." in h.last_text(org)
    h.deps.clock.advance(days=5)
    assert (await drain(h)).sent == 0
    await progress_job(h.app.bot, h.deps)
    assert not [
        c for c in h.tg.of("copyMessage") if c.params.get("message_id") != 1 and c.chat_id != org.id
    ]
    await h.press(org, "Yes, cancel it")  # again: nothing to cancel
    assert "no longer scheduled or running" in h.tg.alerts()[-1]


async def test_cancel_stops_a_running_broadcast(harness: Harness) -> None:
    h = harness
    city = await make_city(h.deps.db, "Gabès")
    org_tg = next_tg_id()
    await make_official(h.deps.db, city, tg_id=org_tg, role=Role.ORGANISER)
    for i in range(40):
        await make_official(h.deps.db, city, name=f"Official {i}")
    org = TgUser(org_tg)
    await broadcast_now(h, org, "Long announcement")

    original = h.tg.do_request
    copies = 0

    async def cancel_after_five(url: str, method: str, request_data: Any = None, **kw: Any) -> Any:
        nonlocal copies
        if url.endswith("/copyMessage"):
            copies += 1
            if copies == 5:
                await broadcast_progress.cancel(h.deps, org_tg, 1)
        return await original(url, method, request_data, **kw)

    h.tg.do_request = cancel_after_five  # type: ignore[method-assign, assignment]
    # One send in flight, so the cancel (inside the 5th send) commits before the 6th goes;
    # on the fake timer the sender then notices within half a second of pacing (15 sends).
    h.deps.settings.send_concurrency = 1
    stats = await drain(h)

    assert 5 <= stats.sent <= 5 + 16
    async with h.deps.db.transaction() as s:
        by_status = dict(
            (await s.execute(select(Delivery.status, func.count()).group_by(Delivery.status))).all()
        )
    assert by_status[DeliveryStatus.SENT] == stats.sent == copies
    assert by_status[DeliveryStatus.CANCELLED] == 41 - stats.sent
    assert (await drain(h)).sent == 0


async def test_only_organisers_broadcast_and_bad_input_gets_a_clear_answer(
    harness: Harness,
) -> None:
    h = harness
    net = await network(h)
    org = net["organiser"]
    person = net["people"]["gabes_flood"]
    official = TgUser(person.tg_user_id)
    refusal = tr(person.locale, "You are not allowed to do that.")
    await h.command(official, "/broadcast")
    assert h.last_text(official) == refusal
    await h.command(official, "/broadcasts")
    assert h.last_text(official) == refusal
    await h.callback(official, "broadcasts:confirm-cancel:1")
    assert h.tg.alerts()[-1] == refusal

    await h.callback(org, "broadcast:toggle:cities:99999:0")  # no draft open
    assert "no longer active" in h.tg.alerts()[-1]
    await h.callback(org, "broadcasts:confirm-cancel:abc")
    assert "no longer active" in h.tg.last_alert()
    await h.callback(org, "broadcasts:cancel:424242")
    assert "no longer exists" in h.tg.alerts()[-1]

    await h.command(org, "/broadcast")
    await h.send(org, None, sticker=STICKER)
    assert "cannot be broadcast" in h.last_text(org)
    await h.send(org, "x" * 4096)
    await h.callback(org, "broadcast:toggle:cities:99999:0")  # a city that does not exist
    assert "That city is no longer in the list" in h.tg.last_alert()
    await h.callback(org, "broadcast:toggle-code:languages:xx:0")  # a language we do not have
    assert "did not look right" in h.tg.alerts()[-1]
    await h.callback(org, "broadcast:toggle:topics:notanumber:0")
    assert "no longer active" in h.tg.alerts()[-1]
    await h.send(org, "some text while buttons are open")
    assert "Who should receive this broadcast?" in h.last_text(org)

    await h.press(org, "Roles")
    await h.press(org, "admin")
    await h.press(org, "Back")
    await h.press(org, "Cities")
    await h.press(org, "Gabès")
    assert "Nobody" not in h.last_text(org)
    await h.press(org, "Back")
    assert "0 officials will receive it." in h.last_text(org)
    await h.press(org, "Preview")
    assert "Nobody matches this audience" in h.tg.alerts()[-1]
    await h.press(org, "Cancel")
    assert "nothing was sent" in h.last_text(org)
    async with h.deps.db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(Broadcast)) == 0
