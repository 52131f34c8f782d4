"""Writing output files safely: checked before the work, written atomically, CSV-safe.

Every command that writes a file follows one convention (docs/SCENARIOS.md, "Output
files"):

1. :func:`check_output` before any computation: the folder exists, the path is not a
   folder, it is not one of the run's inputs, and an existing file is replaced only with
   ``force`` (the ``--force`` flag). A refusal is an
   :class:`~boneturnover.errors.OutputPathError` (exit 2) naming the path.
2. :func:`atomic_write_bytes`, :func:`atomic_write_text` or :func:`atomic_write_csv` to
   write: the content goes to a temporary file in the same folder (named
   ``.<name>.<random>.tmp``, hidden and never mistaken for output), is flushed to disk,
   and replaces the target in one :func:`os.replace`. A run killed while writing leaves
   the previous file intact and at most a ``.tmp`` file behind.
3. :func:`atomic_write_csv` escapes text cells that a spreadsheet would run as a formula
   (:func:`escape_formula_cells`).

Examples
--------
>>> import pandas as pd, tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> out = check_output(folder / "result.csv", inputs=[folder / "scenario.toml"])
>>> atomic_write_csv(out, pd.DataFrame({"note": ["=1+1", "ok"], "x": [-1.5, 2.0]}))
>>> print(out.read_text(), end="")
note,x
'=1+1,-1.5
ok,2.0
>>> check_output(out, inputs=[])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
boneturnover.errors.OutputPathError: --out ...result.csv' exists; add --force to replace it
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from .errors import OutputPathError

__all__ = ["check_output", "check_output_folder", "atomic_write_bytes", "atomic_write_text",
           "atomic_write_csv", "atomic_writer", "escape_formula_cells", "FORMULA_PREFIXES",
           "TEMP_PREFIX", "TEMP_SUFFIX"]

#: First characters that make a spreadsheet read a cell as a formula (OWASP, "CSV
#: Injection": equals, plus, minus, at, tab, carriage return); such text cells get a
#: leading single quote.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
#: Temporary files are named ``.<target name>.<random>.tmp`` in the target's folder.
TEMP_PREFIX, TEMP_SUFFIX = ".", ".tmp"


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output(path: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]] = (),
                 force: bool = False, what: str = "--out") -> Path:
    """Check, before any work, that ``path`` may be written; return it as a :class:`Path`.

    Parameters
    ----------
    path
        The output file.
    inputs
        Files the run reads (a scenario, a cohort table): the output may not be one of them.
    force
        Whether an existing file may be replaced.
    what
        How the command line names the path (``"--out"``, ``"--plot"``), for messages.

    Raises
    ------
    OutputPathError
        The path is a folder, its folder is missing or not writable, it is one of
        ``inputs``, or it exists and ``force`` is False.
    """
    out = Path(path)
    shown = f"{what} {str(out)!r}"
    if str(out) == "" or out.name in ("", ".", ".."):
        raise OutputPathError(f"{shown} names no file; expected a file path")
    for src in inputs:
        if _same_file(out, Path(src)):
            raise OutputPathError(f"{shown} is the input file {str(src)!r}; writing it would "
                                  "destroy the input; expected another path")
    if out.is_dir():
        raise OutputPathError(f"{shown} is a directory; expected a file path")
    parent = out.parent
    if not parent.is_dir():
        raise OutputPathError(f"{shown}: folder {str(parent)!r} does not exist; create it "
                              "first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"{shown}: folder {str(parent)!r} is not writable")
    if out.exists() and not force:
        raise OutputPathError(f"{shown} exists; add --force to replace it")
    return out


def check_output_folder(folder: str | os.PathLike[str], names: Iterable[str],
                        inputs: Iterable[str | os.PathLike[str]] = (), force: bool = False,
                        what: str = "--plots") -> Path:
    """Check an output folder and the files ``names`` to be written in it.

    The folder itself is created by the caller if missing, but its parent must exist.

    Raises
    ------
    OutputPathError
        ``folder`` is a file or its parent is missing; or one of the files in it is
        refused by :func:`check_output`.
    """
    out = Path(folder)
    shown = f"{what} {str(out)!r}"
    if out.exists() and not out.is_dir():
        raise OutputPathError(f"{shown} is a file; expected a directory")
    if not out.exists():
        if not out.parent.is_dir():
            raise OutputPathError(f"{shown}: folder {str(out.parent)!r} does not exist; "
                                  "create it first")
        return out
    inputs = list(inputs)
    for name in names:
        check_output(out / name, inputs, force, what)
    return out


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], mode: str = "w", **open_args: Any,
                  ) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` atomically.

    On an exception (or a killed process) ``path`` keeps its previous content; the
    temporary file is removed on an exception.

    Parameters
    ----------
    path
        The target file.
    mode
        ``"w"`` (text) or ``"wb"`` (bytes).
    open_args
        Passed to :func:`open` (``encoding``, ``newline``).
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{target.name}.", suffix=TEMP_SUFFIX,
                               dir=target.parent)
    try:
        with os.fdopen(fd, mode, **open_args) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (:func:`atomic_writer`)."""
    with atomic_writer(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8",
                      ) -> None:
    """Write ``text`` to ``path`` atomically (:func:`atomic_writer`)."""
    with atomic_writer(path, "w", encoding=encoding, newline="") as fh:
        fh.write(text)


def escape_formula_cells(frame: Any) -> Any:
    """A copy of ``frame`` whose text cells cannot be run as a spreadsheet formula.

    Text cells (in object or string columns) starting with one of
    :data:`FORMULA_PREFIXES` get a leading single quote, as OWASP's CSV injection guidance
    advises; numbers, including negative ones in numeric columns, are left as they are.
    Column names are escaped the same way.
    """
    import pandas as pd

    out = frame.copy()

    def esc(v: Any) -> Any:
        return "'" + v if isinstance(v, str) and v.startswith(FORMULA_PREFIXES) else v

    for col in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_bool_dtype(
                out[col]) or pd.api.types.is_datetime64_any_dtype(out[col])):
            out[col] = out[col].map(esc)
    out.columns = [esc(c) for c in out.columns]
    return out


def atomic_write_csv(path: str | os.PathLike[str], frame: Any, **to_csv_args: Any) -> None:
    """Write a DataFrame as CSV atomically, text cells escaped (:func:`escape_formula_cells`).

    ``to_csv_args`` go to :meth:`pandas.DataFrame.to_csv` (default ``index=False``).
    """
    to_csv_args.setdefault("index", False)
    safe = escape_formula_cells(frame)
    with atomic_writer(path, "w", encoding="utf-8", newline="") as fh:
        safe.to_csv(fh, **to_csv_args)


# -- parsed packaged data, cached --------------------------------------------------------

#: Environment variable naming the cache folder (else ``$XDG_CACHE_HOME/boneturnover`` or
#: ``~/.cache/boneturnover``); ``BONETURNOVER_NO_DATA_CACHE=1`` turns the data cache off.
CACHE_ENV = "BONETURNOVER_CACHE_DIR"
NO_DATA_CACHE_ENV = "BONETURNOVER_NO_DATA_CACHE"


def cache_folder() -> Path:
    """The package's cache folder (not created here)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "boneturnover"


def _data_cache_key(text: str, name: str) -> str:
    import hashlib
    import sys

    version = str(getattr(sys.modules.get("boneturnover"), "__version__", ""))
    h = hashlib.sha256()
    for part in (version, sys.version, name, text):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def load_toml_cached(text: str, name: str = "") -> dict[str, Any]:
    """``tomllib.loads(text)``, cached: the parsed tables are kept with :mod:`marshal` in
    ``<cache folder>/data/<hash>.marshal``, keyed by a hash of the text, ``name``, the
    package version and the Python version, so an edited file, another release or
    another interpreter parses afresh and no cache is ever deleted by hand. The cache
    file is written atomically; an unreadable or foreign one is ignored (parsed again).
    Data holding TOML dates or times (which marshal cannot store) is not cached.
    """
    import marshal
    import tomllib

    if os.environ.get(NO_DATA_CACHE_ENV) == "1":
        return tomllib.loads(text)
    path = cache_folder() / "data" / f"{_data_cache_key(text, name)}.marshal"
    try:
        data = marshal.loads(path.read_bytes())
        if isinstance(data, dict):
            return data
    except (OSError, EOFError, ValueError, TypeError):
        pass
    data = tomllib.loads(text)
    try:
        blob = marshal.dumps(data)
    except ValueError:  # dates and times
        return data
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, blob)
    return data

