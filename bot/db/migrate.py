"""Run Alembic migrations from inside the running program (same connection, async).

Alembic (and Mako under it) is imported when a migration runs, not with the bot's modules: at
start, `upgrade_if_needed` reads the database's revision with one plain query and compares it
with HEAD_REVISION, and only a database behind it (or a new one) goes through Alembic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Connection

from bot import PACKAGE_DIR
from bot.db.engine import Database

if TYPE_CHECKING:
    from alembic.config import Config

# The newest migration's revision (migrations/versions). A new migration changes it too:
# tests/test_migrations.py checks it against Alembic's head. Were it ever behind, the start
# would only run Alembic for nothing; a database at another revision always goes through it.
HEAD_REVISION = "0120"
# What the migrations build for full-text search beside the models' tables (FTS5 tables and
# their shadow tables on SQLite; the tsvector column and the GIN indexes on PostgreSQL): not
# described by the models, so comparing models and database leaves them out.
SEARCH_ONLY_TABLES = ("library_fts", "library_trigram")
SEARCH_ONLY_NAMES = frozenset({"tsv", "ix_library_text_tsv", "ix_library_text_trgm"})


# Any number a transaction-level advisory lock can be keyed by: "cxb migr".
MIGRATION_LOCK = 0x6378622D6D6967


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's filter: everything but the search structures above."""
    if name is None:
        return True
    if type_ == "table" and name.startswith(SEARCH_ONLY_TABLES):
        return False
    return name not in SEARCH_ONLY_NAMES


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    cfg = Config(str(PACKAGE_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(PACKAGE_DIR / "migrations"))
    cfg.attributes["configure_logging"] = False
    if url:
        cfg.attributes["url"] = url
    return cfg


async def upgrade(db: Database, revision: str = "head") -> None:
    from alembic import command

    cfg = alembic_config(db.url)

    def _run(connection: Connection) -> None:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    async with db.engine.begin() as conn:
        if db.is_postgres:
            # Replicas started together on a new database: one migrates, the others wait for
            # it here and then find the schema at the revision asked for.
            await conn.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
        await conn.run_sync(_run)


def _stored_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


async def current_revision(db: Database) -> str | None:
    """The revision the database is at (None for a database Alembic never ran on)."""
    async with db.engine.connect() as conn:
        return await conn.run_sync(_stored_revision)


class NewerDatabase(Exception):
    """The database is at a migration this version of the bot does not have: a newer version
    migrated it (a rollback, or an older replica in a rolling update)."""

    def __init__(self, revision: str) -> None:
        super().__init__(
            f"the database is at migration {revision}, which this version of the bot does not "
            f"know (its newest is {HEAD_REVISION}): a newer version migrated it; run that one"
        )


def known_revision(revision: str) -> bool:
    """Whether this version has the migration (migrations/versions, one file per revision,
    named ...-<revision>_<slug>.py; tests/test_migrations.py checks the names)."""
    return any((PACKAGE_DIR / "migrations" / "versions").glob(f"*-{revision}_*.py"))


async def upgrade_if_needed(db: Database) -> bool:
    """Upgrade to the newest schema unless the database is at it already; True if it was not.
    NewerDatabase if a newer version of the bot migrated it past what this one knows."""
    current = await current_revision(db)
    if current == HEAD_REVISION:
        return False
    if current is not None and not known_revision(current):
        raise NewerDatabase(current)
    await upgrade(db)
    return True
