"""Alembic migrations: ``runs`` (runs, samples, results, drafts) and ``history`` (label moves).

Each is its own script directory with its own version table, so on PostgreSQL both live in one
database and on SQLite each in its own file. Append revisions; never edit a released one.
"""
