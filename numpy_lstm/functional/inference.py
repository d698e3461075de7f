r"""One direction of one LSTM layer, forward only (no cache): the fast inference form.

The numbers are those of :func:`numpy_lstm.functional.layer.layer_forward` (and so of
:mod:`numpy_lstm.functional.cell`); ``tests/test_layer_chunks.py`` proves them equal.  What differs
is the memory layout: every per-step array is stored **feature-major**, ``(features, N)`` instead of
``(N, features)``, and each GEMM is written ``W @ h`` instead of ``h @ W.T``::

    a[t] = W_ih @ x[t].T + b + W_hh @ h[t-1]          (4H, N)   rows o | i | f | g
    h[t] = o * tanh(c[t])                              (H, N)

The FLOPs are the same; what changes is the shape OpenBLAS sees.  With ``(N, 4H)`` outputs it splits
its 2 threads over the small batch dimension ``N``; with ``(4H, N)`` outputs over the large ``4H``,
and on this project's benchmark machine the recurrent GEMM runs 24-37% faster (e.g. 595 us instead
of 800 us for N=128, H=512).  The input projection becomes one GEMM per step (a batched ``matmul``
over a chunk of steps), which in this shape runs at the full-size GEMM's speed.

Training uses this layout too where :mod:`.rows` does not split the batch (:mod:`.feature_major`:
its weight gradients copy each chunk of ``dA`` once into one ``(4H, n*N)`` matrix), and the
``(N, 4H)`` layout of :mod:`.layer` where it does.

Shape legend: ``T`` steps, ``N`` batch, ``I`` input, ``H`` hidden.  No projection and no variable
lengths here: :func:`~numpy_lstm.functional.layer.layer_forward` handles those itself.
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np

from numpy_lstm.functional.activation import activate, gate_form
from numpy_lstm.functional.gate_order import gate_weights

_CHUNK_BYTES = 8 << 20  # input projection for about this many bytes of gates at a time


def inference_forward(
    x: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray | None = None,
    b_hh: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``x (T, N, I)``, ``h0 (N, H)``, ``c0 (N, H)`` -> ``y (T, N, H)`` (a transposed view),
    ``h_n (N, H)``, ``c_n (N, H)``.  Weights in PyTorch's layout and gate order."""
    T, N, I = x.shape
    H = W_hh.shape[1]
    dtype = x.dtype
    form = gate_form(dtype)  # tanh or exp form of the activations (see .activation)
    gw = gate_weights(W_ih, W_hh, b_ih, b_hh, form)  # private order, scaled rows
    W_in, W_rec = gw.W_in, gw.W_rec  # (4H, I), (4H, H)
    bias = gw.bias[:, None] if gw.bias is not None else None  # (4H, 1)

    chunk = max(1, min(T, _CHUNK_BYTES // (4 * H * N * dtype.itemsize)))
    acts = np.empty((chunk, 4 * H, N), dtype=dtype)  # pre-activations of one chunk of steps
    h = np.empty((T + 1, H, N), dtype=dtype)  # h[t+1] = step t's output, feature-major
    h[0] = h0.T
    c = np.array(c0.T, dtype=dtype, order="C")  # (H, N) a copy: the cell state, updated in place
    tc = np.empty((H, N), dtype=dtype)
    ig = np.empty((H, N), dtype=dtype)
    rec = np.empty((4 * H, N), dtype=dtype)
    XT = x.transpose(0, 2, 1)  # (T, I, N) view: x[t].T

    A = list(acts)  # chunk x (4H, N)
    S = list(acts[:, : 3 * H])  # chunk x (3H, N)  o | i | f
    O, Ig, F, G = (list(acts[:, k * H : (k + 1) * H]) for k in range(4))  # chunk x (H, N)
    Hs = list(h)  # T+1 x (H, N)
    exp_form = form == "exp"
    one, half = np.ones((), dtype), np.full((), 0.5, dtype)  # 0-d: cheaper per call than scalars
    dot, tanh, mul, add = np.dot, np.tanh, np.multiply, np.add

    with np.errstate(over="ignore") if exp_form else nullcontext():  # exp(large) = inf: r = 0 exactly
        t0 = t1 = 0
        for t in range(T):
            if t == t1:  # input projection of the next chunk of steps: one GEMM per step, (4H, I) @ (I, N)
                t0, t1 = t, min(T, t + chunk)
                np.matmul(W_in, XT[t0:t1], out=acts[: t1 - t0])  # (n, 4H, N)
                if bias is not None:
                    acts[: t1 - t0] += bias
            j = t - t0
            a, s = A[j], S[j]  # (4H, N), (3H, N)
            dot(W_rec, Hs[t], out=rec)  # (4H, N)  W_hh @ h_prev (rows scaled)
            add(a, rec, out=a)  #     a' = scale * (W_ih x + b + W_hh h_prev)
            activate(a, s, G[j], form, one, half)  # the gates: sigmoid on o | i | f, tanh on g
            mul(F[j], c, out=c)  #      c = f * c_prev
            mul(Ig[j], G[j], out=ig)
            add(c, ig, out=c)  #        c += i * g
            tanh(c, out=tc)
            mul(O[j], tc, out=Hs[t + 1])  # h = o * tanh(c)

    y = h[1:].transpose(0, 2, 1)  # (T, N, H) view
    return y, h[T].T.copy(), c.T.copy()
