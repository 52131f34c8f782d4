"""Compile one numba function of a generated module in a second process.

A model's first call in a fresh cache folder compiles its generated functions one after
another. The Jacobian is the largest of them and nothing else depends on it until the
integrator is typed, so :func:`start` compiles it in a child process while the caller
compiles the others; the child writes numba's on-disk cache, and the caller's own typing
later loads the machine code from there instead of compiling it again. A child that fails
or is not started costs nothing but the time saved: the caller then compiles the
function itself, as it would without this module.

The child is ``python -m boneturnover.solve.precompile FILE``, where ``FILE`` holds the
module's path and name, the function's name and example arguments of the types it will be
called with (a one-element record array stands for a record).
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Record", "is_cached", "start", "wait"]

#: Seconds to wait for a child before compiling in this process instead.
WAIT_S = 600.0


class Record:
    """An example argument that is one record of ``dtype`` (numba's ``Record`` type)."""

    def __init__(self, dtype: np.dtype) -> None:
        self.array = np.zeros(1, dtype=dtype)

    def value(self) -> np.void:
        return self.array[0]


def _values(args: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(a.value() if isinstance(a, Record) else a for a in args)


def _portable(args: Sequence[Any]) -> list[tuple[str, Any]]:
    """``args`` as plain data for the child (records as their one-element arrays)."""
    return [("record", a.array) if isinstance(a, Record) else ("value", a) for a in args]


def is_cached(dispatcher: Any, args: Sequence[Any]) -> bool:
    """Whether numba's disk cache already holds ``dispatcher`` for these argument types."""
    import numba

    types = tuple(numba.typeof(a) for a in _values(args))
    cache = getattr(dispatcher, "_cache", None)
    try:
        index = cache._cache_file._load_index()  # numba's own index of cached overloads
    except Exception:  # noqa: BLE001 - an unreadable index reads as "not cached"
        return False
    return any(key[0] == types for key in index)


def start(module_file: str | os.PathLike[str], module_name: str, function: str,
          args: Sequence[Any]) -> subprocess.Popen[bytes] | None:
    """Compile ``module_name.function`` for ``args`` in a child process; ``None`` where
    only one core is available or no child can be started."""
    if (os.cpu_count() or 1) < 2:
        return None
    fd, job = tempfile.mkstemp(prefix="boneturnover-precompile-", suffix=".pkl")
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump((str(module_file), module_name, function, _portable(args)), fh)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        child = subprocess.Popen([sys.executable, "-m", __name__, job], env=env,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    except OSError:
        Path(job).unlink(missing_ok=True)
        return None
    child.job = job  # type: ignore[attr-defined] - removed by `wait`
    return child


def wait(child: subprocess.Popen[bytes] | None) -> bool:
    """Wait for a child of :func:`start`; whether it compiled and cached its function."""
    if child is None:
        return False
    try:
        return child.wait(timeout=WAIT_S) == 0
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        return False
    finally:
        Path(child.job).unlink(missing_ok=True)  # type: ignore[attr-defined]


def _main(job: str) -> int:
    with open(job, "rb") as fh:
        module_file, module_name, function, args = pickle.load(fh)  # noqa: S301 - our own file
    import numba

    spec = importlib.util.spec_from_file_location(module_name, module_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    values = [a[0] if kind == "record" else a for kind, a in args]
    getattr(module, function).compile(tuple(numba.typeof(v) for v in values))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1]))
