"""Routes plain messages (text, media) to the step a person is at, or answers with a hint.

The table of steps (exact names, or prefixes ending in '.') is built by the assembly
(`handlers.dialog_steps`) and handed to a `StepRouter`. The state itself lives in the database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.i18n import _
from bot.services import dialog
from bot.services.dialog import Step
from handlers.common import reply
from handlers.context import Ctx

StepHandler = Callable[[Update, Ctx, Step], Awaitable[None]]


def step_table(entries: Iterable[tuple[str, StepHandler]]) -> dict[str, StepHandler]:
    """The table from (step name or 'prefix.', handler) pairs; a name given twice is a bug."""
    table: dict[str, StepHandler] = {}
    for name, handler in entries:
        if name in table:
            raise ValueError(f"step {name} has two handlers")
        table[name] = handler
    return table


class StepRouter:
    """Every non-command message goes to the handler of the step its sender is at (edits never
    reach it: `edited_message` answers them first)."""

    def __init__(self, steps: Mapping[str, StepHandler]) -> None:
        self.steps = dict(steps)

    def handler_for(self, step: str) -> StepHandler | None:
        """The handler for this exact step, else for its longest prefix ending in '.'."""
        if step in self.steps:
            return self.steps[step]
        prefix = step
        while "." in prefix:
            prefix = prefix.rsplit(".", 1)[0]
            found = self.steps.get(prefix + ".")
            if found:
                return found
        return None

    async def route_message(self, update: Update, context: Ctx) -> None:
        """Continue the open flow, or a hint."""
        user = update.effective_user
        assert user is not None
        state = await dialog.get(context.deps, user.id)
        if state is not None:
            handler = self.handler_for(state.step)
            if handler is not None:
                await handler(update, context, state)
                return
        await no_step(update, context)


async def edited_message(update: Update, context: Ctx) -> None:
    """A message edited after it was sent: not acted on, and not passed on again; the update
    goes no further."""
    await reply(
        update,
        _(
            "✏️ I do not act on edited messages. To change something, send it again as a new "
            "message."
        ),
    )
    raise ApplicationHandlerStop


async def no_step(update: Update, context: Ctx) -> None:
    """A message outside any flow: a hint."""
    await reply(update, _("I did not understand that. Send /help to see what you can do."))


async def unknown_command(update: Update, context: Ctx) -> None:
    """A command this bot does not have: point to /help."""
    await reply(update, _("Unknown command. Send /help to see what you can do."))
