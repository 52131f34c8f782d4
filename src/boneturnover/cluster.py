"""Populations on a Dask cluster: each chunk of subjects is one task on a worker.

:func:`boneturnover.simulate` with ``cluster="tcp://host:8786"`` (or ``client=``) sends
each chunk (:func:`boneturnover.population.solve_chunk`) to the cluster's workers. A task
carries the scenario, its subjects' population values and a recipe of the model (the
bundled model's name, the parameter values changed from it, the tolerance), never a
compiled object: each worker process builds the model and loads the compiled integrator
itself, from the on-disk cache (keyed by a hash of the sources, so every worker that shares
``BONETURNOVER_CACHE_DIR`` or has compiled once reuses the machine code).

With an output folder each task writes its chunk's parquet partition itself (atomically:
a temporary name, then a rename), so the folder must be visible to the workers (a shared
file system for workers on other hosts) and only the subjects' status comes back;
without one the chunk's columns come back to the caller.

A worker runs one compiled solve at a time, on as many numba threads as it has Dask
threads (``dask worker --nthreads N``): start one worker per host with ``--nthreads``
the host's cores, or several single-threaded workers.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError

if TYPE_CHECKING:  # pragma: no cover - the model is imported on first use (see below)
    import numpy as np

    from .model.spec import ModelSpec
    from .model.system import BoneModel
    from .population import ChunkResult
    from .scenario import Scenario

# Nothing here imports numba when the module is loaded: a worker that runs
# `_limit_numba_threads` first can still size numba's thread pool.

__all__ = ["connect", "run_chunks", "warm_up", "model_recipe", "ModelRecipe", "CONNECT_TIMEOUT_S"]

#: (bundled model name, changed parameter values, relative tolerance, Rosenbrock method).
ModelRecipe = tuple[str, tuple[tuple[str, float], ...], float, str]
#: Seconds to wait for a scheduler before giving up.
CONNECT_TIMEOUT_S = 10.0
#: One compiled solve at a time in a worker process (numba's threads do the rest).
_SOLVE_LOCK = threading.Lock()


def _dask() -> Any:
    try:
        import distributed
    except ImportError:
        raise InputError("running on a cluster needs dask.distributed; install it with "
                         "`pip install 'boneturnover[cluster]'`") from None
    return distributed


def connect(address: str, what: str = "cluster", timeout_s: float | None = None) -> Any:
    """A ``dask.distributed.Client`` connected to the scheduler at ``address``.

    ``timeout_s`` defaults to :data:`CONNECT_TIMEOUT_S`.

    Raises
    ------
    InputError
        Dask is not installed, the address is malformed, or no scheduler answers there
        within ``timeout_s`` seconds.
    """
    distributed = _dask()
    if not isinstance(address, str) or "://" not in address and ":" not in address:
        raise InputError(f"{what} {str(address)[:80]!r} is not a scheduler address; "
                         "expected e.g. tcp://host:8786")
    timeout_s = CONNECT_TIMEOUT_S if timeout_s is None else timeout_s
    try:
        return distributed.Client(address, timeout=f"{timeout_s}s")
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        why = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise InputError(f"{what} {address[:80]!r}: no Dask scheduler answered ({why}); "
                         "expected the address of a running `dask scheduler`, e.g. "
                         "tcp://host:8786") from None


@lru_cache(maxsize=8)
def _bundled(name: str) -> ModelSpec:
    from .model.spec import load_model

    return load_model(name)


def model_recipe(model: BoneModel) -> ModelRecipe:
    """What a worker needs to rebuild ``model``: its bundled name, changed values, rtol and
    integration method.

    Raises
    ------
    InputError
        A model whose states or parameters are not those of a bundled model.
    """
    import numpy as np

    spec = model.spec
    base = _bundled(spec.name)
    same = (base.state_names == spec.state_names
            and np.array_equal(base.initial_state(), spec.initial_state())
            and base.parameter_names == spec.parameter_names)
    if not same:
        raise InputError(f"model {spec.name!r}: only a bundled model, with changed parameter "
                         "values, can run on a cluster")
    changed = tuple((p.name, float(p.value)) for p, q in zip(spec.parameters, base.parameters,
                                                              strict=True)
                    if p.value != q.value)
    return spec.name, changed, float(model.rtol), model.method


@lru_cache(maxsize=8)
def _worker_model(recipe: ModelRecipe) -> BoneModel:
    """The model of a recipe, built once per worker process."""
    from .model.system import BoneModel, get_model
    from .solve.tableaux import DEFAULT_METHOD

    name, changed, rtol, method = recipe
    if name == "peterson_riggs" and not changed and method == DEFAULT_METHOD:
        return get_model(rtol)
    return BoneModel(_bundled(name).with_values(dict(changed)), rtol=rtol, method=method)


def _worker_threads() -> int:
    """Dask threads of the worker running this task (1 outside a worker)."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return 1
    return max(1, int(getattr(worker, "nthreads", 1) or 1))


def _limit_numba_threads(dask_worker: Any = None) -> int:
    """Size numba's thread pool of this worker process to its Dask threads; return it.

    Runs on each worker before its first task. The pool is sized when numba is imported, so
    this works only in a worker that has not imported numba yet (and leaves an explicit
    ``NUMBA_NUM_THREADS`` alone); otherwise each task still uses only its share
    (:func:`numba.set_num_threads`). Idle pool threads would take CPU time from the other
    workers of the host.
    """
    threads = (max(1, int(getattr(dask_worker, "nthreads", 1) or 1)) if dask_worker is not None
               else _worker_threads())
    if "numba" not in sys.modules and "NUMBA_NUM_THREADS" not in os.environ:
        os.environ["NUMBA_NUM_THREADS"] = str(threads)
    return threads


def _load_kernel(recipe: ModelRecipe) -> str:
    """Build the model of ``recipe`` in this worker and load (or compile) its integrator."""
    from .model.system import kernel

    _worker_model(recipe)
    return kernel().__name__


def warm_up(client: Any, model: BoneModel | None = None) -> dict[str, str]:
    """Prepare every worker of ``client`` before a timed run.

    Sizes each worker's numba thread pool (:func:`_limit_numba_threads`), then builds the
    model and loads its compiled integrator there (from the on-disk cache, or compiling
    it once). A run does the same on first use; this only moves the cost out of it.

    Returns
    -------
    dict
        Worker address -> name of the integrator module loaded.
    """
    from .model.system import get_model

    client.run(_limit_numba_threads)
    return client.run(_load_kernel, model_recipe(model or get_model()))


def _task(recipe: ModelRecipe, scenario: Scenario, values: Mapping[str, np.ndarray],
          first: int, count: int, path: str | None) -> ChunkResult:
    """One chunk on a worker: solve, compute outputs, and write the partition if asked."""
    import numba

    from .population import solve_chunk, write_partition

    numba.set_num_threads(max(1, min(_worker_threads(), numba.config.NUMBA_NUM_THREADS)))
    res = solve_chunk(_worker_model(recipe), scenario, values, first, count, lock=_SOLVE_LOCK)
    if path is not None:
        assert res.columns is not None
        write_partition(path, res.columns)
        res.columns, res.path = None, path
    return res


def run_chunks(
    recipe: ModelRecipe,
    scenario: Scenario,
    values: Mapping[str, np.ndarray],
    bounds: Sequence[tuple[int, int]],
    *,
    client: Any,
    folder: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[ChunkResult]:
    """Run chunks ``(first, count)`` as tasks; return their results in chunk order.

    Parameters
    ----------
    recipe
        The engine, as :func:`model_recipe` gives it.
    scenario
        The checked scenario.
    values
        Checked population columns of every subject.
    bounds
        ``(first subject, subjects)`` of each chunk.
    client
        A connected ``dask.distributed.Client`` (see :func:`connect`).
    folder
        Output folder (visible to the workers) for the partitions, or None to get the
        columns back.
    progress
        Called as ``progress(subjects_done, subjects)`` as chunks finish.
    """
    import numpy as np

    from .population import partition_path

    distributed = _dask()
    total = sum(count for _, count in bounds)
    client.run(_limit_numba_threads)
    futures = []
    try:
        for k, (lo, count) in enumerate(bounds):
            part = {key: np.ascontiguousarray(arr[lo:lo + count]) for key, arr in values.items()}
            path = None if folder is None else str(partition_path(folder, k))
            futures.append(client.submit(_task, recipe, scenario, part, lo, count, path,
                                         pure=False))
        order = {f.key: k for k, f in enumerate(futures)}
        results: list[ChunkResult | None] = [None] * len(futures)
        done = 0
        for fut in distributed.as_completed(futures):
            k = order[fut.key]
            results[k] = fut.result()
            done += bounds[k][1]
            if progress is not None:
                progress(done, total)
        return [r for r in results if r is not None]
    except BaseException:
        client.cancel(futures)
        raise
