"""Databases: the data folder, engines, and the migrations applied at start.

By default the clinic keeps one SQLite file, ``clinic.sqlite3``, in its data folder
(``--data DIR``, created on first start with permissions for its owner only); a
``postgresql+psycopg://`` URL (``--database``) keeps everything in PostgreSQL instead.
SQLite runs with write-ahead logging and ``synchronous=FULL`` so that a committed import
survives a killed server or a power cut and an interrupted one leaves nothing behind.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

from ..errors import InputError

__all__ = ["DEFAULT_DATA_DIR", "SQLITE_NAME", "database_url", "make_engine", "upgrade",
           "head_revision", "current_revision", "make_sessionmaker"]

#: The data folder of ``boneturnover serve`` when ``--data`` is not given.
DEFAULT_DATA_DIR = "boneturnover-data"
#: The SQLite file inside the data folder.
SQLITE_NAME = "clinic.sqlite3"
#: SQLite waits this long for a lock held by another writer before failing (a rationale,
#: not a measurement: an import of a large cohort holds the write lock for seconds).
SQLITE_BUSY_TIMEOUT_S = {"value": 30, "why": "longer than a large cohort import holds "
                         "the write lock; shorter than a reverse proxy's usual 60 s timeout"}


def database_url(data_dir: str | os.PathLike[str] | None, database: str | None) -> str:
    """The SQLAlchemy URL: ``database`` if given, else SQLite in ``data_dir`` (created)."""
    if database:
        if not database.startswith(("postgresql", "sqlite")):
            raise InputError(f"--database {database.split(':', 1)[0]}:...: expected a URL "
                             "such as postgresql+psycopg://user@host/dbname or sqlite:///FILE")
        return database
    d = Path(data_dir or DEFAULT_DATA_DIR)
    if d.exists() and not d.is_dir():
        raise InputError(f"--data {d}: exists and is not a folder")
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    return f"sqlite:///{(d / SQLITE_NAME).resolve()}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, full sync, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={
            "timeout": SQLITE_BUSY_TIMEOUT_S["value"], "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def _config():
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("boneturnover.web") /
                                               "migrations"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Apply every migration the database lacks (a fresh database gets the whole schema)."""
    from alembic import command

    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def head_revision() -> str:
    """The newest migration shipped with the package."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at (None: not a clinic database yet)."""
    from alembic.migration import MigrationContext

    if "alembic_version" not in inspect(engine).get_table_names():
        return None
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
