"""broadcast progress_at: when the progress message was last edited

Revision ID: 0104
Revises: 0103
Create Date: 2026-11-23 18:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.models

revision: str = "0104"
down_revision: str | Sequence[str] | None = "0103"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("broadcast", schema=None) as batch_op:
        batch_op.add_column(sa.Column("progress_at", bot.db.models.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("broadcast", schema=None) as batch_op:
        batch_op.drop_column("progress_at")
