"""Scale: time and peak memory of a training step as the sequence grows (T up to 10,000).

Both sides are timed side by side at every ``T``; memory is measured in a subprocess per
(T, side) as in :mod:`benchmarks.memory`.  Reported per step (divided by ``T``), so a
flat line means linear growth in ``T``.
"""

from __future__ import annotations

import numpy as np

from benchmarks import cases, memory, timing
from benchmarks.configs import BenchConfig
from benchmarks.report import Row

DEFAULT_STEPS = (10, 100, 1000, 10000)
QUICK_STEPS = (10, 40)


def run_scale(
    cfg: BenchConfig,
    dtype: np.dtype,
    steps: tuple[int, ...],
    threads: int,
    budget_s: float,
    with_memory: bool,
    log: object = print,
) -> list[Row]:
    """One row per ``T`` in ``steps`` (``cfg.T`` is ignored)."""
    dtype = np.dtype(dtype)
    rows: list[Row] = []
    for T in steps:
        c = BenchConfig(f"{cfg.name}-T{T}", T, cfg.N, cfg.I, cfg.H, cfg.layers, cfg.bidirectional)
        case = cases.make_case(c, dtype)
        cases.check_equal(case, "train", sides=("numpy", "torch"))
        fns = cases.callables(case, "train", sides=("numpy", "torch"))
        call_ms = max(timing.warm_up(fn) for fn in fns.values())
        rounds, inner, settle = timing.plan(call_ms, len(fns), budget_s)
        res = timing.interleaved(fns, rounds=rounds, inner=inner, warmup=1, settle=settle)
        row: Row = {"config": cfg.name, "dtype": dtype.name, "T": T, "N": cfg.N, "I": cfg.I, "H": cfg.H}
        for side, t in res.items():
            row[f"{side}_ms"] = t.median
            row[f"{side}_us_per_step"] = t.median * 1e3 / T
        row["ratio_torch"] = row["numpy_ms"] / row["torch_ms"]
        if with_memory:
            for side in ("numpy", "torch"):
                mb = memory.measure(
                    {
                        "T": T,
                        "N": cfg.N,
                        "I": cfg.I,
                        "H": cfg.H,
                        "layers": cfg.layers,
                        "bidirectional": cfg.bidirectional,
                        "dtype": dtype.name,
                        "mode": "train",
                        "side": side,
                        "threads": threads,
                    }
                )
                row[f"{side}_mem_mb"] = mb
                row[f"{side}_kb_per_step"] = None if mb is None else mb * 1024 / T
        rows.append(row)
        if callable(log):
            log(
                f"  {dtype.name} T={T:6d}  numpy {row['numpy_ms']:10.2f} ms  torch {row['torch_ms']:10.2f} ms  "
                f"ratio {row['ratio_torch']:.2f}  "
                + (f"mem {row['numpy_mem_mb']:.2f} / {row['torch_mem_mb']:.2f} MiB" if with_memory else "")
            )
    return rows


SCALE_COLUMNS = [
    ("dtype", "dtype", "s"),
    ("T", "T", "d"),
    ("numpy_ms", "numpy ms", ".1f"),
    ("torch_ms", "torch ms", ".1f"),
    ("ratio_torch", "np/torch", ".2f"),
    ("numpy_us_per_step", "np us/step", ".1f"),
    ("torch_us_per_step", "torch us/step", ".1f"),
    ("numpy_mem_mb", "np MiB", ".1f"),
    ("torch_mem_mb", "torch MiB", ".1f"),
    ("numpy_kb_per_step", "np KiB/step", ".1f"),
    ("torch_kb_per_step", "torch KiB/step", ".1f"),
]
