"""The clinic's application: :func:`create_app` binds the pages and the API to a
database, applies the migrations, and maps the package's errors to HTTP answers.

Errors: bad input (:class:`~boneturnover.errors.InputError` and its kinds) is 422 with
its one-line message, a patient of another site is 404, a role that may not is 403, no
sign-in is 401 (pages redirect to ``/login``); a missing Chromium for the PDF is 503.
Nothing a user sends produces a traceback or a 500.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.exc import IntegrityError, OperationalError

from .. import __version__
from ..clinical.render import BrowserNotFoundError, RenderError
from ..errors import BoneTurnoverError, InputError
from . import api, pages
from .db import make_engine, make_sessionmaker, upgrade
from .models import utcnow
from .security import LIMITS, Forbidden, RateLimiter, Unauthorized
from .store import NotFound

__all__ = ["create_app", "SECURITY_HEADERS"]


def create_app(database_url: str, *, clock: Callable[[], dt.datetime] | None = None,
               secure_cookies: bool = False, migrate: bool = True) -> FastAPI:
    """The clinic on ``database_url``.

    ``clock`` gives the current time (UTC; tests pass a fixed one), ``secure_cookies``
    marks the login cookie Secure even when TLS ends at a reverse proxy in front.
    """
    app = FastAPI(
        title="boneturnover clinic", version=__version__,
        docs_url=None, redoc_url=None,  # both pages load scripts from a third-party site
        description="Bone turnover markers interpreted against cited rules, for the patients "
                    "of a site. Decision support: bone turnover markers cannot diagnose "
                    "osteoporosis. Authenticate with 'Authorization: Bearer TOKEN' (an API "
                    "token made by an administrator) or a login cookie plus the "
                    "X-CSRF-Token header.")
    engine = make_engine(database_url)
    if migrate:
        upgrade(engine)
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.clock = clock or utcnow
    app.state.secure_cookies = secure_cookies
    app.state.login_limiter = RateLimiter(LIMITS["login_attempts_per_minute"]["value"], 60.0)
    app.include_router(api.router)
    app.include_router(pages.router)
    _handlers(app)

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    return app


#: Headers of every answer: no script runs on the pages, nothing is framed, nothing of
#: patient data is kept in a browser's or a proxy's cache.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _answer(request: Request, status: int, message: str):
    if _is_api(request):
        return JSONResponse({"detail": message}, status_code=status)
    from .deps import optional_actor

    db = request.app.state.sessionmaker()
    try:
        who = optional_actor(request, db)
    except Unauthorized:
        who = None
    finally:
        db.close()
    return pages.render(request, "error.html", who, status_code=status, message=message,
                        status=status)


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(Unauthorized)
    async def _unauthorized(request: Request, exc: Unauthorized):
        if _is_api(request):
            return JSONResponse({"detail": str(exc)}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        return RedirectResponse("/login", status_code=303)

    def answer_with(status: int):
        async def handler(request: Request, exc: Exception):
            return _answer(request, status, str(exc))
        return handler

    # the first class that matches answers (FastAPI looks an exception's classes up in
    # method-resolution order), so BoneTurnoverError is the fallback of its subclasses
    for kind, status in ((Forbidden, 403), (NotFound, 404), (BrowserNotFoundError, 503),
                         (InputError, 422), (RenderError, 503), (BoneTurnoverError, 400)):
        app.add_exception_handler(kind, answer_with(status))

    @app.exception_handler(IntegrityError)
    async def _conflict(request: Request, exc: IntegrityError):
        return _answer(request, 409, "the change conflicts with one made at the same time "
                                     "(the same patient entered twice?); reload and retry")

    @app.exception_handler(OperationalError)
    async def _busy(request: Request, exc: OperationalError):
        return _answer(request, 503, "the database is busy or unreachable; retry shortly")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors()[:5]:
            loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            parts.append(f"{loc}: {e.get('msg', 'invalid')}"
                         + (f" (got {str(e['input'])[:40]!r})" if "input" in e
                            and not isinstance(e["input"], dict) else ""))
        return _answer(request, 422, "; ".join(parts) or "invalid request")
