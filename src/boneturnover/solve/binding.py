"""Bind the integrator to a model's compiled functions, cached under a hash.

:func:`bind` writes a copy of :mod:`boneturnover.solve.rodas` whose placeholder
right-hand side and Jacobian are replaced by an import of the model's, and whose
placeholder sparse LU is replaced by straight-line code for the Jacobian's pattern, names
the file
after a hash of
the integrator's source, the import line, the contents of every file the model declares
it depends on, and the numba and Python versions, and imports it. numba caches the
machine code beside that file, so a later process reuses it, and any edit of an
equation, a state list or the integrator gives a new hash: stale machine code cannot be
loaded, and no cache is ever deleted by hand.

The cache folder is ``$BONETURNOVER_CACHE_DIR``, else ``$XDG_CACHE_HOME/boneturnover``,
else ``~/.cache/boneturnover``; where none is writable, a temporary folder (machine code
is then compiled once per process).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from types import ModuleType

import numba

from .sparse import LUPlan, lu_source
from .tableaux import DEFAULT_METHOD, METHODS

__all__ = ["bind", "cache_dir", "writable_folder"]

_BEGIN = "# --- bound right-hand side (replaced by `binding.bind`) ---"
_END = "# --- end of bound right-hand side ---"
_TAB_BEGIN = "# --- method tableau (written by `binding.bind` from `tableaux.METHODS`) ---"
_TAB_END = "# --- end of method tableau ---"
_PREFIX = "boneturnover_rodas_"


def cache_dir() -> Path:
    """The folder for generated integrator modules and their machine code."""
    env = os.environ.get("BONETURNOVER_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "boneturnover"


def writable_folder(folder: Path) -> Path:
    """``folder``, created if need be, or a new temporary folder where it cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
        return folder
    except OSError:
        return Path(tempfile.mkdtemp(prefix="boneturnover-"))


def _source(model_module: str, plan: LUPlan, method: str = DEFAULT_METHOD) -> str:
    text = resources.files(__package__).joinpath("rodas.py").read_text("utf-8")
    head, found, rest = text.partition(_BEGIN)
    _, found_end, tail = rest.partition(_END)
    if not (found and found_end):
        raise RuntimeError("solve/rodas.py has lost its bound right-hand side markers")
    before, found, rest = tail.partition(_TAB_BEGIN)
    _, found_end, after = rest.partition(_TAB_END)
    if not (found and found_end):
        raise RuntimeError("solve/rodas.py has lost its method tableau markers")
    tail = f"{before}{_TAB_BEGIN}\n{METHODS[method].source_block()}{_TAB_END}{after}"
    return (f"{head}from {model_module} import jac as _jac, observe as _observe, "
            f"rhs as _rhs  # bound\n\n\n{lu_source(plan)}{tail}")


def bind(model_module: str, depends_on: Iterable[Path], plan: LUPlan,
         method: str = DEFAULT_METHOD) -> ModuleType:
    """The integrator compiled against a model's functions.

    Parameters
    ----------
    model_module
        An importable module (already in ``sys.modules`` or on the path) with the
        numba-compiled ``rhs(t, y, p, dy)``, ``jac(t, y, p, jac, ft)`` and
        ``observe(t, y, p, sb, c, o)``.
    depends_on
        Files whose contents define those functions (the generated module); their
        contents enter the hash.
    plan
        The sparse LU plan of the Jacobian's pattern
        (:func:`boneturnover.solve.sparse.lu_plan`); its straight-line code
        (:func:`~boneturnover.solve.sparse.lu_source`) is part of the bound source.

    Returns
    -------
    ModuleType
        A module with ``solve_one``, ``solve_range`` and ``steady_state``.
    """
    source = _source(model_module, plan, method)
    digest = hashlib.sha256()
    for part in (source, numba.__version__, sys.version):
        digest.update(part.encode())
    for path in sorted(Path(p) for p in depends_on):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    name = f"{_PREFIX}{digest.hexdigest()[:20]}"
    if name in sys.modules:
        return sys.modules[name]
    folder = writable_folder(cache_dir())
    path = folder / f"{name}.py"
    if not path.is_file() or path.read_text("utf-8") != source:
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        tmp.write_text(source, encoding="utf-8")
        os.replace(tmp, path)  # atomic: a concurrent process sees the old or the new file
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
