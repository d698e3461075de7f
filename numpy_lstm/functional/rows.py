r"""Both cores on independent rows: the batch split across threads for a whole layer call.

The rows of a batch never interact in an LSTM: row ``n`` of step ``t`` depends on row ``n`` of earlier
steps alone.  So instead of letting the BLAS split each small per-step GEMM over its threads (and
running every elementwise NumPy call on one core), :mod:`.layer` cuts a large batch into
:data:`ROW_BLOCKS` row blocks and lets each thread run the *whole* forward or backward loop over its
block, elementwise work included (NumPy releases the GIL inside its loops).  The BLAS is held at one
thread meanwhile, so the two kinds of thread never compete for the cores (no oversubscription), and
its setting is restored afterwards.  The gradient GEMMs after the backward loop are shared out in
fixed parts (rows of their outputs) over the same threads.

Results are identical whatever the number of threads: a row's numbers come from the same
operations in the same order in a block as in the whole batch, and the gradient GEMMs are cut into
the same parts (by the sizes alone) with or without threads.  One assumption remains: that the BLAS
computes each row of a GEMM's output the same way whatever the number of rows (OpenBLAS's kernels
do; ``tests/test_rows.py`` checks the results bit for bit).

When the threads are used: ``threadpoolctl`` is installed (it is the only way to hold OpenBLAS or MKL
at one thread from Python; without it this feature is off), the BLAS has ``k >= 2`` threads (a BLAS
limited to one thread means one thread here too), and each block has at least
:data:`MIN_BLOCK_BYTES` of gates per step (256 KiB: medium float64 and large split, medium float32
and the smaller sizes do not; below that the per-step GEMMs of half a batch on one core lost more
than the threads gained, in interleaved timings on a 2-vCPU AVX-512 Xeon).  Turn it off with
``NUMPY_LSTM_ROW_THREADS=1`` in the environment, or ``set_row_threads(1)`` / ``with row_threads(1):``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np

ENV_VAR = "NUMPY_LSTM_ROW_THREADS"
ROW_BLOCKS = 2  # row blocks of a batch large enough to split (the machines in view have 2 cores)
MIN_BLOCK_BYTES = 256 << 10  # bytes of gates (rows * 4H * itemsize) per block and step, at least

_setting: dict[str, int | None] = {"threads": None}  # None: follow the environment, then the BLAS
_state: dict[str, Any] = {"controller": None, "pool": None, "pid": None, "checked": False}
_lock = threading.Lock()


def set_row_threads(n: int | None) -> None:
    """``1`` turns the row split off; ``k >= 2`` asks for ``k`` row blocks; ``None`` goes back to the
    default (the environment variable, else as many blocks as the BLAS has threads)."""
    if n is not None and (not isinstance(n, int) or n < 1):
        raise ValueError(f"set_row_threads: expected a positive int or None, got {n!r}")
    if n is not None and n > 1 and _controller() is None:
        raise ImportError(
            "set_row_threads: splitting rows across threads needs threadpoolctl (pip install threadpoolctl)"
        )
    _setting["threads"] = n


@contextmanager
def row_threads(n: int | None) -> Iterator[None]:
    """``with row_threads(1): ...``: the setting of :func:`set_row_threads` for a block only."""
    before = _setting["threads"]
    set_row_threads(n)
    try:
        yield
    finally:
        _setting["threads"] = before


def _controller() -> Any:
    """threadpoolctl's controller of the loaded BLAS libraries, made once; None without threadpoolctl."""
    if not _state["checked"]:
        with _lock:
            if not _state["checked"]:
                try:
                    import threadpoolctl
                except ImportError:
                    ctl = None
                else:
                    ctl = threadpoolctl.ThreadpoolController().select(user_api="blas")
                    ctl = ctl if ctl.lib_controllers else None
                _state["controller"], _state["checked"] = ctl, True
    return _state["controller"]


def splittable(N: int, width: int, itemsize: int) -> bool:
    """Whether a batch of ``N`` rows with ``width`` gate values per row and step is large enough to
    be cut into :data:`ROW_BLOCKS` blocks of at least :data:`MIN_BLOCK_BYTES` of gates per step."""
    return N >= ROW_BLOCKS and N * width * itemsize >= ROW_BLOCKS * MIN_BLOCK_BYTES


def row_blocks(N: int, width: int, itemsize: int) -> list[tuple[int, int]]:
    """Row blocks ``[(n0, n1), ...]`` for the threads: :data:`ROW_BLOCKS` of them when the batch is
    :func:`splittable` and :func:`threads` allows at least two, else one (the whole batch)."""
    if not splittable(N, width, itemsize) or threads() < 2:
        return [(0, N)]
    k = ROW_BLOCKS
    return [(N * j // k, N * (j + 1) // k) for j in range(k)]


def threads() -> int:
    """How many threads may share the blocks now: 1 when the split is off or threadpoolctl is
    missing; else the setting, or the environment variable, or the BLAS's own thread count."""
    n = _setting["threads"]
    if n is None:
        env = os.environ.get(ENV_VAR, "").strip()
        if env:
            if not env.isdigit() or int(env) < 1:
                raise ValueError(f"{ENV_VAR}: expected a positive integer, got {env!r}")
            n = int(env)
    ctl = _controller()
    if ctl is None:
        return 1
    if n is None:  # read now: a caller may have limited the BLAS
        n = min(lib.num_threads for lib in ctl.lib_controllers)
    return n


def _pool(workers: int) -> ThreadPoolExecutor:
    """The worker threads, made once per process (again after a fork, whose child has none)."""
    pool = _state["pool"]
    if pool is None or _state["pid"] != os.getpid() or pool._max_workers < workers:
        with _lock:
            pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="numpy_lstm_rows")
            _state["pool"], _state["pid"] = pool, os.getpid()
    return pool


def run_parallel(tasks: list[Callable[[], None]]) -> None:
    """Run ``tasks`` at once, one per thread (the first on the calling thread), with the BLAS held at
    one thread meanwhile; re-raise the first error after all have finished."""
    error: BaseException | None = None
    _hold_blas()
    try:
        pool = _pool(len(tasks) - 1)
        futures: list[Future[None]] = [pool.submit(task) for task in tasks[1:]]
        try:
            tasks[0]()
        except BaseException as e:  # noqa: BLE001 - wait for the workers before raising
            error = e
        for f in futures:
            try:
                f.result()
            except BaseException as e:  # noqa: BLE001
                error = error or e
    finally:
        _release_blas()
    if error is not None:
        raise error


def each_part(fn: Callable[..., None], js: range, k: int, *args: Any) -> None:
    """``fn(j, k, *args)`` for each ``j`` in ``js``: one thread's share of ``k`` fixed parts."""
    for j in js:
        fn(j, k, *args)


def ignoring_overflow(fn: Callable[..., None], *args: Any) -> None:
    """``fn(*args)`` with overflow ignored, on whichever thread runs it (NumPy's error state is per
    thread, so a worker does not inherit the caller's ``np.errstate``)."""
    with np.errstate(over="ignore"):
        fn(*args)


@contextmanager
def blas_held() -> Iterator[None]:
    """Hold the BLAS at one thread for a block that calls :func:`run_parallel` several times (the
    hold is counted: the calls inside then cost no change of the BLAS's setting)."""
    _hold_blas()
    try:
        yield
    finally:
        _release_blas()


def _hold_blas() -> None:
    """Hold the BLAS at one thread.  Counted, so that layers running at once in several threads of
    the caller restore the BLAS only when the last one finishes (and restore the setting of before)."""
    controller = _controller()  # made outside the lock (it takes the lock itself the first time)
    with _lock:
        if _state.get("holders", 0) == 0:
            _state["limiter"] = controller.limit(limits=1)
        _state["holders"] = _state.get("holders", 0) + 1


def _release_blas() -> None:
    with _lock:
        _state["holders"] -= 1
        if _state["holders"] == 0:
            _state["limiter"].restore_original_limits()
            _state["limiter"] = None
