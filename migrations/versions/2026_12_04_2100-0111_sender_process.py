"""outbox claims: a token per claim, and the registry of running senders

delivery.claim_token fences what a sender writes: an outcome is recorded only while the row
is still claimed by that sender under that claim. sender_process lists running senders (host,
pid, heartbeat) so a process restarted on the same host takes back the claims of the dead one
before it at once instead of waiting for their lease to run out.

Revision ID: 0111
Revises: 0110
Create Date: 2026-12-04 21:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.models

revision: str = "0111"
down_revision: str | Sequence[str] | None = "0110"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_token", sa.String(length=32), nullable=True))
    op.create_table(
        "sender_process",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sender_process")),
    )
    op.create_index(op.f("ix_sender_process_host"), "sender_process", ["host"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sender_process_host"), table_name="sender_process")
    op.drop_table("sender_process")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_column("claim_token")
