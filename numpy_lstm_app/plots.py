"""The loss (and accuracy) plot, as a PNG.  matplotlib is imported here only, when a plot is made.

It draws on a bare ``matplotlib.figure.Figure`` (rendered by Agg) instead of ``pyplot``: that needs
no display and leaves the global backend alone (a notebook's inline backend keeps working).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from numpy_lstm.files import atomic_write


def plot_history(history: dict[str, Any], path: str | Path, title: str = "") -> None:
    """Training and validation loss (left) and token accuracy (right) per epoch, for every backend.

    ``history`` as made by :func:`numpy_lstm_app.train.new_history`; optional ``loss_floor`` and
    ``accuracy_ceiling`` entries are drawn as dotted lines (the best any model could do).
    """
    from matplotlib.figure import Figure

    epochs = history["epoch"]
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    styles = {"numpy": "-", "torch": "--"}
    for name, h in history["backends"].items():
        ls = styles.get(name, ":")
        ax_loss.plot(epochs, h["train_loss"], ls, color="tab:blue", label=f"train ({name})")
        ax_loss.plot(epochs, h["val_loss"], ls, color="tab:orange", label=f"validation ({name})")
        ax_acc.plot(epochs, h["train_accuracy"], ls, color="tab:blue", label=f"train ({name})")
        ax_acc.plot(epochs, h["val_accuracy"], ls, color="tab:orange", label=f"validation ({name})")
    floor = history.get("loss_floor")
    if floor is not None:
        ax_loss.axhline(floor, color="gray", lw=1, ls=":", label=f"lowest possible ({floor:.3f})")
    ceiling = history.get("accuracy_ceiling")
    if ceiling is not None:
        ax_acc.axhline(ceiling, color="gray", lw=1, ls=":", label=f"best possible ({ceiling:.3f})")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy (mean per token)", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="next-token accuracy", title="accuracy", ylim=(0, 1.02))
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10, parse_math=False)  # user text: a "$" is a dollar, not mathtext
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
