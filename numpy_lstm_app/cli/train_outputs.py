"""The output folder of ``numpy-lstm train``: ``checkpoint.npz``, ``metrics.json`` and ``loss.png``
always describe the same run.

- The first checkpoint a run writes into a folder that held another run removes that run's
  ``metrics.json`` and ``loss.png`` (they would describe weights that are no longer there).
- A run that stops (diverges, is interrupted) writes metrics and plot for the epochs its checkpoint
  holds; if it wrote no checkpoint and the folder holds another run's files, it writes nothing.
- Leftover temporary files of a killed run are removed at the start (only ours, only stale).
- A write the OS refuses (a full disk, a directory where a file goes) is :class:`WriteFailed`, naming
  the file; what was there before stays whole (every file is written atomically).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from numpy_lstm.files import atomic_write, probe_writable
from numpy_lstm_app.checkpoint import read_meta, remove_stale_temporaries, save_checkpoint
from numpy_lstm_app.cli import CLIError, RunFailed, cannot_write
from numpy_lstm_app.plots import plot_history

CHECKPOINT, METRICS, PLOT = "checkpoint.npz", "metrics.json", "loss.png"
FILES = (CHECKPOINT, METRICS, PLOT)


class WriteFailed(RunFailed):
    """A file of the run folder the OS would not let us write: ``cannot write DIR/FILE: why``."""


@contextmanager
def writing(path: Path, verb: str = "write") -> Iterator[None]:
    """An ``OSError`` in the block becomes :class:`WriteFailed` naming ``path`` (not a temporary file)."""
    try:
        yield
    except OSError as err:
        raise WriteFailed(cannot_write(path, err, verb)) from err


def writable_folder(out: Path, option: str = "--out") -> None:
    """Create ``out`` and prove it writable with a file made and removed at once (``os.access`` says
    yes to root even on a read-only file system), so that a bad folder is found before any work."""
    if out.exists() and not out.is_dir():
        raise CLIError(f"{option} must be a directory, got the file {out}")
    try:
        probe_writable(out)
    except OSError as err:
        raise CLIError(f"{option}: cannot write into {out}: {err.strerror or err}") from None


def prepare(out: Path) -> None:
    """:func:`writable_folder`, then clear the stale temporary files of a killed run."""
    writable_folder(out)
    remove_stale_temporaries(out, FILES)


class RunFolder:
    """Writes this run's checkpoints into ``out`` and knows whether the checkpoint there is this run's."""

    def __init__(self, out: Path, resumed_from: Path | None) -> None:
        self.out = out
        here = out / CHECKPOINT
        self.owned = resumed_from is not None and here.exists() and here.resolve() == resumed_from.resolve()

    def save(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        if not self.owned:  # the other run's metrics and plot go first: never beside this run's weights
            for name in (METRICS, PLOT):
                with writing(self.out / name, "remove"):
                    (self.out / name).unlink(missing_ok=True)
        with writing(self.out / CHECKPOINT):
            save_checkpoint(self.out / CHECKPOINT, arrays, meta)
        self.owned = True

    def checkpoint_epoch(self) -> int | None:
        """The epoch of this run's checkpoint in ``out`` (None: it has none there)."""
        if not self.owned or not (self.out / CHECKPOINT).exists():
            return None
        return int(read_meta(self.out / CHECKPOINT)["epoch"])

    def holds_another_run(self) -> bool:
        return not self.owned and any((self.out / name).exists() for name in FILES)

    def kept(self) -> str:
        """What ``checkpoint.npz`` holds after a failed write, in words."""
        path, epoch = self.out / CHECKPOINT, self.checkpoint_epoch()
        if epoch is not None:
            return f"{path} holds epoch {epoch} of this run"
        if path.is_file():
            return f"{path} still holds the run before"
        return "this run wrote no checkpoint"


def truncate(history: dict[str, Any], epoch: int) -> dict[str, Any]:
    """The history of epochs ``1..epoch`` (those a checkpoint of epoch ``epoch`` holds)."""
    return {
        **history,
        "epoch": history["epoch"][:epoch],
        "backends": {n: {k: v[:epoch] for k, v in h.items()} for n, h in history["backends"].items()},
        "max_abs_loss_diff": history["max_abs_loss_diff"][:epoch],
    }


def write_outputs(
    out: Path,
    history: dict[str, Any],
    test: dict[str, Any],
    bounds: dict[str, float | None],
    test_diff: float | None,
    args: argparse.Namespace,
    wall: float,
    stopped: str | None = None,
    best_here: float | None = None,
) -> None:
    """``metrics.json`` and (with matplotlib and at least one epoch) ``loss.png``, atomically."""
    names = list(history["backends"])
    first = history["backends"][names[0]]
    metrics: dict[str, Any] = {
        "backend": args.backend,
        "epochs": history["epoch"],
        **{k: first[k] for k in ("train_loss", "train_accuracy", "val_loss", "val_accuracy")},
        "histories": history["backends"],
        "test_loss": test[names[0]].loss if test else None,
        "test_accuracy": test[names[0]].accuracy if test else None,
        "test": {n: {"loss": r.loss, "accuracy": r.accuracy} for n, r in test.items()},
        **bounds,
        "best_accuracy_on_test_set": best_here,
        "wall_time_s": wall,
        "args": {k: v for k, v in vars(args).items() if k not in ("func", "given_options")},
    }
    if len(names) > 1:
        diffs = history["max_abs_loss_diff"] + ([test_diff] if test_diff else [])
        metrics["max_abs_loss_diff"] = max(diffs, default=0.0)
        metrics["max_abs_loss_diff_per_epoch"] = history["max_abs_loss_diff"]
    if stopped:
        metrics["stopped"] = stopped
    with writing(out / METRICS):
        atomic_write(out / METRICS, lambda f: f.write(json.dumps(metrics, indent=1).encode()))
    if history["epoch"] and importlib.util.find_spec("matplotlib") is not None:
        with writing(out / PLOT):
            plot_history({**history, **bounds}, out / PLOT, title=f"next-token LSTM, backend {args.backend}")
