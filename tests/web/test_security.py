"""Passwords, the login cookie, CSRF, lock-out and the per-address rate limit."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select

from boneturnover.web.models import Login, SignInAttempt, User
from boneturnover.web.security import LIMITS, RateLimiter, hash_password, verify_password

from .conftest import PASSWORD, TestClient


def test_passwords_are_argon2id_hashes():
    h = hash_password(PASSWORD)
    assert h.startswith("$argon2id$") and PASSWORD not in h
    assert verify_password(h, PASSWORD) and not verify_password(h, PASSWORD + "x")
    assert not verify_password("not a hash", PASSWORD)


def test_every_limit_carries_its_source():
    for name, limit in LIMITS.items():
        assert isinstance(limit["value"], int) and limit["source"], name


def test_the_login_cookie_is_httponly_samesite_and_only_its_digest_is_stored(clinic):
    c = clinic.client()
    r = c.post("/login", data={"username": "doc", "password": PASSWORD},
               follow_redirects=False)
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    with clinic.db() as db:
        stored = [x.token_hash for x in db.scalars(select(Login))]
    assert token not in stored and len(stored) == 1 and len(stored[0]) == 64
    s = clinic.client()
    s.base_url = "https://testserver"
    r = s.post("https://testserver/login", data={"username": "doc", "password": PASSWORD},
               follow_redirects=False)
    assert "Secure" in r.headers["set-cookie"]


def test_a_wrong_password_is_refused_and_pages_need_a_login(clinic):
    c = clinic.client()
    r = c.post("/login", data={"username": "doc", "password": "wrong password!"})
    assert r.status_code == 401 and "wrong user name or password" in r.text
    r = c.post("/login", data={"username": "nobody", "password": "wrong password!"})
    assert r.status_code == 401 and "wrong user name or password" in r.text
    assert c.get("/worklist", follow_redirects=False).headers["location"] == "/login"
    assert c.get("/api/v1/patients").status_code == 401


def test_a_user_is_locked_out_after_repeated_failures_and_an_admin_unlocks(clinic):
    c = clinic.client()
    for _ in range(LIMITS["lockout_failures"]["value"]):
        assert c.post("/login", data={"username": "doc", "password": "wrong password!"}
                      ).status_code == 401
    r = c.post("/login", data={"username": "doc", "password": PASSWORD})
    assert r.status_code == 401 and "locked out" in r.text
    with clinic.db() as db:
        assert db.get(User, clinic.users["doc"]).locked_until is not None
    admin = clinic.client("admin")
    r = admin.post(f"/admin/users/{clinic.users['doc']}/unlock",
                   data={"csrf_token": admin.csrf}, follow_redirects=False)
    assert r.status_code == 303
    r = c.post("/login", data={"username": "doc", "password": PASSWORD},
               follow_redirects=False)
    assert r.status_code == 303


def test_too_many_attempts_from_one_address_are_refused(clinic):
    clinic.app.state.login_limiter = RateLimiter(3, 60.0)
    c = clinic.client()
    codes = [c.post("/login", data={"username": "x", "password": "y" * 12}).status_code
             for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    with clinic.db() as db:  # the refused attempt is not kept
        assert db.scalar(select(func.count()).select_from(SignInAttempt)) == 3


def test_two_server_processes_share_the_lock_out_and_the_address_limit(clinic):
    """Two apps on one database stand for two processes of ``serve --workers 2``: the
    failures counted by each add up to one lock-out, and the attempts of one address to
    one rate limit."""
    from boneturnover.web.app import create_app

    from .conftest import NOW

    other = create_app(clinic.url, clock=lambda: NOW)
    try:
        one, two = clinic.client(), TestClient(other)
        n = LIMITS["lockout_failures"]["value"]
        for i in range(n):
            c = one if i % 2 else two
            assert c.post("/login", data={"username": "doc", "password": "wrong password!"}
                          ).status_code == 401
        for c in (one, two):
            r = c.post("/login", data={"username": "doc", "password": PASSWORD})
            assert r.status_code == 401 and "locked out" in r.text
        limit = 4
        clinic.app.state.login_limiter = RateLimiter(limit, 60.0)
        other.state.login_limiter = RateLimiter(limit, 60.0)
        codes = [(one if i % 2 else two).post(
            "/login", data={"username": "x", "password": "y" * 12}).status_code
            for i in range(limit + 2)]
        # the lock-out's attempts above count too: this address is over the limit at once
        assert codes == [429] * (limit + 2)
        with clinic.db() as db:
            db.execute(delete(SignInAttempt))
            db.commit()
        codes = [(one if i % 2 else two).post(
            "/login", data={"username": "x", "password": "y" * 12}).status_code
            for i in range(limit + 2)]
        assert codes == [401] * limit + [429, 429]
    finally:
        other.state.engine.dispose()


def test_forms_without_the_csrf_token_are_refused(clinic):
    doc = clinic.client("doc")
    r = doc.post("/patients/new", data={"patient_id": "p1"})
    assert r.status_code == 403 and "CSRF" in r.text
    r = doc.post("/patients/new", data={"patient_id": "p1", "csrf_token": "forged"})
    assert r.status_code == 403
    r = doc.post("/api/v1/patients", json={"patient": {"id": "p1"}})
    assert r.status_code == 403
    r = doc.post("/api/v1/patients", json={"patient": {"id": "p1"}},
                 headers={"X-CSRF-Token": doc.csrf})
    assert r.status_code == 201


@pytest.mark.parametrize(("user", "path", "status"), [
    ("lab", "/worklist", 403), ("lab", "/api/v1/patients", 403), ("admin", "/worklist", 403),
    ("doc", "/admin", 403), ("doc", "/admin/audit", 403), ("lab", "/lab", 200),
    ("admin", "/admin", 200), ("admin", "/admin/audit", 200), ("doc", "/worklist", 200),
])
def test_roles(sqlite_clinic, user, path, status):
    assert sqlite_clinic.client(user).get(path).status_code == status


def test_pages_run_no_script_and_are_not_cached(sqlite_clinic):
    r = sqlite_clinic.client("doc").get("/worklist")
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script" not in csp
    assert r.headers["cache-control"] == "no-store" and r.headers["x-frame-options"] == "DENY"
    assert "<script" not in r.text


def test_a_user_changes_their_password_and_an_admin_deactivates_a_user(sqlite_clinic):
    clinic = sqlite_clinic
    doc, other = clinic.client("doc"), clinic.client("doc")
    r = doc.post("/account/password", data={"csrf_token": doc.csrf, "current": "wrong",
                                            "new": "another long password"})
    assert r.status_code == 422 and "wrong" in r.text
    r = doc.post("/account/password", data={"csrf_token": doc.csrf, "current": PASSWORD,
                                            "new": "another long password"})
    assert r.status_code == 200 and 'id="password-changed"' in r.text
    assert doc.get("/worklist").status_code == 200
    assert other.get("/worklist", follow_redirects=False).status_code == 303  # ended
    c = clinic.client()
    assert c.post("/login", data={"username": "doc", "password": "another long password"},
                  follow_redirects=False).status_code == 303
    admin = clinic.client("admin")
    token = clinic.token("lab")
    r = admin.post(f"/admin/users/{clinic.users['lab']}/active",
                   data={"csrf_token": admin.csrf, "active": "false"}, follow_redirects=False)
    assert r.status_code == 303
    assert c.get("/api/v1/patients", headers={"Authorization": f"Bearer {token}"}
                 ).status_code == 401
    r = c.post("/login", data={"username": "lab", "password": PASSWORD})
    assert r.status_code == 401
    r = admin.post(f"/admin/users/{clinic.users['admin']}/active",
                   data={"csrf_token": admin.csrf, "active": "false"})
    assert r.status_code == 422


def test_a_sign_in_form_sent_from_another_site_is_refused(clinic):
    """Login CSRF: a browser posting the sign-in form from another site sends that site's
    Origin; the clinic refuses it, while its own page (same Origin) and clients that send
    no Origin (no browser) sign in."""
    c = clinic.client()
    r = c.post("/login", data={"username": "doc", "password": PASSWORD},
               headers={"origin": "https://evil.example"}, follow_redirects=False)
    assert r.status_code == 403 and "evil.example" in r.text
    assert "set-cookie" not in r.headers
    r = c.post("/login", data={"username": "doc", "password": PASSWORD},
               headers={"origin": "http://testserver"}, follow_redirects=False)
    assert r.status_code == 303 and "HttpOnly" in r.headers["set-cookie"]
