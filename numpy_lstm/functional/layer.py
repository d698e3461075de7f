r"""One direction of one LSTM layer over a whole sequence: the fast, fused form.

The numbers are those of :mod:`numpy_lstm.functional.cell` (read that module first: it has the
equations and the term-by-term backward derivation).  This module computes them with the work
arranged for speed; ``tests/test_functional.py`` proves the two agree to rounding.

Shape legend: ``T`` steps, ``N`` batch, ``I`` input features, ``H`` hidden, ``P`` projection,
``H_out`` = ``P`` if projecting else ``H``.  Variable lengths (``lengths``): see :mod:`.lengths`.

What makes it fast (each idea is measured by ``benchmarks/ablation.py``)
---------------------------------------------------------------------
1. **The input projection as one large GEMM**, not one per step: ``(n*N, I) @ (I, 4H)`` for a chunk
   of ``n`` steps (about 8 MiB of gates; all ``T`` steps at small sizes), made just before the loop
   reaches the chunk, so that it is still in cache.  Only ``h_prev @ W_hh.T`` depends on the
   previous step.
2. **A private gate order o, i, f, g** inside this module (PyTorch stores i, f, g, o).  The three
   sigmoid gates become one contiguous ``(N, 3H)`` block, and in backward the three gates whose
   gradient is a multiple of ``dc`` (i, f, g) become one contiguous ``(N, 3H)`` block too.
3. **One transcendental call for all four gates** (:mod:`.activation`): either sigmoid through tanh,
   ``sigmoid(a) = (1 + tanh(a / 2)) / 2``, or both through exp, ``sigmoid(a) = 1 / (1 + e^-a)`` and
   ``tanh(a) = 2 / (1 + e^-2a) - 1``.  The factors (1/2; or -1 and -2) are folded into the weight
   and bias rows of each gate (exact in floating point; :func:`.gate_order.gate_weights`), so one
   ``tanh`` or one ``exp`` call activates the whole ``(N, 4H)`` block and two or three cheap calls
   finish it.  Which form is faster depends on the CPU and the NumPy build: it is measured once per
   dtype at first use and cached.
4. **Preallocated buffers and ``out=``** in the time loop: no allocation per step.  The per-step
   views (``acts[t]``, its gate blocks, ``h[t]``...) are made before the loop by ``list(array)``,
   which iterates the first axis in C, and the GEMMs use ``np.dot`` (half the call overhead of
   ``np.matmul`` on small operands) into a C-contiguous copy of ``W_hh.T``.
5. **Weight and input gradients out of the loop**, one GEMM each per chunk of steps (:mod:`.chunks`),
   so that ``dA`` is never held for all ``T`` steps: ``dW_ih += dA.T @ X``, ``dW_hh += dA.T @ H_prev``,
   ``dx = dA @ W_ih``, ``db += dA.sum``.  The loop itself does only the recurrent ``dA[t] @ W_hh``.
6. **Local derivatives for many steps at once.**  Every factor of the backward that does not
   depend on the incoming gradient is computed for a chunk of steps (about 512 KiB of gates, so
   still in cache when the loop gets there: 8 steps at the small benchmark size in float32, 1 or 2
   at medium and large) in a few NumPy calls, straight into the ``dA`` buffer::

       dA_o = tanh(c) * o(1-o)       dA_i = g * i(1-i)       dA_f = c_prev * f(1-f)
       dA_g = i * (1 - g^2)          K = o * (1 - tanh(c)^2)

   so that each step only scales them: ``dc += dm * K``, ``dA_o *= dm``, ``dA_{i,f,g} *= dc``
   (one broadcast call), ``dc *= f``, ``dh_prev = dA @ W_hh``: seven NumPy calls per step instead of
   eighteen.  At small sizes, where the per-call overhead (~0.3 us) dominates, this is what counts.
7. **Inference in a feature-major layout** (:mod:`.feature_major`): every per-step array ``(features, N)``
   and its GEMMs ``W @ h``, which OpenBLAS's threads split over the large ``4H``, not the small batch:
   12-33% faster forward on the benchmark grid.  Used when there is no projection and no variable length.
8. **Both cores on independent rows** (:mod:`.rows`): rows of a batch never interact, so a large
   batch is cut into two row blocks and each thread runs the whole forward or backward loop over
   its block (its rows' input projection, one GEMM a chunk, and the elementwise work), with the BLAS
   held at one thread meanwhile; the gradient GEMMs after the loop are shared out by output rows.
   The same numbers, bit for bit, with the threads or without (``tests/test_rows.py``).
9. **Large buffers kept between calls** (:mod:`.buffers`): caches, ``dA`` and ``dx`` are handed out
   again once nothing refers to them: a step writes to mapped memory instead of faulting pages in.
10. **Training in the feature-major layout** too (:mod:`.feature_major`) for a batch that trick 8
    would not split: each gate block of a step contiguous, the per-step GEMMs split over ``4H``.
"""

from __future__ import annotations

from contextlib import nullcontext
from functools import partial
from typing import NamedTuple

import numpy as np

from numpy_lstm.functional import buffers, chunks
from numpy_lstm.functional.activation import activate, gate_form
from numpy_lstm.functional.feature_major import FeatureMajorCache, fm_backward, fm_forward, fm_takes
from numpy_lstm.functional.gate_order import gate_weights
from numpy_lstm.functional.lengths import ends_by_step, reverse_time, zero_padding
from numpy_lstm.functional.local_derivatives import local_derivatives
from numpy_lstm.functional.rows import blas_held, each_part, ignoring_overflow, row_blocks, run_parallel, splittable
from numpy_lstm.functional.single import SingleCache, fits, single_backward, single_forward

__all__ = ["LayerCache", "LayerGrads", "layer_backward", "layer_forward", "reverse_time", "zero_padding"]


class LayerCache(NamedTuple):
    """What :func:`layer_backward` needs from :func:`layer_forward`.  Gate blocks in private order."""

    x: np.ndarray  # (T, N, I)        layer input
    h: np.ndarray  # (T+1, N, H_out)  h[0] = h_0, h[t+1] = output of step t; without projection only
    #                  h[:1] (1, N, H): backward remakes h[t+1] = o * tanh(c), so the output is not held
    c: np.ndarray  # (T+1, N, H)      c[0] = c_0
    acts: np.ndarray  # (T, N, 4H)       activated gates o | i | f | g
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


_GEMM_PARTS = 4  # the gradient GEMMs after the loop, in this many parts where rows may be split


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
) -> tuple[np.ndarray, np.ndarray, np.ndarray, LayerCache | SingleCache | FeatureMajorCache | None]:
    """Run one direction of one layer over ``x (T, N, I)`` from ``h0 (N, H_out)``, ``c0 (N, H)``.

    Weights are in PyTorch's layout and gate order.  Returns ``y (T, N, H_out)``,
    ``h_n (N, H_out)``, ``c_n (N, H)`` and the cache (``None`` when ``keep_cache`` is false, which
    also lets the loop keep only two cell states instead of ``T + 1``).  One sequence of a small
    layer goes to :mod:`.single` (fewer NumPy calls per step), whose cache is a ``SingleCache``; a
    batch that is not split by rows to :mod:`.feature_major` (trick 10), a ``FeatureMajorCache``.
    """
    T, N, I = x.shape
    plain = W_hr is None and (lengths is None or lengths.min() == T)  # no projection, every step valid
    if plain and fits(T, N, I, W_hh.shape[1], x.itemsize):
        return single_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh, keep_cache)  # one sequence: single.py
    if plain and not keep_cache:
        return fm_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh, keep_cache=False)  # trick 7
    if plain and fm_takes(N, W_hh.shape[1], x.itemsize):
        return fm_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh)  # trick 10: a batch not split by rows
    H = W_hh.shape[0] // 4
    H_out = W_hh.shape[1]
    dtype = x.dtype
    form = gate_form(dtype)  # trick 3
    gw = gate_weights(W_ih, W_hh, b_ih, b_hh, form)  # private order, scaled rows
    W_in_T = gw.W_in.T  # (I, 4H)
    W_rec_T = np.ascontiguousarray(gw.W_rec.T)  # (H_out, 4H) C order: faster per-step GEMM

    if lengths is not None and lengths.min() < T:
        x = zero_padding(x, lengths)  # padding may hold anything; NaN must not leak
    chunk = chunks.chunk_steps(N, H, dtype.itemsize, chunks.PROJECTION_CHUNK_BYTES)
    # The input projection is one GEMM per chunk of steps (all T at small sizes), made just before
    # the loop reaches the chunk: then it is still in cache when the loop reads it.  Without a cache
    # only one chunk of pre-activations is ever held.
    acts = buffers.empty((T if keep_cache else min(chunk, T), N, 4 * H), dtype=dtype)  # (T, N, 4H)
    n_c = T + 1 if keep_cache else 2  # without a cache two cell states are enough
    h = buffers.empty((T + 1, N, H_out), dtype=dtype)  # h[t+1] is step t's output
    c = buffers.empty((n_c, N, H), dtype=dtype)
    tanh_c = buffers.empty((T if keep_cache else 1, N, H), dtype=dtype)
    m = buffers.empty((T if keep_cache else 1, N, H), dtype=dtype) if W_hr is not None else None
    W_hr_T = np.ascontiguousarray(W_hr.T) if W_hr is not None else None  # (H, P)
    h[0] = h0
    c[0] = c0
    ends = ends_by_step(lengths, T, N) if lengths is not None else {}
    h_n = np.empty((N, H_out), dtype=dtype)
    c_n = np.empty((N, H), dtype=dtype)
    exp_form = form == "exp"
    one, half = np.ones((), dtype), np.full((), 0.5, dtype)  # 0-d: cheaper per call than scalars

    def rows_loop(n0: int, n1: int) -> None:
        """The time loop for batch rows ``n0:n1`` (all of them, or one thread's block: trick 8)."""
        R = n1 - n0
        rec = np.empty((R, 4 * H), dtype=dtype)  # recurrent term, reused every step
        ig = np.empty((R, H), dtype=dtype)  # i * g, reused
        whole = R == N
        X = x.reshape(T * N, I) if whole else None  # (T*N, I)
        rows_n = min(chunk, T) * R  # a block's rows of one chunk: its projection goes through buffers
        xb = np.empty((0 if whole else rows_n, I), dtype=dtype)  # (n*R, I) the block's inputs, gathered
        pb = np.empty((0 if whole else rows_n, 4 * H), dtype=dtype)  # (n*R, 4H) their projection
        acts_r = acts[:, n0:n1]  # (T, R, 4H) view
        # Per-step views, made in C before the loop (list() iterates the first axis).
        A = list(acts_r)  # T x (R, 4H)   pre-activations, then activated gates o | i | f | g
        S = list(acts_r[:, :, : 3 * H])  # T x (R, 3H)   the sigmoid block o | i | f
        O, Ig, F, G = (list(acts_r[:, :, k * H : (k + 1) * H]) for k in range(4))  # T x (R, H) each
        Hs = list(h[:, n0:n1])  # T+1 x (R, H_out)
        Cs = list(c[:, n0:n1])  # n_c x (R, H)
        TC = list(tanh_c[:, n0:n1])
        Ms = list(m[:, n0:n1]) if m is not None else None
        block_ends = {t: r for t, r in ((t, r[(r >= n0) & (r < n1)]) for t, r in ends.items()) if r.size}
        dot, tanh, mul, add = np.dot, np.tanh, np.multiply, np.add

        t1 = 0  # the chunk of steps [t0, t1) whose input projection is in acts
        for t in range(T):
            if t == t1:
                t0, t1 = t, min(T, t + chunk)
                r0 = t0 if keep_cache else 0
                if whole:  # one GEMM for the chunk: x W_ih.T for steps t0..t1-1
                    a_chunk = acts.reshape(-1, 4 * H)[r0 * N : (r0 + t1 - t0) * N]  # (n*N, 4H)
                    np.matmul(X[t0 * N : t1 * N], W_in_T, out=a_chunk)
                    if gw.bias is not None:
                        a_chunk += gw.bias
                else:  # one GEMM over this block's rows of the chunk (the rows gathered), then into acts
                    nR = (t1 - t0) * R
                    np.copyto(xb[:nR].reshape(t1 - t0, R, I), x[t0:t1, n0:n1])
                    np.matmul(xb[:nR], W_in_T, out=pb[:nR])  # (n*R, 4H)
                    a_chunk = acts_r[r0 : r0 + t1 - t0]  # (n, R, 4H) view
                    p_chunk = pb[:nR].reshape(t1 - t0, R, 4 * H)
                    if gw.bias is not None:
                        np.add(p_chunk, gw.bias, out=a_chunk)  # the bias on the way
                    else:
                        np.copyto(a_chunk, p_chunk)
            j = t if keep_cache else t - t0  # this step's row block in acts
            a, s = A[j], S[j]  # (R, 4H), (R, 3H)
            dot(Hs[t], W_rec_T, out=rec)  # (R, 4H)  h_prev @ W_hh.T (rows scaled)
            add(a, rec, out=a)  #           a' = scale * (x W_ih.T + b + h_prev W_hh.T)
            activate(a, s, G[j], form, one, half)  # the gates: sigmoid on o | i | f, tanh on g
            c_prev, c_new = Cs[t % n_c], Cs[(t + 1) % n_c]  # (R, H)
            mul(F[j], c_prev, out=c_new)  # c = f * c_prev
            mul(Ig[j], G[j], out=ig)
            add(c_new, ig, out=c_new)  #    c += i * g
            tc = TC[t if keep_cache else 0]  # (R, H)
            tanh(c_new, out=tc)
            if Ms is None:
                mul(O[j], tc, out=Hs[t + 1])  # h = o * tanh(c)
            else:
                mt = Ms[t if keep_cache else 0]  # (R, H)
                mul(O[j], tc, out=mt)  # m = o * tanh(c)
                dot(mt, W_hr_T, out=Hs[t + 1])  # h = m @ W_hr.T
            if t in block_ends:
                rows_end = block_ends[t]
                h_n[rows_end] = h[t + 1][rows_end]
                c_n[rows_end] = c[(t + 1) % n_c][rows_end]

    with np.errstate(over="ignore") if exp_form else nullcontext():  # exp(large) = inf: r = 0 exactly
        blocks = row_blocks(N, 4 * H, dtype.itemsize)
        if len(blocks) == 1:
            rows_loop(0, N)
        else:
            run_parallel([partial(ignoring_overflow, rows_loop, n0, n1) for n0, n1 in blocks])
    if lengths is None:
        h_n[...] = h[T]
        c_n[...] = c[T % n_c]

    y = h[1:]  # (T, N, H_out) view
    if lengths is not None and lengths.min() < T:
        y = zero_padding(y, lengths)  # zero past each sequence's end
    if not keep_cache:
        return y, h_n, c_n, None
    h_kept = h if W_hr is not None else h[:1].copy()  # (T+1 or 1, N, H_out) see LayerCache.h
    cache = LayerCache(x, h_kept, c, acts, tanh_c, m, gw.W_ih, gw.W_hh, W_hr, b_ih is not None, lengths)
    return y, h_n, c_n, cache


def layer_backward(
    dy: np.ndarray, dh_n: np.ndarray, dc_n: np.ndarray, cache: LayerCache | SingleCache | FeatureMajorCache
) -> LayerGrads:
    """Backpropagation through time for :func:`layer_forward`.

    ``dy (T, N, H_out)`` is the gradient on every step's output, ``dh_n``/``dc_n`` those on the final
    states.  Each step applies the backward of ``cell.py`` term by term (see there), with the local
    derivatives computed beforehand (trick 6); ``dA[t]`` holds the gradient of the *true*
    pre-activations ``a`` (not of the scaled ones used inside forward).  The steps run in chunks
    from the last (:func:`.chunks.gradient_chunk_rows` rows of ``dA`` each): after each chunk, its share of
    the gradient GEMMs (trick 5) is added in, so that ``dA`` is held one chunk at a time, never for
    all ``T`` steps.  The cache is not modified, so backward may run more than once.
    """
    if isinstance(cache, SingleCache):  # one sequence: single.py
        return LayerGrads(*single_backward(dy, dh_n, dc_n, cache))
    if isinstance(cache, FeatureMajorCache):  # trick 10
        return LayerGrads(*fm_backward(dy, dh_n, dc_n, cache), None)
    x, h, c, acts, tanh_c, m, Wp_ih, Wp_hh, W_hr, has_bias, lengths = cache
    T, N, I = x.shape
    H = tanh_c.shape[2]
    H_out = h.shape[2]
    dtype = x.dtype
    if lengths is not None and lengths.min() < T:
        dy = zero_padding(dy, lengths)  # padded outputs are constants: no gradient
    ends = ends_by_step(lengths, T, N) if lengths is not None else {}
    rows_per_chunk = chunks.gradient_chunk_rows(T, N, 4 * H * dtype.itemsize)
    G = -(-T // -(-T * N // rows_per_chunk))  # steps per chunk: ceil(T / chunks), the chunks as even as T allows

    dA = buffers.empty((G, N, 4 * H), dtype=dtype)  # dLoss/da of one chunk of steps, private order
    if lengths is None:  # every final state was produced at the last step
        dh, dc = dh_n.astype(dtype, copy=True), dc_n.astype(dtype, copy=True)  # (N, H_out), (N, H)
    else:
        dh, dc = np.zeros((N, H_out), dtype=dtype), np.zeros((N, H), dtype=dtype)
    dh_total = np.empty((G if W_hr is not None else 1, N, H_out), dtype=dtype)  # dh of the chunk

    def rows_loop(n0: int, n1: int, s0: int, s1: int) -> None:
        """The backward loop over steps ``s1-1 .. s0`` for batch rows ``n0:n1`` (all, or one
        thread's block: trick 8); ``dA[t - s0]`` is step ``t``'s."""
        R, n = n1 - n0, s1 - s0
        chunk = chunks.chunk_steps(R, H, dtype.itemsize, chunks.DERIVATIVE_CHUNK_BYTES)
        K = np.empty((min(chunk, n), R, H), dtype=dtype)  # dm/dc of the current chunk of steps
        dm = np.empty((R, H), dtype=dtype)
        tmp = np.empty((R, H), dtype=dtype)
        dh_r, dc_r = dh[n0:n1], dc[n0:n1]  # (R, H_out), (R, H) views, updated in place
        dc_b = dc_r[:, None, :]  # (R, 1, H) view: dc broadcast over the i, f, g blocks
        dA_r = dA[:n, n0:n1]  # (n, R, 4H)
        DA = list(dA_r)  # n x (R, 4H)
        DA_o = list(dA_r[:, :, :H])  # n x (R, H)
        DA_ifg = list(dA_r.reshape(n, R, 4, H)[:, :, 1:])  # n x (R, 3, H)   i | f | g
        Ks, F, DY = list(K), list(acts[s0:s1, n0:n1, 2 * H : 3 * H]), list(dy[s0:s1, n0:n1])
        DHT = list(dh_total[:n, n0:n1])
        block_ends = {t: r - n0 for t, r in ((t, r[(r >= n0) & (r < n1)]) for t, r in ends.items()) if r.size}
        dot, mul, add = np.dot, np.multiply, np.add
        t0 = s1  # the chunk [t0, t0 + chunk) holding step t has its local derivatives ready
        for t in range(s1 - 1, s0 - 1, -1):
            if t < t0:  # local derivatives of the next chunk of steps, all at once (trick 6)
                t0 = max(s0, t + 1 - chunk)
                d, kc = dA_r[t0 - s0 : t + 1 - s0], K[: t + 1 - t0]  # (n, R, 4H), (n, R, H)
                local_derivatives(acts, tanh_c, c, d, kc, t0, t + 1, n0, n1)
            k, j = Ks[t - t0], t - s0  # (R, H); step t's index in the chunk
            if t in block_ends:  # the final state of these rows was produced here
                r = block_ends[t]
                dh_r[r] += dh_n[r + n0]
                dc_r[r] += dc_n[r + n0]
            if W_hr is None:
                add(DY[j], dh_r, out=dm)  # dm = dh_total                    (h = m)
            else:
                dht = DHT[j]
                add(DY[j], dh_r, out=dht)  # (R, P)
                dot(dht, W_hr, out=dm)  # dm = dh @ W_hr                  (h = m @ W_hr.T)
            mul(dm, k, out=tmp)
            add(dc_r, tmp, out=dc_r)  # dc += dm * o * (1 - tanh(c)^2)     (m = o * tanh(c))
            mul(DA_o[j], dm, out=DA_o[j])  # da_o = dm * tanh(c) * o(1-o)
            mul(DA_ifg[j], dc_b, out=DA_ifg[j])  # da_{i,f,g} = dc * (g i(1-i) | c_prev f(1-f) | i(1-g^2))
            mul(dc_r, F[j], out=dc_r)  # dc_prev = dc * f                (c = f*c_prev + i*g)
            dot(DA[j], Wp_hh, out=dh_r)  # dh_prev = da @ W_hh            (a = ... + h_prev @ W_hh.T)

    # Weight and input gradients, one GEMM each per chunk of steps (trick 5), written straight into
    # PyTorch's gate order: private o | i | f | g is PyTorch's i | f | g | o rolled by one block, so
    # two GEMMs (o; i | f | g) need no reordering.  With row blocks, each thread computes a slice of
    # every output (rows of dx, gate blocks of the rest).
    dx = buffers.empty((T, N, I), dtype=dtype)  # a = x @ W_ih.T + ...
    dW_ih = np.empty((4 * H, I), dtype=dtype)  # PyTorch order
    dW_hh = np.empty((4 * H, H_out), dtype=dtype)
    db = np.empty(4 * H, dtype=dtype) if has_bias else None
    dW_hr = np.zeros(W_hr.shape, dtype=dtype) if W_hr is not None else None  # (P, H)

    def gemms(j: int, k: int, s0: int, s1: int, X2: np.ndarray, H2: np.ndarray, acc: np.ndarray) -> None:
        """Part ``j`` of ``k`` of the gradient GEMMs of steps ``s0 .. s1-1`` (the parts are fixed by
        the sizes alone, so that the results do not depend on how many threads share them);
        ``acc`` is this thread's scratch for the sums over chunks."""
        nN = (s1 - s0) * N
        dA2 = dA[: s1 - s0].reshape(nN, 4 * H)  # (nN, 4H)
        r0, r1 = nN * j // k, nN * (j + 1) // k  # rows of dx
        np.matmul(dA2[r0:r1], Wp_ih, out=dx.reshape(T * N, I)[s0 * N + r0 : s0 * N + r1])  # dx = dA @ W_ih
        b0, b1 = 4 * j // k, 4 * (j + 1) // k  # private gate blocks of this part
        for p0, p1 in ((b0, min(b1, 1)), (max(b0, 1), b1)):  # o, then i | f | g: contiguous in PyTorch's order
            if p0 >= p1:
                continue
            dA_b = dA2[:, p0 * H : p1 * H]  # (nN, (p1-p0) H)
            rows = slice((p0 + 3) % 4 * H, (p0 + 3) % 4 * H + (p1 - p0) * H)  # o -> 3H:4H; i, f, g -> 0:3H
            for dW, M in ((dW_ih, X2), (dW_hh, H2)):  # dW_ih = dA.T @ x, dW_hh = dA.T @ h_prev
                if s1 == T:  # the first chunk done: written in place
                    np.matmul(dA_b.T, M, out=dW[rows])
                else:
                    part = acc[: (p1 - p0) * H * M.shape[1]].reshape((p1 - p0) * H, M.shape[1])  # scratch
                    np.matmul(dA_b.T, M, out=part)
                    dW[rows] += part
            if db is not None:  # db = dA summed over steps and rows
                if s1 == T:
                    np.sum(dA_b, axis=0, out=db[rows])
                else:
                    db[rows] += dA_b.sum(axis=0)

    blocks = row_blocks(N, 4 * H, dtype.itemsize)
    parts = _GEMM_PARTS if splittable(N, 4 * H, dtype.itemsize) else 1  # the same with threads or not
    most = min(3, -(-4 // parts)) * H * max(I, H_out)  # the largest GEMM output of a part
    h_prev = buffers.empty((G if h.shape[0] == 1 else 0, N, H_out), dtype=dtype)  # h_prev of a chunk, remade
    accs = [np.empty(most if G < T else 0, dtype=dtype) for _ in blocks]  # per thread: sums over chunks
    with blas_held() if len(blocks) > 1 else nullcontext():
        for s1 in range(T, 0, -G):
            s0 = max(0, s1 - G)
            X2 = x[s0:s1].reshape((s1 - s0) * N, I)  # (nN, I) a copy only where x is a reversed view
            if h.shape[0] > 1:
                H2 = h[s0:s1].reshape((s1 - s0) * N, H_out)  # (nN, H_out) h_prev of the chunk
            else:  # h_prev remade, the product forward made: h[t] = o[t-1] * tanh(c[t-1])
                hp = h_prev[: s1 - s0]  # (n, N, H)
                if s0 == 0:
                    hp[0] = h[0]
                else:
                    np.multiply(acts[s0 - 1, :, :H], tanh_c[s0 - 1], out=hp[0])
                np.multiply(acts[s0 : s1 - 1, :, :H], tanh_c[s0 : s1 - 1], out=hp[1:])
                H2 = hp.reshape((s1 - s0) * N, H_out)  # (nN, H)
            if len(blocks) == 1:
                rows_loop(0, N, s0, s1)
                for j in range(parts):
                    gemms(j, parts, s0, s1, X2, H2, accs[0])
            else:
                kb = len(blocks)
                run_parallel([partial(rows_loop, n0, n1, s0, s1) for n0, n1 in blocks])
                shares = [range(w, parts, kb) for w in range(kb)]  # each thread's parts
                run_parallel([partial(each_part, gemms, js, parts, s0, s1, X2, H2, accs[w])
                              for w, js in enumerate(shares)])
            if dW_hr is not None:  # dW_hr = dh_total.T @ m        (h = m @ W_hr.T)
                n = s1 - s0
                dW_hr += dh_total[:n].reshape(n * N, H_out).T @ m[s0:s1].reshape(n * N, H)  # (P, H)
    return LayerGrads(dx, dh, dc, dW_ih, dW_hh, db, dW_hr)
