"""End to end: the real bot process, started as a user starts it, against the fake Bot API.

The bot runs as `python -m bot run` (what the `city-exchange-bot` script runs) in a temporary
directory, so no `.env` is read; settings come from the environment only. Every wait is
event based (the fake server wakes the test on each message), never a fixed sleep.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.db.engine import Database
from bot.db.models import City, DialogState, Official, OfficialStatus, OfficialTopic
from tests.harness.fake_server import FakeTelegram
from tests.harness.process import (
    TOKEN,
    BotProcesses,
    base_env,
)
from tests.harness.updates import TgUser

pytestmark = pytest.mark.e2e

USER = TgUser(610001, "Amina", "en")
TOPIC = "Organising for resilience"
WAIT = 20.0  # seconds for one expected reply; generous for a loaded CI machine


def has_button(label: str) -> object:
    return lambda m: any(label == text for text, _ in m.buttons)


async def official_row(url: str, tg_id: int) -> tuple[Official | None, int, str | None, bool]:
    db = Database(url)
    try:
        async with db.transaction() as s:
            row = await s.scalar(select(Official).where(Official.tg_user_id == tg_id))
            if row is None:
                return None, 0, None, False
            topics = await s.scalar(
                select(func.count())
                .select_from(OfficialTopic)
                .where(OfficialTopic.official_id == row.id)
            )
            city = await s.get(City, row.city_id)
            dialog_open = await s.get(DialogState, tg_id) is not None
            return row, int(topics or 0), city.name if city else None, dialog_open
    finally:
        await db.dispose()


async def test_registration_survives_kill_and_restart(
    fake: FakeTelegram, bots: BotProcesses, e2e_db_url: str
) -> None:
    code, out, _err = await bots.cli("seed")
    assert code == 0 and "cities: 16 added" in out
    code, out, err = await bots.cli("invite", "--city", "Gabès")
    assert code == 0, err
    link = re.search(r"https://t\.me/CityExchangeTestBot\?start=([A-Za-z0-9_-]+)", out)
    assert link, out
    invite = link.group(1)

    # first process: invite link, city, name, then killed without warning
    first = await bots.start()
    mark = await fake.command(USER, f"/start {invite}")
    await fake.wait_for(USER, contains="Hello! I am the City Exchange bot", since=mark, within=WAIT)
    city = await fake.wait_for(USER, contains="Is that your city?", since=mark, within=WAIT)
    assert "Gabès (Tunisia)" in city.body and has_button("Yes, that's my city")(city)
    mark = await fake.press(USER, "Yes, that's my city")
    await fake.wait_for(USER, contains="What is your full name?", since=mark, within=WAIT)
    mark = await fake.send(USER, "Amina Ben Salah")
    await fake.wait_for(USER, contains="What is your position?", since=mark, within=WAIT)
    await fake.wait_confirmed(within=WAIT)  # else the restarted bot would get the name again
    assert await bots.stop(first, signal.SIGKILL) == -signal.SIGKILL

    # second process: position and a topic, then a graceful stop
    second = await bots.start()
    mark = await fake.send(USER, "Head of civil protection")
    topics = await fake.wait_for(
        USER, contains="Which topics do you work on?", since=mark, within=WAIT
    )
    assert has_button(f"▫️ {TOPIC}")(topics)
    mark = await fake.press(USER, TOPIC)
    await fake.wait_for(USER, has_button(f"✅ {TOPIC}"), since=mark, within=WAIT)
    await fake.wait_confirmed(within=WAIT)
    assert await bots.stop(second, signal.SIGTERM) == 0

    # third process: languages, privacy, done
    third = await bots.start()
    mark = await fake.press(USER, "Done")
    langs = await fake.wait_for(
        USER, contains="Which languages can you work in?", since=mark, within=WAIT
    )
    assert has_button("✅ English")(langs) and has_button("▫️ Français")(langs)
    mark = await fake.press(USER, "Français")
    await fake.wait_for(USER, has_button("✅ Français"), since=mark, within=WAIT)
    mark = await fake.press(USER, "Done")
    await fake.wait_for(USER, contains="<b>Privacy</b>", since=mark, within=WAIT)
    mark = await fake.press(USER, "I accept")
    await fake.wait_for(
        USER,
        contains="Welcome, Amina Ben Salah! You are registered for Gabès (Tunisia).",
        since=mark,
        within=WAIT,
    )
    await fake.wait_for(USER, contains="What you can do", since=mark, within=WAIT)
    assert await bots.stop(third, signal.SIGTERM) == 0

    row, topic_count, city_name, dialog_open = await official_row(e2e_db_url, USER.id)
    assert row is not None, fake.transcript()
    assert row.status == OfficialStatus.ACTIVE
    assert (row.name, row.position, row.locale) == (
        "Amina Ben Salah",
        "Head of civil protection",
        "en",
    )
    assert row.languages == ["en", "fr"]
    assert (topic_count, city_name, dialog_open) == (1, "Gabès", False)

    texts = fake.texts(USER)
    assert fake.duplicates(USER) == [], fake.transcript(USER)
    assert not any(
        "Sorry, something went wrong" in t or "Please use the buttons" in t for t in texts
    ), fake.transcript(USER)
    assert fake.of("setMyCommands"), "the bot registers its commands at start"
    # the only refused calls: long polls of the killed process, ended by the next poller
    refused = [
        f"{c.method} {c.status} {c.description}"
        for c in fake.calls
        if not c.ok and c.method != "getUpdates"
    ]
    assert refused == [], refused
    logs = bots.output()
    assert TOKEN not in logs and TOKEN.split(":")[1] not in logs
    assert "Traceback" not in logs and "level=ERROR" not in logs, logs


BAD_STARTS = [
    pytest.param({"TELEGRAM_BOT_TOKEN": ""}, "TELEGRAM_BOT_TOKEN is not set", 2, id="no-token"),
    pytest.param(
        {"TELEGRAM_BOT_TOKEN": "12345:not-a-token"},
        "TELEGRAM_BOT_TOKEN is malformed",
        2,
        id="malformed-token",
    ),
    pytest.param(
        {"TELEGRAM_API_BASE_URL": "127.0.0.1:8081"},
        "TELEGRAM_API_BASE_URL",
        2,
        id="url-without-scheme",
    ),
    pytest.param(
        {"TELEGRAM_API_BASE_URL": "http://127.0.0.1:notaport"},
        "TELEGRAM_API_BASE_URL",
        2,
        id="url-bad-port",
    ),
    pytest.param(
        {"TELEGRAM_BOT_TOKEN": "987654321:AAE-rejected-token-abcdefghijklmnopq"},
        "TELEGRAM_BOT_TOKEN was rejected by the Bot API",
        2,
        id="rejected-token",
    ),
]


@pytest.mark.parametrize(("overrides", "expected", "exit_code"), BAD_STARTS)
async def test_bad_configuration_stops_with_one_line(
    tmp_path: Path, fake: FakeTelegram, overrides: dict[str, str], expected: str, exit_code: int
) -> None:
    env = base_env(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=fake.base_url,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
    )
    env.update(overrides)
    if not env["TELEGRAM_BOT_TOKEN"]:
        del env["TELEGRAM_BOT_TOKEN"]
    procs = BotProcesses(tmp_path, env)
    code, out, err = await procs.cli("run", "--poll-timeout", "1")
    assert code == exit_code
    lines = err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], err
    assert "Traceback" not in err and out == ""
    for secret in (TOKEN, overrides.get("TELEGRAM_BOT_TOKEN")):
        if secret:
            assert secret not in err and secret.split(":")[-1] not in err


async def test_unreachable_bot_api_stops_with_one_line(tmp_path: Path) -> None:
    server = FakeTelegram(TOKEN)
    await server.start()
    url = server.base_url
    await server.stop()  # nothing listens on that port any more
    env = base_env(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=url,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
    )
    code, _out, err = await BotProcesses(tmp_path, env).cli("run")
    assert code == 1
    assert err.strip().splitlines() == [err.strip()] and "cannot reach the Bot API" in err
    assert TOKEN not in err
