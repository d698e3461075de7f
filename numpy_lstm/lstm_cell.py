"""``numpy_lstm.LSTMCell``: the NumPy twin of ``torch.nn.LSTMCell`` (one time step).

It is the readable :func:`~numpy_lstm.functional.cell.cell_forward` and
:func:`~numpy_lstm.functional.cell.cell_backward` with parameters ``weight_ih (4H, I)``,
``weight_hh (4H, H)``, ``bias_ih (4H,)``, ``bias_hh (4H,)`` around them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numpy_lstm import _checks
from numpy_lstm.functional.cell import CellCache, cell_backward, cell_forward
from numpy_lstm.grad_mode import is_grad_enabled
from numpy_lstm.module import Module


class LSTMCell(Module):
    """``h, c = cell(x, hx=None)`` with ``x (N, I)`` or unbatched ``(I,)``; states ``(N, H)``/``(H,)``."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        dtype: Any = np.float32,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self._input_size = _checks.check_positive_int(input_size, "input_size")
        self._hidden_size = _checks.check_positive_int(hidden_size, "hidden_size")
        self._bias = _checks.check_bool(bias, "bias")
        self._dtype = _checks.check_dtype(dtype)
        self.rng = np.random.default_rng(seed)
        H, bound = self.hidden_size, 1.0 / np.sqrt(self.hidden_size)
        shapes = {"weight_ih": (4 * H, self.input_size), "weight_hh": (4 * H, H)}
        if self.bias:
            shapes.update(bias_ih=(4 * H,), bias_hh=(4 * H,))
        for name, shape in shapes.items():
            self._add_param(name, self.rng.uniform(-bound, bound, size=shape).astype(self.dtype))
        self._cache: CellCache | None = None
        self._weights: tuple[np.ndarray, np.ndarray] | None = None  # weight_ih, weight_hh as forward saw them
        self._unbatched = False
        self._ran_forward = False

    input_size = _checks.fixed_option("input_size", "Features of the input, ``I``.")
    hidden_size = _checks.fixed_option("hidden_size", "Hidden units, ``H``.")
    bias = _checks.fixed_option("bias", "Whether the cell has ``bias_ih``/``bias_hh``.")
    dtype = _checks.fixed_option("dtype", "float32 or float64: parameters and arrays in and out (``astype`` copies).")

    def _drop_caches(self) -> None:
        self._cache, self._weights, self._ran_forward = None, None, False

    def __repr__(self) -> str:
        bias = "" if self.bias else ", bias=False"
        return f"LSTMCell({self.input_size}, {self.hidden_size}{bias}, dtype={self.dtype.name})"

    def __call__(self, x: Any, hx: Any = None) -> tuple[np.ndarray, np.ndarray]:
        return self.forward(x, hx)

    def forward(self, x: Any, hx: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """One step: returns ``(h, c)``, each ``(N, H)`` (or ``(H,)`` for unbatched input).

        What backward reads (the input, the states, the weights) is kept as private copies: the
        caller may change them, or the results, before ``backward``.
        """
        source = x
        x = _checks.as_float_array(x, "LSTMCell input", self.dtype)
        I, H = self.input_size, self.hidden_size
        if x.ndim not in (1, 2) or x.shape[-1] != I:
            raise ValueError(f"LSTMCell input: expected (batch, {I}) or unbatched ({I},), got {x.shape}")
        unbatched = x.ndim == 1
        x2 = x[None, :] if unbatched else x  # (N, I)
        N = x2.shape[0]
        state_shape = (H,) if unbatched else (N, H)
        if hx is None:
            h_prev = np.zeros((N, H), self.dtype)
            c_prev = np.zeros((N, H), self.dtype)
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise ValueError("hx must be a tuple (h, c) or None")
            h_prev = _checks.as_float_array(hx[0], "h", self.dtype)
            c_prev = _checks.as_float_array(hx[1], "c", self.dtype)
            _checks.check_shape(h_prev, state_shape, "h", "(batch, hidden_size)")
            _checks.check_shape(c_prev, state_shape, "c", "(batch, hidden_size)")
            h_prev, c_prev = h_prev.reshape(N, H), c_prev.reshape(N, H)
        p = self.params
        W_ih, W_hh = p["weight_ih"], p["weight_hh"]  # (4H, I), (4H, H)
        keep = is_grad_enabled()
        if keep:
            x2 = _checks.private_copy(x2, source)
            if hx is not None:
                h_prev, c_prev = _checks.private_copy(h_prev, hx[0]), _checks.private_copy(c_prev, hx[1])
            W_ih, W_hh = W_ih.copy(), W_hh.copy()  # backward's dx and dh_prev use them
        h, c, cache = cell_forward(x2, h_prev, c_prev, W_ih, W_hh, p.get("bias_ih"), p.get("bias_hh"))
        self._ran_forward = True
        self._cache = cache if keep else None
        self._weights = (W_ih, W_hh) if keep else None
        self._unbatched = unbatched
        return (h[0], c[0]) if unbatched else (h, c)

    def backward(self, dh: Any, dc: Any = None) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """``dx, (dh_prev, dc_prev) = cell.backward(dh, dc=None)``; adds into ``grads``."""
        if self._cache is None or self._weights is None:
            if self._ran_forward:
                raise RuntimeError(
                    "LSTMCell.backward: the last forward ran under numpy_lstm.no_grad() and kept "
                    "no cache; run forward outside no_grad to backpropagate"
                )
            raise RuntimeError("LSTMCell.backward called before forward: there is nothing to backpropagate")
        N, H = self._cache.c_prev.shape
        shape = (H,) if self._unbatched else (N, H)
        dh = _checks.as_float_array(dh, "dh", self.dtype)
        _checks.check_shape(dh, shape, "dh", "(the shape of h)")
        if dc is None:
            dc = np.zeros(shape, self.dtype)
        dc = _checks.as_float_array(dc, "dc", self.dtype)
        _checks.check_shape(dc, shape, "dc", "(the shape of c)")
        g = cell_backward(dh.reshape(N, H), dc.reshape(N, H), self._cache, *self._weights)
        self.grads["weight_ih"] += g.dW_ih
        self.grads["weight_hh"] += g.dW_hh
        if self.bias:
            self.grads["bias_ih"] += g.db
            self.grads["bias_hh"] += g.db
        if self._unbatched:
            return g.dx[0], (g.dh_prev[0], g.dc_prev[0])
        return g.dx, (g.dh_prev, g.dc_prev)
