"""The run store as the user_version migrations left it (m001 initial, m002 drafts, m003 repeats).

SQLite files made by those migrations are stamped at this revision instead of running it.

Revision ID: r0003
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "r0003"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("finished_at", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("prompt_name", sa.Text, nullable=False),
        sa.Column("variants", sa.Text, nullable=False),
        sa.Column("samples_name", sa.Text),
        sa.Column("samples_hash", sa.Text),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("concurrency", sa.Integer),
        sa.Column("meta", sa.Text, nullable=False, server_default="{}"),
        sa.Column("error", sa.Text),
    )
    op.create_table(
        "samples",
        sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("sample_id", sa.Text, nullable=False),
        sa.Column("row", sa.Integer, nullable=False),
        sa.Column("variables", sa.Text, nullable=False),
        sa.Column("messages", sa.Text),
        sa.Column("expected", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.PrimaryKeyConstraint("run_id", "position"),
    )
    op.create_table(
        "results",
        sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("sample_id", sa.Text, nullable=False),
        sa.Column("variant", sa.Text, nullable=False),
        sa.Column("prompt_name", sa.Text, nullable=False),
        sa.Column("prompt_version", sa.Integer),
        sa.Column("output", sa.Text),
        sa.Column("raw_output", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("latency_ms", sa.Float),
        sa.Column("input_tokens", sa.Integer),
        sa.Column("output_tokens", sa.Integer),
        sa.Column("cost_usd", sa.Float),
        sa.Column("trace_id", sa.Text),
        sa.Column("trace_url", sa.Text),
        sa.Column("expected", sa.Text, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("repeat", sa.Integer, nullable=False, server_default="1"),
        sa.PrimaryKeyConstraint("run_id", "sample_id", "variant", "repeat"),
    )
    op.create_index("results_seq", "results", ["run_id", "seq"])
    op.create_table(
        "drafts",
        sa.Column("prompt_name", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("base_version", sa.Integer),
        sa.Column("tags", sa.Text, nullable=False, server_default="[]"),
        sa.Column("saved_version", sa.Integer),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("prompt_name", "name"),
    )


def downgrade() -> None:
    for table in ("drafts", "results", "samples", "runs"):
        op.drop_table(table)
