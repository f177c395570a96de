"""Run Alembic migrations from inside the running program (same connection, async).

Alembic (and Mako under it) is imported when a migration runs, not with the bot's modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from bot import PROJECT_ROOT
from bot.db.engine import Database

if TYPE_CHECKING:
    from alembic.config import Config
# What the migrations build for full-text search beside the models' tables (FTS5 tables and
# their shadow tables on SQLite; the tsvector column and the GIN indexes on PostgreSQL): not
# described by the models, so comparing models and database leaves them out.
SEARCH_ONLY_TABLES = ("library_fts", "library_trigram")
SEARCH_ONLY_NAMES = frozenset({"tsv", "ix_library_text_tsv", "ix_library_text_trgm"})


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's filter: everything but the search structures above."""
    if name is None:
        return True
    if type_ == "table" and name.startswith(SEARCH_ONLY_TABLES):
        return False
    return name not in SEARCH_ONLY_NAMES


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
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
        await conn.run_sync(_run)
