"""city calendars and absences: per city overrides, follow-ups due in working hours, /away

city.calendar holds the seed file's overrides of the country's working calendar.
routing.nudge_due_at and question.escalation_due_at are the moments the nudge and the
escalation fall due, counted in the recipient cities' working hours when the question was
routed or delivered; rows written before this revision keep them NULL and are followed up
by plain hours as before. reminder.working_days: a reminder that never lands on a recipient's
local weekend day or holiday (it moves to their next working morning). absence: an official away between two moments (local midnights),
with an optional deputy who receives their questions meanwhile.

Revision ID: 0112
Revises: 0111
Create Date: 2026-12-05 06:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.models

revision: str = "0112"
down_revision: str | Sequence[str] | None = "0111"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("city", schema=None) as batch_op:
        batch_op.add_column(sa.Column("calendar", sa.JSON(), nullable=True))
    with op.batch_alter_table("question", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "escalation_due_at", bot.db.models.UTCDateTime(timezone=True), nullable=True
            )
        )
    with op.batch_alter_table("routing", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("nudge_due_at", bot.db.models.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("working_days", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "absence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("official_id", sa.Integer(), nullable=False),
        sa.Column("deputy_id", sa.Integer(), nullable=True),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", bot.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("summary_sent_at", bot.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deputy_id"],
            ["official.id"],
            name=op.f("fk_absence_deputy_id_official"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["official_id"],
            ["official.id"],
            name=op.f("fk_absence_official_id_official"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["set_by_id"],
            ["official.id"],
            name=op.f("fk_absence_set_by_id_official"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_absence")),
    )
    op.create_index(op.f("ix_absence_official_id"), "absence", ["official_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_absence_official_id"), table_name="absence")
    op.drop_table("absence")
    # Plain ALTER TABLE DROP COLUMN (SQLite 3.35+): rebuilding `city` in batch mode would trip
    # the foreign keys that point at it.
    op.drop_column("reminder", "working_days")
    op.drop_column("routing", "nudge_due_at")
    op.drop_column("question", "escalation_due_at")
    op.drop_column("city", "calendar")
