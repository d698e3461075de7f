"""Pad a list of variable-length sequences into one batch, and get their lengths back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from numpy_lstm import _checks


def pad_sequences(
    sequences: Sequence[Any],
    batch_first: bool = False,
    padding_value: float = 0.0,
    dtype: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Stack ``(T_n, F...)`` arrays into ``(T_max, N, F...)`` (or ``(N, T_max, F...)`` with
    ``batch_first``) and return it with ``lengths (N,)``, ready for ``lstm(x, lengths=lengths)``.

    Like ``torch.nn.utils.rnn.pad_sequence``, plus the lengths.  Every sequence needs at least one
    step and the same trailing shape.
    """
    batch_first = _checks.check_bool(batch_first, "batch_first")
    if len(sequences) == 0:
        raise ValueError("pad_sequences: expected at least one sequence, got none")
    arrays = [np.asarray(s) for s in sequences]
    trailing = arrays[0].shape[1:]
    for n, a in enumerate(arrays):
        if a.ndim == 0 or a.shape[0] == 0:
            raise ValueError(f"pad_sequences: sequence {n} is empty (shape {a.shape}); lengths must be >= 1")
        if a.shape[1:] != trailing:
            raise ValueError(
                f"pad_sequences: sequence {n} has trailing shape {a.shape[1:]}, expected {trailing} "
                "like sequence 0"
            )
    lengths = np.array([a.shape[0] for a in arrays], dtype=np.int64)  # (N,)
    out_dtype = np.result_type(*arrays) if dtype is None else np.dtype(dtype)
    T, N = int(lengths.max()), len(arrays)
    out = np.full((T, N, *trailing), padding_value, dtype=out_dtype)  # (T, N, F...)
    for n, a in enumerate(arrays):
        out[: a.shape[0], n] = a
    if batch_first:
        out = np.ascontiguousarray(np.swapaxes(out, 0, 1))  # (N, T, F...)
    return out, lengths
