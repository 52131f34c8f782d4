"""Request dependencies shared by the pages and the API: the database, who is asking
(a login cookie or a bearer token), CSRF checks, the evaluation date, the language."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import ApiToken, Login, User, utcnow
from .security import Forbidden, Unauthorized, digest, same
from .store import Actor

__all__ = ["Key", "KEY_MAX", "COOKIE", "CSRF_HEADER", "get_db", "optional_actor", "actor",
           "check_csrf", "today", "client_of"]

#: Largest database key: the tables' integer keys are 32-bit signed in PostgreSQL.
KEY_MAX = 2**31 - 1
#: A database key in a URL (a larger or non-positive one is 422, never a database error).
Key = Annotated[int, Path(ge=1, le=KEY_MAX)]

#: Name of the login cookie.
COOKIE = "bt_login"
#: Header a cookie-authenticated unsafe API call sends the CSRF token in.
CSRF_HEADER = "x-csrf-token"


def get_db(request: Request) -> Iterator[Session]:
    db = request.app.state.sessionmaker()
    try:
        yield db
    finally:
        db.close()


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes: they were stored as UTC."""
    return t if t is None or t.tzinfo else t.replace(tzinfo=dt.UTC)


def optional_actor(request: Request, db: Session = Depends(get_db)) -> Actor | None:  # noqa: B008
    """The actor of a bearer token or a login cookie; None when neither is valid."""
    auth = request.headers.get("authorization", "")
    user = None
    csrf = None
    via = "cookie"
    if auth[:7].lower() == "bearer ":
        tok = db.scalars(select(ApiToken).where(
            ApiToken.token_hash == digest(auth[7:].strip()),
            ApiToken.revoked_at.is_(None))).first()
        if tok is None:
            raise Unauthorized("the bearer token is not valid (unknown or revoked)")
        user, via = db.get(User, tok.user_id), "token"
    else:
        raw = request.cookies.get(COOKIE)
        if raw:
            login = db.scalars(select(Login).where(Login.token_hash == digest(raw))).first()
            if login is not None and _aware(login.expires_at) > utcnow():
                user, csrf = db.get(User, login.user_id), login.csrf_token
    if user is None or not user.active:
        return None
    return Actor(user_id=user.id, username=user.username, role=user.role,
                 site_id=user.site_id, lang=user.lang, client=client_of(request),
                 csrf_token=csrf, via=via)


def actor(who: Actor | None = Depends(optional_actor)) -> Actor:  # noqa: B008
    if who is None:
        raise Unauthorized("sign in, or send an API token as 'Authorization: Bearer TOKEN'")
    return who


def check_csrf(request: Request, who: Actor, form_token: str | None = None) -> None:
    """Refuse an unsafe request authenticated by cookie without the login's CSRF token
    (a form field ``csrf_token`` or the ``X-CSRF-Token`` header). Bearer tokens are not
    sent by browsers on their own and need none."""
    if who.via == "token":
        return
    sent = form_token or request.headers.get(CSRF_HEADER)
    if not same(sent, who.csrf_token):
        raise Forbidden("the form's CSRF token is missing or wrong; reload the page and "
                        "try again")


def today(request: Request) -> str:
    """The evaluation date: the clinic's clock, UTC."""
    return request.app.state.clock().date().isoformat()
