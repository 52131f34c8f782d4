"""Users, sites, logins and API tokens: creation, sign-in with lock-out, and the
administrative changes (each recorded in the audit log)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..errors import InputError
from .models import ROLES, ApiToken, AssaySetting, Login, Site, User, utcnow
from .security import (
    LIMITS,
    check_password_rules,
    digest,
    hash_password,
    needs_rehash,
    new_token,
    verify_password,
)
from .store import Actor, audit

__all__ = ["create_site", "create_user", "sign_in", "sign_out", "create_token",
           "revoke_token", "unlock", "set_active", "change_password", "set_lang", "set_assay",
           "SignInRefused", "DEFAULT_SITE"]

#: The site ``serve --create-admin`` makes when none is named.
DEFAULT_SITE = "main"


class SignInRefused(InputError):
    """Wrong user name or password, or the user is locked out (the message says which
    without telling whether the user name exists)."""


def create_site(db: Session, name: str) -> Site:
    name = name.strip()
    if not name:
        raise InputError("site: empty; give the site a name")
    site = db.scalars(select(Site).where(Site.name == name)).first()
    if site is None:
        site = Site(name=name)
        db.add(site)
        db.flush()
    return site


def create_user(db: Session, who: Actor | None, username: str, password: str, role: str,
                site: Site, lang: str = "en") -> User:
    """A new user (``who`` None: the first administrator, from the command line)."""
    if who is not None:
        who.require("admin")
    username = username.strip()
    if not username or len(username) > 100 or any(c.isspace() for c in username):
        raise InputError(f"username {username!r}: expected 1 to 100 characters, no spaces")
    if role not in ROLES:
        raise InputError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    if lang not in ("en", "zh"):
        raise InputError(f"lang {lang!r}: expected en or zh")
    check_password_rules(password)
    if db.scalars(select(User).where(User.username == username)).first() is not None:
        raise InputError(f"username {username!r}: already taken; choose another")
    user = User(username=username, password_hash=hash_password(password), role=role,
                site_id=site.id, lang=lang)
    db.add(user)
    db.flush()
    audit(db, who, "create-user", detail=f"{username} ({role}) at site {site.name}",
          site_id=site.id)
    db.commit()
    return user


def sign_in(db: Session, username: str, password: str, *, client: str = ""
            ) -> tuple[User, str, str]:
    """Check a password -> (user, login cookie token, CSRF token); a wrong password counts
    towards the lock-out of :data:`~.security.LIMITS`."""
    user = db.scalars(select(User).where(User.username == username.strip())).first()
    now = utcnow()
    refused = SignInRefused("wrong user name or password")
    if user is None or not user.active:
        verify_password(hash_password("x" * 12), password)  # same time as a real check
        audit(db, None, "sign-in-refused", detail=f"user {username[:100]!r}")
        db.commit()
        raise refused
    locked = user.locked_until
    if locked is not None and locked.tzinfo is None:
        locked = locked.replace(tzinfo=dt.UTC)
    who = Actor(user.id, user.username, user.role, user.site_id, client=client)
    if locked is not None and locked > now:
        audit(db, who, "sign-in-locked")
        db.commit()
        raise SignInRefused(f"this user is locked out after "
                            f"{LIMITS['lockout_failures']['value']} failed sign-ins until "
                            f"{locked:%Y-%m-%d %H:%M} UTC; an administrator can unlock it")
    if not verify_password(user.password_hash, password):
        # one UPDATE counts the failure in the database: server processes that answer two
        # failures at once both count (a read-then-write of the count would lose one)
        db.execute(update(User).where(User.id == user.id)
                   .values(failed_logins=User.failed_logins + 1))
        failures = db.scalar(select(User.failed_logins).where(User.id == user.id))
        if failures >= LIMITS["lockout_failures"]["value"]:
            db.execute(update(User).where(User.id == user.id).values(
                locked_until=now + dt.timedelta(minutes=LIMITS["lockout_minutes"]["value"]),
                failed_logins=0))
            audit(db, who, "lock-out")
        audit(db, who, "sign-in-refused")
        db.commit()
        raise refused
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    token, csrf = new_token(), new_token()
    db.add(Login(token_hash=digest(token), user_id=user.id, csrf_token=csrf,
                 expires_at=now + dt.timedelta(hours=LIMITS["login_hours"]["value"])))
    audit(db, who, "sign-in")
    db.commit()
    return user, token, csrf


def sign_out(db: Session, token: str | None) -> None:
    if not token:
        return
    login = db.scalars(select(Login).where(Login.token_hash == digest(token))).first()
    if login is not None:
        db.delete(login)
        db.commit()


def _site_user(db: Session, who: Actor, user_id: int) -> User:
    """A user of the administrator's own site (another site's users do not exist here)."""
    who.require("admin")
    user = db.get(User, user_id)
    if user is None or user.site_id != who.site_id:
        raise InputError(f"user {user_id}: no such user at your site")
    return user


def create_token(db: Session, who: Actor, user_id: int, name: str) -> str:
    """A new API token for a user of the admin's site; the token is returned once."""
    user = _site_user(db, who, user_id)
    if not name.strip():
        raise InputError("token name: empty; name the system that will use it")
    token = new_token()
    db.add(ApiToken(user_id=user.id, name=name.strip()[:200], token_hash=digest(token)))
    audit(db, who, "create-token", detail=f"{name.strip()[:200]} for {user.username}")
    db.commit()
    return token


def revoke_token(db: Session, who: Actor, token_id: int) -> None:
    who.require("admin")
    tok = db.get(ApiToken, token_id)
    user = db.get(User, tok.user_id) if tok else None
    if tok is None or user is None or user.site_id != who.site_id:
        raise InputError(f"token {token_id}: no such token at your site")
    tok.revoked_at = utcnow()
    audit(db, who, "revoke-token", detail=f"{tok.name} of {user.username}")
    db.commit()


def unlock(db: Session, who: Actor, user_id: int) -> None:
    user = _site_user(db, who, user_id)
    user.locked_until, user.failed_logins = None, 0
    audit(db, who, "unlock-user", detail=user.username)
    db.commit()


def set_active(db: Session, who: Actor, user_id: int, active: bool) -> None:
    """Deactivate a user (their logins and tokens stop working at once) or reactivate."""
    user = _site_user(db, who, user_id)
    if user.id == who.user_id and not active:
        raise InputError("you cannot deactivate yourself; ask another administrator")
    user.active = active
    if not active:
        for login in db.scalars(select(Login).where(Login.user_id == user.id)):
            db.delete(login)
    audit(db, who, "activate-user" if active else "deactivate-user", detail=user.username)
    db.commit()


def change_password(db: Session, who: Actor, current: str, new: str) -> None:
    """A user's new password (the current one checked); their other logins end."""
    user = db.get(User, who.user_id)
    if user is None or not verify_password(user.password_hash, current):
        raise InputError("current password: wrong; nothing was changed")
    check_password_rules(new)
    user.password_hash = hash_password(new)
    for login in db.scalars(select(Login).where(Login.user_id == user.id)):
        if login.csrf_token != who.csrf_token:
            db.delete(login)
    audit(db, who, "change-password")
    db.commit()


def set_lang(db: Session, who: Actor, lang: str) -> None:
    if lang not in ("en", "zh"):
        raise InputError(f"lang {lang!r}: expected en or zh")
    user = db.get(User, who.user_id)
    user.lang = lang
    db.commit()


def set_assay(db: Session, who: Actor, marker: str, lab: str = "", **fields) -> AssaySetting:
    """Set a laboratory's assay values for one marker (checked as an ``[assay]`` table by
    the marker catalogue: units, bounds, CVs)."""
    from ..clinical.catalog import CATALOG
    from ..clinical.records import check_assay

    who.require("admin")
    mid = CATALOG.find(marker)
    if mid is None:
        raise InputError(f"marker {marker!r}: not in the marker catalogue; expected one of "
                         f"{', '.join(CATALOG)}")
    values = {k: v for k, v in fields.items() if v is not None and v != ""}
    checked = check_assay({mid: values}, "assay setting")
    CATALOG.with_overrides(checked)  # refuses a unit the marker does not accept, low > high
    s = db.scalars(select(AssaySetting).where(
        AssaySetting.site_id == who.site_id, AssaySetting.lab == lab.strip(),
        AssaySetting.marker == mid)).first()
    if s is None:
        s = AssaySetting(site_id=who.site_id, lab=lab.strip(), marker=mid)
        db.add(s)
    for k in ("ri_low", "ri_high", "unit", "cva_pct", "cvi_pct", "lsc_pct"):
        setattr(s, k, values.get(k))
    s.updated_at, s.updated_by = utcnow(), who.user_id
    audit(db, who, "set-assay", detail=f"{mid} lab {lab.strip()!r}: {values}")
    db.commit()
    return s
