"""End to end: one full exchange between officials of two cities, through the real process.

Ask → routed to the peer city → Answer → relayed back → a Telegram reply from the asker →
relayed to the answerer → resolved; the exchange log holds every step.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.db.engine import Database
from bot.db.models import ExchangeMessage, Question, QuestionStatus
from tests.factories import make_city, make_official, make_topic
from tests.harness.fake_server import FakeTelegram
from tests.harness.process import BotProcesses
from tests.harness.updates import TgUser

pytestmark = pytest.mark.e2e

ASKER = TgUser(620001, "Amina", "en")
ANSWERER = TgUser(620002, "Claire", "en")
WAIT = 20.0
QUESTION = "How do you keep flood sirens working during power cuts?"
ANSWER = "Battery-backed sirens, tested every month."
FOLLOW_UP = "Thank you! Who maintains the batteries?"


async def two_cities(url: str) -> None:
    db = Database(url)
    try:
        gabes = await make_city(db, "Gabès")
        nice = await make_city(db, "Nice", "FR", "Europe/Paris", ["fr", "en"])
        flood = await make_topic(
            db, "flood-risk", names={"en": "Flood risk", "fr": "Risque d'inondation"}
        )
        await make_official(db, gabes, tg_id=ASKER.id, name="Amina Ben Salah", topics=[flood])
        await make_official(db, nice, tg_id=ANSWERER.id, name="Claire Martin", topics=[flood])
    finally:
        await db.dispose()


async def log_kinds(url: str) -> tuple[list[str], str]:
    db = Database(url)
    try:
        async with db.transaction() as s:
            kinds = list(
                (await s.scalars(select(ExchangeMessage.kind).order_by(ExchangeMessage.id))).all()
            )
            question = (await s.scalars(select(Question))).one()
            return kinds, question.status
    finally:
        await db.dispose()


async def test_full_exchange_between_two_cities(
    fake: FakeTelegram, bots: BotProcesses, e2e_db_url: str
) -> None:
    code, _out, err = await bots.cli("migrate")
    assert code == 0, err
    await two_cities(e2e_db_url)
    await bots.start()
    fake.add_chat(ASKER)
    fake.add_chat(ANSWERER)

    mark = await fake.command(ASKER, "/ask")
    await fake.wait_for(ASKER, contains="Choose the topic", since=mark, within=WAIT)
    mark = await fake.press(ASKER, "Flood risk")
    await fake.wait_for(ASKER, contains="Now send your question", since=mark, within=WAIT)
    mark = await fake.send(ASKER, QUESTION)
    await fake.wait_for(ASKER, contains=QUESTION, since=mark, within=WAIT)
    mark = await fake.press(ASKER, "Send")
    await fake.wait_for(ASKER, contains="Sent to officials in Nice.", since=mark, within=WAIT)

    got = await fake.wait_for(ANSWERER, contains="Question on Flood risk", within=WAIT)
    assert "From Amina Ben Salah" in got.body and "Gabès" in got.body and QUESTION in got.body
    mark = await fake.press(ANSWERER, "Answer")
    await fake.wait_for(ANSWERER, contains="Send your answer", since=mark, within=WAIT)
    mark = await fake.send(ANSWERER, ANSWER)
    answer = await fake.wait_for(ASKER, contains=ANSWER, since=mark, within=WAIT)
    assert "Claire Martin, Nice" in answer.body
    # The relay is logged (with the id Telegram gave the delivered answer, which a reply is
    # looked up by) right after Telegram answers, then the answerer is told. A person cannot
    # reply within those milliseconds; the test could, so it waits for the confirmation.
    await fake.wait_for(ANSWERER, contains="Sent to Amina Ben Salah", since=mark, within=WAIT)

    # The asker answers with Telegram's own reply, as people do.
    mark = await fake.send(ASKER, FOLLOW_UP, reply_to_message=answer.raw)
    follow = await fake.wait_for(ANSWERER, contains=FOLLOW_UP, since=mark, within=WAIT)
    assert "Amina Ben Salah, Gabès" in follow.body

    mark = await fake.press(ASKER, "Mark resolved")
    await fake.wait_for(ASKER, contains="is marked resolved", since=mark, within=WAIT)
    mark = await fake.press(ASKER, "Thank the helpers")
    await fake.wait_for(ANSWERER, contains="Amina Ben Salah", since=mark, within=WAIT)
    kinds, status = await log_kinds(e2e_db_url)
    assert status == QuestionStatus.RESOLVED
    assert kinds[:2] == ["question", "routing"] and "answer" in kinds and "follow_up" in kinds
    assert kinds[-1] == "resolved"
    assert fake.duplicates(ASKER) == [] and fake.duplicates(ANSWERER) == []
    logs = bots.output()
    assert "Traceback" not in logs and "level=ERROR" not in logs, logs
