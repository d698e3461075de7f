"""The training loop: one loop for every backend, and for several backends in lockstep.

Each epoch shuffles the training split with ``[seed, epoch]`` and reseeds each backend's dropout
with ``(seed, epoch)``, so epoch ``e`` draws the same batches and masks whether the run started at
epoch 1 or resumed from a checkpoint written after epoch ``e - 1``.  Several backends see the same
batches in the same order; the loop records the largest difference between their losses.

History (JSON-friendly, stored in checkpoints and ``metrics.json``)::

    {"epoch": [1, 2, ...],
     "backends": {"numpy": {"train_loss": [...], "train_accuracy": [...],
                            "val_loss": [...], "val_accuracy": [...]}, ...},
     "max_abs_loss_diff": [...]}     per epoch, over train batches and validation; 0 for one backend

The train figures of an epoch are token-weighted averages over its batches (taken while the
weights move); validation is evaluated after the epoch, without gradients or dropout.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from numpy_lstm_app.backend import Backend, StepResult
from numpy_lstm_app.data import Batch, Vocabulary, make_batches

METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")


class TrainConfig(NamedTuple):
    epochs: int = 50
    batch_size: int = 16
    seed: int = 0


class Diverged(Exception):
    """A loss that is NaN or infinite: training stops, the last good checkpoint stays."""

    def __init__(self, epoch: int, batch: int, backend: str, loss: float) -> None:
        self.epoch, self.batch, self.backend, self.loss = epoch, batch, backend, loss
        super().__init__(
            f"the {backend} loss became {loss} at epoch {epoch}, "
            + (f"batch {batch}" if batch else "validation")
            + "; training stopped (a smaller learning rate or gradient clipping may help)"
        )


class SplitResult(NamedTuple):
    loss: float  # mean over the split's real tokens
    accuracy: float
    tokens: int


def new_history(names: Sequence[str]) -> dict[str, Any]:
    return {"epoch": [], "backends": {n: {m: [] for m in METRICS} for n in names}, "max_abs_loss_diff": []}


def _pool(results: Sequence[StepResult]) -> SplitResult:
    tokens = sum(r.tokens for r in results)
    loss = sum(r.loss * r.tokens for r in results) / tokens
    return SplitResult(loss, sum(r.correct for r in results) / tokens, tokens)


def _check_finite(results: Sequence[StepResult], backends: Sequence[Backend], epoch: int, batch: int) -> None:
    for b, r in zip(backends, results, strict=True):
        if not math.isfinite(r.loss):
            raise Diverged(epoch, batch, b.name, r.loss)


def _max_diff(results: Sequence[StepResult]) -> float:
    return max(abs(r.loss - results[0].loss) for r in results)


def evaluate(backends: Sequence[Backend], batches: Sequence[Batch]) -> tuple[dict[str, SplitResult], float]:
    """Every backend on every batch, without gradients; returns per-backend results and the
    largest loss difference between backends (over batches)."""
    per: dict[str, list[StepResult]] = {b.name: [] for b in backends}
    diff = 0.0
    for batch in batches:
        results = [b.evaluate(batch) for b in backends]
        diff = max(diff, _max_diff(results))
        for b, r in zip(backends, results, strict=True):
            per[b.name].append(r)
    return {name: _pool(rs) for name, rs in per.items()}, diff


def fit(
    backends: Sequence[Backend],
    train: Sequence[np.ndarray],
    val: Sequence[np.ndarray],
    cfg: TrainConfig,
    history: dict[str, Any],
    on_epoch_end: Callable[[int, dict[str, Any]], None] = lambda epoch, history: None,
    progress: Callable[[int, int, int], None] | None = None,
) -> dict[str, Any]:
    """Train from the epoch after ``history["epoch"][-1]`` (or 1) up to ``cfg.epochs``.

    ``train``/``val`` are encoded sequences.  After each epoch the history gains one entry and
    ``on_epoch_end(epoch, history)`` runs (printing, checkpointing).  Raises :class:`Diverged`.
    """
    start = history["epoch"][-1] + 1 if history["epoch"] else 1
    val_batches = make_batches(val, cfg.batch_size)
    for epoch in range(start, cfg.epochs + 1):
        batches = make_batches(train, cfg.batch_size, shuffle_seed=(cfg.seed, epoch))
        for b in backends:
            b.begin_epoch(cfg.seed, epoch)
        per: dict[str, list[StepResult]] = {b.name: [] for b in backends}
        diff = 0.0
        for i, batch in enumerate(batches, start=1):
            results = [b.train_step(batch) for b in backends]
            _check_finite(results, backends, epoch, i)
            diff = max(diff, _max_diff(results))
            for b, r in zip(backends, results, strict=True):
                per[b.name].append(r)
            if progress is not None:
                progress(epoch, i, len(batches))
        val_results, val_diff = evaluate(backends, val_batches)
        _check_finite([StepResult(r.loss, 0, 0) for r in val_results.values()], backends, epoch, 0)
        history["epoch"].append(epoch)
        history["max_abs_loss_diff"].append(max(diff, val_diff))
        for b in backends:
            tr, va = _pool(per[b.name]), val_results[b.name]
            h = history["backends"][b.name]
            for key, value in zip(METRICS, (tr.loss, tr.accuracy, va.loss, va.accuracy), strict=True):
                h[key].append(value)
        on_epoch_end(epoch, history)
    return history


class Sample(NamedTuple):
    inputs: list[str]
    targets: list[str]
    predicted: list[str]


def sample_predictions(backend: Backend, encoded: Sequence[np.ndarray], vocab: Vocabulary, n: int) -> list[Sample]:
    """Input, target and predicted tokens of the first ``n`` sequences, side by side."""
    n = min(n, len(encoded))
    batch = make_batches(list(encoded[:n]), max(n, 1))[0]
    pred = backend.predict(batch)  # (T, N)
    out = []
    for j in range(n):
        L = int(batch.lengths[j])
        out.append(
            Sample(
                vocab.decode(batch.inputs[:L, j]),
                vocab.decode(batch.targets[:L, j]),
                vocab.decode(pred[:L, j]),
            )
        )
    return out
