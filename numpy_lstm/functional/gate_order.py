"""The private gate order of the fast paths (:mod:`.layer`, :mod:`.feature_major`) and the one helper
that prepares their weights.

PyTorch stacks the gate rows of ``weight_ih``, ``weight_hh`` and the biases as i, f, g, o.  The fast
paths reorder them once per call to o, i, f, g: the three sigmoid gates (o, i, f) become one
contiguous block, and so do the three gates whose backward is a multiple of ``dc`` (i, f, g).
Parameters and gradients outside these modules are always in PyTorch's order.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from numpy_lstm.functional.activation import gate_scale

PRIVATE_ORDER = ("o", "i", "f", "g")
"""The gate order inside the fast paths: sigmoid gates o, i, f adjacent; i, f, g (scaled by ``dc``) too."""


def private_gate_rows(H: int) -> np.ndarray:
    """Row index that turns PyTorch's gate order (i, f, g, o) into the private order (o, i, f, g):
    ``W_private = W_torch[private_gate_rows(H)]``."""
    r = np.arange(H)
    return np.concatenate([3 * H + r, r, H + r, 2 * H + r])  # (4H,)


def torch_gate_rows(H: int) -> np.ndarray:
    """The inverse of :func:`private_gate_rows`: ``W_torch = W_private[torch_gate_rows(H)]``."""
    return np.argsort(private_gate_rows(H))  # (4H,)


class GateWeights(NamedTuple):
    """One layer's weights as the fast paths use them: private order o | i | f | g."""

    W_ih: np.ndarray  # (4H, I)       private order, unscaled (what backward multiplies by)
    W_hh: np.ndarray  # (4H, H_out)   private order, unscaled
    W_in: np.ndarray  # (4H, I)       private order, each gate row times its scale (see activation)
    W_rec: np.ndarray  # (4H, H_out)  private order, scaled
    bias: np.ndarray | None  # (4H,) (b_ih + b_hh), private order, scaled; None without biases


def gate_weights(
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray | None,
    b_hh: np.ndarray | None,
    form: str,
) -> GateWeights:
    """Reorder PyTorch's ``W_ih (4H, I)``, ``W_hh (4H, H_out)``, ``b_ih``, ``b_hh`` into the private
    order, and fold the scale of the activation ``form`` into the rows (``0.5`` for the sigmoid rows
    of the tanh form; ``-1`` and ``-2`` for the exp form: all exact in floating point)."""
    H = W_hh.shape[0] // 4
    dtype = W_ih.dtype
    rows = private_gate_rows(H)  # (4H,)
    scale = gate_scale(H, form, dtype)  # (4H,)
    Wp_ih, Wp_hh = W_ih[rows], W_hh[rows]  # (4H, I), (4H, H_out)
    bias = None
    if b_ih is not None:
        bias = ((b_ih + b_hh)[rows] * scale).astype(dtype)  # (4H,)
    return GateWeights(Wp_ih, Wp_hh, Wp_ih * scale[:, None], Wp_hh * scale[:, None], bias)
