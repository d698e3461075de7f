r"""The bounds: what the arithmetic allows a NumPy layer on this computer, beside what it does.

For each one-layer configuration, dtype and mode, measured side by side in one run
(:func:`benchmarks.timing.interleaved`):

- **the steps**: the NumPy layer's call and PyTorch's, as in the grid (results checked equal first);
- **the GEMMs of the step, alone**: every matrix product the step needs (their FLOPs are fixed by
  the sizes), each run at its own shape in NumPy's BLAS and in PyTorch's (``torch.mm``), the
  per-step products in whichever of the two layouts (``h @ W.T`` or ``W @ h.T``) is faster on that
  side.  NumPy's sum is **floor A**: the time a NumPy layer would take with *zero* elementwise work.
  No NumPy design that computes these products can be faster, whatever else it does;
- **the elementwise work at its cheapest**: NumPy's cost per value of one binary ufunc
  (``multiply``) and of the gate transcendental of the form the layer chose (``tanh`` or ``exp``, see
  :mod:`numpy_lstm.functional.activation`), measured now on a step's ``(N, 4H)`` block, times the
  values that the layer's elementwise passes touch (:data:`PASSES`, counted from
  :mod:`numpy_lstm.functional.layer`), shared perfectly over the threads.  **Floor B** = floor A +
  that.  It is still a lower bound: the per-call overhead of the ``(N, H)`` calls, the cache misses
  and the cost of threads are left out.  **Floor B on one core** is floor A + the same work on one
  core: what a layer pays whose elementwise calls all run on one thread, as they do where the batch
  is too small for the row split (:mod:`numpy_lstm.functional.rows`; there, two threads making
  short NumPy calls lost more to handing the GIL over than they gained).

A ratio target ``numpy / torch <= L`` is **out of reach** on this computer, for this design with
this BLAS, when ``floor / torch > L``.  Where it is not, the difference between the step and floor B
is what a better layer could still take; where only floor B on one core exceeds ``L`` and the batch
is too small for the row split (``rows_split``: the layer's own choice at that size), the target
needs the elementwise work shared over the cores.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from benchmarks import cases, flops, timing
from benchmarks.configs import BenchConfig
from benchmarks.report import Row
from benchmarks.targets import ratio_limit
from numpy_lstm.functional.activation import gate_form
from numpy_lstm.functional.rows import row_blocks

# Elementwise passes of one step of the layer, in units of V = N * H values (a pass reads and
# writes each value of its operands once; the gate block is 4V wide).  Counted from
# numpy_lstm/functional/layer.py, activation.py and local_derivatives.py:
#   forward, both forms: bias added to the input projection 4; a += rec 4; c = f*c_prev, i*g, c += i*g,
#     h = o*tanh(c) 4 binary; tanh(c) 1 transcendental.  Gate activation: tanh form tanh 4
#     transcendental + (s/2 + 1/2) 3 + 3 binary; exp form exp 4 transcendental + 1+exp 4, 1/. 4,
#     2r 1, -1 1 binary.
#   backward: local derivatives 15 (s(1-s) 3+3, five products and 1-g^2 7 - see local_derivatives,
#     K 3); per step dm 1, dm*K 1, dc += 1, da_o 1, da_ifg 3, dc*f 1; h_prev remade 1; db 4 = 28.
# The feature-major layout's copies (dy and each chunk of dA transposed: 5 more) are a layout's cost,
# not the arithmetic's, and are left out.
PASSES: dict[tuple[str, str], tuple[int, int]] = {  # (form, mode) -> (binary, transcendental) passes
    ("tanh", "inference"): (4 + 4 + 4 + 6, 4 + 1),
    ("exp", "inference"): (4 + 4 + 4 + 10, 4 + 1),
    ("tanh", "train"): (4 + 4 + 4 + 6 + 28, 4 + 1),
    ("exp", "train"): (4 + 4 + 4 + 10 + 28, 4 + 1),
}

BOUNDS_COLUMNS = [
    ("config", "config", "s"),
    ("dtype", "dtype", "s"),
    ("mode", "mode", "s"),
    ("numpy_ms", "numpy ms", ".2f"),
    ("torch_ms", "torch ms", ".2f"),
    ("ratio_torch", "np/torch", ".2f"),
    ("gemm_numpy_ms", "GEMMs np ms", ".2f"),
    ("gemm_torch_ms", "GEMMs torch ms", ".2f"),
    ("elementwise_floor_ms", "elem floor ms", ".2f"),
    ("floor_a_ratio", "floor A/torch", ".2f"),
    ("floor_b_ratio", "floor B/torch", ".2f"),
    ("floor_b1_ratio", "B 1 core/torch", ".2f"),
    ("target", "target", ".1f"),
    ("verdict", "verdict", "s"),
]


def gemm_shapes(cfg: BenchConfig, mode: str) -> dict[str, tuple[int, list[tuple[tuple[int, int], tuple[int, int]]]]]:
    """The step's matrix products: name -> (calls, candidate layouts ``[(A shape, B shape), ...]``).
    Each layout computes the same product; the per-step ones come in both orientations."""
    T, N, I, H = cfg.T, cfg.N, cfg.I, cfg.H
    out = {
        "input projection": (1, [((T * N, I), (I, 4 * H))]),  # x @ W_ih.T for all steps at once
        "recurrent": (T, [((N, H), (H, 4 * H)), ((4 * H, H), (H, N))]),  # h_prev @ W_hh.T per step
    }
    if mode == "train":
        out |= {
            "recurrent backward": (T, [((N, 4 * H), (4 * H, H)), ((H, 4 * H), (4 * H, N))]),  # dA @ W_hh
            "dx": (1, [((T * N, 4 * H), (4 * H, I))]),  # dA @ W_ih
            "dW_ih": (1, [((4 * H, T * N), (T * N, I))]),  # dA.T @ x
            "dW_hh": (1, [((4 * H, T * N), (T * N, H))]),  # dA.T @ h_prev
        }
    return out


def _gemm_fns(calls: int, a_shape: tuple[int, int], b_shape: tuple[int, int], dtype: np.dtype,
              rng: np.random.Generator) -> dict[str, Callable[[], object]]:
    """``calls`` products of the given shapes on each side, on the same operands, each side into a
    preallocated output of its own."""
    a = rng.standard_normal(a_shape).astype(dtype)
    b = rng.standard_normal(b_shape).astype(dtype)
    out = np.empty((a_shape[0], b_shape[1]), dtype=dtype)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    tout = torch.empty(out.shape, dtype=ta.dtype)

    def run_numpy() -> object:
        for _ in range(calls):
            np.matmul(a, b, out=out)
        return out

    def run_torch() -> object:
        for _ in range(calls):
            torch.mm(ta, tb, out=tout)
        return tout

    return {"numpy": run_numpy, "torch": run_torch}


def elementwise_ns(cfg: BenchConfig, dtype: np.dtype, form: str, repeats: int = 30) -> tuple[float, float]:
    """NumPy's ns per value of ``multiply`` and of the form's transcendental on an ``(N, 4H)``
    block (the best of ``repeats`` calls each: a floor, as the bound wants)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((cfg.N, 4 * cfg.H)).astype(dtype)
    b, out = a.copy(), np.empty_like(a)
    trans = np.tanh if form == "tanh" else np.exp
    best = [float("inf"), float("inf")]
    with np.errstate(over="ignore"):
        for _ in range(repeats):
            for k, call in enumerate((lambda: np.multiply(a, b, out=out), lambda: trans(a, out=out))):
                t0 = time.perf_counter()
                call()
                best[k] = min(best[k], time.perf_counter() - t0)
    return best[0] / a.size * 1e9, best[1] / a.size * 1e9


def run_bounds(cfg: BenchConfig, dtype: np.dtype, mode: str, threads: int, budget_s: float) -> Row:
    """One row: the two steps, the GEMM floors on both sides, the elementwise floor, the verdict."""
    dtype = np.dtype(dtype)
    if cfg.layers != 1 or cfg.bidirectional:
        raise ValueError(f"bounds: one layer, one direction only, got {cfg.label()}")
    case = cases.make_case(cfg, dtype)
    cases.check_equal(case, mode, sides=("numpy", "torch"))
    fns: dict[str, Callable[[], object]] = dict(cases.callables(case, mode, sides=("numpy", "torch")))
    rng = np.random.default_rng(1)
    shapes = gemm_shapes(cfg, mode)
    for name, (calls, layouts) in shapes.items():
        for k, (sa, sb) in enumerate(layouts):
            for side, fn in _gemm_fns(calls, sa, sb, dtype, rng).items():
                fns[f"{side}|{name}|{k}"] = fn
    step_ms = max(timing.warm_up(fns["numpy"]), timing.warm_up(fns["torch"]))
    rounds, inner, settle = timing.plan(step_ms, 4, budget_s)  # the two steps and their GEMMs
    with timing.OtherLoad() as load:
        res = timing.interleaved(fns, rounds=rounds, inner=inner, warmup=1, settle=settle,
                                 warmup_cap_s=timing.warmup_cap(budget_s))
    form = gate_form(dtype)
    ns_bin, ns_trans = elementwise_ns(cfg, dtype, form)
    n_bin, n_trans = PASSES[(form, mode)]
    values = cfg.T * cfg.N * cfg.H  # V per step, times T
    elem_ms = values * (n_bin * ns_bin + n_trans * ns_trans) / threads / 1e6
    row: Row = {"config": cfg.name, "dtype": dtype.name, "mode": mode, "T": cfg.T, "N": cfg.N, "I": cfg.I,
                "H": cfg.H, "gflop": flops.flops(cfg, mode) / 1e9, "gate_form": form}
    for side in ("numpy", "torch"):
        row[f"{side}_ms"] = res[side].median
        total = 0.0
        for name, (_, layouts) in shapes.items():
            best = min(res[f"{side}|{name}|{k}"].median for k in range(len(layouts)))
            row[f"gemm_{side}_{name.replace(' ', '_')}_ms"] = best
            total += best
        row[f"gemm_{side}_ms"] = total
    torch_ms = row["torch_ms"]
    row |= {
        "ratio_torch": row["numpy_ms"] / torch_ms,
        "ns_per_value_binary": ns_bin,
        "ns_per_value_transcendental": ns_trans,
        "passes_binary": n_bin,
        "passes_transcendental": n_trans,
        "elementwise_mib": values * (n_bin + n_trans) * 2 * dtype.itemsize / 2**20,  # read + write
        "elementwise_floor_ms": elem_ms,
        "floor_a_ratio": row["gemm_numpy_ms"] / torch_ms,
        "floor_b_ratio": (row["gemm_numpy_ms"] + elem_ms) / torch_ms,
        "floor_b1_ratio": (row["gemm_numpy_ms"] + elem_ms * threads) / torch_ms,  # elementwise on one core
        "rest_ms": row["numpy_ms"] - row["gemm_numpy_ms"],
        "target": ratio_limit(cfg.name, dtype.name, mode),
        "other_load_cores": load.cores,
        "rows_split": rows_split(cfg, dtype, mode),
    }
    row["verdict"] = verdict(row)
    return row


def rows_split(cfg: BenchConfig, dtype: np.dtype, mode: str) -> bool:
    """Whether the layer runs this step's elementwise work on every core, now: training splits the
    rows of a large batch over the threads; inference never does (:mod:`numpy_lstm.functional.layer`,
    tricks 7 and 8)."""
    return mode == "train" and len(row_blocks(cfg.N, 4 * cfg.H, np.dtype(dtype).itemsize)) > 1


def verdict(row: Row) -> str:
    """What the row says of its target: met, out of reach (and by which floor), or reachable."""
    limit = row["target"]
    if limit is None:
        return "no target"
    if row["ratio_torch"] <= limit:
        return "met"
    if row["floor_a_ratio"] > limit:
        return "out of reach: GEMMs alone"
    if row["floor_b_ratio"] > limit:
        return "out of reach: GEMMs + elementwise"
    if row["floor_b1_ratio"] > limit and not row["rows_split"]:  # the layer's elementwise work on one core
        return "not met; floor B allows it on all cores, not on one"
    return "not met; floor B allows it"


def add_peak(rows: list[Row], peaks: dict[str, dict[str, float]]) -> None:
    """``gemm_numpy_pct_peak``: floor A as a share of the matmul peak (the best a NumPy step of
    these GEMMs can reach), and the step's own share."""
    for r in rows:
        peak_ms = r["gflop"] / peaks[r["dtype"]]["peak_gflops"] * 1e3
        r["gemm_numpy_pct_peak"] = peak_ms / r["gemm_numpy_ms"]
        r["numpy_pct_peak"] = peak_ms / r["numpy_ms"]
