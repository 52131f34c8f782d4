"""A clinic per test: SQLite always, PostgreSQL too when BONETURNOVER_TEST_POSTGRES_URL is
set (that database is emptied for every test). Two sites, A and B; at A an admin, a
clinician and a laboratory user, at B a clinician."""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():  # starlette's note about httpx is not ours to act on
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "clinical"
#: The clinic's clock in the tests (the examples' results lie before it).
NOW = dt.datetime(2024, 9, 1, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date().isoformat()
PASSWORD = "correct horse battery staple"
PG_ENV = "BONETURNOVER_TEST_POSTGRES_URL"


@functools.cache
def _cached_hash(password: str) -> str:
    from boneturnover.web.security import hash_password

    return hash_password(password)


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'clinic.sqlite3'}"
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL: set {PG_ENV} (`.ci/run` does)")
    reset_postgres(url)
    return url


class Clinic:
    """The app, its users and signed-in clients."""

    def __init__(self, url: str):
        from boneturnover.web import accounts
        from boneturnover.web.app import create_app

        self.url = url
        self.app = create_app(url, clock=lambda: NOW)
        real = accounts.hash_password
        accounts.hash_password = _cached_hash  # one real argon2 hash for all test users
        try:
            self._users(accounts)
        finally:
            accounts.hash_password = real

    def _users(self, accounts) -> None:
        with self.app.state.sessionmaker() as db:
            a, b = accounts.create_site(db, "A"), accounts.create_site(db, "B")
            self.site_a, self.site_b = a.id, b.id
            self.users = {}
            for name, role, site in (("admin", "admin", a), ("doc", "clinician", a),
                                     ("lab", "lab", a), ("doc_b", "clinician", b)):
                self.users[name] = accounts.create_user(db, None, name, PASSWORD, role,
                                                        site).id

    def client(self, username: str | None = None) -> TestClient:
        c = TestClient(self.app)
        c.csrf = ""
        if username:
            r = c.post("/login", data={"username": username, "password": PASSWORD},
                       follow_redirects=False)
            assert r.status_code == 303, r.text
            c.csrf = csrf_of(c.get("/upload" if username.startswith("doc") else "/").text)
        return c

    def token(self, username: str, name: str = "lab system") -> str:
        from boneturnover.web import accounts
        from boneturnover.web.store import Actor

        with self.app.state.sessionmaker() as db:
            admin = Actor(self.users["admin"], "admin", "admin", self.site_a)
            if username == "doc_b":
                admin = Actor(None, "admin-b", "admin", self.site_b)
            return accounts.create_token(db, admin, self.users[username], name)

    def db(self):
        return self.app.state.sessionmaker()

    def close(self) -> None:
        self.app.state.engine.dispose()


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def upload(client, path: Path, name: str | None = None):
    with open(path, "rb") as fh:
        return client.post("/upload/file", data={"csrf_token": client.csrf},
                           files={"file": (name or path.name, fh)})


def good_cohort() -> dict[str, bytes]:
    """The example cohort without its deliberately mistyped row (C003's CTX-I in ng/L)."""
    files = {n: (EXAMPLES / "cohort" / n).read_bytes()
             for n in ("patients.csv", "measurements.csv", "treatments.csv")}
    lines = files["measurements.csv"].decode().splitlines(keepends=True)
    files["measurements.csv"] = "".join(
        line for line in lines if not line.startswith("C003,") or ",0.41," not in line
    ).encode()
    return files


def upload_cohort(client, files: dict[str, bytes]):
    return client.post("/upload/cohort", data={"csrf_token": client.csrf}, files={
        "patients": ("patients.csv", files["patients.csv"]),
        "measurements": ("measurements.csv", files["measurements.csv"]),
        "treatments": ("treatments.csv", files.get("treatments.csv", b""))})


@pytest.fixture
def clinic(database_url):
    c = Clinic(database_url)
    yield c
    c.close()


@pytest.fixture
def sqlite_clinic(tmp_path):
    """SQLite only (tests of the server process, the browser, the schema)."""
    c = Clinic(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    yield c
    c.close()


@pytest.fixture
def live_server(sqlite_clinic):
    """The clinic served by uvicorn on a free local port, in a thread: (clinic, base URL)."""
    import socket
    import threading

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(sqlite_clinic.app, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        threading.Event().wait(0.05)
    yield sqlite_clinic, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
