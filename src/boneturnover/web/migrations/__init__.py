"""Alembic migrations of the clinic's database, applied by :func:`boneturnover.web.db.upgrade`
when the server starts (``versions/``: one file per schema change, oldest first)."""
