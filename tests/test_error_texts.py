"""Every error a service can raise has a text in every language, and the user reads it."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from bot.i18n import SUPPORTED_LOCALES, _, use_locale
from bot.services.errors import ErrorCode
from handlers.error_texts import ERROR_TEXTS, error_message
from tests import PROJECT_ROOT
from tests.factories import make_city, make_official, next_tg_id
from tests.harness.updates import Harness, TgUser, tr

PLACEHOLDER = re.compile(r"\{\w*\}")
ERROR_CLASSES = {"ServiceError", "NotAllowed", "NotFound", "InvalidInput"}
# A sample value for every detail a text takes, by the detail's name.
SAMPLES: dict[str, object] = {
    "min": 2,
    "max": 100,
    "days": 366,
    "length": 120,
    "limit": 5,
    "minutes": 3,
    "id": 42,
    "timezone": "Europe/Rome",
    "reason": "cities.toml: no such file",
}


def required_details(code: ErrorCode) -> list[str]:
    """The details the text of `code` needs (its parameters without a default)."""
    params = inspect.signature(ERROR_TEXTS[code]).parameters.values()
    return [
        p.name
        for p in params
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.default is p.empty
    ]


def test_every_error_code_has_a_text() -> None:
    missing = [code for code in ErrorCode if code not in ERROR_TEXTS]
    assert missing == []


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_text_renders_with_its_placeholders_filled(locale: str) -> None:
    with use_locale(locale):
        generic = _("Sorry, that did not work. Please try again.")
        for code in ErrorCode:
            names = required_details(code)
            unknown = [n for n in names if n not in SAMPLES]
            assert unknown == [], f"{code}: add a sample value for {unknown}"
            text = error_message(code, **{n: SAMPLES[n] for n in names}, unused="ignored")
            assert text.strip(), code
            assert text != generic, code
            assert not PLACEHOLDER.search(text), f"{code} in {locale}: {text}"
            for n in names:
                assert str(SAMPLES[n]) in text, f"{code} in {locale} does not show {n}"


def raised_errors() -> list[tuple[str, ast.Call]]:
    """Every `raise <error class>(...)` in the services, the db layer and the handlers."""
    found: list[tuple[str, ast.Call]] = []
    for folder in ("bot", "handlers"):
        for path in sorted(Path(PROJECT_ROOT, folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                    continue
                func = node.exc.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if name in ERROR_CLASSES:
                    where = f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}"
                    found.append((where, node.exc))
    return found


def test_every_raise_names_an_error_code_with_the_details_its_text_needs() -> None:
    raised = raised_errors()
    assert len(raised) > 50  # the scan found the services' raises
    for where, call in raised:
        first = call.args[0] if call.args else None
        named = (
            isinstance(first, ast.Attribute)
            and isinstance(first.value, ast.Name)
            and first.value.id == "ErrorCode"
        )
        if not named:
            # Only a helper handing on a code it was given as a typed parameter may do this.
            assert isinstance(first, ast.Name) and first.id == "code", where
            continue
        assert isinstance(first, ast.Attribute)
        code = ErrorCode[first.attr]
        given = {k.arg for k in call.keywords}
        missing = set(required_details(code)) - given
        assert not missing, f"{where}: {code} needs {missing}"


async def test_a_refusal_reaches_the_user_as_its_text(harness: Harness) -> None:
    h = harness
    city = await make_city(h.deps.db, "Nice", "FR", "Europe/Paris", ["fr"])
    official = await make_official(h.deps.db, city, locale="fr", languages=("fr",))
    user = TgUser(official.tg_user_id, "Anne", "fr")
    await h.command(user, "/quiet tonight")
    assert h.last_text(user) == tr(
        "fr", "Please write the quiet hours like this: /quiet 22:00-07:00 (or /quiet off)."
    )


async def test_a_profile_button_for_no_known_field_is_answered_as_stale(harness: Harness) -> None:
    """Callback data whose field no button sends is refused by its codec before the service
    sees it: the person is told, in their language, that the button is no longer active."""
    h = harness
    city = await make_city(h.deps.db, "Murcia", "ES", "Europe/Madrid", ["es"])
    official = await make_official(
        h.deps.db, city, tg_id=next_tg_id(), locale="es", languages=("es",)
    )
    user = TgUser(official.tg_user_id, "Lucía", "es")
    await h.command(user, "/profile")
    message_id, data = h.tg.find_button(user.id, tr("es", "Edit name"))
    prefix, _sep, _field = data.rpartition(":")
    await h.callback(user, f"{prefix}:nickname", message_id)
    assert h.tg.last_alert() == tr("es", "This button is no longer active.")


def error_message_in(locale: str, code: ErrorCode) -> str:
    with use_locale(locale):
        return error_message(code)
