"""question: the open questions of officials removed by an organiser are withdrawn

Removing an official now withdraws their open questions, as erasing one's data does: nobody
is nudged to answer them, they are not escalated, and answers to them are not taken. This
withdraws the questions of officials removed before, and closes their routing rows still
waiting (the recipients were not told then; an Answer button on such a question now says it
is closed).

Revision ID: 0120
Revises: 0119
Create Date: 2026-12-07 07:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0120"
down_revision: str | Sequence[str] | None = "0119"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OF_REMOVED = (
    "status IN ('open', 'answered') AND asker_id IN (SELECT id FROM official WHERE status = 'removed')"
)


def upgrade() -> None:
    op.execute(sa.text(
        "UPDATE routing SET status = 'closed' WHERE status IN ('pending', 'delivered') AND question_id IN "
        f"(SELECT id FROM question WHERE {OF_REMOVED})"))
    op.execute(sa.text(f"UPDATE question SET status = 'withdrawn' WHERE {OF_REMOVED}"))


def downgrade() -> None:
    pass  # which questions were open before is not kept; withdrawn stays withdrawn
