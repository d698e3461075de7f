"""Pictures of what happens inside an LSTM: gate heatmaps and gradient flow through time.

matplotlib is imported inside the functions (numpy_lstm itself needs only NumPy).  They draw on a
bare ``matplotlib.figure.Figure``, rendered by Agg, rather than through ``pyplot``: that needs no
display and leaves the global backend alone (a notebook's inline backend keeps working).  PNGs are
written atomically (:mod:`numpy_lstm.files`), so a reader never sees half a picture.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from numpy_lstm.files import atomic_write


def _figure(**kwargs: Any) -> Any:
    from matplotlib.figure import Figure

    return Figure(layout="constrained", **kwargs)


def save_figure(fig: Any, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` (PNG) atomically (:func:`numpy_lstm.files.atomic_write`); returns the path."""
    return atomic_write(path, lambda f: fig.savefig(f, dpi=100, format="png"))


# Panels of the gate picture: name, title, colour map, fixed range (None: symmetric around 0).
_GATE_PANELS = [
    ("i", "input gate  i = σ(a_i)", "viridis", (0.0, 1.0)),
    ("f", "forget gate  f = σ(a_f)", "viridis", (0.0, 1.0)),
    ("o", "output gate  o = σ(a_o)", "viridis", (0.0, 1.0)),
    ("g", "candidate  g = tanh(a_g)", "RdBu_r", (-1.0, 1.0)),
    ("c", "cell state  c = f·c_prev + i·g", "RdBu_r", None),
    ("h", "hidden state  h = o·tanh(c)", "RdBu_r", (-1.0, 1.0)),
]


def plot_gates(
    rec: Mapping[str, np.ndarray],
    tokens: Sequence[str],
    path: str | Path,
    title: str = "",
    xlabel: str = "step t (its input token)",
) -> Path:
    """Heatmaps of i, f, o (top) and g, c, h (bottom) over time, into the PNG ``path``.

    ``rec[name]`` is ``(T, H)`` for one sequence (hidden units down, steps across); ``tokens`` are
    the ``T`` input tokens, written under the columns: column ``t`` is the state after reading
    token ``t``.  ``h`` may be ``(T, P)`` with a projection (``P < H``, as torch requires): then
    ``h = W_hr·(o·tanh(c))`` is not bounded by 1, and its panel's range is its own largest value,
    as ``c``'s is.
    """
    T = len(tokens)
    for name, *_ in _GATE_PANELS:
        if name not in rec:
            raise ValueError(f"plot_gates: missing '{name}'; expected arrays for {[p[0] for p in _GATE_PANELS]}")
        if rec[name].ndim != 2 or rec[name].shape[0] != T:
            raise ValueError(f"plot_gates: '{name}' should be (T={T}, H), got {rec[name].shape}")
    H = rec["i"].shape[1]
    projected = rec["h"].shape[1] != H
    longest = max(len(line) for tok in tokens for line in str(tok).split("\n"))
    labels = [str(tok) for tok in tokens]
    rotation = 0
    if longest > 4:  # long tokens: one line each, written vertically
        labels, rotation = [label.replace("\n", " ") for label in labels], 90
    width = min(max(10.0, 3 * (1.2 + 0.32 * T)), 30.0)
    fig = _figure(figsize=(width, 2.2 + 2 * (1.0 + 0.06 * H)))
    axes = fig.subplots(2, 3)
    for ax, (name, label, cmap, limits) in zip(axes.flat, _GATE_PANELS, strict=True):
        values = rec[name].T  # (H, T): one row per hidden unit
        if name == "h" and projected:
            label, limits = "hidden state  h = W_hr·(o·tanh(c))", None
        if limits is None:
            bound = float(np.max(np.abs(values))) or 1.0
            limits = (-bound, bound)
        im = ax.imshow(values, aspect="auto", cmap=cmap, vmin=limits[0], vmax=limits[1], interpolation="nearest")
        ax.set_title(label, fontsize=10)
        ax.set_xticks(range(T))
        ax.set_xticklabels(labels, rotation=rotation, ha="center", fontsize=8)
        ax.set_ylabel("hidden unit")
        if name in "gch":  # the bottom row
            ax.set_xlabel(xlabel)
        fig.colorbar(im, ax=ax, shrink=0.9)
    fig.suptitle(title or "LSTM gates and states over time (column t: after reading token t)", fontsize=12)
    return save_figure(fig, path)


def plot_gradflow(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]], path: str | Path, title: str = ""
) -> Path:
    """Two log-scale panels, ``||dL/dh_t||`` and ``||dL/dc_t||`` against ``t``, one line per label.

    ``curves[label] = (dh_norm (T,), dc_norm (T,))``; the loss is read at the last step.
    """
    fig = _figure(figsize=(12, 4.5))
    axes = fig.subplots(1, 2, sharex=True)
    tiny = np.finfo(np.float64).tiny  # a gradient that underflowed to 0 still shows, at the floor
    for label, (dh, dc) in curves.items():
        steps = np.arange(len(dh))
        axes[0].semilogy(steps, np.maximum(dh, tiny), label=label)
        axes[1].semilogy(steps, np.maximum(dc, tiny), label=label)
    for ax, name in zip(axes, ("h_t", "c_t"), strict=True):
        ax.set_xlabel("time step t  (the loss is computed at the last step)")
        ax.set_ylabel(f"||dL/d{name}||  (log scale)")
        ax.set_title(f"gradient reaching {name}")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=9)
    fig.suptitle(title or "How far back does the gradient reach?", fontsize=12)
    return save_figure(fig, path)
