"""Every organiser/admin command, tried by someone without the role: refused, nothing changed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from telegram.ext import CommandHandler

from bot.db.models import AuditLog, Base, Role
from tests.factories import make_city, make_official, make_topic
from tests.harness.updates import Harness, TgUser, tr


def guarded_commands(h: Harness) -> list[tuple[str, Role]]:
    found = []
    for group in h.app.handlers.values():
        for handler in group:
            role = getattr(handler.callback, "required_role", None)
            if isinstance(handler, CommandHandler) and role is not None:
                found.extend((cmd, role) for cmd in handler.commands)
    return sorted(found)


async def row_counts(h: Harness) -> dict[str, Any]:
    counts = {}
    async with h.deps.db.transaction() as s:
        for table in Base.metadata.sorted_tables:
            if table.name in ("audit_log", "dialog_state"):
                continue
            counts[table.name] = await s.scalar(select(func.count()).select_from(table))
    return counts


async def test_every_guarded_command_refuses_lower_roles(harness: Harness) -> None:
    h = harness
    city = await make_city(h.deps.db, "Kasserine")
    topic = await make_topic(h.deps.db, "flood-risk")
    official = await make_official(h.deps.db, city, topics=[topic], locale="ar")
    organiser = await make_official(
        h.deps.db, city, topics=[topic], role=Role.ORGANISER, locale="it"
    )
    commands = guarded_commands(h)
    assert {"pending", "promote", "demote"} <= {c for c, _ in commands}
    before = await row_counts(h)
    attempts = 0
    for command, role in commands:
        tries = [(official, "ar")] + ([(organiser, "it")] if role == Role.ADMIN else [])
        for person, locale in tries:
            user = TgUser(person.tg_user_id, "X", locale)
            await h.command(user, f"/{command} {person.tg_user_id}")
            attempts += 1
            assert h.last_text(user) == tr(locale, "You are not allowed to do that."), command
    assert await row_counts(h) == before
    async with h.deps.db.transaction() as s:
        denied = await s.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "access.denied")
        )
    assert denied == attempts
