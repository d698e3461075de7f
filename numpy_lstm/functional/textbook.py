"""The textbook layer: a Python loop of readable cell steps (:mod:`numpy_lstm.functional.cell`).

Every step does its own input GEMM, and backward accumulates the weight gradients step by step.
This is the form most tutorials show.  It is kept as the reference that the fast layer
(:mod:`numpy_lstm.functional.layer`) is tested against, and as the baseline of the benchmark
ablation.  No variable lengths here: those are a feature of the fast layer.
"""

from __future__ import annotations

import numpy as np

from numpy_lstm.functional.cell import CellCache, cell_backward, cell_forward


def textbook_forward(
    x: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray | None = None,
    b_hh: np.ndarray | None = None,
    W_hr: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[CellCache]]:
    """``x (T, N, I)`` -> ``y (T, N, H_out)``, ``h_n``, ``c_n`` and one cache per step."""
    h, c = h0, c0
    ys, caches = [], []
    for t in range(x.shape[0]):
        h, c, cache = cell_forward(x[t], h, c, W_ih, W_hh, b_ih, b_hh, W_hr)  # (N, H_out), (N, H)
        ys.append(h)
        caches.append(cache)
    return np.stack(ys), h, c, caches  # (T, N, H_out)


def textbook_backward(
    dy: np.ndarray,
    dh_n: np.ndarray,
    dc_n: np.ndarray,
    caches: list[CellCache],
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    W_hr: np.ndarray | None = None,
) -> dict[str, np.ndarray | None]:
    """BPTT by looping :func:`cell_backward` from the last step to the first.

    Returns ``dx (T, N, I)``, ``dh0``, ``dc0``, ``dW_ih``, ``dW_hh``, ``db`` and ``dW_hr`` (None
    without projection), with weight gradients summed over steps as the loop goes.
    """
    dh, dc = dh_n, dc_n
    dW_ih = np.zeros_like(W_ih)
    dW_hh = np.zeros_like(W_hh)
    db = np.zeros(W_ih.shape[0], dtype=W_ih.dtype)
    dW_hr = np.zeros_like(W_hr) if W_hr is not None else None
    dxs = []
    for t in range(len(caches) - 1, -1, -1):
        g = cell_backward(dh + dy[t], dc, caches[t], W_ih, W_hh, W_hr)
        dW_ih += g.dW_ih
        dW_hh += g.dW_hh
        db += g.db
        if dW_hr is not None:
            dW_hr += g.dW_hr
        dh, dc = g.dh_prev, g.dc_prev
        dxs.append(g.dx)
    dx = np.stack(dxs[::-1])  # (T, N, I)
    return {"dx": dx, "dh0": dh, "dc0": dc, "dW_ih": dW_ih, "dW_hh": dW_hh, "db": db, "dW_hr": dW_hr}
