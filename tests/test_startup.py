"""Start-up: the heavy libraries load when first used, not when the bot starts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests import PROJECT_ROOT

# Loaded on first use: the /stats chart, XLSX exports, the outbox's HTTP client, migrations,
# the command line's progress bar.
HEAVY = ("matplotlib", "openpyxl", "xlsxwriter", "aiohttp", "alembic", "tqdm")


def loaded_after(code: str) -> set[str]:
    """The heavy top-level packages in sys.modules after running `code` in a fresh interpreter."""
    names = "sorted({m.split('.')[0] for m in sys.modules})"
    probe = f"{code}\nimport json, sys\nprint(json.dumps({names}))"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(json.loads(done.stdout.splitlines()[-1])) & set(HEAVY)


def test_importing_the_entry_point_and_the_assembly_loads_no_heavy_library() -> None:
    # What `city-exchange-bot run` imports before it polls: the CLI and the application.
    assert loaded_after("import bot.__main__, bot.app") == set()


def test_a_start_on_a_database_at_the_newest_schema_does_not_load_alembic(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    migrate = (
        "import asyncio\n"
        "from bot.cli_common import migrate\n"
        "from bot.config import Settings\n"
        f"asyncio.run(migrate(Settings(_env_file=None, database_url={url!r})))"
    )
    assert loaded_after(migrate) == {"alembic"}  # a new database: migrated by Alembic
    assert loaded_after(migrate) == set()  # then at the head: one query, no Alembic


def test_the_heavy_libraries_are_there_when_first_used() -> None:
    """The lazy imports are real imports: each library loads where it is used."""
    assert loaded_after(
        "import datetime\n"
        "from bot import charts\n"
        "charts.weekly_chart([datetime.date(2026, 1, 5)], {'drr': [1]}, {'drr': [0]},"
        " title='t', questions_label='q', answers_label='a', week_label='w')"
    ) == {"matplotlib"}
