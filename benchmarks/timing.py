"""Timing: equal threads on both sides, interleaved repetitions, medians with spread, matmul peak.

How a set of callables (one per side) is timed, in :func:`interleaved`:

1. Warm-up: each callable runs ``warmup`` times and on until steady (first-call allocations, BLAS
   thread start-up), within :data:`WARMUP_MAX_CALLS` calls and ``warmup_cap_s`` seconds.
2. Rounds: in every round each side runs a *block*: untimed settle calls, then ``inner`` timed
   calls.  The order of the sides rotates from round to round.  The settle calls absorb what the
   previous side leaves behind: OpenBLAS's threads spin for a while after their work, PyTorch's
   OpenMP threads fall asleep and must be woken, and on 2 cores this slows the next side's first
   calls several times over, for up to about 100 ms (PyTorch's small float32 training step, 6 ms
   alone, took 15-20 ms in each of the first calls after NumPy's).  So a side settles for at least
   ``settle`` calls and on until a call is within 1.25x of the best that side has shown (its
   warm-up and earlier rounds), within :data:`SETTLE_MAX_S` seconds.
3. Statistics: the median of all timed calls, and the interquartile range as the spread.

Noise from other processes hits the sides alike because the rounds interleave them.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import threadpoolctl
import torch

from numpy_lstm.functional import rows

# The warm-up of one callable stops here even when its time is not yet steady (a busy machine can
# keep it unsteady for as long as it is busy): the timed rounds then show the noise as spread.
WARMUP_MAX_CALLS = 50
WARMUP_MAX_S = 3.0
SETTLE_MAX_S = 0.5  # a block's settle calls stop here even when the side is not back to its best


class OtherLoad:
    """CPU time used by *other* processes while a block of code ran, in cores (0.5 = half a core).

    Timings are only fair on a quiet machine: with one of 2 cores busy elsewhere, an OpenMP pool of
    2 threads (PyTorch's) waits at every barrier for its descheduled thread and slows down many
    times over, while OpenBLAS degrades gently.  Every row records this, and the report warns.
    Reads ``/proc/stat`` (all CPUs) and ``/proc/self/stat`` (this process); None elsewhere.
    """

    def __enter__(self) -> OtherLoad:
        self.cores: float | None = None
        self._start = self._sample()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._sample()
        if self._start is None or end is None:
            return
        wall = end[0] - self._start[0]
        busy_all = (end[1] - self._start[1]) / os.sysconf("SC_CLK_TCK")
        busy_self = (end[2] - self._start[2]) / os.sysconf("SC_CLK_TCK")
        self.cores = max(0.0, (busy_all - busy_self) / wall) if wall > 0 else None

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat") as f:
                cpu = [int(v) for v in f.readline().split()[1:]]
            with open("/proc/self/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        busy = sum(cpu) - cpu[3] - (cpu[4] if len(cpu) > 4 else 0)  # all but idle and iowait
        own = int(fields[11]) + int(fields[12])  # utime + stime of this process (all threads)
        return time.perf_counter(), float(busy), float(own)


@dataclass
class Timing:
    """Times of one callable, in milliseconds."""

    times_ms: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def q1(self) -> float:
        return float(np.percentile(self.times_ms, 25))

    @property
    def q3(self) -> float:
        return float(np.percentile(self.times_ms, 75))

    @property
    def spread(self) -> float:
        """Interquartile range relative to the median (0.05 = 5%)."""
        return (self.q3 - self.q1) / self.median if self.median > 0 else 0.0


@contextmanager
def run_threads(n: int) -> Iterator[None]:
    """Both sides on ``n`` threads while the block runs, and everything put back after it (also
    after an error): torch's intra-op pool, NumPy's BLAS (threadpoolctl), and the fast layer's row
    split (:func:`numpy_lstm.functional.rows.row_threads`), held at ``n`` or below, as the
    environment may ask (``NUMPY_LSTM_ROW_THREADS=1``), so that "n threads each side" is what runs."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpoolctl.threadpool_limits(limits=n, user_api="blas"):
            with rows.row_threads(min(n, rows.threads())):
                yield
    finally:
        torch.set_num_threads(before)


def other_load_now(window_s: float = 0.25) -> float | None:
    """Cores used by other processes over the next ``window_s`` seconds (this one sleeps meanwhile):
    a cheap check before timing starts.  None where ``/proc/stat`` cannot be read."""
    with OtherLoad() as load:
        time.sleep(window_s)
    return load.cores


def blas_info() -> dict[str, object]:
    """What NumPy's BLAS is and which kernel it runs (OpenBLAS's ``architecture``)."""
    for lib in threadpoolctl.threadpool_info():
        if lib.get("user_api") == "blas":
            return {
                "blas": lib.get("internal_api"),
                "blas_version": lib.get("version"),
                "blas_kernel": lib.get("architecture"),
                "blas_threads": lib.get("num_threads"),
                "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
                "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
            }
    return {"blas": None}


# Settings that make a library pick lower SIMD kernels than the CPU has (the AVX2 proxy of
# docs/benchmark.md): kept with a run, so that its files say which kernels it measured.
SIMD_ENV = ("NPY_DISABLE_CPU_FEATURES", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")


def simd_info() -> dict[str, object]:
    """Which SIMD kernels each side's elementwise work runs, for a reader of results from another CPU.

    ``numpy_simd``: the target NumPy's float32 and float64 ``tanh`` and ``exp`` loops dispatch to
    (``numpy.lib.introspect``, NumPy 2: e.g. ``X86_V4`` with AVX-512, ``X86_V3`` with AVX2 only or
    where ``NPY_DISABLE_CPU_FEATURES`` turns AVX-512 off), several joined by ``/``, or None where
    NumPy does not say.  ``torch_cpu_capability``: the instruction set of ATen's CPU kernels
    (``AVX512``, ``AVX2``...; ``ATEN_CPU_CAPABILITY`` lowers it).  ``simd_env``: those of
    :data:`SIMD_ENV` set in the environment.
    """
    try:
        from numpy.lib.introspect import opt_func_info

        info = opt_func_info(func_name="^(tanh|exp)$", signature="^(float32|float64)")
        targets = sorted({sig["current"] for f in info.values() for sig in f.values()})
    except (ImportError, AttributeError, KeyError, TypeError):
        targets = []
    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except AttributeError:
        capability = None
    settings = {k: os.environ[k] for k in SIMD_ENV if os.environ.get(k)}
    return {"numpy_simd": "/".join(targets) or None, "torch_cpu_capability": capability, "simd_env": settings}


def interleaved(
    fns: dict[str, Callable[[], object]],
    rounds: int,
    inner: int,
    warmup: int = 2,
    settle: int = 1,
    warmup_cap_s: float = WARMUP_MAX_S,
) -> dict[str, Timing]:
    """Time each callable in ``fns`` by interleaved rounds (see the module docstring)."""
    names = list(fns)
    best = {name: warm_up(fns[name], warmup, cap_s=warmup_cap_s) for name in names}  # ms
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            fn = fns[name]
            # untimed: absorbs what the previous side left, until this side is back near its best
            warm_up(fn, settle, cap_s=min(SETTLE_MAX_S, warmup_cap_s), best_ms=best[name])
            for _ in range(inner):
                t0 = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - t0) * 1e3)
            best[name] = min(best[name], min(times[name][-inner:]))
    return {name: Timing(t) for name, t in times.items()}


def warm_up(
    fn: Callable[[], object],
    calls: int = 2,
    cap_s: float = WARMUP_MAX_S,
    max_calls: int = WARMUP_MAX_CALLS,
    best_ms: float = float("inf"),
) -> float:
    """Call ``fn`` at least ``calls`` times, and on until its time is steady (the last call within
    1.25x of the fastest so far, and of ``best_ms``, a time the callable has shown before), but no
    more than ``max(calls, max_calls)`` times and no longer than ``cap_s`` seconds (a call already
    running finishes); return the fastest call in ms.

    Why not a fixed count: on this kind of machine (a 2-vCPU VM), right after large GEMMs of the
    other library, or another process's work, a small call can take hundreds of milliseconds
    for a second or two while the threads are rescheduled.  Timing must not start in that state.
    """
    best = best_ms / 1e3  # s
    t_end = time.perf_counter() + cap_s
    n = 0
    while True:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best = min(best, dt)
        n += 1
        steady = n >= calls and dt <= 1.25 * best
        if steady or n >= max(calls, max_calls) or time.perf_counter() > t_end:
            return best * 1e3


def warmup_cap(budget_s: float) -> float:
    """Seconds the warm-up of one callable may take in a row timed for ``budget_s`` seconds: no
    more than the row's own budget, and never more than :data:`WARMUP_MAX_S`."""
    return min(WARMUP_MAX_S, max(budget_s, 0.05))


def plan(call_ms: float, sides: int, budget_s: float) -> tuple[int, int, int]:
    """``(rounds, inner, settle)`` that fit about ``budget_s`` seconds for one row, given one call's
    time: blocks of at least 50 ms of timed calls, and two settle calls for calls under 5 ms."""
    call_s = max(call_ms, 1e-3) / 1e3
    inner = int(min(20, max(1, 0.05 / call_s)))
    settle = 2 if call_ms < 5 else 1
    rounds = int(budget_s / (sides * (inner + settle) * call_s))
    return max(3, min(30, rounds)), inner, settle


def matmul_peak(dtype: np.dtype, n: int = 2048, rounds: int = 5) -> dict[str, float]:
    """GFLOP/s of a square ``(n, n) @ (n, n)`` GEMM on each side, measured now, interleaved.

    The *peak* used for "% of peak" is the better of NumPy's BLAS and torch's, so neither side is
    flattered by a slow library on the other.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)  # (n, n)
    b = rng.standard_normal((n, n)).astype(dtype)  # (n, n)
    out = np.empty((n, n), dtype=dtype)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    tout = torch.empty((n, n), dtype=ta.dtype)
    res = interleaved(
        {"numpy": lambda: np.matmul(a, b, out=out), "torch": lambda: torch.mm(ta, tb, out=tout)},
        rounds=rounds,
        inner=2,
        warmup=1,
    )
    flop = 2.0 * n**3
    gf = {side: flop / (min(t.times_ms) / 1e3) / 1e9 for side, t in res.items()}
    return {"numpy_gflops": gf["numpy"], "torch_gflops": gf["torch"], "peak_gflops": max(gf.values()), "n": n}
