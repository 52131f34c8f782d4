"""Alembic environment: runs the migrations on the connection that
:func:`boneturnover.web.db.upgrade` hands over (``config.attributes["connection"]``)."""

from __future__ import annotations

from alembic import context

from boneturnover.web.models import Base


def run() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:  # the alembic command line: the URL of alembic.ini
        from sqlalchemy import create_engine

        with create_engine(config.get_main_option("sqlalchemy.url")).connect() as conn:
            _migrate(conn)
    else:
        _migrate(connection)


def _migrate(connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if hasattr(context, "config"):  # only while Alembic runs this file (not on a plain import)
    run()
