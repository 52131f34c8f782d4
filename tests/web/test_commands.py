"""``boneturnover serve``: the first administrator, bad arguments, and no web stack for
the other commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from boneturnover.cli import main
from boneturnover.web.db import database_url, make_engine, make_sessionmaker
from boneturnover.web.models import Site, User
from boneturnover.web.security import verify_password

from .conftest import EXAMPLES, PASSWORD


def test_create_admin_reads_the_password_from_a_file(tmp_path, capsys):
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    data = tmp_path / "data"
    assert main(["serve", "--create-admin", "--username", "root", "--password-file", str(pw),
                 "--data", str(data)]) == 0
    assert "administrator 'root' created" in capsys.readouterr().err
    engine = make_engine(database_url(data, None))
    with make_sessionmaker(engine)() as db:
        u = db.scalars(select(User)).one()
        assert (u.username, u.role) == ("root", "admin")
        assert verify_password(u.password_hash, PASSWORD)
        assert db.get(Site, u.site_id).name == "main"
    engine.dispose()
    assert main(["serve", "--create-admin", "--username", "root", "--password-file", str(pw),
                 "--data", str(data)]) == 2
    assert "already taken" in capsys.readouterr().err


def test_bad_arguments_are_one_line_and_exit_2(tmp_path, capsys):
    pw = tmp_path / "pw"
    pw.write_text("short\n")
    assert main(["serve", "--create-admin", "--username", "root", "--password-file", str(pw),
                 "--data", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "at least 12" in err and "Traceback" not in err
    assert main(["serve", "--database", "mysql://x/y"]) == 2
    assert "postgresql+psycopg" in capsys.readouterr().err
    assert main(["serve", "--username", "x", "--data", str(tmp_path / "d")]) == 2
    assert "go with --create-admin" in capsys.readouterr().err
    assert main(["serve", "--create-admin", "--username", "root", "--password-file",
                 str(tmp_path / "missing"), "--data", str(tmp_path / "d")]) == 2


def test_interpret_does_not_load_the_web_stack():
    code = (
        "import sys, io, contextlib\n"
        "from boneturnover.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main(['interpret', {str(EXAMPLES / 'denosumab_rebound.toml')!r}, "
        "'--format', 'json'])\n"
        "print(sorted(m for m in ('fastapi', 'sqlalchemy', 'uvicorn', 'alembic', "
        "'boneturnover.web') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_create_admin_on_postgresql(tmp_path, capsys):
    import os

    import pytest

    from .conftest import PG_ENV, reset_postgres

    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL: set {PG_ENV}")
    reset_postgres(url)
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    assert main(["serve", "--create-admin", "--username", "root", "--password-file", str(pw),
                 "--database", url, "--site", "clinic-a"]) == 0
    engine = make_engine(url)
    with make_sessionmaker(engine)() as db:
        u = db.scalars(select(User)).one()
        assert u.role == "admin" and db.get(Site, u.site_id).name == "clinic-a"
    engine.dispose()


def test_serve_runs_several_worker_processes_on_one_database(tmp_path):
    """``serve --workers 2``: the schema is migrated once, two worker processes answer,
    and an administrator made before serves both."""
    import os
    import socket
    import time
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import httpx

    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    data = tmp_path / "data"
    assert main(["serve", "--create-admin", "--username", "root", "--password-file", str(pw),
                 "--data", str(data)]) == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "server.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "boneturnover", "serve", "--data",
                                 str(data), "--port", str(port), "--workers", "2"],
                                stdout=subprocess.DEVNULL, stderr=fh)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
            assert proc.poll() is None, log.read_text()[-2000:]
        workers = []
        for _ in range(100):  # the workers start one after the other
            proc_dir = Path("/proc")
            children = (proc_dir / str(proc.pid) / "task" / str(proc.pid) / "children"
                        ).read_text().split()
            workers = [c for c in children if b"spawn_main" in
                       (proc_dir / c / "cmdline").read_bytes()]
            if len(workers) == 2:
                break
            time.sleep(0.1)
        assert len(workers) == 2, (children, log.read_text()[-2000:])
        r = httpx.post(f"{base}/login", data={"username": "root", "password": PASSWORD})
        assert r.status_code == 303, r.text
        assert "2 processes" in log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert os.path.exists(data / "clinic.sqlite3")


def test_serve_workers_must_be_a_positive_number(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["serve", "--workers", "0"])
    assert "expected a whole number of processes, 1 or more" in capsys.readouterr().err
