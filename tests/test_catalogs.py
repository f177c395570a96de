"""Every user-facing string is translated in every language, with the same placeholders, and
every count in every plural form the language has."""

from __future__ import annotations

import gettext
import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from bot.i18n import SUPPORTED_LOCALES
from tests import PROJECT_ROOT

LOCALES = [loc for loc in SUPPORTED_LOCALES if loc != "en"]
PLACEHOLDER = re.compile(r"\{(\w+)\}")
TAG = re.compile(r"</?(b|i|u|s|code|pre|a)\b[^>]*>")


def po_path(locale: str) -> Path:
    return PROJECT_ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po"


def load(locale: str) -> Catalog:
    with po_path(locale).open("rb") as fh:
        return read_po(fh, locale=locale)


# Counts the bot shows stay far below a million (where CLDR gives fr, it, es a third form).
COUNTS = range(0, 20_000)


def plural_classes(expr: str) -> list[frozenset[int]]:
    """Which counts share a form under a gettext plural expression, form by form."""
    index = gettext.c2py(expr)
    classes: dict[int, set[int]] = {}
    for n in COUNTS:
        classes.setdefault(index(n), set()).add(n)
    return [frozenset(classes.get(i, set())) for i in range(max(classes) + 1)]


def plural_problems(catalog: Catalog, message: Any) -> list[str]:
    """A plural entry needs every form of the catalogue's Plural-Forms, each filled, each with
    the placeholders of the English; a form used for one number only (Arabic: 0, 1, 2) may say
    the number in words and leave its placeholder out ("موظف واحد", not "1 موظف")."""
    msgid = message.id[0]
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    want = set(PLACEHOLDER.findall(msgid))
    classes = plural_classes(catalog.plural_expr)
    problems = []
    for form in range(catalog.num_plurals):
        text = strings[form] if form < len(strings) else ""
        if not text:
            problems.append(f"missing plural form {form}: {msgid!r}")
            continue
        have = set(PLACEHOLDER.findall(text))
        one_number = form < len(classes) and len(classes[form]) == 1
        if have != want and not (one_number and have < want):
            problems.append(f"placeholders differ in form {form}: {msgid!r} -> {text!r}")
    return problems


def catalogue_problems(catalog: Catalog, wanted: set[str]) -> list[str]:
    have = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
    problems = []
    for msgid in sorted(wanted):
        message = have[msgid]
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        if message.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
        if isinstance(message.id, tuple):
            problems += plural_problems(catalog, message)
        elif not strings[0]:
            problems.append(f"untranslated: {msgid!r}")
            continue
        elif set(PLACEHOLDER.findall(strings[0])) != set(PLACEHOLDER.findall(ids[0])):
            problems.append(f"placeholders differ: {msgid!r} -> {strings[0]!r}")
        for s in strings:
            if s and sorted(TAG.findall(s)) != sorted(TAG.findall(ids[0])):
                problems.append(f"HTML tags differ: {msgid!r} -> {s!r}")
        if len(ids[0]) > 25 and strings[0] == ids[0]:
            problems.append(f"left in English: {msgid!r}")
    return problems


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
    have = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
    missing = sorted(wanted - have)
    assert not missing, (
        f"{locale}: not in the catalogue (run the update command in README): {missing[:10]}"
    )
    problems = catalogue_problems(catalog, wanted)
    assert not problems, f"{locale}: " + "\n".join(problems[:20])


@pytest.mark.parametrize("locale", LOCALES)
def test_plural_forms_tell_apart_the_counts_cldr_does(locale: str) -> None:
    """The catalogue's Plural-Forms gives a count the form CLDR's rules give it (Arabic: six
    forms, zero, one, two, 3-10, 11-99 and 100-102 apart), whatever order it numbers them in."""
    catalog = load(locale)
    cldr = get_plural(locale)
    ours = {c for c in plural_classes(catalog.plural_expr) if c}
    theirs = {c for c in plural_classes(cldr.plural_expr) if c}
    assert ours == theirs, f"{locale}: Plural-Forms {catalog.plural_forms} vs CLDR {cldr}"
    if locale == "ar":
        assert catalog.num_plurals == 6


def test_a_missing_or_numberless_plural_form_is_caught() -> None:
    """The check above fails on an Arabic entry that lost a form, or whose form for 3-10 lost
    its number (only forms for one number may say it in words)."""
    po = po_path("ar").read_text(encoding="utf-8")
    entry = re.search(r'msgid "\{count\} official"\nmsgid_plural .*?\n\n', po, re.S)
    assert entry is not None
    text = entry.group(0)
    wanted = {"{count} official"}
    assert catalogue_problems(read_po(io.StringIO(po), locale="ar"), wanted) == []
    lost = re.sub(r'msgstr\[5\] ".*"\n', "", text)
    broken = read_po(io.StringIO(po.replace(text, lost)), locale="ar")
    assert catalogue_problems(broken, wanted) == ["missing plural form 5: '{count} official'"]
    numberless = text.replace("{count} موظفين", "موظفين")
    broken = read_po(io.StringIO(po.replace(text, numberless)), locale="ar")
    (problem,) = catalogue_problems(broken, wanted)
    assert problem.startswith("placeholders differ in form 3")


def test_catalogs_compile_and_render_placeholders() -> None:
    from bot.i18n import _, load_catalogs, use_locale

    load_catalogs()
    for locale in LOCALES:
        with use_locale(locale):
            text = _("Welcome, {name}! You are registered for {city}.").format(name="N", city="C")
        assert "N" in text and "C" in text and text != "Welcome, N! You are registered for C."
