r"""The benchmark ablation: the path from the textbook loop to the shipped fast layer, one idea at a time.

Each variant is one direction of one layer (no projection, no variable lengths), training step =
forward + backward, and each adds one idea to the previous one:

0. ``textbook``           per step: input GEMM ``x[t] @ W_ih.T``, gates, and in backward the weight
                          gradients ``da.T @ x[t]``, ``da.T @ h_prev`` accumulated step by step
                          (:mod:`.textbook`, :mod:`.cell`).
1. ``input_gemm``         + the input projection of the whole sequence as one GEMM before the loop.
2. ``grads_after_loop``   + backward keeps ``da`` of every step; ``dW_ih``, ``dW_hh``, ``db``, ``dx``
                          are one GEMM each after the loop (only ``da @ W_hh`` stays per step).
3. ``fused_gates``        + the private gate order o, i, f, g (:mod:`.gate_order`) and sigmoid through
                          tanh with halved weights: one ``tanh`` call on the whole ``(N, 4H)`` block.
4. ``buffers``            + preallocated buffers, ``out=``, local derivatives for many steps at once:
                          the shipped layer with the tanh form and the row split off.
5. ``exp_gates``          + gates through ``exp`` (:mod:`.activation`), row split still off.
6. ``row_threads``        + the batch rows split across threads (:mod:`.rows`; one block, so no
                          change, where the batch is too small or the BLAS has one thread).
7. ``one_sequence``       + one sequence (``N = 1``) in one row per step, neighbouring blocks sharing a
                          call (:mod:`.single`): 8 + 4 NumPy calls per step instead of 10 + 7.  Only
                          at ``N = 1`` (``--config seed``); elsewhere it is ``row_threads`` again.
8. ``feature_major``      + a batch too small for the row split in the feature-major layout
                          (:mod:`.feature_major`): every per-step array ``(features, N)``, each gate
                          block contiguous, the per-step GEMMs ``W @ h``.  Where the rows are split
                          (medium float64, large) it is ``one_sequence`` again.
9. ``reused_buffers``     + the large buffers kept between calls and handed out again once nothing
                          refers to them (:mod:`.buffers`): no fresh pages to fault in each step.
10. ``shipped``           the layer as shipped: the gate form calibrated on this computer, the rows
                          split where the sizes and the BLAS threads allow, one sequence in
                          :mod:`.single`, other unsplit batches feature-major, buffers reused.

Variants 4-6 run with :func:`~numpy_lstm.functional.single.single_path` off, so that at ``N = 1`` they
time the general layer, variants 4-7 with the feature-major layout off
(:func:`~numpy_lstm.functional.feature_major.feature_major`), and variants 4-8 with buffer reuse off
(:func:`~numpy_lstm.functional.buffers.reuse`).

Every variant returns the same numbers; ``tests/test_ablation.py`` checks them against the shipped
layer, and the benchmark checks again before timing.  Shape legend as in :mod:`.cell`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from numpy_lstm.functional import activation, buffers, rows
from numpy_lstm.functional.cell import sigmoid, split_gates
from numpy_lstm.functional.feature_major import feature_major
from numpy_lstm.functional.gate_order import private_gate_rows, torch_gate_rows
from numpy_lstm.functional.layer import layer_backward, layer_forward
from numpy_lstm.functional.single import single_path
from numpy_lstm.functional.textbook import textbook_backward, textbook_forward

Grads = dict[str, np.ndarray]
Weights = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # W_ih, W_hh, b_ih, b_hh


def _textbook(x: np.ndarray, h0: np.ndarray, c0: np.ndarray, w: Weights, dy: np.ndarray) -> Grads:
    W_ih, W_hh, b_ih, b_hh = w
    y, h_n, c_n, caches = textbook_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh)
    g = textbook_backward(dy, np.zeros_like(h_n), np.zeros_like(c_n), caches, W_ih, W_hh)
    return {"y": y, "dx": g["dx"], "dW_ih": g["dW_ih"], "dW_hh": g["dW_hh"], "db": g["db"]}


def _forward_input_gemm(x: np.ndarray, h0: np.ndarray, c0: np.ndarray, w: Weights) -> tuple:
    """Forward with one input GEMM; gates in PyTorch order, activated one by one, arrays per step."""
    W_ih, W_hh, b_ih, b_hh = w
    T, N, I = x.shape
    xw = (x.reshape(T * N, I) @ W_ih.T).reshape(T, N, -1) + (b_ih + b_hh)  # (T, N, 4H) all steps
    h, c = h0, c0
    hs, cs, gates, tcs = [h0], [c0], [], []
    for t in range(T):
        a = xw[t] + h @ W_hh.T  # (N, 4H)  only the recurrent GEMM per step
        a_i, a_f, a_g, a_o = split_gates(a)
        i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)  # (N, H) each
        c = f * c + i * g  # (N, H)
        tc = np.tanh(c)  # (N, H)
        h = o * tc  # (N, H)
        hs.append(h)
        cs.append(c)
        gates.append((i, f, g, o))
        tcs.append(tc)
    return np.stack(hs[1:]), (hs, cs, gates, tcs)  # y (T, N, H)


def _step_backward(dh: np.ndarray, dc: np.ndarray, c_prev: np.ndarray, gates: tuple, tc: np.ndarray):
    """One step's ``da`` (N, 4H) in PyTorch order and ``dc_prev``; see :mod:`.cell` for each term."""
    i, f, g, o = gates
    do = dh * tc  # m = o * tanh(c)
    dc = dc + dh * o * (1.0 - tc**2)
    da = np.concatenate(
        [dc * g * i * (1.0 - i), dc * c_prev * f * (1.0 - f), dc * i * (1.0 - g**2), do * o * (1.0 - o)],
        axis=-1,
    )  # (N, 4H)
    return da, dc * f


def _input_gemm(x: np.ndarray, h0: np.ndarray, c0: np.ndarray, w: Weights, dy: np.ndarray) -> Grads:
    W_ih, W_hh, _, _ = w
    y, (hs, cs, gates, tcs) = _forward_input_gemm(x, h0, c0, w)
    dW_ih, dW_hh = np.zeros_like(W_ih), np.zeros_like(W_hh)
    db = np.zeros(W_ih.shape[0], dtype=x.dtype)
    dxs = []
    dh, dc = np.zeros_like(h0), np.zeros_like(c0)
    for t in range(x.shape[0] - 1, -1, -1):
        da, dc = _step_backward(dy[t] + dh, dc, cs[t], gates[t], tcs[t])
        dW_ih += da.T @ x[t]  # (4H, I)    accumulated step by step
        dW_hh += da.T @ hs[t]  # (4H, H)
        db += da.sum(axis=0)
        dxs.append(da @ W_ih)  # (N, I)
        dh = da @ W_hh  # (N, H)
    return {"y": y, "dx": np.stack(dxs[::-1]), "dW_ih": dW_ih, "dW_hh": dW_hh, "db": db}


def _grads_after_loop(x: np.ndarray, h0: np.ndarray, c0: np.ndarray, w: Weights, dy: np.ndarray) -> Grads:
    W_ih, W_hh, _, _ = w
    T, N, I = x.shape
    y, (hs, cs, gates, tcs) = _forward_input_gemm(x, h0, c0, w)
    dA = np.empty((T, N, W_ih.shape[0]), dtype=x.dtype)  # (T, N, 4H)
    dh, dc = np.zeros_like(h0), np.zeros_like(c0)
    for t in range(T - 1, -1, -1):
        dA[t], dc = _step_backward(dy[t] + dh, dc, cs[t], gates[t], tcs[t])
        dh = dA[t] @ W_hh  # (N, H)    the only GEMM left in the loop
    dA2 = dA.reshape(T * N, -1)  # (T*N, 4H)
    H_prev = np.stack(hs[:-1]).reshape(T * N, -1)  # (T*N, H)
    return {
        "y": y,
        "dx": (dA2 @ W_ih).reshape(T, N, I),
        "dW_ih": dA2.T @ x.reshape(T * N, I),
        "dW_hh": dA2.T @ H_prev,
        "db": dA2.sum(axis=0),
    }


def _fused_gates(x: np.ndarray, h0: np.ndarray, c0: np.ndarray, w: Weights, dy: np.ndarray) -> Grads:
    W_ih, W_hh, b_ih, b_hh = w
    T, N, I = x.shape
    H = W_hh.shape[1]
    rows = private_gate_rows(H)  # i, f, g, o -> the private order o, i, f, g
    half = np.where(np.arange(4 * H) < 3 * H, 0.5, 1.0).astype(x.dtype)  # (4H,) sigmoid rows halved
    Wi, Wh = W_ih[rows], W_hh[rows]
    xw = (x.reshape(T * N, I) @ (Wi.T * half)).reshape(T, N, 4 * H) + (b_ih + b_hh)[rows] * half
    h, c = h0, c0
    hs, cs, acts, tcs = [h0], [c0], [], []
    for t in range(T):
        a = np.tanh(xw[t] + h @ (Wh.T * half))  # (N, 4H)  one tanh for all gates
        a[:, : 3 * H] = 0.5 * a[:, : 3 * H] + 0.5  # sigmoid = (1 + tanh(a/2)) / 2
        o, i, f, g = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
        c = f * c + i * g
        tc = np.tanh(c)
        h = o * tc
        hs.append(h)
        cs.append(c)
        acts.append(a)
        tcs.append(tc)
    dA = np.empty((T, N, 4 * H), dtype=x.dtype)  # private order
    dh, dc = np.zeros_like(h0), np.zeros_like(c0)
    for t in range(T - 1, -1, -1):
        a, tc = acts[t], tcs[t]
        s, g = a[:, : 3 * H], a[:, 3 * H :]
        m = dy[t] + dh
        dc = dc + m * a[:, :H] * (1.0 - tc**2)
        d_oif = np.concatenate([m * tc, dc * g, dc * cs[t]], axis=-1)  # (N, 3H) do | di | df
        dA[t, :, : 3 * H] = d_oif * s * (1.0 - s)  # one block for the three sigmoid gates
        dA[t, :, 3 * H :] = dc * a[:, H : 2 * H] * (1.0 - g**2)
        dc = dc * a[:, 2 * H : 3 * H]
        dh = dA[t] @ Wh  # (N, H)
    dA2 = dA.reshape(T * N, 4 * H)
    back = torch_gate_rows(H)  # private -> PyTorch order
    return {
        "y": np.stack(hs[1:]),
        "dx": (dA2 @ Wi).reshape(T, N, I),
        "dW_ih": (dA2.T @ x.reshape(T * N, I))[back],
        "dW_hh": (dA2.T @ np.stack(hs[:-1]).reshape(T * N, H))[back],
        "db": dA2.sum(axis=0)[back],
    }


def _layer(
    form: str | None, threads: int | None, single: bool = True, fm: bool = True, reuse: bool | None = None
) -> Callable[..., Grads]:
    """The shipped layer with the gate form and row threads fixed (None: as shipped, chosen here),
    the one-sequence path and the feature-major layout on or off, and buffer reuse off, on, or as
    shipped (None)."""

    def train_step(x: np.ndarray, h0: np.ndarray, c0: np.ndarray, w: Weights, dy: np.ndarray) -> Grads:
        if form is None:
            with rows.row_threads(threads), single_path(single), feature_major(fm), buffers.reuse(reuse):
                return _shipped(x, h0, c0, w, dy)
        before = activation.chosen_form(x.dtype)
        activation.set_gate_form(form, x.dtype)
        try:
            with rows.row_threads(threads), single_path(single), feature_major(fm), buffers.reuse(reuse):
                return _shipped(x, h0, c0, w, dy)
        finally:
            activation.set_gate_form(before, x.dtype)  # back to the shipped choice (None: not made yet)

    return train_step


def _shipped(x: np.ndarray, h0: np.ndarray, c0: np.ndarray, w: Weights, dy: np.ndarray) -> Grads:
    W_ih, W_hh, b_ih, b_hh = w
    y, h_n, c_n, cache = layer_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh)
    g = layer_backward(dy, np.zeros_like(h_n), np.zeros_like(c_n), cache)
    return {"y": y, "dx": g.dx, "dW_ih": g.dW_ih, "dW_hh": g.dW_hh, "db": g.db}


VARIANTS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray, Weights, np.ndarray], Grads]] = {
    "textbook": _textbook,
    "input_gemm": _input_gemm,
    "grads_after_loop": _grads_after_loop,
    "fused_gates": _fused_gates,
    "buffers": _layer("tanh", 1, single=False, fm=False, reuse=False),
    "exp_gates": _layer("exp", 1, single=False, fm=False, reuse=False),
    "row_threads": _layer("exp", None, single=False, fm=False, reuse=False),
    "one_sequence": _layer("exp", None, fm=False, reuse=False),
    "feature_major": _layer("exp", None, reuse=False),
    "reused_buffers": _layer("exp", None, reuse=True),
    "shipped": _layer(None, None),
}
"""Name -> ``train_step(x, h0, c0, (W_ih, W_hh, b_ih, b_hh), dy)`` returning ``y``, ``dx``,
``dW_ih``, ``dW_hh`` and ``db`` (in PyTorch's gate order).  Cumulative, in this order."""
