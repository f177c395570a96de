"""Errors and odd updates: a button on an inline message is answered, not a crash; the admins get
one alert per kind of error in a window, never one per occurrence; an alert is valid HTML
within one message whatever the traceback holds."""

from __future__ import annotations

from typing import Any

from telegram.constants import MessageLimit

from bot.clock import FakeClock
from bot.db.models import Role
from tests.conftest import ADMIN_TG_ID
from tests.factories import make_city, make_official, make_topic
from tests.harness.telegram import html_error
from tests.harness.updates import Harness, TgUser, tr
from tests.test_callbacks import BUTTONS, largest

STALE = "This button is no longer active."


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
