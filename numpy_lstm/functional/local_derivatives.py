"""The local derivatives of the fast layer's backward (:mod:`.layer`, trick 6), for many steps at
once: every factor of a step's backward that does not depend on the incoming gradient.  Shapes as in
:mod:`.layer`; ``n`` steps of ``R`` rows at a time.  The formulas are written once, on gate blocks
(:func:`gate_local_derivatives`), for both layouts: :mod:`.layer`'s ``(N, 4H)`` rows and
:mod:`.feature_major`'s ``(4H, N)`` columns."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def gate_local_derivatives(
    sig: np.ndarray, gates: Sequence[np.ndarray], tanh_c: np.ndarray, c_prev: np.ndarray,
    d_sig: np.ndarray, d: Sequence[np.ndarray], k: np.ndarray,
) -> None:
    """The factors of trick 6 (:mod:`.layer`'s docstring), in either layout.  ``gates`` are the
    activated o, i, f, g blocks, ``sig`` the o | i | f block as one array, ``d`` and ``d_sig`` the same
    blocks of the output (a slice of ``dA``); ``k`` receives ``dm/dc``.  All of one step range, the
    shapes of ``tanh_c`` (``c_prev`` is ``c`` one step earlier).  ``s(1-s)`` is sigmoid's derivative,
    ``1 - g^2`` tanh's."""
    o, i, _, g = gates
    d_o, d_i, d_f, d_g = d
    np.subtract(1.0, sig, out=d_sig)
    d_sig *= sig  # s(1-s) for o, i, f
    d_o *= tanh_c  # do/dm = tanh(c)                              m = o * tanh(c)
    d_i *= g  # di/dc = g                                         c = f*c_prev + i*g
    d_f *= c_prev  # df/dc = c_prev
    np.multiply(g, g, out=d_g)
    np.subtract(1.0, d_g, out=d_g)
    d_g *= i  # dg/dc = i, times tanh' = 1 - g^2
    np.multiply(tanh_c, tanh_c, out=k)
    np.subtract(1.0, k, out=k)
    k *= o  # dm/dc = o * (1 - tanh(c)^2)                         m = o * tanh(c)


def local_derivatives(
    acts_all: np.ndarray, tanh_c_all: np.ndarray, c_all: np.ndarray,
    d: np.ndarray, k: np.ndarray, t0: int, t1: int, n0: int, n1: int,
) -> None:
    """Fill ``d (t1-t0, R, 4H)`` (the slice of ``dA`` for steps ``t0 .. t1-1``, rows ``n0 .. n1-1``)
    with the factors of trick 6, and ``k (t1-t0, R, H)``, in large calls.  Private order
    o | i | f | g.  Reads the cache's ``acts (T, N, 4H)``, ``tanh_c (T, N, H)`` and
    ``c (T+1, N, H)`` (``c[t]`` is ``c_prev``)."""
    H = tanh_c_all.shape[2]
    acts = acts_all[t0:t1, n0:n1]  # (n, R, 4H)
    gates = [acts[:, :, j * H : (j + 1) * H] for j in range(4)]  # o, i, f, g: (n, R, H) views
    blocks = [d[:, :, j * H : (j + 1) * H] for j in range(4)]
    gate_local_derivatives(
        acts[:, :, : 3 * H], gates, tanh_c_all[t0:t1, n0:n1], c_all[t0:t1, n0:n1], d[:, :, : 3 * H], blocks, k
    )
