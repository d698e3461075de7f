r"""One direction of one LSTM layer over a whole sequence: the fast, fused form.

The numbers are those of :mod:`numpy_lstm.functional.cell` (read that module first: it has the
equations and the term-by-term backward derivation).  This module computes them with the work
arranged for speed; ``tests/test_functional.py`` proves the two agree to rounding.

Shape legend: ``T`` steps, ``N`` batch, ``I`` input features, ``H`` hidden, ``P`` projection,
``H_out`` = ``P`` if projecting else ``H``.

What makes it fast (each idea is measured by ``benchmarks/ablation.py``)
---------------------------------------------------------------------
1. **One GEMM for the input projection of the whole sequence**:
   ``(T*N, I) @ (I, 4H)`` before the loop.  Only ``h_prev @ W_hh.T`` depends on the previous step.
2. **A private gate order i, f, o, g** inside this module (PyTorch stores i, f, g, o).  The three
   sigmoid gates become one contiguous ``(N, 3H)`` block.
3. **Sigmoid through tanh**: ``sigmoid(a) = (1 + tanh(a / 2)) / 2``.  The halving is folded into the
   weights and bias rows of the sigmoid gates (a multiplication by 0.5 is exact in floating point),
   so one ``tanh`` call activates all four gates, and ``* 0.5 + 0.5`` finishes the sigmoid block.
4. **Preallocated buffers and ``out=``** in the time loop: no allocation per step.
5. **Weight and input gradients after the loop**, as one GEMM each over all ``T*N`` rows:
   ``dW_ih = dA.T @ X``, ``dW_hh = dA.T @ H_prev``, ``dx = dA @ W_ih``, ``db = dA.sum``.
   The loop itself does only the recurrent ``dA[t] @ W_hh``.

Variable lengths
----------------
With ``lengths`` (``N`` integers in ``[1, T]``), sequence ``n`` is valid for steps ``t < lengths[n]``.
The loop still runs every row through all ``T`` steps (padding only wastes work, it cannot change
a valid step, since a step depends on earlier steps alone).  Then:
outputs past a sequence's end are set to zero; ``h_n``/``c_n`` are taken at its last valid step;
in backward the upstream gradient past the end is ignored, and ``dh_n``/``dc_n`` are injected at the
last valid step instead of at ``T - 1``.  The gradient arriving at a padded step is therefore exactly
zero, so padded steps contribute nothing to the weight gradients and their ``dx`` is zero.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def private_gate_rows(H: int) -> np.ndarray:
    """Row index that turns PyTorch's gate order (i, f, g, o) into the private order (i, f, o, g).

    Swapping the g and o blocks is its own inverse, so the same index also turns back.
    """
    r = np.arange(H)
    return np.concatenate([r, H + r, 3 * H + r, 2 * H + r])  # (4H,)


class LayerCache(NamedTuple):
    """What :func:`layer_backward` needs from :func:`layer_forward`.  Gate blocks in private order."""

    x: np.ndarray  # (T, N, I)        layer input
    h: np.ndarray  # (T+1, N, H_out)  h[0] = h_0, h[t+1] = output of step t
    c: np.ndarray  # (T+1, N, H)      c[0] = c_0
    acts: np.ndarray  # (T, N, 4H)       activated gates i | f | o | g
    tanh_c: np.ndarray  # (T, N, H)
    m: np.ndarray | None  # (T, N, H)        o * tanh(c) when projecting, else None (m = h)
    W_ih: np.ndarray  # (4H, I)          private order, unscaled
    W_hh: np.ndarray  # (4H, H_out)      private order, unscaled
    W_hr: np.ndarray | None  # (P, H)
    has_bias: bool
    lengths: np.ndarray | None  # (N,) or None when every sequence has T steps


class LayerGrads(NamedTuple):
    """Gradients of one direction of one layer, in PyTorch's gate order."""

    dx: np.ndarray  # (T, N, I)
    dh0: np.ndarray  # (N, H_out)
    dc0: np.ndarray  # (N, H)
    dW_ih: np.ndarray  # (4H, I)
    dW_hh: np.ndarray  # (4H, H_out)
    db: np.ndarray | None  # (4H,) gradient of bias_ih and, equally, of bias_hh
    dW_hr: np.ndarray | None  # (P, H)


def _ends_by_step(lengths: np.ndarray | None, T: int, N: int) -> dict[int, np.ndarray]:
    """``{t: rows whose last valid step is t}``; with no lengths every row ends at ``T - 1``."""
    if lengths is None:
        return {T - 1: np.arange(N)}
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


def layer_forward(
    x: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray | None = None,
    b_hh: np.ndarray | None = None,
    W_hr: np.ndarray | None = None,
    lengths: np.ndarray | None = None,
    keep_cache: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, LayerCache | None]:
    """Run one direction of one layer over ``x (T, N, I)`` from ``h0 (N, H_out)``, ``c0 (N, H)``.

    Weights are in PyTorch's layout and gate order.  Returns ``y (T, N, H_out)``,
    ``h_n (N, H_out)``, ``c_n (N, H)`` and the cache (``None`` when ``keep_cache`` is false, which
    also lets the loop keep only two cell states instead of ``T + 1``).
    """
    T, N, I = x.shape
    H = W_hh.shape[0] // 4
    H_out = W_hh.shape[1]
    dtype = x.dtype
    rows = private_gate_rows(H)  # (4H,)
    half = np.ones((4 * H, 1), dtype=dtype)  # (4H, 1)
    half[: 3 * H] = 0.5  # sigmoid gates see a/2, so tanh gives 2*sigmoid(a) - 1
    Wp_ih, Wp_hh = W_ih[rows], W_hh[rows]  # (4H, I), (4H, H_out) private order
    W_ih_half_T = (Wp_ih * half).T  # (I, 4H)
    W_hh_half_T = (Wp_hh * half).T  # (H_out, 4H)

    if lengths is not None and lengths.min() < T:
        x = zero_padding(x, lengths)  # padding may hold anything; NaN must not leak
    acts = (x.reshape(T * N, I) @ W_ih_half_T).reshape(T, N, 4 * H)  # (T, N, 4H) input projection
    has_bias = b_ih is not None
    if has_bias:
        acts += ((b_ih + b_hh)[rows] * half[:, 0]).astype(dtype)  # (4H,) both biases, pre-halved

    n_c = T + 1 if keep_cache else 2  # without a cache two cell states are enough
    h = np.empty((T + 1, N, H_out), dtype=dtype)  # h[t+1] is step t's output
    c = np.empty((n_c, N, H), dtype=dtype)
    tanh_c = np.empty((T if keep_cache else 1, N, H), dtype=dtype)
    m = np.empty((T if keep_cache else 1, N, H), dtype=dtype) if W_hr is not None else None
    W_hr_T = W_hr.T if W_hr is not None else None  # (H, P)
    h[0] = h0
    c[0] = c0
    rec = np.empty((N, 4 * H), dtype=dtype)  # recurrent term, reused every step
    ig = np.empty((N, H), dtype=dtype)  # i * g, reused
    h_n = np.empty((N, H_out), dtype=dtype)
    c_n = np.empty((N, H), dtype=dtype)
    ends = _ends_by_step(lengths, T, N)

    for t in range(T):
        a = acts[t]  # (N, 4H)  pre-activation, input part already in
        np.matmul(h[t], W_hh_half_T, out=rec)  # (N, 4H)  h_prev @ W_hh.T (halved rows)
        a += rec
        np.tanh(a, out=a)  # (N, 4H)  tanh(a/2) on i,f,o; tanh(a) on g
        sig = a[:, : 3 * H]  # (N, 3H)  i | f | o
        sig *= 0.5
        sig += 0.5  # sigmoid = (1 + tanh(a/2)) / 2
        i, f, o, g = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
        c_prev, c_new = c[t % n_c], c[(t + 1) % n_c]  # (N, H)
        np.multiply(f, c_prev, out=c_new)  # c = f * c_prev
        np.multiply(i, g, out=ig)
        c_new += ig  #     + i * g
        tc = tanh_c[t if keep_cache else 0]  # (N, H)
        np.tanh(c_new, out=tc)
        if W_hr is None:
            np.multiply(o, tc, out=h[t + 1])  # h = o * tanh(c)
        else:
            mt = m[t if keep_cache else 0]  # (N, H)
            np.multiply(o, tc, out=mt)  # m = o * tanh(c)
            np.matmul(mt, W_hr_T, out=h[t + 1])  # h = m @ W_hr.T
        if t in ends:
            rows_end = ends[t]
            h_n[rows_end] = h[t + 1][rows_end]
            c_n[rows_end] = c_new[rows_end]

    y = h[1:]  # (T, N, H_out) view
    if lengths is not None and lengths.min() < T:
        y = zero_padding(y, lengths)  # zero past each sequence's end
    if not keep_cache:
        return y, h_n, c_n, None
    cache = LayerCache(x, h, c, acts, tanh_c, m, Wp_ih, Wp_hh, W_hr, has_bias, lengths)
    return y, h_n, c_n, cache


def layer_backward(
    dy: np.ndarray, dh_n: np.ndarray, dc_n: np.ndarray, cache: LayerCache
) -> LayerGrads:
    """Backpropagation through time for :func:`layer_forward`.

    ``dy (T, N, H_out)`` is the gradient on every step's output, ``dh_n``/``dc_n`` those on the final
    states.  Each step applies the backward of ``cell.py`` term by term (see there); ``dA[t]`` holds
    the gradient of the *true* pre-activations ``a`` (not of the halved ones used inside forward).
    """
    x, h, c, acts, tanh_c, m, Wp_ih, Wp_hh, W_hr, has_bias, lengths = cache
    T, N, I = x.shape
    H = tanh_c.shape[2]
    H_out = h.shape[2]
    dtype = x.dtype
    if lengths is not None and lengths.min() < T:
        dy = zero_padding(dy, lengths)  # padded outputs are constants: no gradient
    ends = _ends_by_step(lengths, T, N)

    dA = np.empty((T, N, 4 * H), dtype=dtype)  # dLoss/da per step, private order
    dh = np.zeros((N, H_out), dtype=dtype)  # gradient arriving at h[t+1] from step t+1
    dc = np.zeros((N, H), dtype=dtype)  # gradient arriving at c[t+1] from step t+1
    dh_total = np.empty((T if W_hr is not None else 1, N, H_out), dtype=dtype)
    dm = np.empty((N, H), dtype=dtype)
    tmp = np.empty((N, H), dtype=dtype)
    tmp2 = np.empty((N, H), dtype=dtype)
    sig_grad = np.empty((N, 3 * H), dtype=dtype)

    for t in range(T - 1, -1, -1):
        if t in ends:  # the final state of these rows was produced here
            rows_end = ends[t]
            dh[rows_end] += dh_n[rows_end]
            dc[rows_end] += dc_n[rows_end]
        a = acts[t]  # (N, 4H) activated i | f | o | g
        i, f, o, g = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
        da = dA[t]  # (N, 4H)
        da_i, da_f, da_o, da_g = da[:, :H], da[:, H : 2 * H], da[:, 2 * H : 3 * H], da[:, 3 * H :]
        tc = tanh_c[t]  # (N, H)
        if W_hr is None:
            np.add(dy[t], dh, out=dm)  # dm = dh_total        (h = m)
        else:
            dht = dh_total[t]
            np.add(dy[t], dh, out=dht)  # (N, P)
            np.matmul(dht, W_hr, out=dm)  # dm = dh @ W_hr     (h = m @ W_hr.T)
        np.multiply(dm, tc, out=da_o)  # do = dm * tanh(c)               (m = o * tanh(c))
        np.multiply(dm, o, out=tmp)
        np.multiply(tc, tc, out=tmp2)
        np.subtract(1.0, tmp2, out=tmp2)  # 1 - tanh(c)^2
        tmp *= tmp2
        dc += tmp  # dc += dm * o * (1 - tanh(c)^2)  (m = o * tanh(c))
        np.multiply(dc, g, out=da_i)  # di = dc * g                     (c = f*c_prev + i*g)
        np.multiply(dc, i, out=da_g)  # dg = dc * i
        np.multiply(dc, c[t], out=da_f)  # df = dc * c_prev
        dc *= f  # dc_prev = dc * f
        sig = a[:, : 3 * H]  # (N, 3H) i | f | o
        np.subtract(1.0, sig, out=sig_grad)
        sig_grad *= sig  # s * (1 - s)
        da[:, : 3 * H] *= sig_grad  # da_{i,f,o} = d{i,f,o} * s(1-s)   (sigmoid)
        np.multiply(g, g, out=tmp2)
        np.subtract(1.0, tmp2, out=tmp2)
        da_g *= tmp2  # da_g = dg * (1 - g^2)           (tanh)
        np.matmul(da, Wp_hh, out=dh)  # dh_prev = da @ W_hh             (a = ... + h_prev @ W_hh.T)

    rows = private_gate_rows(H)  # private -> PyTorch order (an involution)
    dA2 = dA.reshape(T * N, 4 * H)  # (T*N, 4H)
    dx = (dA2 @ Wp_ih).reshape(T, N, I)  # (T, N, I)       a = x @ W_ih.T + ...
    dW_ih = (dA2.T @ x.reshape(T * N, I))[rows]  # (4H, I)
    dW_hh = (dA2.T @ h[:-1].reshape(T * N, H_out))[rows]  # (4H, H_out)
    db = dA2.sum(axis=0)[rows] if has_bias else None  # (4H,)
    dW_hr = None
    if W_hr is not None:
        dW_hr = dh_total.reshape(T * N, H_out).T @ m.reshape(T * N, H)  # (P, H)
    return LayerGrads(dx, dh, dc, dW_ih, dW_hh, db, dW_hr)
