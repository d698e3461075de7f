"""Check any module's backward against central finite differences, in float64.

Point it at a module and an input::

    report = gradcheck(lstm, x)        # lstm: any numpy_lstm module, x: its input
    print(report)                      # worst relative error per parameter and for the input
    assert report.max_rel < 1e-6

How it works: a random upstream gradient ``R`` for every output defines the scalar
``L = sum(output * R)`` (summed over all outputs, including the states).  ``backward(R)`` gives the
analytic ``dL/dθ``; the numerical one is ``(L(θ + ε) - L(θ - ε)) / 2ε`` for sampled entries ``θ``.
The module is copied to float64 first, so that ``ε`` can be small without rounding dominating.
A NaN or infinite gradient, analytic or numerical, counts as an infinite error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from numpy_lstm.grad_mode import no_grad
from numpy_lstm.module import Module


@dataclass
class GradCheckRow:
    """Worst errors over the checked entries of one tensor."""

    name: str
    checked: int
    max_abs: float
    max_rel: float


@dataclass
class GradCheckReport:
    """Result of :func:`gradcheck`: one row per parameter, plus ``"input"``."""

    rows: list[GradCheckRow] = field(default_factory=list)
    noise: float = 0.0  # rounding error a central difference can carry: eps_float64 * sum|terms| / eps

    @property
    def max_rel(self) -> float:
        return max((r.max_rel for r in self.rows), default=0.0)

    def row(self, name: str) -> GradCheckRow:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)

    def __str__(self) -> str:
        width = max([len(r.name) for r in self.rows] + [6])
        lines = [f"{'tensor':<{width}}  checked  max abs err  max rel err  (noise ~{self.noise:.1e})"]
        for r in self.rows:
            lines.append(f"{r.name:<{width}}  {r.checked:>7}  {r.max_abs:11.3e}  {r.max_rel:11.3e}")
        return "\n".join(lines)


def _leaves(tree: Any) -> list[np.ndarray]:
    if isinstance(tree, (tuple, list)):
        return [leaf for item in tree for leaf in _leaves(item)]
    return [tree]


def _like(tree: Any, leaves: list[np.ndarray]) -> Any:
    """Rebuild ``tree``'s nesting with ``leaves`` (consumed from the front)."""
    if isinstance(tree, (tuple, list)):
        return tuple(_like(item, leaves) for item in tree)
    return leaves.pop(0)


def _to_float64(tree: Any) -> Any:
    """``tree`` with every floating-point array in float64, as the copy of the module is."""
    if isinstance(tree, (tuple, list)):
        return tuple(_to_float64(item) for item in tree)
    if isinstance(tree, np.ndarray) and tree.dtype.kind == "f":
        return tree.astype(np.float64)
    return tree


def gradcheck(
    module: Module,
    x: Any,
    *args: Any,
    eps: float = 1e-5,
    max_entries: int = 30,
    seed: int = 0,
    **kwargs: Any,
) -> GradCheckReport:
    """Compare ``module.backward`` with central differences of ``sum(outputs * R)``.

    ``x`` is the input whose gradient is checked too; ``args``/``kwargs`` go to ``forward``
    (``hx``, ``lengths`` ...), their floating-point arrays in float64 like the module's copy.
    At most ``max_entries`` random entries per tensor are perturbed.  The module itself is left
    untouched (the check runs on a float64 copy).
    """
    m = module.astype(np.float64)
    m.zero_grad()
    rng = np.random.default_rng(seed)
    x = np.array(x, dtype=np.float64)
    args = _to_float64(args)
    kwargs = {key: _to_float64(value) for key, value in kwargs.items()}
    has_rng = isinstance(getattr(m, "rng", None), np.random.Generator)
    rng_state = m.rng.bit_generator.state if has_rng else None

    def run() -> Any:
        if has_rng:  # the same dropout masks for every evaluation
            m.rng.bit_generator.state = rng_state
        return m(x, *args, **kwargs)

    out = run()
    upstream = [rng.standard_normal(leaf.shape) for leaf in _leaves(out)]

    def loss() -> float:
        with no_grad():
            return float(sum(np.sum(leaf * r) for leaf, r in zip(_leaves(run()), upstream, strict=True)))

    grad_tree = _like(out, list(upstream))
    back = m.backward(*grad_tree) if isinstance(out, tuple) else m.backward(grad_tree)
    dx = _leaves(back)[0]
    targets = [(name, m.params[name], m.grads[name]) for name in m.params] + [("input", x, dx)]
    # Each loss evaluation rounds a sum of terms of size |leaf * r|; dividing the difference of two
    # such sums by 2*eps turns that rounding into the absolute error a numerical gradient can carry.
    # Smaller true gradients than this cannot be checked to a good *relative* precision.
    magnitude = sum(float(np.sum(np.abs(leaf * r))) for leaf, r in zip(_leaves(out), upstream, strict=True))
    report = GradCheckReport(noise=np.finfo(np.float64).eps * magnitude / eps)
    for name, value, analytic in targets:
        picks = rng.choice(value.size, size=min(max_entries, value.size), replace=False)
        max_abs = max_rel = 0.0
        # Relative to the larger of the two values, floored at 1e-3 of the tensor's largest
        # gradient: an entry whose true gradient is ~0 has only rounding noise to compare.
        finite = np.abs(analytic[np.isfinite(analytic)])
        floor = max(1e-3 * float(finite.max()) if finite.size else 0.0, 1e-12)
        for j in picks:
            at = np.unravel_index(j, value.shape)  # an index, not a flat view: reshape(-1) copies a
            orig = value[at]  #                      parameter that is not C-ordered, so the
            value[at] = orig + eps  #                perturbation would never reach the module
            up = loss()
            value[at] = orig - eps
            down = loss()
            value[at] = orig
            numeric = (up - down) / (2 * eps)
            a = float(analytic[at])
            # A NaN or infinite gradient on either side is an infinite error, never a pass
            # (Python's max would drop a NaN: max(0.0, nan) is 0.0).
            err = abs(a - numeric) if np.isfinite(a) and np.isfinite(numeric) else np.inf
            max_abs = max(max_abs, err)
            max_rel = max(max_rel, err / max(abs(a), abs(numeric), floor) if np.isfinite(err) else np.inf)
        report.rows.append(GradCheckRow(name, len(picks), max_abs, max_rel))
    return report
