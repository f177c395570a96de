"""The table of dialog steps: every step a service (or a handler) can store has a handler in
`handlers.dialog_steps`, every entry of the table is a step that can be stored, and the router
picks an exact name before the longest prefix.

Step names are found by walking every module of `bot.services` and `handlers` for `STEP_*`
string constants, so a new step is covered without touching this file.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import pytest

import bot.services
import handlers
from handlers.dialog import StepRouter, step_table


def _modules(package: ModuleType) -> list[ModuleType]:
    found = [package]
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        found.append(importlib.import_module(info.name))
    return found


def stored_step_names() -> dict[str, str]:
    """Every STEP_* constant's value, with where it was found (for the failure message)."""
    names: dict[str, str] = {}
    for module in _modules(bot.services) + _modules(handlers):
        for attr, value in vars(module).items():
            if attr.startswith("STEP_") and isinstance(value, str):
                names.setdefault(value, f"{module.__name__}.{attr}")
    return names


def test_the_walk_finds_the_steps_of_every_feature() -> None:
    prefixes = {name.split(".", 1)[0] for name in stored_step_names()}
    assert {"reg", "profile", "ex", "remind", "bc", "export"} <= prefixes


def test_every_step_that_can_be_stored_has_a_handler() -> None:
    router = StepRouter(handlers.dialog_steps())
    missing = {
        name: where
        for name, where in stored_step_names().items()
        if router.handler_for(name) is None
    }
    assert missing == {}


def test_every_entry_of_the_table_is_a_step_that_can_be_stored() -> None:
    names = stored_step_names()
    for key in handlers.dialog_steps():
        if key.endswith("."):
            assert any(name.startswith(key) for name in names), key
        else:
            assert key in names, key


async def _a(*args: object) -> None: ...


async def _b(*args: object) -> None: ...


async def _c(*args: object) -> None: ...


def test_an_exact_name_wins_then_the_longest_prefix() -> None:
    router = StepRouter({"bc.when": _a, "bc.": _b, "bc.when.": _c})
    assert router.handler_for("bc.when") is _a
    assert router.handler_for("bc.when.ok") is _c
    assert router.handler_for("bc.when.ok.later") is _c
    assert router.handler_for("bc.target") is _b
    assert router.handler_for("bc") is None
    assert router.handler_for("remind.when") is None


def test_a_step_given_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="bc.when"):
        step_table([("bc.when", _a), ("bc.when", _b)])
