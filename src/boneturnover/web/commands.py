"""``boneturnover serve``: start the web clinic, or create its first administrator.

The web stack (FastAPI, SQLAlchemy, uvicorn) is imported only when the command runs, so
no other command pays for it and ``import boneturnover`` never loads it.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import InputError

__all__ = ["register", "run", "serve_app", "DEFAULT_HOST", "DEFAULT_PORT"]

#: The clinic listens on the loopback interface unless told otherwise: put a reverse
#: proxy with TLS in front of it to serve a network (docs/SERVICE.md).
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
_EXTRA_HINT = ("the web clinic needs the 'web' extra: pip install 'boneturnover[web]'")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve", help="start the web clinic (worklist, patient pages, uploads, JSON API)",
        description=(
            "Start the web clinic on localhost: patients, results and treatments in a "
            "database (SQLite in --data by default, or --database URL for PostgreSQL), "
            "migrated at start. First run: `boneturnover serve --create-admin` makes the "
            "first administrator (asks for the password, or reads --password-file) and "
            "exits. Decision support: markers cannot diagnose osteoporosis."))
    p.add_argument("--data", metavar="DIR", default=None,
                   help="data folder holding the SQLite database (default "
                        "./boneturnover-data, created)")
    p.add_argument("--database", metavar="URL",
                   help="SQLAlchemy URL instead of SQLite, e.g. "
                        "postgresql+psycopg://clinic@localhost/clinic")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on "
                   f"(default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--workers", type=_workers, default=1, metavar="N",
                   help="server processes (uvicorn workers, default 1); they share the "
                        "database, the sign-in limits and the lock-out")
    p.add_argument("--secure-cookies", action="store_true",
                   help="mark the login cookie Secure (TLS ends at a reverse proxy)")
    p.add_argument("--create-admin", action="store_true",
                   help="create an administrator and exit")
    p.add_argument("--username", help="with --create-admin: the user name (default: asked)")
    p.add_argument("--password-file", metavar="FILE",
                   help="with --create-admin: read the password from the first line of FILE "
                        "(default: asked without echo)")
    p.add_argument("--site", default=None,
                   help="with --create-admin: the administrator's site (default 'main')")
    p.set_defaults(func=run)


def _workers(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"--workers {text!r}: expected a whole number of "
                                          "processes, 1 or more")
    return n


#: What the processes of ``serve --workers N`` read their settings from (a worker imports
#: the app by name, so it cannot be handed one).
ENV_DATABASE = "BONETURNOVER_SERVE_DATABASE"
ENV_SECURE = "BONETURNOVER_SERVE_SECURE_COOKIES"


def _password(args: argparse.Namespace) -> str:
    if args.password_file:
        try:
            with open(args.password_file, encoding="utf-8") as fh:
                return fh.readline().rstrip("\r\n")
        except OSError as exc:
            raise InputError(f"--password-file {args.password_file}: cannot read "
                             f"({exc.strerror})") from None
    import getpass

    if not sys.stdin.isatty():
        raise InputError("--create-admin: no terminal to ask the password on; give "
                         "--password-file FILE")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("password again: "):
        raise InputError("the two passwords differ; run --create-admin again")
    return first


def run(args: argparse.Namespace) -> int:
    try:
        import fastapi  # noqa: F401
        import sqlalchemy  # noqa: F401
        import uvicorn
    except ImportError:
        raise InputError(_EXTRA_HINT) from None
    from .app import create_app
    from .db import database_url, make_engine, make_sessionmaker, upgrade

    url = database_url(args.data, args.database)
    if args.create_admin:
        from .accounts import DEFAULT_SITE, create_site, create_user

        username = args.username or input("user name: ").strip()
        password = _password(args)
        engine = make_engine(url)
        try:
            upgrade(engine)
            with make_sessionmaker(engine)() as db:
                site = create_site(db, args.site or DEFAULT_SITE)
                create_user(db, None, username, password, "admin", site)
        finally:
            engine.dispose()
        print(f"administrator {username!r} created at site {args.site or DEFAULT_SITE!r}",
              file=sys.stderr)
        return 0
    if args.username or args.password_file or args.site:
        raise InputError("--username, --password-file and --site go with --create-admin")
    shown = url if not url.startswith("postgresql") else url.split("@")[-1]
    options = {"host": args.host, "port": args.port, "log_level": "info",
               "proxy_headers": True, "forwarded_allow_ips": "127.0.0.1"}
    if args.workers == 1:
        app = create_app(url, secure_cookies=args.secure_cookies)
        print(f"boneturnover clinic on http://{args.host}:{args.port}/ (database {shown})",
              file=sys.stderr)
        uvicorn.run(app, **options)
        return 0
    # the schema is migrated once, here, before the workers start; each worker then makes
    # its own app on the same database (serve_app below)
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    import os

    os.environ[ENV_DATABASE] = url
    os.environ[ENV_SECURE] = "1" if args.secure_cookies else ""
    print(f"boneturnover clinic on http://{args.host}:{args.port}/ (database {shown}, "
          f"{args.workers} processes)", file=sys.stderr)
    uvicorn.run("boneturnover.web.commands:serve_app", factory=True, workers=args.workers,
                **options)
    return 0


def serve_app():
    """The app of one worker of ``serve --workers N`` (settings from the environment)."""
    import os

    from .app import create_app

    return create_app(os.environ[ENV_DATABASE], secure_cookies=bool(os.environ.get(ENV_SECURE)),
                      migrate=False)
