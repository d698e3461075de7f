r"""``numpy_lstm.Embedding``: the NumPy twin of ``torch.nn.Embedding`` (a lookup table of vectors).

Equations (``ids`` any shape ``S`` of integers in ``[0, V)``; ``V`` rows, ``E`` columns)::

    y = W[ids]                              W (V, E), y (*S, E)

    dW[v] = sum of dy[s] over every s with ids[s] == v     (E,) per row: a scatter-add
    dW[padding_idx] = 0                                    the padding row never learns

Looking up row ``v`` is the same as ``one_hot(v) @ W``, so an embedding is a Linear layer without
bias on one-hot input, computed without the zeros; its gradient is ``one_hot.T @ dy``, which is the
scatter-add above (repeated ids add up).  Initialisation as PyTorch: ``W ~ N(0, 1)``, the
``padding_idx`` row zero.  ``ids`` have no gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numpy_lstm import _checks
from numpy_lstm.grad_mode import is_grad_enabled
from numpy_lstm.module import Module


def embedding_forward(ids: np.ndarray, W: np.ndarray) -> np.ndarray:
    """``W[ids]``: ``ids (*S,)`` int, ``W (V, E)`` -> ``(*S, E)`` (a new array)."""
    return W[ids]  # (*S, E)


def embedding_backward(dy: np.ndarray, ids: np.ndarray, num_embeddings: int, padding_idx: int | None) -> np.ndarray:
    """``dW (V, E)`` for an upstream ``dy (*S, E)``: rows of ``dy`` added into the rows they read."""
    E = dy.shape[-1]
    flat_ids = ids.reshape(-1)  # (M,)
    dy2 = dy.reshape(-1, E)  # (M, E)
    if padding_idx is not None:
        dy2 = dy2 * (flat_ids != padding_idx)[:, None]  # (M, E) the padding row gets nothing
    dW = np.zeros((num_embeddings, E), dtype=dy.dtype)  # (V, E)
    np.add.at(dW, flat_ids, dy2)  # repeated ids accumulate (dW[flat_ids] += dy2 would keep only one)
    return dW


class Embedding(Module):
    """``y = embedding(ids)`` with integer ``ids`` of any shape -> ``(*ids.shape, embedding_dim)``.

    Parameter ``weight (num_embeddings, embedding_dim)``, named as in PyTorch.  ``padding_idx``
    (negative counts from the end, as in torch) names a row that starts at zero and gets no
    gradient.  ``max_norm``, ``scale_grad_by_freq`` and ``sparse`` are not implemented and refused.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        *,
        dtype: Any = np.float32,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.num_embeddings = _checks.check_positive_int(num_embeddings, "num_embeddings")
        self.embedding_dim = _checks.check_positive_int(embedding_dim, "embedding_dim")
        for name, value, default in [
            ("max_norm", max_norm, None),
            ("scale_grad_by_freq", scale_grad_by_freq, False),
            ("sparse", sparse, False),
        ]:
            if value is not default and value != default:
                raise ValueError(
                    f"Embedding: {name}={value!r} is not implemented (only {name}={default!r}); "
                    "renormalising rows, frequency scaling and sparse gradients are left out"
                )
        if norm_type != 2.0:
            raise ValueError(
                f"Embedding: norm_type applies to max_norm only, which is not implemented; got {norm_type}"
            )
        V = self.num_embeddings
        if padding_idx is not None:
            if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
                raise ValueError(f"padding_idx must be an integer or None, got {padding_idx!r}")
            if not -V <= padding_idx < V:
                raise ValueError(f"padding_idx must be within [{-V}, {V}) (num_embeddings={V}), got {padding_idx}")
            padding_idx = int(padding_idx) % V
        self.padding_idx: int | None = padding_idx
        self._dtype = _checks.check_dtype(dtype)
        self.rng = np.random.default_rng(seed)
        weight = self.rng.standard_normal((V, self.embedding_dim)).astype(self.dtype)  # (V, E)
        if padding_idx is not None:
            weight[padding_idx] = 0
        self._add_param("weight", weight)
        self._ids: np.ndarray | None = None  # the last forward's ids (a copy), for backward
        self._ran_forward = False

    dtype = _checks.fixed_option("dtype", "float32 or float64: parameters and arrays in and out (``astype`` copies).")

    def __repr__(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"Embedding({self.num_embeddings}, {self.embedding_dim}{pad}, dtype={self.dtype.name})"

    def _drop_caches(self) -> None:
        self._ids, self._ran_forward = None, False

    def check_ids(self, ids: Any) -> np.ndarray:
        """``ids`` as an int64 array, after checking its dtype and range (``ValueError``, ``IndexError``)."""
        arr = np.asarray(ids)
        if arr.dtype.kind not in "iu":
            raise ValueError(
                f"Embedding input must be integer token ids, got dtype {arr.dtype}"
                + (" (one-hot rows go to a Linear layer, not to an Embedding)" if arr.dtype.kind == "f" else "")
            )
        if arr.size:
            low, high = int(arr.min()), int(arr.max())
            if low < 0 or high >= self.num_embeddings:
                raise IndexError(
                    f"Embedding input: ids must be in [0, {self.num_embeddings}) (num_embeddings), "
                    f"got min {low}, max {high}"
                )
        return arr.astype(np.int64, copy=True)  # a copy: a later change to the caller's array cannot reach backward

    def __call__(self, ids: Any) -> np.ndarray:
        return self.forward(ids)

    def forward(self, ids: Any) -> np.ndarray:
        """``ids (*S,)`` integers -> ``(*S, embedding_dim)``."""
        ids = self.check_ids(ids)  # (*S,)
        y = embedding_forward(ids, self.params["weight"])  # (*S, E)
        self._ran_forward = True
        self._ids = ids if is_grad_enabled() else None
        return y

    def backward(self, dy: Any) -> None:
        """Add ``dW`` into ``grads["weight"]``.  Token ids have no gradient, so nothing is returned."""
        if self._ids is None:
            where = "ran under numpy_lstm.no_grad()" if self._ran_forward else "has not run"
            raise RuntimeError(f"Embedding.backward: the forward pass {where}; nothing to backpropagate")
        dy = _checks.as_float_array(dy, "dy", self.dtype)
        _checks.check_shape(dy, (*self._ids.shape, self.embedding_dim), "dy", "(the shape of the forward output)")
        self.grads["weight"] += embedding_backward(dy, self._ids, self.num_embeddings, self.padding_idx)
