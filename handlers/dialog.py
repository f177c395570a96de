"""Routes plain messages (text, media) to the step a person is at, or answers with a hint.

Features register step handlers with `@on_step("prefix.")`. The state itself lives in the
database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update

from bot.i18n import _
from bot.services import dialog
from bot.services.dialog import Step
from handlers.common import reply
from handlers.context import Ctx

StepHandler = Callable[[Update, Ctx, Step], Awaitable[None]]

_steps: dict[str, StepHandler] = {}


def on_step(*names: str) -> Callable[[StepHandler], StepHandler]:
    """Register a handler for exact step names, or for every step under a prefix ending in '.'."""

    def decorate(func: StepHandler) -> StepHandler:
        for name in names:
            if name in _steps:
                raise ValueError(f"step {name} registered twice")
            _steps[name] = func
        return func

    return decorate


def handler_for(step: str) -> StepHandler | None:
    if step in _steps:
        return _steps[step]
    prefix = step
    while "." in prefix:
        prefix = prefix.rsplit(".", 1)[0]
        found = _steps.get(prefix + ".")
        if found:
            return found
    return None


async def route_message(update: Update, context: Ctx) -> None:
    """Every non-command message: continue the open flow, or a hint."""
    user = update.effective_user
    assert user is not None
    state = await dialog.get(context.deps, user.id)
    if state is not None:
        handler = handler_for(state.step)
        if handler is not None:
            await handler(update, context, state)
            return
    await no_step(update, context)


async def no_step(update: Update, context: Ctx) -> None:
    """A message outside any flow: a hint."""
    await reply(update, _("I did not understand that. Send /help to see what you can do."))


async def unknown_command(update: Update, context: Ctx) -> None:
    """A command this bot does not have: point to /help."""
    await reply(update, _("Unknown command. Send /help to see what you can do."))
