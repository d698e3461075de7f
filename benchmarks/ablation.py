"""The ablation: each idea of the fast layer timed in turn, from the textbook loop to the shipped one.

The variants live in :mod:`benchmarks.variants` (pure NumPy).  Here each is checked
equal to the shipped layer, then all of them and PyTorch's training step of the same single layer
are timed side by side (:func:`benchmarks.timing.interleaved`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks import cases, flops, timing
from benchmarks.configs import BenchConfig
from benchmarks.report import Row
from benchmarks.variants import VARIANTS


def run_ablation(cfg: BenchConfig, dtype: np.dtype, budget_s: float) -> list[Row]:
    """One row per variant (training step of one layer, one direction), plus torch's."""
    dtype = np.dtype(dtype)
    one = cfg.layers == 1 and not cfg.bidirectional
    name = cfg.name if one else f"{cfg.name}: one layer"  # the ablation's rows time one layer, one direction
    cfg1 = BenchConfig(name, cfg.T, cfg.N, cfg.I, cfg.H)
    case = cases.make_case(cfg1, dtype)
    p = case.model.params
    w = (p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"])
    h0 = np.zeros((cfg.N, cfg.H), dtype)
    x, dy = case.x, case.dy
    ref = VARIANTS["shipped"](x, h0, h0, w, dy)
    tol = cases.TOLERANCE[dtype]
    for name, fn in VARIANTS.items():
        out = fn(x, h0, h0, w, dy)
        for key, value in ref.items():
            err = float(np.max(np.abs(out[key] - value))) / max(float(np.max(np.abs(value))), 1e-30)
            if not err <= tol:
                raise AssertionError(f"ablation {name}: {key} differs from the shipped layer by {err:.2e}")
    fns: dict[str, Any] = {name: (lambda fn=fn: fn(x, h0, h0, w, dy)) for name, fn in VARIANTS.items()}
    fns.update(cases.callables(case, "train", sides=("torch", "torch-native")))
    cases.check_equal(case, "train")
    call_ms = max(timing.warm_up(fn) for fn in fns.values())
    rounds, inner, settle = timing.plan(call_ms, len(fns), budget_s)
    res = timing.interleaved(fns, rounds=rounds, inner=inner, warmup=1, settle=settle)
    fl = flops.flops(cfg1, "train")
    rows: list[Row] = []
    base = res["textbook"].median
    prev = None
    for name, t in res.items():
        rows.append(
            {
                "config": cfg1.name,
                "dtype": dtype.name,
                "variant": name,
                "T": cfg.T,
                "N": cfg.N,
                "I": cfg.I,
                "H": cfg.H,
                "ms": t.median,
                "spread": t.spread,
                "speedup_vs_textbook": base / t.median,
                "speedup_vs_previous": (prev / t.median) if prev and name in VARIANTS else None,
                "ratio_torch": t.median / res["torch"].median,
                "gflops": fl / (t.median / 1e3) / 1e9,
                "rounds": rounds,
                "inner": inner,
            }
        )
        prev = t.median if name in VARIANTS else prev
    return rows


ABLATION_COLUMNS = [
    ("config", "config", "s"),
    ("dtype", "dtype", "s"),
    ("variant", "variant", "s"),
    ("ms", "train ms", ".2f"),
    ("spread", "±IQR", ".0%"),
    ("speedup_vs_previous", "x prev", ".2f"),
    ("speedup_vs_textbook", "x textbook", ".2f"),
    ("ratio_torch", "/ torch", ".2f"),
    ("gflops", "GF/s", ".1f"),
    ("pct_peak", "%peak", ".0%"),
]
