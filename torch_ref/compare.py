"""Run the same input and upstream gradients through a NumPy module and its torch twin, and
report, tensor by tensor, how far apart they are.

This is the tool to reach for when a change breaks parity::

    from torch_ref import compare_with_torch
    report = compare_with_torch(lstm, x)         # lstm: numpy_lstm.LSTM or LSTMCell
    print(report)                                # one row per tensor: shape, max abs, max rel
    report.assert_close(rtol=1e-9)               # raises naming the first tensor that differs

Compared: the outputs (``output``, ``h_n``, ``c_n``; ``h``, ``c`` for a cell), the gradients of the
input and initial states (``dx``, ``dh_0``, ``dc_0``), and every parameter gradient
(``grad <name>``).  The relative difference of a tensor is ``max|a - b| / max|b|`` (``b`` is
torch's), so one near-zero element cannot make it blow up.  A training-mode LSTM with dropout is
compared through :class:`~torch_ref.masked_lstm.MaskedDropoutLSTM` with the masks NumPy drew.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

import numpy_lstm
from torch_ref.bridge import to_torch
from torch_ref.masked_lstm import MaskedDropoutLSTM, run_lstm


@dataclass
class Row:
    """One compared tensor."""

    name: str
    shape: tuple[int, ...]
    max_abs: float
    max_rel: float
    scale: float  # max |torch value|


@dataclass
class ComparisonReport:
    """Differences between a NumPy module and its torch twin, one :class:`Row` per tensor."""

    rows: list[Row] = field(default_factory=list)

    def add(self, name: str, ours: np.ndarray, theirs: np.ndarray) -> None:
        if ours.shape != theirs.shape:
            raise AssertionError(f"{name}: shape {ours.shape} (numpy) != {theirs.shape} (torch)")
        diff = float(np.max(np.abs(ours - theirs), initial=0.0))
        scale = float(np.max(np.abs(theirs), initial=0.0))
        rel = diff / scale if scale > 0 else diff
        self.rows.append(Row(name, tuple(ours.shape), diff, rel, scale))

    def __getitem__(self, name: str) -> Row:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.rows]

    @property
    def max_rel(self) -> float:
        return max((r.max_rel for r in self.rows), default=0.0)

    def worst(self) -> Row:
        """The row with the largest relative difference."""
        return max(self.rows, key=lambda r: r.max_rel)

    def assert_close(self, rtol: float, atol: float = 0.0) -> None:
        """Raise ``AssertionError`` naming every tensor with ``max_abs > rtol * max|torch| + atol``."""
        bad = [
            f"{r.name} {r.shape}: max abs {r.max_abs:.3e}, max rel {r.max_rel:.3e}"
            for r in self.rows
            if not r.max_abs <= rtol * r.scale + atol
        ]
        if bad:
            raise AssertionError(f"numpy and torch differ (rtol={rtol}, atol={atol}) in: " + "; ".join(bad))

    def __str__(self) -> str:
        width = max([len(r.name) for r in self.rows] + [6])
        lines = [f"{'tensor':<{width}}  {'shape':<16}  max abs diff  max rel diff"]
        for r in self.rows:
            lines.append(f"{r.name:<{width}}  {str(r.shape):<16}  {r.max_abs:12.3e}  {r.max_rel:12.3e}")
        return "\n".join(lines)


def _t(a: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.array(a), requires_grad=requires_grad)


def compare_with_torch(
    module: numpy_lstm.Module,
    x: Any,
    hx: Any = None,
    lengths: Any = None,
    *,
    seed: int = 0,
    state_grads: bool = True,
) -> ComparisonReport:
    """Forward and backward through ``module`` and a torch twin with identical weights.

    Upstream gradients are random (seeded by ``seed``) for the output and, when ``state_grads``,
    for the final states.  ``module.grads`` is zeroed first and holds NumPy's gradients after.
    """
    rng = np.random.default_rng(seed)
    twin = to_torch(module)
    module.zero_grad()
    x = np.asarray(x, dtype=module.dtype)
    xt = _t(x, requires_grad=True)
    is_cell = isinstance(module, numpy_lstm.LSTMCell)
    if hx is None:  # torch needs explicit zero states to report their gradients
        probe = module(x, None) if is_cell else module(x, None, lengths)[1]
        hx = tuple(np.zeros_like(s) for s in probe)
    hxt = tuple(_t(s, requires_grad=True) for s in hx)
    report = ComparisonReport()

    if is_cell:
        h, c = module(x, hx)
        ht, ct = twin(xt, hxt)
        dh = rng.standard_normal(h.shape).astype(module.dtype)
        dc = (rng.standard_normal(c.shape) if state_grads else np.zeros(c.shape)).astype(module.dtype)
        dx, (dh0, dc0) = module.backward(dh, dc)
        torch.autograd.backward([ht, ct], [_t(dh), _t(dc)])
        pairs = [("h", h, ht), ("c", c, ct)]
    else:
        out, (h, c) = module(x, hx, lengths)
        lengths_t = None if lengths is None else torch.as_tensor(np.asarray(lengths, dtype=np.int64))
        masks = module.dropout_masks if numpy_lstm.is_grad_enabled() else []
        if any(m is not None for m in masks):
            ref = MaskedDropoutLSTM(twin)
            outt, (ht, ct) = ref(xt, hxt, [None if m is None else _t(m) for m in masks], lengths_t)
            twin = ref  # parameter gradients live in the stack of single layers
        else:
            outt, (ht, ct) = run_lstm(twin, xt, hxt, lengths_t)
        dout = rng.standard_normal(out.shape).astype(module.dtype)
        dh = (rng.standard_normal(h.shape) if state_grads else np.zeros(h.shape)).astype(module.dtype)
        dc = (rng.standard_normal(c.shape) if state_grads else np.zeros(c.shape)).astype(module.dtype)
        dx, (dh0, dc0) = module.backward(dout, (dh, dc))
        torch.autograd.backward([outt, ht, ct], [_t(g) for g in (dout, dh, dc)])
        pairs = [("output", out, outt), ("h_n", h, ht), ("c_n", c, ct)]

    for name, ours, theirs in pairs:
        report.add(name, ours, theirs.detach().numpy())
    report.add("dx", dx, xt.grad.numpy())
    report.add("dh_0", dh0, hxt[0].grad.numpy())
    report.add("dc_0", dc0, hxt[1].grad.numpy())
    for name, grad in _torch_param_grads(twin).items():
        report.add(f"grad {name}", module.grads[name], grad)
    return report


def _torch_param_grads(twin: torch.nn.Module) -> dict[str, np.ndarray]:
    """Parameter gradients keyed by the full module's names (undoing MaskedDropoutLSTM's renaming)."""
    if isinstance(twin, MaskedDropoutLSTM):
        out = {}
        for k, layer in enumerate(twin.layers):
            for name, p in layer.named_parameters():
                out[name.replace("_l0", f"_l{k}")] = p.grad.numpy()
        return out
    return {name: p.grad.numpy() for name, p in twin.named_parameters()}
