"""compose.yaml (issue 17): what it declares, and the commands it runs, run here outside
Docker (there is no Docker engine on this machine): the bot's command with the compose
file's settings, its healthcheck against it, and PostgreSQL's healthcheck."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import PROJECT_ROOT
from tests.harness.fake_server import FakeTelegram
from tests.harness.process import BotProcesses
from tests.test_e2e_webhook import free_port

COMPOSE = PROJECT_ROOT / "compose.yaml"
WAIT = 30.0


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def test_compose_declares_postgres_the_bot_a_webhook_profile_and_a_second_replica() -> None:
    services = compose()["services"]
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["postgres"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    bot, webhook = services["bot"], services["bot-webhook"]
    assert bot["profiles"] == ["polling"] and webhook["profiles"] == ["webhook"]
    for service in (bot, webhook):
        assert service["command"] == ["city-exchange-bot", "run"]
        assert service["depends_on"] == {"postgres": {"condition": "service_healthy"}}
        assert service["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert "@postgres:5432/" in service["environment"]["DATABASE_URL"]
        assert service["healthcheck"]["test"][0] == "CMD"
        assert f":{service['environment']['METRICS_PORT']}/healthz" in " ".join(
            service["healthcheck"]["test"]
        )
    assert webhook["environment"]["WEBHOOK_LISTEN"] == "0.0.0.0"
    # The second replica is there, commented out, as a worker that takes no updates.
    text = COMPOSE.read_text()
    assert '#   command: ["city-exchange-bot", "run", "--no-updates"]' in text
    assert "#   <<: *bot" in text


def healthcheck(service: dict[str, Any], port: int) -> list[str]:
    """The service's healthcheck command, as run here: this Python, the test's port."""
    test = service["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1] == "python"
    metrics_port = service["environment"]["METRICS_PORT"]
    return [sys.executable, *(a.replace(f":{metrics_port}/", f":{port}/") for a in test[2:])]


async def run(cmd: list[str]) -> int:
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return await asyncio.wait_for(proc.wait(), WAIT)


@pytest.mark.e2e
@pytest.mark.parametrize("name", ["bot", "bot-webhook"])
async def test_the_bots_command_and_healthcheck_work(
    fake: FakeTelegram, bots: BotProcesses, e2e_db_url: str, name: str
) -> None:
    service = compose()["services"][name]
    command = service["command"]
    assert command[:2] == ["city-exchange-bot", "run"]
    assert Path(sys.executable).with_name("city-exchange-bot").exists(), "the installed script"
    port = free_port()
    env = {
        k: str(v)
        for k, v in service["environment"].items()
        if k not in ("DATABASE_URL", "METRICS_LISTEN")
    }
    env.update(METRICS_PORT=str(port), METRICS_LISTEN="127.0.0.1")
    if "WEBHOOK_PORT" in env:
        hook = free_port()
        env.update(
            WEBHOOK_URL=f"http://127.0.0.1:{hook}/",
            WEBHOOK_PORT=str(hook),
            WEBHOOK_LISTEN="127.0.0.1",
        )
    check = healthcheck(service, port)
    proc = await bots.start(*command[2:], **env)
    deadline = asyncio.get_running_loop().time() + WAIT
    while await run(check) != 0:  # starting (start_period): migrations, getMe, the sender
        assert asyncio.get_running_loop().time() < deadline, bots.output()
        await asyncio.sleep(0.2)
    assert await bots.stop(proc, signal.SIGTERM) == 0
    assert await run(check) != 0, "a stopped bot fails its healthcheck"


@pytest.mark.skipif(shutil.which("pg_isready") is None, reason="no pg_isready here")
def test_the_postgres_healthcheck_runs(pg_url: str) -> None:
    test = compose()["services"]["postgres"]["healthcheck"]["test"]
    # Inside the container it asks the local server; here the test server at 127.0.0.1.
    assert subprocess.run([*test[1:], "-h", "127.0.0.1"], timeout=WAIT).returncode == 0
