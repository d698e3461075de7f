r"""How the fast paths (:mod:`.layer`, :mod:`.feature_major`) compute the gate nonlinearities.

The readable cell computes ``sigmoid`` and ``tanh`` gate by gate.  The fast paths activate all four
gates of a step with one transcendental call over the whole ``4H`` block, in one of two forms; the
scale each form needs is folded into the gate rows of the weights and bias (by
:func:`.gate_order.gate_weights`: multiplications by 0.5, -1 and -2 are exact)::

    "tanh"  rows scaled by 1/2 (sigmoid) and 1 (g):
            t = tanh(a')              sigmoid(a) = (1 + tanh(a/2)) / 2 = 0.5 * t + 0.5,   g = t
    "exp"   rows scaled by -1 (sigmoid) and -2 (g):
            r = 1 / (1 + exp(a'))     sigmoid(a) = 1 / (1 + e^-a) = r,   tanh(a) = 2 / (1 + e^-2a) - 1 = 2r - 1

In the exp form ``exp`` overflows to ``inf`` for large ``a'`` and ``r`` is then exactly 0, the right
limit; the loops run under ``np.errstate(over="ignore")`` so that this is not a warning.

Which form is faster depends on the CPU and on the NumPy build: NumPy's ``tanh`` is fast where it has
a SIMD kernel for it (float32 with AVX-512), and several times slower than ``exp`` elsewhere (float64,
or AVX2).  :func:`gate_form` therefore times both once per dtype, at first use, over a block of
typical size, and keeps the faster (cached for the process).  ``NUMPY_LSTM_GATES=tanh`` or ``=exp``
in the environment, or :func:`set_gate_form`, fixes the choice instead.  Both forms give the cell's
numbers to rounding (``tests/test_activation.py``).
"""

from __future__ import annotations

import os
import time

import numpy as np

FORMS = ("tanh", "exp")
ENV_VAR = "NUMPY_LSTM_GATES"

_chosen: dict[str, str] = {}  # dtype name -> form, by calibration or set_gate_form
_timings: dict[str, dict[str, float]] = {}  # dtype name -> form -> ns per gate value (calibration)


def gate_scale(H: int, form: str, dtype: np.dtype) -> np.ndarray:
    """The factor of each private gate row (o, i, f sigmoid; then g) for ``form``: ``(4H,)``."""
    if form not in FORMS:
        raise ValueError(f"gate form: expected one of {', '.join(FORMS)}, got {form!r}")
    sig, g = (0.5, 1.0) if form == "tanh" else (-1.0, -2.0)
    scale = np.full(4 * H, sig, dtype=dtype)  # (4H,)
    scale[3 * H :] = g
    return scale


def activate(a: np.ndarray, s: np.ndarray, g: np.ndarray, form: str, one: np.ndarray, half: np.ndarray) -> None:
    """Activate the scaled pre-activations ``a`` in place: ``s`` (a view of the sigmoid rows of ``a``)
    becomes sigmoid, ``g`` (a view of the g rows) tanh.  ``one``, ``half`` are 0-d arrays of the dtype
    (0-d arrays cost less per call than NumPy scalars).  The time loops of :mod:`.layer` and
    :mod:`.feature_major` call it once per step."""
    if form == "tanh":
        np.tanh(a, out=a)
        np.multiply(s, half, out=s)
        np.add(s, half, out=s)  # sigmoid = (1 + tanh(a/2)) / 2
    else:
        np.exp(a, out=a)
        np.add(a, one, out=a)
        np.divide(one, a, out=a)  # r = 1 / (1 + exp(a'))  = sigmoid on o, i, f
        np.add(g, g, out=g)
        np.subtract(g, one, out=g)  # tanh = 2r - 1 on g


def set_gate_form(form: str | None, dtype: np.dtype | type | None = None) -> None:
    """Fix the form (``"tanh"`` or ``"exp"``) for ``dtype`` (all dtypes when None); ``None`` forgets
    the choice, so that the next use calibrates again (or follows ``NUMPY_LSTM_GATES``)."""
    if form is not None and form not in FORMS:
        raise ValueError(f"gate form: expected one of {', '.join(FORMS)} or None, got {form!r}")
    names = [np.dtype(dtype).name] if dtype is not None else ["float32", "float64"]
    for name in names:
        if form is None:
            _chosen.pop(name, None)
        else:
            _chosen[name] = form


def chosen_form(dtype: np.dtype | type) -> str | None:
    """The form already chosen for ``dtype`` (set or calibrated), or None: nothing is measured."""
    return _chosen.get(np.dtype(dtype).name)


def gate_form(dtype: np.dtype) -> str:
    """The form used for ``dtype``: set, from the environment, or the faster one measured here."""
    name = np.dtype(dtype).name
    form = _chosen.get(name)
    if form is None:
        env = os.environ.get(ENV_VAR, "").strip()
        if env:
            if env not in FORMS:
                raise ValueError(f"{ENV_VAR}: expected one of {', '.join(FORMS)}, got {env!r}")
            form = env
        else:
            times = calibrate(np.dtype(dtype))
            form = min(times, key=times.__getitem__)
        _chosen[name] = form
    return form


def calibration(dtype: np.dtype) -> dict[str, float] | None:
    """The timings behind the choice for ``dtype`` (ns per gate value), or None if none were taken."""
    return _timings.get(np.dtype(dtype).name)


def calibrate(dtype: np.dtype, rows: int = 64, H: int = 256, repeats: int = 7) -> dict[str, float]:
    """Time both forms on a ``(rows, 4H)`` block, interleaved; the best of ``repeats`` each, in ns
    per gate value (a few milliseconds in all)."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(0)
    src = rng.standard_normal((rows, 4 * H)).astype(dtype)  # (rows, 4H)
    a = np.empty_like(src)
    one, half = np.ones((), dtype), np.full((), 0.5, dtype)
    best = {form: float("inf") for form in FORMS}
    with np.errstate(over="ignore"):
        for _ in range(repeats):
            for form in FORMS:
                np.copyto(a, src)
                t0 = time.perf_counter()
                activate(a, a[:, : 3 * H], a[:, 3 * H :], form, one, half)
                best[form] = min(best[form], time.perf_counter() - t0)
    ns = {form: t / src.size * 1e9 for form, t in best.items()}
    _timings[dtype.name] = ns
    return ns
