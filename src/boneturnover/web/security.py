"""Passwords, login cookies, API tokens, CSRF, lock-out and roles.

* Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second
  recommended option); a hash made with older parameters is replaced at the next login.
* A login is a random token in an HttpOnly, SameSite=Lax cookie (Secure when the
  request came over TLS, or always with ``secure_cookies``); only its SHA-256 is stored,
  beside the login's CSRF token that every form and every cookie-authenticated unsafe API
  call must send back (double submission checked against the server-side value).
* API tokens (for laboratory systems) are random, shown once, stored as SHA-256.
* A user is locked out after :data:`LIMITS` ``lockout_failures`` failed logins in a row,
  for ``lockout_minutes``; a client address making more than ``login_attempts_per_minute``
  attempts in a minute is refused until the minute has passed. Both counts live in the
  database, so that every server process (``serve --workers N``) sees the same ones.

Every number here is in :data:`LIMITS` with its source or rationale.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import BoneTurnoverError, InputError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["LIMITS", "PERMISSIONS", "Forbidden", "Unauthorized", "hash_password",
           "verify_password", "needs_rehash", "new_token", "digest", "same",
           "check_password_rules", "RateLimiter", "allowed"]

#: Every limit of the login path, with its source or rationale.
LIMITS: Mapping[str, Mapping[str, Any]] = {
    "lockout_failures": {
        "value": 10, "unit": "failed logins in a row",
        "source": "PCI DSS v4.0 requirement 8.3.4: lock the user ID after not more than 10 "
                  "invalid attempts (NIST SP 800-63B §5.2.2 allows at most 100)"},
    "lockout_minutes": {
        "value": 30, "unit": "min",
        "source": "PCI DSS v4.0 requirement 8.3.4: lock-out of at least 30 minutes or until "
                  "the identity is confirmed (an admin may unlock earlier)"},
    "login_attempts_per_minute": {
        "value": 20, "unit": "attempts per client address per minute",
        "source": "rationale: far above a person retyping a password, far below a script "
                  "guessing across many accounts (the per-user lock-out does not see those)"},
    "login_hours": {
        "value": 12, "unit": "h",
        "source": "NIST SP 800-63B §4.2.3: at AAL2, reauthenticate at least once per 12 hours "
                  "(one clinic working day)"},
    "password_min_length": {
        "value": 12, "unit": "characters",
        "source": "rationale: above NIST SP 800-63B §5.1.1.2's minimum of 8 for a system "
                  "holding health data; no composition rules (as §5.1.1.2 advises)"},
}

#: Role -> what it may do. ``read``/``write`` patient data, ``post_results`` (laboratory
#: results for known patients), ``admin`` (users, sites, tokens, assay settings, audit).
PERMISSIONS: Mapping[str, frozenset[str]] = {
    "admin": frozenset({"admin"}),
    "clinician": frozenset({"read", "write", "post_results"}),
    "lab": frozenset({"post_results"}),
}


class Unauthorized(BoneTurnoverError):
    """No valid login cookie or API token (HTTP 401; pages redirect to the login)."""


class Forbidden(BoneTurnoverError):
    """Signed in, but the role may not do this, or the CSRF token is missing (HTTP 403)."""


def allowed(role: str, permission: str) -> bool:
    return permission in PERMISSIONS.get(role, frozenset())


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def check_password_rules(password: str) -> None:
    n = LIMITS["password_min_length"]["value"]
    if len(password) < n:
        raise InputError(f"password: {len(password)} characters; expected at least {n} "
                         f"({LIMITS['password_min_length']['source']})")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher().check_needs_rehash(stored)


def new_token() -> str:
    """A random token (256 bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """SHA-256 of a token (what the database stores)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two tokens."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


class RateLimiter:
    """At most ``limit`` events per ``window_s`` per key, counted in the database (table
    ``sign_in_attempts``), so that every server process of one clinic shares the count.

    An attempt is committed first and counted after: of two attempts answered at the same
    moment, the one counted last sees both, so a race may refuse an attempt too many,
    never allow one too many. A refused attempt is removed again (it does not push
    the window on), as rows older than the window are.
    """

    def __init__(self, limit: int, window_s: float = 60.0):
        self.limit, self.window_s = limit, window_s

    def hit(self, db: Session, key: str) -> bool:
        """Count one event for ``key``; False when it is over the limit."""
        import datetime as dt

        from sqlalchemy import delete, func, select

        from .models import SignInAttempt, utcnow

        now = utcnow()
        since = now - dt.timedelta(seconds=self.window_s)
        row = SignInAttempt(client=key[:100], at=now)
        db.add(row)
        db.execute(delete(SignInAttempt).where(SignInAttempt.at <= since))
        db.commit()
        n = db.scalar(select(func.count()).select_from(SignInAttempt).where(
            SignInAttempt.client == key[:100], SignInAttempt.at > since))
        if n > self.limit:
            db.execute(delete(SignInAttempt).where(SignInAttempt.id == row.id))
            db.commit()
            return False
        return True
