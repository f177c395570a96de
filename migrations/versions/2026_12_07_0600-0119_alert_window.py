"""alert_window: the admins' error alerts counted across replicas

One row per kind of error alerted (exception type and place in the code; no user data): no
process alerts the kind again before quiet_until, and errors of the kind met meanwhile by any
process are counted in suppressed, told by the next alert.

Revision ID: 0119
Revises: 0118
Create Date: 2026-12-07 06:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.models

revision: str = "0119"
down_revision: str | Sequence[str] | None = "0118"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_window",
        sa.Column("kind", sa.String(length=400), nullable=False),
        sa.Column("quiet_until", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("suppressed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_alert_window")),
    )


def downgrade() -> None:
    op.drop_table("alert_window")
