"""Run the same input and upstream gradients through a NumPy module and its torch twin, and
report, tensor by tensor, how far apart they are.

This is the tool to reach for when a change breaks parity::

    from torch_ref import compare_with_torch
    report = compare_with_torch(lstm, x)         # lstm: numpy_lstm.LSTM or LSTMCell
    print(report)                                # one row per tensor: shape, max abs, max rel
    report.assert_close(rtol=1e-9)               # raises naming the first tensor that differs

Compared for a layer: the outputs (``output``, ``h_n``, ``c_n``; ``h``, ``c`` for a cell), the
gradients of the input and initial states (``dx``, ``dh_0``, ``dc_0``), and every parameter
gradient (``grad <name>``).  A training-mode LSTM with dropout is compared through
:func:`~torch_ref.masked_lstm.masked_lstm_forward` with the masks NumPy drew.

For a model you wrote (any module tree with ``forward`` and ``backward``), pass your torch model;
its copy gets the NumPy weights by name, and both run the same input (and loss)::

    report = compare_with_torch(net, x, torch_module=torch_net, target=y, loss="cross_entropy")

compares ``output``, ``loss``, ``dx`` (float input) and ``grad <dotted name>`` for every parameter.
The relative difference of a tensor is ``max|a - b| / max|b|`` (``b`` is torch's), so one
near-zero element cannot make it blow up.  Non-finite values must be where torch has them: a NaN
against a NaN and an infinity against the same infinity agree; anything else (a NaN or an infinity
on one side only) is an infinite difference, so no tolerance passes it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

import numpy_lstm
from numpy_lstm.losses import IGNORE_INDEX
from torch_ref.bridge import TorchTree, load_into_torch, to_torch
from torch_ref.masked_lstm import masked_lstm_forward, run_lstm


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
        ours, theirs = np.asarray(ours), np.asarray(theirs)
        finite = np.isfinite(ours) & np.isfinite(theirs)  # compared by value
        # Elsewhere both must be the same NaN or infinity; the scale is taken over finite values, or
        # an infinity of torch's would make ``rtol * scale`` infinite and pass every difference.
        with np.errstate(invalid="ignore"):
            same = (ours == theirs) | (np.isnan(ours) & np.isnan(theirs))
        if np.all(finite | same):
            diff = float(np.max(np.abs(ours[finite] - theirs[finite]), initial=0.0))
        else:
            diff = float("inf")
        scale = float(np.max(np.abs(theirs[finite]), initial=0.0))
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
        return self.worst().max_rel if self.rows else 0.0

    def worst(self) -> Row:
        """The row with the largest relative difference (a NaN, which :meth:`add` does not make but a
        row built by hand could hold, counts as the largest: Python's ``max`` would skip it)."""
        return max(self.rows, key=lambda r: np.inf if np.isnan(r.max_rel) else r.max_rel)

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
    torch_module: torch.nn.Module | None = None,
    target: Any = None,
    loss: str | None = None,
) -> ComparisonReport:
    """Forward and backward through ``module`` and a torch twin with identical weights.

    Upstream gradients are random (seeded by ``seed``) for the output and, when ``state_grads``,
    for the final states.  ``module.grads`` is zeroed first and holds NumPy's gradients after.
    A module other than ``LSTM``/``LSTMCell`` (a tree you wrote) is compared with
    ``torch_module`` (see :func:`compare_trees`).
    """
    if torch_module is not None or not isinstance(module, (numpy_lstm.LSTM, numpy_lstm.LSTMCell)):
        if hx is not None or lengths is not None:
            raise ValueError("compare_with_torch: hx and lengths apply to an LSTM or LSTMCell; a tree takes x only")
        return compare_trees(module, x, torch_module, target=target, loss=loss, seed=seed)
    if target is not None or loss is not None:
        raise ValueError("compare_with_torch: target and loss apply to a tree compared with torch_module")
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
        if any(m is not None for m in masks):  # replay NumPy's dropout; the gradients land on twin's parameters
            outt, (ht, ct) = masked_lstm_forward(
                twin, xt, hxt, [None if m is None else _t(m) for m in masks], lengths_t
            )
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
    for name, p in twin.named_parameters():
        report.add(f"grad {name}", module.grads[name], p.grad.numpy())
    return report


def _has_live_dropout(module: numpy_lstm.Module) -> bool:
    return any(isinstance(m, numpy_lstm.LSTM) and m.training and m.dropout > 0 for _, m in module.named_modules())


def compare_trees(
    module: numpy_lstm.Module,
    x: Any,
    torch_module: torch.nn.Module | None,
    *,
    target: Any = None,
    loss: str | None = None,
    seed: int = 0,
) -> ComparisonReport:
    """Compare a NumPy module tree with a torch module of the same structure, by parameter name.

    ``torch_module`` is left as it is: a copy of it receives the NumPy weights (every name, shape
    and dtype checked first), then both run ``out = model(x)``.  With ``loss="cross_entropy"``
    (and integer ``target`` of ``out.shape[:-1]``, ``-100`` ignored) the loss is
    ``numpy_lstm.cross_entropy`` / ``torch.nn.functional.cross_entropy`` and its gradient flows
    back; with ``loss=None`` the upstream gradient is random (seeded by ``seed``).  ``module``
    needs ``backward(dout)``, returning ``dx`` for float input (compared) or None.
    """
    if loss not in (None, "cross_entropy"):
        raise ValueError(f"compare_with_torch: loss must be None or 'cross_entropy', got {loss!r}")
    if (loss is None) != (target is None):
        raise ValueError("compare_with_torch: loss='cross_entropy' and target go together")
    if _has_live_dropout(module):
        raise ValueError(
            "compare_with_torch: the tree has an LSTM with dropout in training mode, and torch would "
            "draw other masks; compare in eval mode (module.eval())"
        )
    if torch_module is None:
        twin = to_torch(module)
        if isinstance(twin, TorchTree):
            raise ValueError(
                f"compare_with_torch: {type(module).__name__} is a model of your own; pass its torch "
                "version as torch_module= (the weights are copied into a copy of it by name)"
            )
    else:
        twin = copy.deepcopy(torch_module)
        load_into_torch(twin, module)
    twin.train(module.training)
    twin.zero_grad(set_to_none=True)
    module.zero_grad()
    x = np.asarray(x)
    is_float = x.dtype.kind == "f"
    xt = _t(x, requires_grad=True) if is_float else torch.from_numpy(x.astype(np.int64))
    out = module(x)
    outt = twin(xt)
    if not isinstance(out, np.ndarray) or not isinstance(outt, torch.Tensor):
        raise ValueError(
            f"compare_with_torch: expected both models to return one array, got {type(out).__name__} "
            f"(numpy) and {type(outt).__name__} (torch)"
        )
    report = ComparisonReport()
    report.add("output", out, outt.detach().numpy())
    if loss is None:
        dout = np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)
        outt.backward(_t(dout))
    else:
        targets = np.asarray(target)
        value, cache = numpy_lstm.cross_entropy(out, targets)
        dout = numpy_lstm.cross_entropy_backward(cache)
        C = out.shape[-1]
        tvalue = torch.nn.functional.cross_entropy(
            outt.reshape(-1, C), torch.from_numpy(targets.astype(np.int64)).reshape(-1), ignore_index=IGNORE_INDEX
        )
        tvalue.backward()
        report.add("loss", np.array(value), tvalue.detach().numpy())
    dx = module.backward(dout)
    if is_float and isinstance(dx, np.ndarray):
        report.add("dx", dx, xt.grad.numpy())
    for name, p in twin.named_parameters():
        if p.grad is None:
            raise AssertionError(f"grad {name}: torch computed no gradient (the parameter is not used by forward)")
        report.add(f"grad {name}", module.grads[name], p.grad.numpy())
    return report
