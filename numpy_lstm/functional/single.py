r"""One direction of one layer over ONE sequence (``N = 1``): the fewest NumPy calls per step.

The numbers are those of :mod:`numpy_lstm.functional.cell` (equations and backward derivation
there) and of :mod:`.layer`; ``tests/test_single.py`` proves all three agree.  :func:`.layer_forward`
and :func:`.layer_backward` come here by themselves for one sequence with all ``T`` steps valid, no
projection, and weights that fit in cache (:func:`fits`); ``with single_path(False):`` (or
:func:`set_single_path`) sends every call to the general layer instead (the ablation does).

Why a path of its own: with one sequence of a small model (the next-token example: ``T = 20``,
``I = 4``, ``H = 50``) the arithmetic is nothing and the time is the fixed cost of each NumPy call
(~0.3-1 us).  So every per-step quantity here is ONE ROW, and quantities that the same operation
touches are neighbours in that row, so that one call does them together.  Shape legend: ``T`` steps,
``I`` input, ``H`` hidden; ``K = I + 1 + H``.  Gate blocks are in the private order o, i, f, g of
:mod:`.gate_order`; sigmoid is taken through tanh, ``sigmoid(a) = (1 + tanh(a/2)) / 2``, with the
1/2 folded into the weight rows of o, i, f (as :mod:`.activation`'s tanh form; always that form
here: it takes two calls fewer per step than the exp form, and at one row the cost of the
transcendental itself is nothing).

Forward: 8 calls per step (the general layer: 10)
-------------------------------------------------
::

    Z[t] = [x_t | 1 | h_{t-1}]                          (K,)    Z: (T+1, K); h_t is written into Z[t+1]
    A[t] = [o | i | f | g | c_{t-1}]                     (5H,)   A: (T+1, 5H); c_t is written into A[t+1]
    W    = [W_ih | b_ih + b_hh | W_hh]                   (4H, K) rows o | i | f | g, scaled

    A[t, :4H] = tanh(Z[t] @ W.T)                         1 GEMV: input, bias and recurrence at once
    A[t, :3H] = A[t, :3H] / 2 + 1/2                      2 calls: sigmoid for o, i, f
    p         = [i | f] * [g | c_{t-1}]                  1 call: (2H,) = [i*g | f*c_prev]
    c_t       = p[:H] + p[H:]       -> A[t+1, 4H:]       1 call
    tanh(c_t)                       -> TC[t]             1 call
    h_t       = o * tanh(c_t)       -> Z[t+1, I+1:]      1 call: the next step's GEMV input

Backward: 4 calls per step (the general layer: 7)
-------------------------------------------------
Backward works in PyTorch's gate order i, f, g, o.  Every factor that does not depend on the
incoming gradient is computed for all ``T`` steps first, in a few calls, into one row per step of
``D (T+1, 7H)``::

    D[t] = [ K_t | f_t | i'_t | f'_t | g'_t | o'_t | dy_{t-1} ]
    K  = o (1 - tanh(c)^2)      o' = tanh(c) o (1-o)     dy_{-1} = 0
    i' = g i (1-i)              f' = c_prev f (1-f)      g' = i (1 - g^2)

and the (unscaled) weights, in PyTorch's order, are stacked with an identity block so that the
recurrent GEMV also adds the previous step's output gradient ``dy_{t-1}``::

    W_aug = [ W ; [0 | 0 | I_H] ]    (5H, K)  rows i | f | g | o | identity: the order of D[t, 2H:]

Then step ``t`` (from ``T-1`` down to 0), with ``dm_t = dy_t + dh_t`` read from ``dZ[t+1, I+1:]``::

    [K, o'] *= dm_t                  1 call ((2, H) view, blocks 0 and 5): K*dm, da_o = dm tanh(c) o(1-o)
    dc_t = D[t+1, H:2H] + K*dm       1 call: D[t+1, H:2H] holds dc_{t+1} * f_{t+1} (dc_n at t = T-1)
    [f | i' | f' | g'] *= dc_t       1 call: dc_t * f_t for step t-1, and da_i, da_f, da_g
    dZ[t] = D[t, 2H:] @ W_aug        1 GEMV: [dx_t | (unused) | dh_{t-1} + dy_{t-1}] = [dx_t | . | dm_{t-1}]

After the loop ``dZ[0, I+1:]`` is ``dh_0``, ``D[0, H:2H]`` is ``dc_0``, ``dZ[:T, :I]`` is ``dx``, and
one GEMM gives every weight gradient at once: ``D[:T, 2H:6H].T @ Z[:T]`` is ``(4H, K)``
``= [dW_ih | db | dW_hh]``, already in PyTorch's order.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from numpy_lstm.functional.activation import gate_scale
from numpy_lstm.functional.gate_order import private_gate_rows

__all__ = ["SingleCache", "fits", "set_single_path", "single_backward", "single_forward", "single_path"]

MAX_WEIGHT_BYTES = 1 << 20
"""Largest ``W_aug`` (``5H * K`` values) for this path.  Beyond it the GEMVs, which read the input
weights every step here, cost more than the calls saved; the general layer's one input GEMM wins.
(A rough bound, not a measured crossover: the sizes in view are far on either side.)"""


class SingleCache(NamedTuple):
    """What :func:`single_backward` needs from :func:`single_forward`: rows as in the module docstring."""

    Z: np.ndarray  # (T+1, K)   [x_t | 1 | h_{t-1}];  Z[T, I+1:] = h_T
    A: np.ndarray  # (T+1, 5H)  [o | i | f | g | c_{t-1}] activated;  A[T, 4H:] = c_T
    tanh_c: np.ndarray  # (T, H)
    W_aug: np.ndarray  # (5H, K)    unscaled, PyTorch's order i | f | g | o, then the identity block
    has_bias: bool

    @property
    def acts(self) -> np.ndarray:
        """The activated gates, as :class:`.layer.LayerCache` holds them: ``(T, 1, 4H)``, o | i | f | g."""
        return self.A[:-1, None, : 4 * self.tanh_c.shape[1]]


_setting = {"on": True}


def set_single_path(on: bool) -> None:
    """``False`` sends one sequence to the general layer too; ``True`` (the default) back here."""
    if not isinstance(on, bool):
        raise TypeError(f"set_single_path: expected True or False, got {on!r}")
    _setting["on"] = on


@contextmanager
def single_path(on: bool) -> Iterator[None]:
    """``with single_path(False): ...``: the setting of :func:`set_single_path` for a block only."""
    before = _setting["on"]
    set_single_path(on)
    try:
        yield
    finally:
        _setting["on"] = before


def fits(T: int, N: int, I: int, H: int, itemsize: int) -> bool:
    """Whether this path takes a layer of these sizes (one sequence, weights within the bound), and
    it is switched on."""
    return N == 1 and _setting["on"] and 5 * H * (I + 1 + H) * itemsize <= MAX_WEIGHT_BYTES


@lru_cache(maxsize=64)
def _layout(H: int, I: int, dtype_str: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Constants of a size (never anything derived from weights): row index, scale, identity block."""
    dtype = np.dtype(dtype_str)
    private = private_gate_rows(H)  # (4H,)  torch order -> o | i | f | g
    scale = gate_scale(H, "tanh", dtype)  # (4H,)  1/2 on o, i, f; 1 on g
    eye = np.zeros((H, I + 1 + H), dtype)  # (H, K)  the block that adds dy_{t-1} in backward
    eye[:, I + 1 :] = np.eye(H, dtype=dtype)
    for arr in (private, scale, eye):
        arr.flags.writeable = False
    return private, scale, eye


_CONSTANTS: dict[np.dtype, tuple[np.ndarray, np.ndarray]] = {}


def _one_half(dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """``1`` and ``1/2`` as 0-d arrays of ``dtype``: as an operand they cost ~0.3 us less per call
    than a Python float or a NumPy scalar."""
    pair = _CONSTANTS.get(dtype)
    if pair is None:
        pair = _CONSTANTS[dtype] = (np.ones((), dtype), np.full((), 0.5, dtype))
    return pair


def single_forward(
    x: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray | None,
    b_hh: np.ndarray | None,
    keep_cache: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, SingleCache | None]:
    """Forward over ``x (T, 1, I)`` from ``h0 (1, H)``, ``c0 (1, H)``; PyTorch's weights, no projection.

    Returns ``y (T, 1, H)``, ``h_n (1, H)``, ``c_n (1, H)`` (views of private buffers) and the cache.
    """
    T, _, I = x.shape
    H = W_hh.shape[1]
    K = I + 1 + H
    dtype = x.dtype
    private, scale, eye = _layout(H, I, dtype.str)
    half = _one_half(dtype)[1]

    Wt = np.empty((5 * H, K), dtype)  # (5H, K)  [W_ih | b | W_hh] in torch order, then the identity block: W_aug
    Wt[: 4 * H, :I] = W_ih
    if b_ih is not None:
        np.add(b_ih, b_hh, out=Wt[: 4 * H, I])
    else:
        Wt[: 4 * H, I] = 0
    Wt[: 4 * H, I + 1 :] = W_hh
    if keep_cache:
        Wt[4 * H :] = eye  # only backward reads this block
    W_fwd = np.empty((K, 4 * H), dtype)  # (K, 4H) C order: W.T, private order, scaled
    np.multiply(Wt[private].T, scale, out=W_fwd)

    Z = np.empty((T + 1, K), dtype)  # (T+1, K)  [x_t | 1 | h_{t-1}]
    Z[:T, :I] = x.reshape(T, I)
    Z[:, I] = 1
    Z[0, I + 1 :] = h0.reshape(H)
    A = np.empty((T + 1, 5 * H), dtype)  # (T+1, 5H)  [o | i | f | g | c_{t-1}]
    A[0, 4 * H :] = c0.reshape(H)
    tanh_c = np.empty((T, H), dtype)  # (T, H)
    p = np.empty(2 * H, dtype)  # (2H,)  [i*g | f*c_prev]
    p_ig, p_fc = p[:H], p[H:]  # (H,) each

    # Per-step row views, made in C before the loop (list() iterates the first axis).
    Zs, Hs = list(Z), list(Z[:, I + 1 :])  # T+1 x (K,), T+1 x (H,)
    Gs, Ss = list(A[:, : 4 * H]), list(A[:, : 3 * H])  # (4H,) all gates; (3H,) sigmoid gates o | i | f
    Os, IFs, GCs, Cs = list(A[:, :H]), list(A[:, H : 3 * H]), list(A[:, 3 * H :]), list(A[:, 4 * H :])
    TCs = list(tanh_c)  # T x (H,)
    dot, tanh, mul, add = np.dot, np.tanh, np.multiply, np.add
    for t in range(T):
        a = Gs[t]  # (4H,)
        dot(Zs[t], W_fwd, out=a)  #  a' = scale * (x W_ih.T + b + h_prev W_hh.T)
        tanh(a, out=a)
        s = Ss[t]  # (3H,)
        mul(s, half, out=s)
        add(s, half, out=s)  #       sigmoid = (1 + tanh(a/2)) / 2 for o, i, f; g = tanh(a)
        mul(IFs[t], GCs[t], out=p)  # [i*g | f*c_prev]
        c = Cs[t + 1]  # (H,)
        add(p_ig, p_fc, out=c)  #    c = f * c_prev + i * g
        tc = TCs[t]
        tanh(c, out=tc)
        mul(Os[t], tc, out=Hs[t + 1])  # h = o * tanh(c)

    y = Z[1:, None, I + 1 :]  # (T, 1, H) view
    h_n, c_n = Z[T, None, I + 1 :], A[T, None, 4 * H :]  # (1, H) views
    if not keep_cache:
        return y, h_n, c_n, None
    return y, h_n, c_n, SingleCache(Z, A, tanh_c, Wt, b_ih is not None)


def single_backward(
    dy: np.ndarray, dh_n: np.ndarray, dc_n: np.ndarray, cache: SingleCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, None]:
    """Backpropagation through time for :func:`single_forward`: ``dy (T, 1, H)``, ``dh_n``, ``dc_n``
    ``(1, H)``.  Returns the fields of :class:`.layer.LayerGrads` in its order (PyTorch's gate order):
    ``dx (T, 1, I), dh0 (1, H), dc0 (1, H), dW_ih, dW_hh, db, None``; the cache is not modified."""
    Z, A, tanh_c, W_aug, has_bias = cache
    T, H = tanh_c.shape
    K = Z.shape[1]
    I = K - 1 - H
    dtype = Z.dtype
    one = _one_half(dtype)[0]
    mul, sub = np.multiply, np.subtract

    # Local derivatives of all T steps at once (rows of D as in the module docstring).
    D = np.empty((T + 1, 7 * H), dtype)  # (T+1, 7H)  [K | f | i' | f' | g' | o' | dy_prev]
    k, d_if, d_g, d_o = D[:T, :H], D[:T, 2 * H : 4 * H], D[:T, 4 * H : 5 * H], D[:T, 5 * H : 6 * H]  # views
    o, i_f, i, g = A[:T, :H], A[:T, H : 3 * H], A[:T, H : 2 * H], A[:T, 3 * H : 4 * H]  # (T, ·) views
    mul(tanh_c, tanh_c, out=k)
    sub(one, k, out=k)
    mul(k, o, out=k)  #               K  = o (1 - tanh(c)^2)         m = o * tanh(c)
    sub(one, o, out=d_o)
    mul(d_o, o, out=d_o)
    mul(d_o, tanh_c, out=d_o)  #      o' = tanh(c) o (1-o)
    sub(one, i_f, out=d_if)
    mul(d_if, i_f, out=d_if)
    mul(d_if, A[:T, 3 * H :], out=d_if)  # [i' | f'] = [g | c_prev] * s(1-s)     c = f*c_prev + i*g
    mul(g, g, out=d_g)
    sub(one, d_g, out=d_g)
    mul(d_g, i, out=d_g)  #           g' = i (1 - g^2)
    D[:T, H : 2 * H] = A[:T, 2 * H : 3 * H]  # f, to make dc_prev = dc * f in the same call
    D[T, H : 2 * H] = dc_n.reshape(H)  #        what step T-1 reads as "dc_{t+1} * f_{t+1}"
    D[0, 6 * H :] = 0  #                        dy_{-1}: nothing before step 0
    D[1:T, 6 * H :] = dy[: T - 1, 0]
    dZ = np.empty((T + 1, K), dtype)  # (T+1, K)  [dx_t | (unused) | dm_{t-1}]
    np.add(dy[T - 1, 0], dh_n.reshape(H), out=dZ[T, I + 1 :])  # dm_{T-1} = dy_{T-1} + dh_n
    dc = np.empty(H, dtype)  # (H,)

    D3 = D.reshape(T + 1, 7, H)  # (T+1, 7, H) view: one block per row
    KOs, FIFGs = list(D3[:, 0:6:5]), list(D3[:, 1:5])  # (2, H) [K, o'] (blocks 0, 5); (4, H) [f | i' | f' | g']
    Ks, Fs = list(D[:, :H]), list(D[:, H : 2 * H])  # (H,) each
    Rows, DMs, dZs = list(D[:, 2 * H :]), list(dZ[:, I + 1 :]), list(dZ)  # (5H,), (H,), (K,)
    dot, add = np.dot, np.add
    for t in range(T - 1, -1, -1):
        mul(KOs[t], DMs[t + 1], out=KOs[t])  # K dm | da_o = dm tanh(c) o(1-o)
        add(Fs[t + 1], Ks[t], out=dc)  #         dc = dc_next f_next + dm o (1 - tanh(c)^2)
        mul(FIFGs[t], dc, out=FIFGs[t])  #       dc_prev = dc * f | da_i, da_f, da_g
        dot(Rows[t], W_aug, out=dZs[t])  #       [dx_t | . | dh_prev + dy_{t-1}]

    dW = D[:T, 2 * H : 6 * H].T @ Z[:T]  # (4H, K)  [dW_ih | db | dW_hh], PyTorch's order i | f | g | o
    db = dW[:, I] if has_bias else None  # (4H,)
    dx = dZ[:T, None, :I]  # (T, 1, I)
    return dx, dZ[0, None, I + 1 :], D[0, None, H : 2 * H], dW[:, :I], dW[:, I + 1 :], db, None
