"""machine translation: stored translations, each official's choice, what the log sent

translation holds each machine translation once per text (its SHA-256) and target language,
with the writer (erased with them). official.machine_translation: whether others' words reach
this official translated. exchange_message.translation: what a relayed message went out as
(translated, or the original because the translator was unavailable). broadcast.text: its
text or caption, translated once per language before sending starts.

Revision ID: 0114
Revises: 0113
Create Date: 2026-12-05 06:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.models

revision: str = "0114"
down_revision: str | Sequence[str] | None = "0113"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "translation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("source_lang", sa.String(length=8), nullable=False),
        sa.Column("target_lang", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["official.id"], name=op.f("fk_translation_author_id_official")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_translation")),
        sa.UniqueConstraint(
            "text_hash", "target_lang", name=op.f("uq_translation_text_hash_target_lang")
        ),
    )
    op.create_index(op.f("ix_translation_author_id"), "translation", ["author_id"], unique=False)
    # Plain ALTER TABLE on SQLite too: a batch copy of a table others refer to would trip
    # their foreign keys.
    op.add_column(
        "official",
        sa.Column("machine_translation", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    with op.batch_alter_table("exchange_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("translation", sa.JSON(), nullable=True))
    with op.batch_alter_table("broadcast", schema=None) as batch_op:
        batch_op.add_column(sa.Column("text", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("broadcast", schema=None) as batch_op:
        batch_op.drop_column("text")
    with op.batch_alter_table("exchange_message", schema=None) as batch_op:
        batch_op.drop_column("translation")
    op.drop_column("official", "machine_translation")
    op.drop_index(op.f("ix_translation_author_id"), table_name="translation")
    op.drop_table("translation")
