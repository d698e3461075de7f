r"""One LSTM time step, written to be read beside the equations.

This is the *readable* form: one function per direction of the computation, PyTorch's gate order,
plain sigmoid and tanh, no buffers.  The fast layer in :mod:`numpy_lstm.functional.layer` computes
exactly the same numbers in a fused form; ``tests/test_functional.py`` proves the two agree.

Shape legend
------------
``N`` batch, ``I`` input features, ``H`` hidden size, ``P`` projection size (``proj_size``; when
there is no projection ``P = H`` and ``W_hr`` is absent).  ``H_out`` is ``P`` if projecting, else ``H``.

Forward (PyTorch's ``nn.LSTM`` / ``nn.LSTMCell``; gate order **i, f, g, o**)
--------------------------------------------------------------------------
::

    a   = x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh      (N, 4H)  pre-activations, rows i|f|g|o
    i   = sigmoid(a_i)          input gate                 (N, H)
    f   = sigmoid(a_f)          forget gate                (N, H)
    g   = tanh(a_g)             candidate cell             (N, H)
    o   = sigmoid(a_o)          output gate                (N, H)
    c   = f * c_prev + i * g    new cell state             (N, H)
    m   = o * tanh(c)           gated output               (N, H)
    h   = m @ W_hr.T            if proj_size > 0           (N, P)
    h   = m                     otherwise                  (N, H)

Backward, term by term (``dX`` means dLoss/dX; the upstream gradients are ``dh`` and ``dc``)
---------------------------------------------------------------------------------------------
Each line differentiates the forward line named on its right, read bottom-up::

    dW_hr = dh.T @ m                                       <- h = m @ W_hr.T       (P, H)
    dm    = dh @ W_hr          (or dm = dh without proj)   <- h = m @ W_hr.T       (N, H)
    do    = dm * tanh(c)                                   <- m = o * tanh(c)
    dc    = dc + dm * o * (1 - tanh(c)**2)                 <- m = o * tanh(c)  (c also feeds the next step)
    di    = dc * g                                         <- c = f*c_prev + i*g
    dg    = dc * i                                         <- c = f*c_prev + i*g
    df    = dc * c_prev                                    <- c = f*c_prev + i*g
    dc_prev = dc * f                                       <- c = f*c_prev + i*g
    da_i  = di * i * (1 - i)                               <- i = sigmoid(a_i)     sigmoid' = s(1-s)
    da_f  = df * f * (1 - f)                               <- f = sigmoid(a_f)
    da_g  = dg * (1 - g**2)                                <- g = tanh(a_g)        tanh' = 1 - tanh^2
    da_o  = do * o * (1 - o)                               <- o = sigmoid(a_o)
    da    = [da_i | da_f | da_g | da_o]                                           (N, 4H)
    dx      = da @ W_ih                                    <- a = x @ W_ih.T + ...  (N, I)
    dh_prev = da @ W_hh                                    <- a = ... + h_prev @ W_hh.T
    dW_ih   = da.T @ x                                                            (4H, I)
    dW_hh   = da.T @ h_prev                                                       (4H, H_out)
    db_ih   = db_hh = da.sum(axis=0)   both biases enter ``a`` additively          (4H,)

Across time (BPTT) the step's ``dh`` is the gradient of the loss on this step's output *plus* the
``dh_prev`` sent back by step ``t + 1``, and its ``dc`` is the ``dc_prev`` of step ``t + 1``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

GATE_ORDER = ("i", "f", "g", "o")
"""PyTorch's order of the four gate blocks in ``weight_ih``, ``weight_hh`` and the biases."""


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, computed as ``(1 + tanh(x / 2)) / 2``: equal to ``1 / (1 + exp(-x))``
    but free of overflow for large ``|x|`` (``exp(1e4)`` overflows, ``tanh`` saturates)."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def split_gates(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split a ``(..., 4H)`` array into its i, f, g, o blocks of ``(..., H)`` (views)."""
    H = a.shape[-1] // 4
    return a[..., 0:H], a[..., H : 2 * H], a[..., 2 * H : 3 * H], a[..., 3 * H : 4 * H]


class CellCache(NamedTuple):
    """Everything :func:`cell_backward` needs from one :func:`cell_forward` call."""

    x: np.ndarray  # (N, I)      input of this step
    h_prev: np.ndarray  # (N, H_out)  previous hidden state
    c_prev: np.ndarray  # (N, H)      previous cell state
    i: np.ndarray  # (N, H)      input gate
    f: np.ndarray  # (N, H)      forget gate
    g: np.ndarray  # (N, H)      candidate
    o: np.ndarray  # (N, H)      output gate
    tanh_c: np.ndarray  # (N, H)      tanh of the new cell state
    m: np.ndarray  # (N, H)      o * tanh(c), the input of the projection


class CellGrads(NamedTuple):
    """Gradients produced by :func:`cell_backward` for one step."""

    dx: np.ndarray  # (N, I)
    dh_prev: np.ndarray  # (N, H_out)
    dc_prev: np.ndarray  # (N, H)
    dW_ih: np.ndarray  # (4H, I)
    dW_hh: np.ndarray  # (4H, H_out)
    db: np.ndarray  # (4H,)  gradient of b_ih, and equally of b_hh
    dW_hr: np.ndarray | None  # (P, H) or None without projection


def cell_forward(
    x: np.ndarray,
    h_prev: np.ndarray,
    c_prev: np.ndarray,
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray | None = None,
    b_hh: np.ndarray | None = None,
    W_hr: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, CellCache]:
    """One LSTM step.  Returns ``h (N, H_out)``, ``c (N, H)`` and the cache for the backward pass."""
    a = x @ W_ih.T + h_prev @ W_hh.T  # (N, 4H)
    if b_ih is not None:
        a = a + b_ih  # (N, 4H)
    if b_hh is not None:
        a = a + b_hh  # (N, 4H)
    a_i, a_f, a_g, a_o = split_gates(a)  # 4 x (N, H)
    i = sigmoid(a_i)  # (N, H)
    f = sigmoid(a_f)  # (N, H)
    g = np.tanh(a_g)  # (N, H)
    o = sigmoid(a_o)  # (N, H)
    c = f * c_prev + i * g  # (N, H)
    tanh_c = np.tanh(c)  # (N, H)
    m = o * tanh_c  # (N, H)
    h = m @ W_hr.T if W_hr is not None else m  # (N, H_out)
    return h, c, CellCache(x, h_prev, c_prev, i, f, g, o, tanh_c, m)


def cell_backward(
    dh: np.ndarray,
    dc: np.ndarray,
    cache: CellCache,
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    W_hr: np.ndarray | None = None,
) -> CellGrads:
    """Backward of :func:`cell_forward`, one term per forward line (see the module docstring).

    ``dh (N, H_out)`` and ``dc (N, H)`` are the gradients arriving at this step's ``h`` and ``c``.
    """
    x, h_prev, c_prev, i, f, g, o, tanh_c, m = cache
    if W_hr is not None:
        dW_hr = dh.T @ m  # (P, H)      h = m @ W_hr.T
        dm = dh @ W_hr  # (N, H)
    else:
        dW_hr = None
        dm = dh  # (N, H)      h = m
    do = dm * tanh_c  # (N, H)      m = o * tanh(c)
    dc = dc + dm * o * (1.0 - tanh_c**2)  # (N, H)      m = o * tanh(c)
    di = dc * g  # (N, H)      c = f*c_prev + i*g
    dg = dc * i  # (N, H)
    df = dc * c_prev  # (N, H)
    dc_prev = dc * f  # (N, H)
    da = np.concatenate(
        [
            di * i * (1.0 - i),  # i = sigmoid(a_i)
            df * f * (1.0 - f),  # f = sigmoid(a_f)
            dg * (1.0 - g**2),  # g = tanh(a_g)
            do * o * (1.0 - o),  # o = sigmoid(a_o)
        ],
        axis=-1,
    )  # (N, 4H)
    dx = da @ W_ih  # (N, I)      a = x @ W_ih.T + ...
    dh_prev = da @ W_hh  # (N, H_out)  a = ... + h_prev @ W_hh.T
    dW_ih = da.T @ x  # (4H, I)
    dW_hh = da.T @ h_prev  # (4H, H_out)
    db = da.sum(axis=0)  # (4H,)
    return CellGrads(dx, dh_prev, dc_prev, dW_ih, dW_hh, db, dW_hr)
