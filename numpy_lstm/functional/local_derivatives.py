"""The local derivatives of the fast layer's backward (:mod:`.layer`, trick 6), for many steps at
once: every factor of a step's backward that does not depend on the incoming gradient.  Shapes as in
:mod:`.layer`; ``n`` steps of ``R`` rows at a time."""

from __future__ import annotations

import numpy as np


def local_derivatives(
    acts_all: np.ndarray, tanh_c_all: np.ndarray, c_all: np.ndarray,
    d: np.ndarray, k: np.ndarray, t0: int, t1: int, n0: int, n1: int,
) -> None:
    """Fill ``d (t1-t0, R, 4H)`` (the slice of ``dA`` for steps ``t0 .. t1-1``, rows ``n0 .. n1-1``)
    with the factors of trick 6 (:mod:`.layer`'s docstring), and ``k (t1-t0, R, H)``, in large calls.
    Private order o | i | f | g; ``s(1-s)`` is sigmoid's derivative, ``1 - g^2`` tanh's.  Reads the
    cache's ``acts (T, N, 4H)``, ``tanh_c (T, N, H)`` and ``c (T+1, N, H)`` (``c[t]`` is ``c_prev``).
    """
    H = tanh_c_all.shape[2]
    acts = acts_all[t0:t1, n0:n1]  # (n, R, 4H)
    tanh_c = tanh_c_all[t0:t1, n0:n1]  # (n, R, H)
    o, i, f, g = (acts[:, :, j * H : (j + 1) * H] for j in range(4))  # (n, R, H) views
    d_sig = d[:, :, : 3 * H]  # (n, R, 3H)  o | i | f
    d_o, d_i, d_f, d_g = (d[:, :, j * H : (j + 1) * H] for j in range(4))  # (n, R, H) views
    np.subtract(1.0, acts[:, :, : 3 * H], out=d_sig)
    d_sig *= acts[:, :, : 3 * H]  # s(1-s) for o, i, f
    d_o *= tanh_c  # do/dm = tanh(c)                              m = o * tanh(c)
    d_i *= g  # di/dc = g                                         c = f*c_prev + i*g
    d_f *= c_all[t0:t1, n0:n1]  # df/dc = c_prev
    np.multiply(g, g, out=d_g)
    np.subtract(1.0, d_g, out=d_g)
    d_g *= i  # dg/dc = i, times tanh' = 1 - g^2
    np.multiply(tanh_c, tanh_c, out=k)
    np.subtract(1.0, k, out=k)
    k *= o  # dm/dc = o * (1 - tanh(c)^2)                         m = o * tanh(c)
