"""routing: rows of resolved questions are 'closed'; ix_routing_waiting holds waiting rows only

Routing's open load counts, per candidate city, the recent rows still waiting for an answer
(pending, delivered) of open questions. It joined every waiting row in the 14-day window
with its question to drop resolved ones, and scanned the window's rows of every city: more
than the rest of the ranking cost. Now resolving a question marks its waiting rows 'closed'
(this backfills the rows of questions already resolved or expired), so a waiting row always
belongs to an open question, and ix_routing_waiting becomes a partial index of the waiting
rows by (city_id, created_at): the load is a probe per candidate city, and the index holds a
few thousand rows, not the whole history.

Revision ID: 0110
Revises: 0109
Create Date: 2026-11-23 22:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0110"
down_revision: str | Sequence[str] | None = "0109"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = "status IN ('pending', 'delivered')"


def upgrade() -> None:
    op.execute(sa.text(
        "UPDATE routing SET status = 'closed' WHERE status IN ('pending', 'delivered') AND question_id IN "
        "(SELECT id FROM question WHERE status IN ('resolved', 'expired'))"))
    with op.batch_alter_table("routing") as batch:
        batch.drop_index("ix_routing_waiting")
        batch.create_index("ix_routing_waiting", ["city_id", "created_at"],
                           sqlite_where=sa.text(WAITING), postgresql_where=sa.text(WAITING))


def downgrade() -> None:
    with op.batch_alter_table("routing") as batch:
        batch.drop_index("ix_routing_waiting")
        batch.create_index("ix_routing_waiting", ["status", "created_at", "city_id", "question_id"])
    # A closed row was delivered, or never was: as it stood before the question was resolved.
    op.execute(sa.text(
        "UPDATE routing SET status = CASE WHEN delivered_at IS NULL THEN 'pending' ELSE 'delivered' END "
        "WHERE status = 'closed'"))
