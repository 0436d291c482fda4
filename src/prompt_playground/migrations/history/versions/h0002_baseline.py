"""The label history as the user_version migrations left it (m001 initial, m002 actor).

SQLite files made by those migrations are stamped at this revision instead of running it.

Revision ID: h0002
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "h0002"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "label_moves",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("prompt_name", sa.Text, nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("from_version", sa.Integer),
        sa.Column("to_version", sa.Integer, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("actor", sa.Text),
        sqlite_autoincrement=True,
    )
    op.create_index("label_moves_prompt", "label_moves", ["prompt_name", "id"])


def downgrade() -> None:
    op.drop_table("label_moves")
