"""Checks and layouts of ``LSTM`` inputs: the errors a person reads.

A wrong shape raises ``ValueError`` naming the layout that was expected and what arrived, and, when
an axis has the size of ``input_size`` in the wrong place, which axis it is and how to move it
(the ``permute(0, 2, 1)`` vs ``permute(1, 0, 2)`` mix-up).  :meth:`numpy_lstm.LSTM.prepare_input` runs
these; they read the module's options and never change it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from numpy_lstm import _checks

if TYPE_CHECKING:
    from numpy_lstm.lstm import LSTM

State = tuple[np.ndarray, np.ndarray]


def layout(lstm: LSTM) -> str:
    """The input layout the module expects, in words."""
    I = lstm.input_size
    if lstm.batch_first:
        return f"(batch, seq_len, {I}) for batch_first=True"
    return f"(seq_len, batch, {I}) for batch_first=False"


def check_input(lstm: LSTM, x: np.ndarray) -> None:
    """Refuse an ``x`` whose shape is not the module's layout, saying where the features went."""
    I = lstm.input_size
    if x.ndim not in (2, 3):
        raise ValueError(
            f"LSTM input: expected a 3-D array {layout(lstm)}, or 2-D (seq_len, {I}) "
            f"unbatched; got {x.ndim}-D shape {x.shape}"
        )
    T = x.shape[1] if x.ndim == 3 and lstm.batch_first else x.shape[0]
    if x.shape[-1] == I and T > 0:
        return  # a batch of zero sequences is fine, as in PyTorch
    expected = f"(seq_len, {I})" if x.ndim == 2 else layout(lstm)
    msg = f"LSTM input: expected {expected}, got {x.shape}"
    if T == 0:
        raise ValueError(msg + ": seq_len must be at least 1 (only the batch axis may be empty)")
    axes = [a for a in range(x.ndim - 1) if x.shape[a] == I]
    if axes:
        msg += (
            f". Axis {axes[0]} has size {I} = input_size, so the features look misplaced: an "
            "LSTM reads features on the LAST axis, (seq_len, batch, features) by default or "
            "(batch, seq_len, features) with batch_first=True. Move the axis with "
            "x.transpose(...) (torch: permute); note that permute(0, 2, 1) swaps the last two "
            "axes, which is not the same as permute(1, 0, 2), which swaps batch and time"
        )
    raise ValueError(msg)


def initial_state(lstm: LSTM, hx: Any, N: int, unbatched: bool) -> State:
    """``(h_0, c_0)`` as ``(D*L, N, H_out)``, ``(D*L, N, H)``: zeros for ``hx=None``, else checked."""
    LD = lstm.num_layers * lstm.num_directions
    shapes = ((LD, N, lstm.hidden_out), (LD, N, lstm.hidden_size))
    if hx is None:
        return np.zeros(shapes[0], lstm.dtype), np.zeros(shapes[1], lstm.dtype)
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise ValueError("hx must be a tuple (h_0, c_0) or None")
    out = []
    for value, name, shape in zip(hx, ("h_0", "c_0"), shapes, strict=True):
        arr = _checks.as_float_array(value, name, lstm.dtype)
        expect = (shape[0], shape[2]) if unbatched else shape
        if arr.shape != expect:
            hint = ""
            if not unbatched and arr.ndim == 3 and arr.shape[1] != N:
                hint = (
                    f" (its batch axis is {arr.shape[1]} but the input's batch is {N}: is "
                    f"batch_first={lstm.batch_first} right for the input?)"
                )
            size = "proj_size" if name == "h_0" and lstm.proj_size else "hidden_size"
            batch = "" if unbatched else "batch, "
            raise ValueError(
                f"{name}: expected shape {expect} = (num_layers * num_directions, {batch}{size}), "
                f"got {arr.shape}{hint}; states are never batch-first"
            )
        out.append(arr[:, None, :] if unbatched else arr)
    return out[0], out[1]


def check_lengths(lengths: Any, N: int, T: int, unbatched: bool) -> np.ndarray | None:
    """``lengths`` as ``(N,)`` int64 in ``[1, T]`` (a copy), or None; anything else is refused."""
    if lengths is None:
        return None
    if unbatched:
        raise ValueError("lengths cannot be given with unbatched (2-D) input")
    arr = np.asarray(lengths)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            pass
        else:
            raise ValueError(f"lengths must be integers, got dtype {arr.dtype}: {arr!r}")
    if arr.shape != (N,):
        raise ValueError(f"lengths: expected {N} integers (one per sequence), got shape {arr.shape}")
    arr = arr.astype(np.int64)  # a copy: the caller may change its own lengths after forward
    if N and (arr.min() < 1 or arr.max() > T):
        raise ValueError(f"lengths must be in [1, seq_len={T}], got min {arr.min()}, max {arr.max()}")
    return arr
