"""Start-up and memory of the bot next to the bare stack it is built on, in the same run.

    .venv/bin/python -m bench.bench_startup [--rounds 3] [--root DIR]

Three figures, each for the bot and for bench/bare_bot.py (python-telegram-bot, SQLAlchemy
async, aiosqlite, Babel), in alternating rounds on this machine:
- import: seconds to import what `city-exchange-bot run` imports (bot.__main__ and the assembly,
  bot.app) against the bare stack's imports, and the process's resident memory after it;
- polling: seconds from starting the process to its first getUpdates at the fake Bot API
  (tests/harness/fake_server.py, in this process), both polling the same way (SQLite database;
  the bot's was migrated and seeded by a run before the rounds, as on any start but the first);
- idle RSS: the process's resident memory (VmRSS) a few seconds after that, while it polls.
Prints the median of each and the ratio bot / bare (target: within 1.3x). `--root` starts the
bot from another checkout (e.g. an exported copy of an older commit) for a "before" figure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.harness.fake_server import FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456789:BENCH-token-abcdefghijklmnopqrstuvwxyz0123"
IDLE_SECONDS = 5.0
TARGET = 1.3
MEASURE_IMPORT = (
    "import time; t = time.perf_counter(); {imports}; t = time.perf_counter() - t\n"
    "rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]\n"
    "print(t, int(rss) / 1024)\n"
)
IMPORTS = {
    "bot": "import bot.__main__, bot.app",
    "bare": "import bench.bare_bot as b; b.imports()",
}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def env_for(which: str, root: Path, base: str, work: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(work),
        "PYTHONPATH": str(root if which == "bot" else ROOT),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": base,
        "DATABASE_URL": f"sqlite+aiosqlite:///{work / (which + '.db')}",
        "LOG_LEVEL": "WARNING",
    }


def command(which: str) -> list[str]:
    if which == "bot":
        return [sys.executable, "-m", "bot", "run", "--poll-timeout", "2"]
    return [sys.executable, str(ROOT / "bench" / "bare_bot.py"), "run"]


async def measure_import(which: str, env: dict[str, str], work: Path) -> tuple[float, float]:
    code = MEASURE_IMPORT.format(imports=IMPORTS[which])
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, cwd=work, env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    seconds, rss = out.decode().split()
    return float(seconds), float(rss)


async def measure_run(
    which: str, fake: FakeTelegram, env: dict[str, str], work: Path
) -> tuple[float, float]:
    """(seconds to the first getUpdates, idle RSS in MB)."""
    mark = fake.mark()
    began = time.monotonic()  # the fake's clock
    with (work / f"{which}.log").open("ab") as log:
        proc = await asyncio.create_subprocess_exec(
            *command(which), cwd=work, env=env, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
    try:
        first = await fake.wait_polling(since=mark, within=60)
        await asyncio.sleep(IDLE_SECONDS)
        rss = rss_mb(proc.pid)
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
    return first.at - began, rss


async def run(args: argparse.Namespace, root: Path) -> None:
    figures: dict[str, dict[str, list[float]]] = {
        w: {"import": [], "import_rss": [], "polling": [], "idle_rss": []} for w in ("bot", "bare")
    }
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        work = Path(tmp)
        async with FakeTelegram(TOKEN, rate=None) as fake:
            envs = {w: env_for(w, root, fake.base_url, work) for w in ("bot", "bare")}
            await measure_run("bot", fake, envs["bot"], work)  # migrates and seeds once
            for _ in range(args.rounds):
                for which in ("bot", "bare"):
                    seconds, rss = await measure_import(which, envs[which], work)
                    figures[which]["import"].append(seconds)
                    figures[which]["import_rss"].append(rss)
                    seconds, rss = await measure_run(which, fake, envs[which], work)
                    figures[which]["polling"].append(seconds)
                    figures[which]["idle_rss"].append(rss)
    print(f"# bot from {root}, {args.rounds} rounds; load average {os.getloadavg()[0]:.2f}")
    units = {"import": "s", "import_rss": "MB", "polling": "s", "idle_rss": "MB"}
    for name, unit in units.items():
        bot, bare = (statistics.median(figures[w][name]) for w in ("bot", "bare"))
        spread = "/".join(f"{v:.2f}" if unit == "s" else f"{v:.0f}" for v in figures["bot"][name])
        bare_spread = "/".join(
            f"{v:.2f}" if unit == "s" else f"{v:.0f}" for v in figures["bare"][name]
        )
        value = f"{bot:.2f} {unit}" if unit == "s" else f"{bot:.0f} {unit}"
        base = f"{bare:.2f} {unit}" if unit == "s" else f"{bare:.0f} {unit}"
        print(f"# {name}: bot {spread}, bare {bare_spread}")
        print(
            f"bench_startup_{name}: {value} (bare stack {base}), "
            f"ratio {bot / bare:.2f}x (target {TARGET}x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--root", default=None, help="the checkout whose bot to start")
    args = parser.parse_args()
    asyncio.run(run(args, Path(args.root).resolve() if args.root else ROOT))


if __name__ == "__main__":
    main()
