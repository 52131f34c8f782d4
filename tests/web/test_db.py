"""The migrations build exactly the tables of the models, run again without change, and
the data folder is made on first start."""

from __future__ import annotations

import stat

from sqlalchemy import inspect

from boneturnover.web import db as webdb
from boneturnover.web.models import Base


def test_the_migrations_match_the_models(database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = webdb.make_engine(database_url)
    try:
        webdb.upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], diff
        assert webdb.current_revision(engine) == webdb.head_revision() == "0003"
        webdb.upgrade(engine)  # a second start changes nothing
        assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)
    finally:
        engine.dispose()


def test_a_fresh_database_has_no_revision(tmp_path):
    engine = webdb.make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert webdb.current_revision(engine) is None
    engine.dispose()


def test_the_data_folder_is_created_for_its_owner_only(tmp_path):
    url = webdb.database_url(tmp_path / "data", None)
    assert url.endswith("/data/clinic.sqlite3") and url.startswith("sqlite:///")
    mode = (tmp_path / "data").stat().st_mode
    assert stat.S_IMODE(mode) & 0o077 == 0


def test_sqlite_runs_with_write_ahead_logging_and_full_sync(tmp_path):
    engine = webdb.make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_a_database_of_the_first_schema_is_upgraded_with_its_data(tmp_path):
    from alembic import command
    from sqlalchemy import text

    engine = webdb.make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    cfg = webdb._config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sites (name, created_at) VALUES ('A', '2024-01-01')"))
        conn.execute(text("INSERT INTO patients (site_id, patient_id, ignored_json, version, "
                          "created_at) VALUES (1, 'p1', '[]', 1, '2024-01-01')"))
    assert webdb.current_revision(engine) == "0001"
    webdb.upgrade(engine)
    assert webdb.current_revision(engine) == webdb.head_revision()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT patient_id, assay_json FROM patients")).all() == [
            ("p1", "{}")]
    engine.dispose()
