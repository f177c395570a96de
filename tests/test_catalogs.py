"""Every user-facing string is translated in every language, with the same placeholders."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot import PROJECT_ROOT
from bot.i18n import SUPPORTED_LOCALES

LOCALES = [loc for loc in SUPPORTED_LOCALES if loc != "en"]
PLACEHOLDER = re.compile(r"\{(\w+)\}")
TAG = re.compile(r"</?(b|i|u|s|code|pre|a)\b[^>]*>")


def load(locale: str):  # type: ignore[no-untyped-def]
    with (PROJECT_ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=locale)


def extracted_ids(tmp_path: Path) -> set[str]:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "pyproject.toml",
            "-k",
            "N_",
            "-k",
            "ngettext:1,2",
            "--no-location",
            "-o",
            str(pot),
            "bot",
            "handlers",
        ],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as fh:
        catalog = read_po(fh)
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_complete(locale: str, tmp_path: Path) -> None:
    catalog = load(locale)
    wanted = extracted_ids(tmp_path)
    have = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
    missing = sorted(wanted - have.keys())
    assert not missing, (
        f"{locale}: not in the catalogue (run the update command in README): {missing[:10]}"
    )
    problems = []
    for msgid in sorted(wanted):
        message = have[msgid]
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        if message.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
        if not all(strings):
            problems.append(f"untranslated: {msgid!r}")
            continue
        want = set(PLACEHOLDER.findall(ids[0]))
        for s in strings:
            if set(PLACEHOLDER.findall(s)) != want:
                problems.append(f"placeholders differ: {msgid!r} -> {s!r}")
            if sorted(TAG.findall(s)) != sorted(TAG.findall(ids[0])):
                problems.append(f"HTML tags differ: {msgid!r} -> {s!r}")
        if len(ids[0]) > 25 and strings[0] == ids[0]:
            problems.append(f"left in English: {msgid!r}")
    assert not problems, f"{locale}: " + "\n".join(problems[:20])


def test_catalogs_compile_and_render_placeholders() -> None:
    from bot.i18n import _, load_catalogs, use_locale

    load_catalogs()
    for locale in LOCALES:
        with use_locale(locale):
            text = _("Welcome, {name}! You are registered for {city}.").format(name="N", city="C")
        assert "N" in text and "C" in text and text != "Welcome, N! You are registered for C."
