"""the library of answered exchanges, and its full-text search

library_entry (a resolved question the asker shared), library_part (each message of it and
whose words, so a person can withdraw theirs), library_text (what search reads, one row per
entry and language), library_use (a question its asker closed
with an entry before sending it).

The full-text structures live beside library_text and are kept in step with it inside the
transaction that writes it. SQLite: two FTS5 tables over it (external content, filled by
triggers): words with accents folded (unicode61 remove_diacritics 2), and trigrams, which find
Arabic words under their attached prefixes (و، ال، ب...). PostgreSQL: a generated tsvector in
the entry's language configuration (GIN) and a pg_trgm GIN index on the text.

Revision ID: 0116
Revises: 0115
Create Date: 2026-12-05 06:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.models

revision: str = "0116"
down_revision: str | Sequence[str] | None = "0115"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The entry's language -> PostgreSQL's text search configuration.
TSV = (
    "to_tsvector(CASE language WHEN 'en' THEN 'english'::regconfig "
    "WHEN 'fr' THEN 'french'::regconfig WHEN 'it' THEN 'italian'::regconfig "
    "WHEN 'es' THEN 'spanish'::regconfig WHEN 'ar' THEN 'arabic'::regconfig "
    "ELSE 'simple'::regconfig END, text)"
)

SQLITE_UP = [
    "CREATE VIRTUAL TABLE library_fts USING fts5(text, content='library_text', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE VIRTUAL TABLE library_trigram USING fts5(text, content='library_text', "
    "content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER library_text_ai AFTER INSERT ON library_text BEGIN "
    "INSERT INTO library_fts(rowid, text) VALUES (new.id, new.text); "
    "INSERT INTO library_trigram(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER library_text_ad AFTER DELETE ON library_text BEGIN "
    "INSERT INTO library_fts(library_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO library_trigram(library_trigram, rowid, text) "
    "VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER library_text_au AFTER UPDATE ON library_text BEGIN "
    "INSERT INTO library_fts(library_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO library_trigram(library_trigram, rowid, text) "
    "VALUES ('delete', old.id, old.text); "
    "INSERT INTO library_fts(rowid, text) VALUES (new.id, new.text); "
    "INSERT INTO library_trigram(rowid, text) VALUES (new.id, new.text); END",
]
SQLITE_DOWN = [
    "DROP TRIGGER library_text_au",
    "DROP TRIGGER library_text_ad",
    "DROP TRIGGER library_text_ai",
    "DROP TABLE library_trigram",
    "DROP TABLE library_fts",
]
POSTGRES_UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"ALTER TABLE library_text ADD COLUMN tsv tsvector GENERATED ALWAYS AS ({TSV}) STORED",
    "CREATE INDEX ix_library_text_tsv ON library_text USING gin (tsv)",
    "CREATE INDEX ix_library_text_trgm ON library_text USING gin (text gin_trgm_ops)",
]
POSTGRES_DOWN = [
    "DROP INDEX ix_library_text_trgm",
    "DROP INDEX ix_library_text_tsv",
    "ALTER TABLE library_text DROP COLUMN tsv",
]


def upgrade() -> None:
    op.create_table(
        "library_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("city_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("created_at", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["city_id"], ["city.id"], name=op.f("fk_library_entry_city_id_city")
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["question.id"],
            name=op.f("fk_library_entry_question_id_question"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topic.id"], name=op.f("fk_library_entry_topic_id_topic")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_entry")),
        sa.UniqueConstraint("question_id", name=op.f("uq_library_entry_question_id")),
    )
    op.create_index(
        op.f("ix_library_entry_created_at"), "library_entry", ["created_at"], unique=False
    )
    op.create_index(op.f("ix_library_entry_topic_id"), "library_entry", ["topic_id"], unique=False)
    op.create_table(
        "library_part",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("official_id", sa.Integer(), nullable=True),
        sa.Column("city_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("routing_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("created_at", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["city_id"], ["city.id"], name=op.f("fk_library_part_city_id_city")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["library_entry.id"],
            name=op.f("fk_library_part_entry_id_library_entry"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["official_id"], ["official.id"], name=op.f("fk_library_part_official_id_official")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_part")),
    )
    op.create_index(op.f("ix_library_part_entry_id"), "library_part", ["entry_id"], unique=False)
    op.create_index(
        op.f("ix_library_part_official_id"), "library_part", ["official_id"], unique=False
    )
    op.create_table(
        "library_text",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["library_entry.id"],
            name=op.f("fk_library_text_entry_id_library_entry"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_text")),
        sa.UniqueConstraint("entry_id", "language", name=op.f("uq_library_text_entry_id_language")),
    )
    op.create_index(op.f("ix_library_text_entry_id"), "library_text", ["entry_id"], unique=False)
    op.create_table(
        "library_use",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("created_at", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["library_entry.id"],
            name=op.f("fk_library_use_entry_id_library_entry"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["question.id"],
            name=op.f("fk_library_use_question_id_question"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_use")),
        sa.UniqueConstraint("question_id", name=op.f("uq_library_use_question_id")),
    )
    op.create_index(op.f("ix_library_use_created_at"), "library_use", ["created_at"], unique=False)
    op.create_index(op.f("ix_library_use_entry_id"), "library_use", ["entry_id"], unique=False)
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_UP if dialect == "sqlite" else POSTGRES_UP:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_DOWN if dialect == "sqlite" else POSTGRES_DOWN:
        op.execute(statement)
    op.drop_index(op.f("ix_library_use_entry_id"), table_name="library_use")
    op.drop_index(op.f("ix_library_use_created_at"), table_name="library_use")
    op.drop_table("library_use")
    op.drop_index(op.f("ix_library_text_entry_id"), table_name="library_text")
    op.drop_table("library_text")
    op.drop_index(op.f("ix_library_part_official_id"), table_name="library_part")
    op.drop_index(op.f("ix_library_part_entry_id"), table_name="library_part")
    op.drop_table("library_part")
    op.drop_index(op.f("ix_library_entry_topic_id"), table_name="library_entry")
    op.drop_index(op.f("ix_library_entry_created_at"), table_name="library_entry")
    op.drop_table("library_entry")
