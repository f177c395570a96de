"""the library's meaning vectors, for semantic search (SEMANTIC_SEARCH, the semantic extra)

library_vector: one row per entry, the meaning of its question (or organiser's title) as 512
float32 numbers. Rewritten with a new id whenever the entry's words change; gone with the
entry (ON DELETE CASCADE), so withdrawal and erasure take it too.

Revision ID: 0118
Revises: 0117
Create Date: 2026-12-06 06:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0118"
down_revision: str | Sequence[str] | None = "0117"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "library_vector",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["library_entry.id"],
            name=op.f("fk_library_vector_entry_id_library_entry"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_vector")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_library_vector_entry_id")),
        sqlite_autoincrement=True,  # a row id is never used twice: processes load "id > last"
    )


def downgrade() -> None:
    op.drop_table("library_vector")
