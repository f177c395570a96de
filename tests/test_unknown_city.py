"""A city that does not exist (a stale or forged button) gets the same answer in every place of
the bot that takes a city. (The command line's wording is tested in tests/test_cli_input.py.)"""

from __future__ import annotations

from tests.conftest import ADMIN_TG_ID
from tests.harness.updates import Harness, TgUser, tr
from tests.test_reports import seed_history

ADMIN = TgUser(ADMIN_TG_ID, "Admin")
GONE = 424242  # no city has this id
UNKNOWN_CITY = "That city is no longer in the list. Please choose another one."


async def test_an_unknown_city_has_one_answer_everywhere(harness: Harness) -> None:
    h = harness
    history = await seed_history(h.deps)
    answers: dict[str, str | None] = {}

    await h.command(ADMIN, "/cities")
    await h.callback(ADMIN, f"cities:city:{GONE}:0")
    answers["/cities"] = h.tg.last_alert()

    await h.command(ADMIN, "/invite")
    await h.callback(ADMIN, f"invite:city:{GONE}")
    answers["/invite"] = h.tg.last_alert()

    await h.command(ADMIN, "/broadcast")
    await h.send(ADMIN, "The next workshop is on 3 March.")
    await h.callback(ADMIN, f"broadcast:toggle:cities:{GONE}:0")
    answers["/broadcast"] = h.tg.last_alert()
    await h.command(ADMIN, "/cancel")

    await h.command(ADMIN, "/remind")
    await h.send(ADMIN, "Send your quarterly figures.")
    await h.callback(ADMIN, "reminder:audience:cities")
    await h.callback(ADMIN, f"reminder:toggle:{GONE}:0")
    answers["/remind"] = h.tg.last_alert()
    await h.command(ADMIN, "/cancel")

    await h.command(ADMIN, "/export")
    await h.callback(ADMIN, "export:period:all")
    await h.callback(ADMIN, f"export:toggle:cities:{GONE}:0")
    answers["/export"] = h.tg.last_alert()
    await h.command(ADMIN, "/cancel")

    await h.callback(ADMIN, f"route:city:{history.q2}:{GONE}")
    answers["Route to a city"] = h.tg.last_alert()

    newcomer = TgUser(777001, "Nour", "fr")
    await h.command(newcomer, "/start")
    await h.callback(newcomer, f"registration:pick:{GONE}")
    answers["/start (ask to join)"] = h.tg.last_alert()

    expected = {place: UNKNOWN_CITY for place in answers}
    expected["/start (ask to join)"] = tr("fr", UNKNOWN_CITY)
    assert answers == expected
