"""Variable lengths in the fast layer: the rows' last steps, zeroed padding, time reversed within
each sequence (what the reverse direction of a bidirectional layer reads).  Shapes as in :mod:`.layer`.

With ``lengths`` (``N`` integers in ``[1, T]``), sequence ``n`` is valid for steps ``t < lengths[n]``.
The loop still runs every row through all ``T`` steps (padding only wastes work, it cannot change
a valid step, since a step depends on earlier steps alone).  Then: outputs past a sequence's end are
zero; ``h_n``/``c_n`` are taken at its last valid step; in backward the upstream gradient past the end
is ignored, and ``dh_n``/``dc_n`` are injected at the last valid step instead of at ``T - 1``.  So the
gradient at a padded step is exactly zero: no share in the weight gradients, and zero ``dx``.
"""

from __future__ import annotations

import numpy as np


def ends_by_step(lengths: np.ndarray, T: int, N: int) -> dict[int, np.ndarray]:
    """``{t: rows whose last valid step is t}`` for variable lengths."""
    ends: dict[int, np.ndarray] = {}
    for t in np.unique(lengths - 1):
        ends[int(t)] = np.flatnonzero(lengths - 1 == t)
    return ends


def zero_padding(a: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """A copy of ``a (T, N, F)`` with every step past its sequence's length set to 0.

    ``np.where`` rather than a multiplication by a 0/1 mask: ``0 * nan`` is ``nan``, and padding may
    hold anything.
    """
    valid = np.arange(a.shape[0])[:, None] < lengths[None, :]  # (T, N)
    return np.where(valid[:, :, None], a, a.dtype.type(0))  # (T, N, F)


def reverse_time(x: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
    """Reverse each sequence of ``x (T, N, F)`` within its own length (padding stays at the end).

    This is what the reverse direction of a bidirectional layer reads.  It is a permutation of the
    steps of each row and its own inverse, so the same call also maps results and gradients back.
    """
    if lengths is None:
        return x[::-1]  # (T, N, F) view
    T, N = x.shape[:2]
    t = np.arange(T)[:, None]  # (T, 1)
    src = np.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)  # (T, N)
    return x[src, np.arange(N)[None, :]]  # (T, N, F)
