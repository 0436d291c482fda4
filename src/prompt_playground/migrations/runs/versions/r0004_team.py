"""A shared store: who made a run or draft, which host runs it, and its last sign of life.

``actor`` (nullable) is filled by sign-in; ``host`` and ``heartbeat_at`` let a replica tell its
own dead runs (pid gone) from another host's live ones (heartbeat fresh); ``started_ns`` orders
runs created in the same second (SQLite ordered by rowid, which PostgreSQL does not have).

Revision ID: r0004
Revises: r0003
"""

import sqlalchemy as sa
from alembic import op

revision = "r0004"
down_revision = "r0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("actor", sa.Text, nullable=True))
    op.add_column("runs", sa.Column("host", sa.Text, nullable=True))
    op.add_column("runs", sa.Column("heartbeat_at", sa.Float, nullable=True))
    op.add_column("runs", sa.Column("started_ns", sa.BigInteger, nullable=True))
    op.add_column("drafts", sa.Column("actor", sa.Text, nullable=True))
    op.create_index("runs_created", "runs", ["created_at"])


def downgrade() -> None:
    op.drop_index("runs_created", "runs")
    with op.batch_alter_table("drafts") as batch:
        batch.drop_column("actor")
    with op.batch_alter_table("runs") as batch:
        for column in ("started_ns", "heartbeat_at", "host", "actor"):
            batch.drop_column(column)
