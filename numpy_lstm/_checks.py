"""Input checks shared by the modules: errors that say what was expected and what arrived."""

from __future__ import annotations

from typing import Any

import numpy as np

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(dtype: Any) -> np.dtype:
    """Normalise a module dtype; only float32 and float64 are supported."""
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}") from err
    if dt not in SUPPORTED_DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    return dt


def as_float_array(x: Any, name: str, dtype: np.dtype) -> np.ndarray:
    """``x`` as an ndarray of ``dtype``; integer, boolean, complex and object data are refused.

    Floating inputs of another precision are converted (as an explicit, visible cast would be).
    """
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        raise ValueError(
            f"{name} must be a floating-point array (float32 or float64), got dtype {arr.dtype}"
            + (" (one-hot encode token ids first)" if arr.dtype.kind in "iub" else "")
        )
    return arr if arr.dtype == dtype else arr.astype(dtype)


def check_positive_int(value: Any, name: str, *, allow_zero: bool = False) -> int:
    """An ``int`` (not bool) that is > 0, or >= 0 with ``allow_zero``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    low = 0 if allow_zero else 1
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return int(value)


def check_shape(arr: np.ndarray, expected: tuple[int, ...], name: str, layout: str) -> None:
    """Raise ``ValueError`` naming the layout when ``arr.shape != expected``."""
    if arr.shape != expected:
        raise ValueError(f"{name}: expected shape {expected} {layout}, got {arr.shape}")
