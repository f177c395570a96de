"""replicas: one send limit across processes, each update handled once

send_pace holds the time from which the next send slot is free, shared by every sender on the
database (one row, reserved with a conditional UPDATE). handled_update remembers the Telegram
update ids already taken, so a second delivery is dropped. delivery.chat_id is indexed: a claim
skips chats whose rows another sender holds or sent within the chat's interval.

Revision ID: 0115
Revises: 0114
Create Date: 2026-12-05 06:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.models

revision: str = "0115"
down_revision: str | Sequence[str] | None = "0114"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "send_pace",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("next_at", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_pace")),
    )
    op.create_table(
        "handled_update",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("handled_at", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_handled_update")),
    )
    op.create_index(
        op.f("ix_handled_update_handled_at"), "handled_update", ["handled_at"], unique=False
    )
    op.create_index("ix_delivery_chat_id", "delivery", ["chat_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_delivery_chat_id", table_name="delivery")
    op.drop_index(op.f("ix_handled_update_handled_at"), table_name="handled_update")
    op.drop_table("handled_update")
    op.drop_table("send_pace")
