"""The private gate order of the fast paths (:mod:`.layer`, :mod:`.inference`).

PyTorch stacks the gate rows of ``weight_ih``, ``weight_hh`` and the biases as i, f, g, o.  The fast
paths reorder them once per call to o, i, f, g: the three sigmoid gates (o, i, f) become one
contiguous block, and so do the three gates whose backward is a multiple of ``dc`` (i, f, g).
Parameters and gradients outside these modules are always in PyTorch's order.
"""

from __future__ import annotations

import numpy as np

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
