"""Input checks shared by the modules: errors that say what was expected and what arrived."""

from __future__ import annotations

from collections.abc import Callable
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
    """``x`` as an ndarray of the module's ``dtype``, refusing anything that would be a silent cast.

    An array (or NumPy scalar) must already have ``dtype``: float64 data into a float32 module (or
    the reverse) raises ``ValueError`` naming both fixes, as PyTorch refuses it; so does a list or
    tuple holding such arrays or scalars.  Python floats and lists of them have no dtype of their
    own and are converted.  Integer, boolean, complex and object data are refused.
    """
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        raise ValueError(
            f"{name} must be a floating-point array (float32 or float64), got dtype {arr.dtype}"
            + (" (one-hot encode token ids first)" if arr.dtype.kind in "iub" else "")
        )
    if arr.dtype == dtype:
        return arr
    if hasattr(x, "dtype") or _holds_other_float(x, dtype):  # converting would hide a mistake
        raise ValueError(
            f"{name} has dtype {arr.dtype} but the module's weights are {dtype} (input dtype does "
            f"not match weight dtype): build the module with dtype=np.{arr.dtype}, or convert the "
            f"array with x.astype(np.{dtype})"
        )
    return arr.astype(dtype)  # Python floats: no dtype to contradict


def _holds_other_float(x: Any, dtype: np.dtype) -> bool:
    """Whether the lists and tuples of ``x`` hold an array or NumPy scalar of a floating dtype other
    than ``dtype`` (walked only when the converted array's dtype already differs from ``dtype``)."""
    if isinstance(x, (list, tuple)):
        return any(_holds_other_float(item, dtype) for item in x)
    leaf = getattr(x, "dtype", None)
    return leaf is not None and np.dtype(leaf).kind == "f" and np.dtype(leaf) != dtype


def private_copy(arr: np.ndarray, source: Any) -> np.ndarray:
    """``arr`` (made from the caller's ``source``) as memory that the caller cannot reach.

    A cache that backward reads must not change when the caller changes an array it passed in:
    ``arr`` is copied unless ``source`` is a list or tuple, from which ``np.asarray`` always builds
    new memory.  Anything else may hand over memory the caller still holds: an ndarray or a view of
    one, but also an object whose ``__array__`` (or buffer) returns an array it keeps and owns, so
    ``arr.flags.owndata`` does not tell.
    """
    if isinstance(source, (list, tuple)):
        return arr
    return arr.copy()


def check_bool(value: Any, name: str) -> bool:
    """A flag: ``bool`` or ``numpy.bool_``, else ``TypeError`` as PyTorch raises (a string
    ``"False"`` or an int would otherwise be read as a truth value: ``bool("False")`` is True)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} should be of type bool, got: {type(value).__name__}")
    return bool(value)


def check_probability(value: Any, name: str) -> float:
    """A number in ``[0, 1]`` (not a bool, not NaN), as PyTorch's dropout argument."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not ok or not 0.0 <= value <= 1.0:
        raise ValueError(
            f"{name} should be a number in range [0, 1] representing the probability of an element "
            f"being zeroed, got {value!r}"
        )
    return float(value)


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


def checked_option(name: str, check: Callable[[Any, str], Any], doc: str) -> property:
    """A module option that may be changed after construction, checked by ``check`` whenever it is
    set (``m.batch_first = "False"`` raises as the constructor does); stored as ``_<name>``."""

    def get(self: Any) -> Any:
        return getattr(self, "_" + name)

    def set_(self: Any, value: Any) -> None:
        setattr(self, "_" + name, check(value, name))

    return property(get, set_, doc=doc)


def fixed_option(name: str, doc: str) -> property:
    """A module option its parameters were built for (``bias``): read-only after construction,
    where the constructor stores it as ``_<name>``."""

    def get(self: Any) -> Any:
        return getattr(self, "_" + name)

    def set_(self: Any, value: Any) -> None:
        raise AttributeError(
            f"{type(self).__name__}.{name} is fixed when the module is built (its parameters depend on "
            f"it); build a new {type(self).__name__} with {name}={value!r}"
        )

    return property(get, set_, doc=doc)
