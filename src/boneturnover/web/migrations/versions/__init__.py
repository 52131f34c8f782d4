"""Schema versions (Alembic revisions)."""
