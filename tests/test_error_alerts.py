"""Errors and odd updates: a button on an inline message is answered, not a crash; the admins get
one alert per kind of error in a window, never one per occurrence, however many replicas meet
it; an alert is valid HTML within one message whatever the traceback holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select
from telegram.constants import MessageLimit

from bot.app import build_application
from bot.clock import FakeClock
from bot.db.engine import Database
from bot.db.models import AlertWindow, Role
from bot.runtime import Deps
from tests.conftest import ADMIN_TG_ID
from tests.factories import make_city, make_official, make_topic
from tests.harness.outbox import FakeTimer
from tests.harness.telegram import RecordingRequest, html_error
from tests.harness.updates import Harness, TgUser, tr
from tests.test_callbacks import BUTTONS, largest

STALE = "This button is no longer active."
APOLOGY = "Sorry, something went wrong on our side. Please try again in a moment."


def errors_reaching_the_handler(h: Harness) -> list[BaseException | None]:
    seen: list[BaseException | None] = []

    async def record(update: object, context: Any) -> None:
        seen.append(context.error)

    h.app.add_error_handler(record)
    return seen


def admin_alerts(h: Harness) -> list[str]:
    return h.texts(ADMIN_TG_ID)


async def test_a_button_on_an_inline_message_is_answered_and_reaches_no_error_handler(
    harness: Harness,
) -> None:
    h = harness
    errors = errors_reaching_the_handler(h)
    city = await make_city(h.deps.db, "Kasserine")
    topic = await make_topic(h.deps.db, "flood-risk")
    organiser = await make_official(
        h.deps.db, city, topics=[topic], role=Role.ORGANISER, locale="fr"
    )
    people = [(TgUser(ADMIN_TG_ID, "Admin"), "en"), (TgUser(organiser.tg_user_id, "O"), "fr")]
    for user, locale in people:
        for kind in BUTTONS:
            await h.inline_callback(user, largest(kind).encode())
            assert h.tg.last_alert() == tr(locale, STALE), kind.__name__
    assert errors == []
    assert h.tg.sent() == [], "nothing is sent or edited for a button on an inline message"


async def test_fifty_errors_of_one_kind_give_one_alert_and_another_kind_its_own(
    harness: Harness, clock: FakeClock
) -> None:
    h = harness
    flooder, other = TgUser(610001, "F"), TgUser(610002, "O")
    h.tg.fail(502, "Bad Gateway", method="sendMessage", chat_id=flooder.id, times=None)
    for _ in range(50):
        await h.command(flooder, "/help")
    alerts = admin_alerts(h)
    assert len(alerts) == 1, h.transcript()
    assert "NetworkError" in alerts[0] and "in send_text" in alerts[0]
    assert "more error" not in alerts[0]

    # Another kind: the same exception type met in another place (an edit, not a send).
    await h.command(other, "/language")
    h.tg.fail(502, "Bad Gateway", method="editMessageText", chat_id=other.id, times=None)
    await h.press(other, "Français")
    alerts = admin_alerts(h)
    assert len(alerts) == 2 and "in show" in alerts[1]

    # Still within the window: counted, not sent.
    clock.advance(minutes=4)
    await h.command(flooder, "/help")
    assert len(admin_alerts(h)) == 2

    # Once the window is over, the next one is sent and says how many were not.
    clock.advance(minutes=1)
    await h.command(flooder, "/help")
    alerts = admin_alerts(h)
    assert len(alerts) == 3
    assert "50 more errors of this kind since the previous alert were not sent." in alerts[2]
    assert "in send_text" in alerts[2]


async def test_an_alert_with_a_long_traceback_is_valid_html_within_one_message(
    harness: Harness,
) -> None:
    h = harness
    user = TgUser(610003, "U")
    h.tg.fail(400, "Bad Request: " + "<&" * 2500, method="sendMessage", chat_id=user.id, times=1)
    await h.command(user, "/help")
    calls = h.tg.of("sendMessage", ADMIN_TG_ID)
    assert len(calls) == 1 and calls[0].ok, h.transcript()
    alert = calls[0].text or ""
    assert html_error(alert) is None
    assert len(alert) <= MessageLimit.MAX_TEXT_LENGTH
    assert "<code>BadRequest</code>" in alert
    # the frames, then the start of the exception's own (long) line, escaped after the cut
    assert "in send_text\n" in alert
    assert "telegram.error.BadRequest: &lt;&amp;&lt;&amp;" in alert


@asynccontextmanager
async def replica(h: Harness, db: Database, timer: FakeTimer) -> AsyncIterator[Harness]:
    """Another process of the bot on `db`, talking to the same Telegram as `h`."""
    deps = Deps(settings=h.deps.settings, db=db, clock=h.deps.clock)
    tg = h.tg
    assert isinstance(tg, RecordingRequest)
    app = build_application(deps, request=tg, get_updates_request=tg, background=False, timer=timer)
    await app.initialize()
    try:
        yield Harness(app, tg)
    finally:
        await app.shutdown()


async def test_an_error_met_by_two_replicas_gives_one_alert_that_counts_both(
    harness: Harness, clock: FakeClock, timer: FakeTimer
) -> None:
    h = harness
    first, second = TgUser(610011, "F"), TgUser(610012, "S")
    for user in (first, second):
        h.tg.fail(502, "Bad Gateway", method="sendMessage", chat_id=user.id, times=None)
    async with replica(h, h.deps.db, timer) as other:
        await h.command(first, "/help")
        assert len(admin_alerts(h)) == 1, h.transcript()

        # The same kind of error in the other process: counted, not alerted again.
        for _ in range(3):
            await other.command(second, "/help")
        assert len(admin_alerts(h)) == 1, h.transcript()

        # After the window, the next one is alerted, with every error not alerted meanwhile.
        clock.advance(seconds=h.deps.settings.error_alert_window_seconds)
        await other.command(second, "/help")
        alerts = admin_alerts(h)
        assert len(alerts) == 2, h.transcript()
        assert "3 more errors of this kind since the previous alert were not sent." in alerts[1]

        # The first process's window is over too, but the other one's alert opened a new one.
        await h.command(first, "/help")
        assert len(admin_alerts(h)) == 2, h.transcript()
    async with h.deps.db.read() as session:
        windows = (await session.scalars(select(AlertWindow))).all()
    assert [(w.kind.split("@")[0], w.suppressed) for w in windows] == [
        ("telegram.error.NetworkError", 1)
    ]


async def test_a_replica_whose_database_fails_still_alerts_the_admins(
    harness: Harness, timer: FakeTimer, tmp_path: Path
) -> None:
    h = harness
    user = TgUser(610013, "U")
    down = Database(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'bot.db'}")
    try:
        async with replica(h, down, timer) as broken:
            await broken.command(user, "/help")
    finally:
        await down.dispose()
    alerts = admin_alerts(h)
    assert len(alerts) == 1, h.transcript()
    assert "OperationalError" in alerts[0]
    assert h.texts(user) == [APOLOGY]
