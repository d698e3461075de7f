r"""Global-norm gradient clipping, as ``torch.nn.utils.clip_grad_norm_``::

total = || (||g_1||, ||g_2||, ...) ||            the norm of all gradients as one vector
coef  = min(max_norm / (total + 1e-6), 1)
g_k  <- coef * g_k                               in place, for every gradient
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from numpy_lstm.module import Module


def clip_grad_norm(grads: Module | Iterable[np.ndarray], max_norm: float, norm_type: float = 2.0) -> float:
    """Scale the gradients in place so their global norm is at most ``max_norm``; return the norm
    before clipping.  ``grads`` is a module tree (every gradient in it) or an iterable of arrays.
    """
    if isinstance(max_norm, bool) or not isinstance(max_norm, (int, float)) or not max_norm > 0:
        raise ValueError(f"max_norm must be a positive number, got {max_norm!r}")
    if not (norm_type == math.inf or (isinstance(norm_type, (int, float)) and norm_type > 0)):
        raise ValueError(f"norm_type must be a positive number or inf, got {norm_type!r}")
    arrays = [g for _, _, g in grads.named_parameters()] if isinstance(grads, Module) else list(grads)  # each once
    if not arrays:
        return 0.0
    norms = np.array([np.linalg.norm(g.ravel(), ord=norm_type) for g in arrays], dtype=arrays[0].dtype)
    total = float(np.linalg.norm(norms, ord=norm_type))  # scalar
    coef = min(max_norm / (total + 1e-6), 1.0)
    for g in arrays:
        g *= g.dtype.type(coef)
    return total
