"""End to end: an organiser invite makes an organiser, through the real process.

Both ways of making one: `city-exchange-bot invite --role organiser` on the command line, and
/invite in the bot by an admin. Each invitee goes through every registration step; then /help
shows the organisers' section and /broadcast is theirs to use.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.db.engine import Database
from bot.db.models import Official
from tests.harness.fake_server import FakeTelegram
from tests.harness.process import ADMIN_ID, BotProcesses
from tests.harness.updates import TgUser

pytestmark = pytest.mark.e2e

ADMIN = TgUser(ADMIN_ID, "Admin", "en")
FROM_CLI = TgUser(630001, "Lucia", "en")
FROM_BOT = TgUser(630002, "Karim", "en")
TOPIC = "Organising for resilience"
WAIT = 20.0
LINK = re.compile(r"https://t\.me/CityExchangeTestBot\?start=([A-Za-z0-9_-]+)")


async def register(fake: FakeTelegram, user: TgUser, code: str, name: str) -> None:
    """Every step of registration through an invite link."""
    mark = await fake.command(user, f"/start {code}")
    await fake.wait_for(user, contains="Is that your city?", since=mark, within=WAIT)
    steps = [
        ("press", "Yes, that's my city", "What is your full name?"),
        ("send", name, "What is your position?"),
        ("send", "Head of civil protection", "Which topics do you work on?"),
        ("press", TOPIC, f"✅ {TOPIC}"),
        ("press", "Done", "Which languages can you work in?"),
        ("press", "Done", "<b>Privacy</b>"),
        ("press", "I accept", f"Welcome, {name}!"),
    ]
    for how, what, expect in steps:
        mark = await (fake.press(user, what) if how == "press" else fake.send(user, what))
        await fake.wait_for(
            user,
            lambda m, expect=expect: expect in m.body or any(expect == t for t, _ in m.buttons),
            since=mark,
            within=WAIT,
        )


async def roles(url: str) -> dict[int, str]:
    db = Database(url)
    try:
        async with db.transaction() as s:
            rows = (await s.execute(select(Official.tg_user_id, Official.role))).all()
            return {tg_id: str(role) for tg_id, role in rows}
    finally:
        await db.dispose()


async def test_organiser_invites_make_organisers(
    fake: FakeTelegram, bots: BotProcesses, e2e_db_url: str
) -> None:
    code, out, err = await bots.cli("seed")
    assert code == 0, err
    code, out, err = await bots.cli("invite", "--city", "Gabès", "--role", "organiser")
    assert code == 0, err
    from_cli = LINK.search(out)
    assert from_cli, out

    await bots.start()
    mark = await fake.command(ADMIN, "/invite")
    await fake.wait_for(ADMIN, contains="For which city?", since=mark, within=WAIT)
    mark = await fake.press(ADMIN, "Nice (FR)")
    await fake.wait_for(ADMIN, contains="Invite to Nice as:", since=mark, within=WAIT)
    mark = await fake.press(ADMIN, "organiser")
    await fake.wait_for(ADMIN, contains="How many people", since=mark, within=WAIT)
    mark = await fake.press(ADMIN, "Unlimited")
    made = await fake.wait_for(ADMIN, contains="Role: organiser", since=mark, within=WAIT)
    from_bot = LINK.search(made.body)
    assert from_bot, made.body

    await register(fake, FROM_CLI, from_cli.group(1), "Lucia Bianchi")
    await register(fake, FROM_BOT, from_bot.group(1), "Karim Haddad")

    for user in (FROM_CLI, FROM_BOT):
        mark = await fake.command(user, "/help")
        shown = await fake.wait_for(user, contains="What you can do", since=mark, within=WAIT)
        assert "<b>Organisers</b>" in shown.body and "/broadcast" in shown.body, shown.body
        mark = await fake.command(user, "/broadcast")
        # The help that ends registration may still be on its way (a chat gets one message a
        # second): the answer to /broadcast is the first other message.
        answer = await fake.wait_for(
            user, lambda m: "What you can do" not in m.body, since=mark, within=WAIT
        )
        assert answer.body.startswith("Send me the message to broadcast"), answer.body

    assert await roles(e2e_db_url) == {FROM_CLI.id: "organiser", FROM_BOT.id: "organiser"}
    assert not any("not allowed" in t for u in (FROM_CLI, FROM_BOT) for t in fake.texts(u))
    logs = bots.output()
    assert "Traceback" not in logs and "level=ERROR" not in logs, logs
