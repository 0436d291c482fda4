"""Alembic environment: migrations run on the connection ``prompt_playground.db`` opened."""

from prompt_playground.db import run_alembic_env

run_alembic_env()
