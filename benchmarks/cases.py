"""What is timed: one call on each side, built on shared weights and inputs, checked equal first.

Sides: ``numpy`` (``numpy_lstm.LSTM``), ``torch`` (``torch.nn.LSTM`` on its default CPU path: oneDNN
for float32) and ``torch-native`` (the same module with oneDNN disabled: ATen's own LSTM kernels).

Modes: ``inference`` is a forward under no_grad on both sides (no caches kept); ``train`` is
zero_grad + forward + backward of a fixed random upstream gradient ``dy``.  In ``train`` both sides
compute the input gradient ``dx`` too (the torch input has ``requires_grad``), so both do the same
work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

import numpy_lstm
from benchmarks.configs import BenchConfig
from torch_ref.bridge import to_torch

SIDES = ("numpy", "torch", "torch-native")
MODES = ("inference", "train")
# Largest relative difference (max |a - b| / max |b|) accepted between the sides before timing.
TOLERANCE = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-9}


@dataclass
class Case:
    """The models and data of one (config, dtype), shared by every side and mode."""

    cfg: BenchConfig
    dtype: np.dtype
    model: numpy_lstm.LSTM
    twin: torch.nn.LSTM
    x: np.ndarray  # (T, N, I)
    dy: np.ndarray  # (T, N, D*H)
    tx: torch.Tensor  # (T, N, I), requires_grad
    tdy: torch.Tensor  # (T, N, D*H)


def make_case(cfg: BenchConfig, dtype: np.dtype, seed: int = 0) -> Case:
    """Random weights (PyTorch's init), a random input and a random upstream gradient."""
    dtype = np.dtype(dtype)
    model = numpy_lstm.LSTM(
        cfg.I, cfg.H, num_layers=cfg.layers, bidirectional=cfg.bidirectional, dtype=dtype, seed=seed
    )
    twin = to_torch(model)
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((cfg.T, cfg.N, cfg.I)).astype(dtype)  # (T, N, I)
    dy = rng.standard_normal((cfg.T, cfg.N, cfg.D * cfg.H)).astype(dtype)  # (T, N, D*H)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    tdy = torch.from_numpy(dy.copy())
    return Case(cfg, dtype, model, twin, x, dy, tx, tdy)


def _numpy_fn(case: Case, mode: str) -> Callable[[], object]:
    m, x, dy = case.model, case.x, case.dy
    if mode == "inference":

        def infer() -> object:
            with numpy_lstm.no_grad():
                return m(x)

        return infer

    def train() -> object:
        m.zero_grad()
        y, _ = m(x)
        return m.backward(dy)

    return train


@contextmanager
def onednn(enabled: bool) -> Iterator[None]:
    """Switch PyTorch's oneDNN (mkldnn) CPU path on or off for a block.  Not
    ``torch.backends.mkldnn.flags``: that also sets TF32 flags, which warns on every call."""
    before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = enabled
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = before


def _torch_fn(case: Case, mode: str, use_onednn: bool) -> Callable[[], object]:
    t, tx, tdy = case.twin, case.tx, case.tdy
    if mode == "inference":

        def infer() -> object:
            with torch.no_grad(), onednn(use_onednn):
                return t(tx)

        return infer

    def train() -> object:
        t.zero_grad(set_to_none=True)
        tx.grad = None
        with onednn(use_onednn):
            y, _ = t(tx)
            y.backward(tdy)
        return None

    return train


def callables(case: Case, mode: str, sides: tuple[str, ...] = SIDES) -> dict[str, Callable[[], object]]:
    """One zero-argument callable per side."""
    fns: dict[str, Callable[[], object]] = {}
    for side in sides:
        if side == "numpy":
            fns[side] = _numpy_fn(case, mode)
        else:
            fns[side] = _torch_fn(case, mode, use_onednn=side == "torch")
    return fns


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    return float(np.max(np.abs(a - b))) / max(scale, 1e-30) if a.size else 0.0


def check_equal(case: Case, mode: str, sides: tuple[str, ...] = SIDES) -> float:
    """Run every side once and compare its results with NumPy's; return the worst relative
    difference.  Raises ``AssertionError`` naming the tensor when it exceeds :data:`TOLERANCE`."""
    tol = TOLERANCE[case.dtype]
    fns = callables(case, mode, sides)
    worst = 0.0
    if mode == "inference":
        y, (h_n, c_n) = fns["numpy"]()  # type: ignore[misc]
        ours = {"output": y, "h_n": h_n, "c_n": c_n}
    else:
        dx, _ = fns["numpy"]()  # type: ignore[misc]
        ours = {"dx": dx, **{f"grad {k}": v.copy() for k, v in case.model.grads.items()}}
    for side in sides:
        if side == "numpy":
            continue
        if mode == "inference":
            ty, (th, tc) = fns[side]()  # type: ignore[misc]
            theirs = {"output": ty, "h_n": th, "c_n": tc}
        else:
            fns[side]()
            theirs = {"dx": case.tx.grad}
            theirs.update({f"grad {k}": p.grad for k, p in case.twin.named_parameters()})
        for name, value in ours.items():
            ref = theirs[name].detach().numpy()
            if value.shape != ref.shape:
                raise AssertionError(f"{side} {mode}: {name} shape {value.shape} != {ref.shape}")
            err = _rel(np.asarray(value), ref)
            if not err <= tol:
                raise AssertionError(
                    f"{case.cfg.name} {case.dtype.name} {mode}: numpy and {side} differ on {name}: "
                    f"relative difference {err:.2e} > {tol:.0e}; refusing to time unequal results"
                )
            worst = max(worst, err)
    return worst
