"""What ``numpy-lstm train`` prints: the data, the model, each epoch's losses, the test figures and
sample predictions (then it writes ``metrics.json`` and ``loss.png``)."""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path
from typing import Any

from numpy_lstm_app.backend import Backend
from numpy_lstm_app.cli.train_outputs import CHECKPOINT, METRICS, PLOT, write_outputs
from numpy_lstm_app.data import SPECIALS, best_accuracy_on, make_batches
from numpy_lstm_app.dataset import Dataset
from numpy_lstm_app.model import ModelConfig
from numpy_lstm_app.train import evaluate, sample_predictions


def losses(epoch: int, history: dict[str, Any]) -> str:
    hs = history["backends"]
    i = history["epoch"].index(epoch)
    if len(hs) == 1:
        (h,) = hs.values()
        return (
            f"train loss {h['train_loss'][i]:.4f} acc {h['train_accuracy'][i]:.3f}  "
            f"val loss {h['val_loss'][i]:.4f} acc {h['val_accuracy'][i]:.3f}"
        )
    parts = "  ".join(f"{name} train {h['train_loss'][i]:.12f} val {h['val_loss'][i]:.12f}" for name, h in hs.items())
    return f"{parts}  max |diff| {history['max_abs_loss_diff'][i]:.1e}"


def describe_model(cfg: ModelConfig) -> str:
    opts = "".join(
        f", {name}={value}"
        for name, value, default in [
            ("num_layers", cfg.num_layers, 1),
            ("proj_size", cfg.proj_size, 0),
            ("dropout", cfg.dropout, 0.0),
        ]
        if value != default
    )
    H_out, E = cfg.proj_size or cfg.hidden_size, cfg.embedding_dim
    first = f"Embedding({cfg.vocab_size}, {E}) -> " if E else ""
    lstm = f"LSTM({E or cfg.vocab_size}, {cfg.hidden_size}{opts})"
    return f"{first}{lstm} -> Linear({H_out}, {cfg.vocab_size}), {cfg.dtype}"


def describe_data(data: Dataset, args: argparse.Namespace) -> str:
    d = data.description
    src = (
        f"task a^k b^k EOS, k in [{d['k_min']}, {d['k_max']}]"
        if data.is_synthetic
        else f"text {args.text} ({d['level']}-level)"
    )
    sizes = ", ".join(f"{n} {len(s)}" for n, s in zip(("train", "validation", "test"), data.splits, strict=True))
    shown = " ".join(data.vocab.tokens[:12]) + (" ..." if len(data.vocab) > 12 else "")
    return f"data: {src}: {sizes} sequences; vocabulary {len(data.vocab)} ({shown})"



def report(args: argparse.Namespace, data: Dataset, backends: list[Backend], history: dict[str, Any],
            bounds: dict[str, Any], out: Path, t0: float) -> None:
    """Test metrics, sample predictions, then metrics.json and loss.png."""
    test, test_diff = evaluate(backends, make_batches(data.encoded[2], args.batch_size))
    best_here = best_accuracy_on(data.splits.test, args.k_min, args.k_max) if data.is_synthetic else None
    for name, r in test.items():
        print(f"test ({name}): loss {r.loss:.4f}  accuracy {r.accuracy:.3f}")
    if bounds["accuracy_ceiling"] is not None:
        print(
            f"best possible: accuracy {bounds['accuracy_ceiling']:.3f} and loss {bounds['loss_floor']:.4f} "
            f"expected over the task; accuracy {best_here:.3f} on this test set"
        )
    if len(backends) > 1:
        largest = max(history["max_abs_loss_diff"] + [test_diff])
        print(f"largest |loss difference| numpy vs torch over the run: {largest:.2e}")
    if args.samples:
        chars = bool(args.text) and args.level == "char"

        def show(tokens: list[str]) -> str:  # characters side by side; <EOS> and <UNK> marked
            return "".join(f"<{t}>" if t in SPECIALS else t for t in tokens) if chars else " ".join(tokens)

        print("test predictions (input -> target / predicted):")
        for s in sample_predictions(backends[0], data.encoded[2], data.vocab, args.samples):
            print(f"  input     {show(s.inputs)}\n  target    {show(s.targets)}\n  predicted {show(s.predicted)}\n")
    wall = time.perf_counter() - t0
    write_outputs(out, history, test, bounds, test_diff, args, wall, best_here=best_here)
    plot = f"{out / PLOT}, " if importlib.util.find_spec("matplotlib") else ""
    print(f"wrote {plot}{out / CHECKPOINT}, {out / METRICS} in {wall:.1f} s")
