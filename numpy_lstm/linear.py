r"""``numpy_lstm.Linear``: the NumPy twin of ``torch.nn.Linear``.

Equations (``M`` rows, any number of leading axes flattened into them; ``I`` in, ``O`` out)::

    y = x @ W.T + b             x (M, I), W (O, I), b (O,), y (M, O)

    dx = dy @ W                 (M, I)
    dW = dy.T @ x               (O, I)
    db = dy.sum(axis=0)         (O,)

Initialisation as PyTorch: ``W`` and ``b`` uniform in ``(-1/sqrt(I), 1/sqrt(I))``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from numpy_lstm import _checks
from numpy_lstm.grad_mode import is_grad_enabled
from numpy_lstm.module import Module


class LinearCache(NamedTuple):
    """What :func:`linear_backward` needs: the input and the weight of the forward call."""

    x: np.ndarray  # (M, I)
    W: np.ndarray  # (O, I)
    has_bias: bool


class LinearGrads(NamedTuple):
    dx: np.ndarray  # (M, I)
    dW: np.ndarray  # (O, I)
    db: np.ndarray | None  # (O,)


def linear_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray | None) -> tuple[np.ndarray, LinearCache]:
    """``y = x @ W.T + b`` for ``x (M, I)``; returns ``y (M, O)`` and the cache."""
    y = x @ W.T  # (M, O)
    if b is not None:
        y += b  # (M, O)
    return y, LinearCache(x, W, b is not None)


def linear_backward(dy: np.ndarray, cache: LinearCache) -> LinearGrads:
    """Gradients of ``linear_forward`` for an upstream ``dy (M, O)``."""
    dx = dy @ cache.W  # (M, I)
    dW = dy.T @ cache.x  # (O, I)
    db = dy.sum(axis=0) if cache.has_bias else None  # (O,)
    return LinearGrads(dx, dW, db)


class Linear(Module):
    """``y = linear(x)`` with ``x (..., in_features)`` -> ``y (..., out_features)``.

    Parameters ``weight (out_features, in_features)`` and ``bias (out_features,)`` (with
    ``bias=True``, the default), named as in PyTorch.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        dtype: Any = np.float32,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self._in_features = _checks.check_positive_int(in_features, "in_features")
        self._out_features = _checks.check_positive_int(out_features, "out_features")
        self._bias = _checks.check_bool(bias, "bias")
        self._dtype = _checks.check_dtype(dtype)
        self.rng = np.random.default_rng(seed)
        bound = 1.0 / np.sqrt(self.in_features)
        O, I = self.out_features, self.in_features
        self._add_param("weight", self.rng.uniform(-bound, bound, size=(O, I)).astype(self.dtype))
        if self.bias:
            self._add_param("bias", self.rng.uniform(-bound, bound, size=(O,)).astype(self.dtype))
        self._cache: LinearCache | None = None
        self._lead_shape: tuple[int, ...] = ()
        self._ran_forward = False

    in_features = _checks.fixed_option("in_features", "Features in, ``I``.")
    out_features = _checks.fixed_option("out_features", "Features out, ``O``.")
    bias = _checks.fixed_option("bias", "Whether the layer has a ``bias``.")
    dtype = _checks.fixed_option("dtype", "float32 or float64: parameters and arrays in and out (``astype`` copies).")

    def _drop_caches(self) -> None:
        self._cache, self._ran_forward = None, False

    def __repr__(self) -> str:
        return (
            f"Linear(in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias}, dtype={self.dtype.name})"
        )

    def __call__(self, x: Any) -> np.ndarray:
        return self.forward(x)

    def forward(self, x: Any) -> np.ndarray:
        """``x (..., in_features)`` -> ``(..., out_features)``.

        The cache holds private copies of ``x`` and ``weight``: the caller may change either before
        ``backward`` without changing its gradients.
        """
        source = x
        x = _checks.as_float_array(x, "Linear input", self.dtype)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear input: expected shape (..., {self.in_features}) (features last), got {x.shape}")
        lead = x.shape[:-1]
        x2 = x.reshape(-1, self.in_features)  # (M, I)
        W = self.params["weight"]  # (O, I)
        keep = is_grad_enabled()
        if keep:
            x2, W = _checks.private_copy(x2, source), W.copy()  # dW reads x, dx reads W
        y, cache = linear_forward(x2, W, self.params.get("bias"))  # (M, O)
        self._ran_forward = True
        self._cache = cache if keep else None
        self._lead_shape = lead
        return y.reshape(*lead, self.out_features)  # (..., O)

    def backward(self, dy: Any) -> np.ndarray:
        """Add ``dW``, ``db`` into ``grads`` and return ``dx`` in the input's shape."""
        if self._cache is None:
            where = "ran under numpy_lstm.no_grad()" if self._ran_forward else "has not run"
            raise RuntimeError(f"Linear.backward: the forward pass {where}; nothing to backpropagate")
        dy = _checks.as_float_array(dy, "dy", self.dtype)
        expected = (*self._lead_shape, self.out_features)
        _checks.check_shape(dy, expected, "dy", "(the shape of the forward output)")
        g = linear_backward(dy.reshape(-1, self.out_features), self._cache)  # dy as (M, O)
        self.grads["weight"] += g.dW
        if self.bias:
            self.grads["bias"] += g.db
        return g.dx.reshape(*self._lead_shape, self.in_features)  # (..., I)
