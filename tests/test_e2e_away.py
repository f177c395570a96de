"""End to end, through the real process: an official sets /away with a colleague as deputy, a
question for them goes to the deputy, they come back, and the next question reaches them again;
on return they get one summary."""

from __future__ import annotations

import pytest

from bot.db.engine import Database
from tests.factories import make_city, make_official, make_topic
from tests.harness.fake_server import FakeTelegram
from tests.harness.process import BotProcesses
from tests.harness.updates import TgUser

pytestmark = pytest.mark.e2e

ASKER = TgUser(630001, "Amina", "en")
AWAY = TgUser(630002, "Claire", "en")
DEPUTY = TgUser(630003, "Luc", "en")
WAIT = 20.0


async def nice_and_gabes(url: str) -> None:
    db = Database(url)
    try:
        gabes = await make_city(db, "Gabès")
        nice = await make_city(db, "Nice", "FR", "Europe/Paris", ["fr", "en"])
        flood = await make_topic(db, "flood-risk", names={"en": "Flood risk"})
        heat = await make_topic(db, "heatwaves", names={"en": "Heatwaves"}, position=1)
        await make_official(db, gabes, tg_id=ASKER.id, name="Amina Ben Salah", topics=[flood])
        await make_official(db, nice, tg_id=AWAY.id, name="Claire Martin", topics=[flood])
        # Luc covers another topic: only as Claire's deputy does a flood question reach him.
        await make_official(db, nice, tg_id=DEPUTY.id, name="Luc Bernard", topics=[heat])
    finally:
        await db.dispose()


async def ask(fake: FakeTelegram, text: str) -> None:
    mark = await fake.command(ASKER, "/ask")
    await fake.wait_for(ASKER, contains="Choose the topic", since=mark, within=WAIT)
    mark = await fake.press(ASKER, "Flood risk")
    await fake.wait_for(ASKER, contains="Now send your question", since=mark, within=WAIT)
    mark = await fake.send(ASKER, text)
    await fake.wait_for(ASKER, contains=text, since=mark, within=WAIT)
    mark = await fake.press(ASKER, "Send")
    await fake.wait_for(ASKER, contains="Sent to officials in Nice.", since=mark, within=WAIT)


async def test_away_with_a_deputy_and_back(
    fake: FakeTelegram, bots: BotProcesses, e2e_db_url: str
) -> None:
    code, _out, err = await bots.cli("migrate")
    assert code == 0, err
    await nice_and_gabes(e2e_db_url)
    await bots.start(FOLLOWUP_JOB_SECONDS="0.5")
    for user in (ASKER, AWAY, DEPUTY):
        fake.add_chat(user)

    mark = await fake.command(AWAY, "/away")
    await fake.wait_for(AWAY, contains="From which day will you be away?", since=mark, within=WAIT)
    mark = await fake.press(AWAY, "Today")
    until = await fake.wait_for(
        AWAY, contains="What is the last day away?", since=mark, within=WAIT
    )
    # The first button is the first day itself: away for today only.
    mark = await fake.press(AWAY, until.buttons[0][0])
    await fake.wait_for(AWAY, contains="Who answers questions meanwhile?", since=mark, within=WAIT)
    mark = await fake.press(AWAY, "Luc Bernard")
    await fake.wait_for(AWAY, contains="Your questions go to Luc Bernard", since=mark, within=WAIT)

    await ask(fake, "How do you keep flood sirens working during power cuts?")
    got = await fake.wait_for(DEPUTY, contains="Question on Flood risk", within=WAIT)
    assert "How do you keep flood sirens" in got.body
    assert not any("Question on Flood risk" in m.body for m in fake.sent(AWAY.id))

    mark = await fake.command(AWAY, "/away")
    await fake.wait_for(AWAY, contains="You are away from", since=mark, within=WAIT)
    mark = await fake.press(AWAY, "I am back")
    await fake.wait_for(AWAY, contains="Welcome back: questions reach you again.", within=WAIT)
    summary = await fake.wait_for(AWAY, contains="👋 Welcome back.", since=mark, within=WAIT)
    assert "1 question on your topics reached Nice" in summary.body
    assert "Luc Bernard stood in for you." in summary.body

    await ask(fake, "Which batteries last longest in the cold?")
    got = await fake.wait_for(AWAY, contains="Which batteries last longest", within=WAIT)
    assert "Question on Flood risk" in got.body
    assert fake.duplicates(AWAY) == [] and fake.duplicates(DEPUTY) == []
    logs = bots.output()
    assert "Traceback" not in logs and "level=ERROR" not in logs, logs
