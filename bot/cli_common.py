"""What every command line command needs: the database migrated, and the dependencies built."""

from __future__ import annotations

from bot.config import Settings
from bot.db.engine import Database
from bot.runtime import Deps


def make_deps(settings: Settings) -> Deps:
    return Deps(settings=settings, db=Database(settings.database_url))


async def migrate(settings: Settings) -> None:
    """Bring the database to the newest schema (its own short-lived engine)."""
    from bot.db.migrate import upgrade

    db = Database(settings.database_url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()
