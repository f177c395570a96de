"""End to end, webhook mode: the real process serves updates over HTTP and the fake Bot API
pushes them. Nobody who reaches the URL without the secret token can act as anyone (an admin
included); the secret, made at start or configured, never appears in the process's output,
even at DEBUG level."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import time
from typing import Any

import pytest
from aiohttp import ClientSession, ClientTimeout
from sqlalchemy import select

from bot.db.engine import Database
from bot.db.models import Base
from tests.harness.fake_server import FakeTelegram
from tests.harness.process import ADMIN_ID, BotProcesses
from tests.harness.updates import TgUser

pytestmark = pytest.mark.e2e

WAIT = 20.0
HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32,256}$")
READY = TgUser(620001, "Ready")
ATTACKER_AS = TgUser(620002, "Mallory")  # any user id the attacker picks
ADMIN = TgUser(ADMIN_ID, "Admin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def message_update(update_id: int, user: TgUser, text: str) -> dict[str, Any]:
    """What Telegram would post for a message (forged here: the attacker writes it)."""
    entities = (
        [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        if text.startswith("/")
        else []
    )
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": user.chat(),
            "from": user.to_dict(),
            "text": text,
            "entities": entities,
        },
    }


async def post(port: int, update: dict[str, Any], secret: str | None) -> int:
    headers = {} if secret is None else {HEADER: secret}
    async with (
        ClientSession(timeout=ClientTimeout(total=WAIT)) as session,
        session.post(f"http://127.0.0.1:{port}/telegram", json=update, headers=headers) as resp,
    ):
        return resp.status


async def every_row(url: str) -> dict[str, list[str]]:
    """Every row of every table the models know, as text."""
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            return {
                table.name: sorted(repr(tuple(r)) for r in await conn.execute(select(table)))
                for table in Base.metadata.sorted_tables
            }
    finally:
        await db.dispose()


async def start_webhook(
    bots: BotProcesses, fake: FakeTelegram, **env: str
) -> tuple[asyncio.subprocess.Process, int, str]:
    """`run` in webhook mode at DEBUG level; (the process, its port, the secret it gave
    setWebhook) once it has handled an update the fake pushed with that secret."""
    port = free_port()
    mark = fake.mark()
    proc = await bots.start(
        WEBHOOK_URL=f"http://127.0.0.1:{port}/",
        WEBHOOK_PORT=str(port),
        LOG_LEVEL="DEBUG",
        **env,
    )
    call = await fake.wait_call("setWebhook", since=mark, within=WAIT)
    assert call.params["url"] == f"http://127.0.0.1:{port}/telegram"
    secret = call.params.get("secret_token")
    assert isinstance(secret, str) and secret == fake.webhook_secret
    mark = await fake.command(READY, "/help")
    await fake.wait_for(READY, contains="/language", since=mark, within=WAIT)
    return proc, port, secret


async def test_webhook_refuses_updates_without_the_secret_it_made(
    fake: FakeTelegram, bots: BotProcesses, e2e_db_url: str
) -> None:
    code, out, err = await bots.cli("seed")
    assert code == 0, err
    code, out, err = await bots.cli("invite", "--city", "Gabès")
    assert code == 0, err
    link = re.search(r"\?start=([A-Za-z0-9_-]+)", out)
    assert link, out
    joining = message_update(90001, ATTACKER_AS, f"/start {link.group(1)}")
    as_admin = message_update(90002, ADMIN, "/invite")

    # WEBHOOK_SECRET unset: the process makes one and registers it with setWebhook.
    proc, port, secret = await start_webhook(bots, fake)
    assert SECRET_SHAPE.match(secret), "a strong secret, in the characters Telegram accepts"
    before = await every_row(e2e_db_url)
    wrong = secret[::-1] if secret[::-1] != secret else secret + "x"
    for update in (joining, as_admin):
        assert await post(port, update, None) == 403
        assert await post(port, update, wrong) == 403
    assert await every_row(e2e_db_url) == before
    assert fake.sent(ATTACKER_AS) == [] and fake.sent(ADMIN) == []

    # With the secret (as Telegram sends it), the same update is handled.
    mark = fake.mark()
    assert await post(port, joining, secret) == 200
    await fake.wait_for(
        ATTACKER_AS, contains="Hello! I am the City Exchange bot", since=mark, within=WAIT
    )
    assert await every_row(e2e_db_url) != before

    assert await bots.stop(proc, signal.SIGTERM) == 0
    output = bots.output()
    assert "setWebhook" in output, "DEBUG logging was on"
    assert secret not in output


async def test_a_configured_secret_is_used_and_never_logged(
    fake: FakeTelegram, bots: BotProcesses
) -> None:
    configured = "Configured_secret-" + "s3cr3t" * 8
    proc, port, secret = await start_webhook(bots, fake, WEBHOOK_SECRET=configured)
    assert secret == configured
    assert await post(port, message_update(90003, ADMIN, "/help"), None) == 403
    assert await bots.stop(proc, signal.SIGTERM) == 0
    output = bots.output()
    assert "setWebhook" in output, "DEBUG logging was on"
    assert configured not in output
    assert "'secret_token': '<webhook secret>'" in output

    # A secret Telegram would refuse stops the start with one line that does not repeat it.
    code, out, err = await bots.cli("run", env={**bots.env, "WEBHOOK_SECRET": "no spaces allowed"})
    assert code == 2
    assert err.strip().splitlines() == [
        "configuration error: WEBHOOK_SECRET: expected 1 to 256 characters: "
        "letters A-Z a-z, digits, _ and -"
    ]
