"""``numpy-lstm train``: the next-token predictor end to end, on NumPy, PyTorch, or both in lockstep.

With no arguments it trains the built-in ``a^k b^k EOS`` task on NumPy, prints the losses every 5
epochs, the test metrics beside the best accuracy any model could reach, and sample predictions,
and writes ``loss.png``, ``checkpoint.npz`` and ``metrics.json`` into ``--out`` (``runs/train``).

Every argument is checked, the data read and any ``--resume`` checkpoint validated before the first
byte is written, so a wrong argument leaves the output directory as it was.  Files are written
atomically (temporary file, then rename).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from numpy_lstm_app.backend import Backend, NumpyBackend, OptimConfig
from numpy_lstm_app.checkpoint import atomic_write, load_checkpoint, mismatches, save_checkpoint
from numpy_lstm_app.cli import CLIError
from numpy_lstm_app.data import SPECIALS, accuracy_ceiling, best_accuracy_on, loss_floor, make_batches
from numpy_lstm_app.dataset import DataConfig, Dataset, build_dataset
from numpy_lstm_app.model import ModelConfig, NextTokenModel, config_from_meta
from numpy_lstm_app.plots import plot_history
from numpy_lstm_app.train import Diverged, TrainConfig, evaluate, fit, new_history, sample_predictions

CHECKPOINT, METRICS, PLOT = "checkpoint.npz", "metrics.json", "loss.png"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train",
        help="train the next-token predictor (NumPy, PyTorch, or both in lockstep)",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    g = p.add_argument_group("backend")
    g.add_argument(
        "--backend",
        choices=("numpy", "torch", "both"),
        default="numpy",
        help="'both' trains NumPy and PyTorch from the same weights on the same batches",
    )
    g.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help="torch device; auto = CUDA when available"
    )
    g.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    g = p.add_argument_group("model")
    g.add_argument(
        "--embedding-dim",
        type=int,
        default=0,
        metavar="E",
        help="0: one-hot tokens into the LSTM (the seed's model); E > 0: a learned Embedding(V, E) first",
    )
    g.add_argument("--hidden-size", type=int, default=50)
    g.add_argument("--layers", type=int, default=1)
    g.add_argument("--proj-size", type=int, default=0)
    g.add_argument("--dropout", type=float, default=0.0, help="between LSTM layers (needs --layers >= 2)")
    g.add_argument(
        "--bidirectional", action="store_true", help="refused: a bidirectional model would read the tokens it predicts"
    )
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=50)
    g.add_argument("--batch-size", type=int, default=16)
    g.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    g.add_argument("--lr", type=float, default=0.01, help="learning rate")
    g.add_argument("--momentum", type=float, default=0.0, help="SGD momentum")
    g.add_argument("--weight-decay", type=float, default=0.0)
    g.add_argument("--clip", type=float, default=None, help="clip the global gradient norm to this")
    g.add_argument("--seed", type=int, default=0, help="seeds data, split, weights, shuffling, dropout")
    g.add_argument("--every", type=int, default=5, help="print losses every N epochs")
    g = p.add_argument_group("data")
    g.add_argument("--text", default=None, metavar="FILE", help="train on this UTF-8 text file (one sequence per line)")
    g.add_argument("--level", choices=("word", "char"), default="word", help="--text tokens")
    g.add_argument("--max-len", type=int, default=50, help="--text: longest input window")
    g.add_argument("--sequences", type=int, default=200, help="built-in task: number of sequences")
    g.add_argument("--k-min", type=int, default=1, help="built-in task: fewest a's")
    g.add_argument("--k-max", type=int, default=9, help="built-in task: most a's")
    g = p.add_argument_group("output")
    g.add_argument("--out", default="runs/train", metavar="DIR", help="where the plot, checkpoint and metrics go")
    g.add_argument("--resume", default=None, metavar="CHECKPOINT", help="continue from this checkpoint.npz")
    g.add_argument("--samples", type=int, default=3, help="test sequences to show with predictions")
    p.set_defaults(func=run)


# --- checking the arguments -----------------------------------------------------------------------
def _require(ok: bool, message: str) -> None:
    if not ok:
        raise CLIError(message)


def check_args(args: argparse.Namespace) -> None:
    """Every argument that can be checked without reading anything."""
    _require(
        not args.bidirectional,
        "--bidirectional is refused for a next-token model: its backward "
        "direction would read the very tokens it is asked to predict",
    )
    for name in ("epochs", "batch_size", "hidden_size", "layers", "every", "max_len", "sequences", "k_min"):
        value = getattr(args, name)
        _require(value >= 1, f"--{name.replace('_', '-')} must be >= 1, got {value}")
    _require(args.samples >= 0, f"--samples must be >= 0, got {args.samples}")
    _require(args.embedding_dim >= 0, f"--embedding-dim must be >= 0 (0 for one-hot input), got {args.embedding_dim}")
    _require(args.k_max >= args.k_min, f"--k-max must be >= --k-min ({args.k_min}), got {args.k_max}")
    _require(
        0 <= args.proj_size < args.hidden_size,
        f"--proj-size must be in [0, --hidden-size={args.hidden_size}), got {args.proj_size}",
    )
    _require(math.isfinite(args.lr) and args.lr > 0, f"--lr must be a positive number, got {args.lr}")
    _require(math.isfinite(args.momentum) and args.momentum >= 0, f"--momentum must be >= 0, got {args.momentum}")
    _require(args.momentum == 0 or args.optimizer == "sgd", "--momentum applies to --optimizer sgd only")
    _require(
        math.isfinite(args.weight_decay) and args.weight_decay >= 0,
        f"--weight-decay must be >= 0, got {args.weight_decay}",
    )
    _require(
        args.clip is None or (math.isfinite(args.clip) and args.clip > 0),
        f"--clip must be a positive number, got {args.clip}",
    )
    _require(0 <= args.dropout < 1, f"--dropout must be in [0, 1), got {args.dropout}")
    _require(
        args.dropout == 0 or args.layers >= 2,
        f"--dropout applies between LSTM layers, so it needs --layers >= 2, got --layers {args.layers}",
    )


def _configs(args: argparse.Namespace, vocab_size: int) -> tuple[ModelConfig, OptimConfig, TrainConfig, DataConfig]:
    model = ModelConfig(
        vocab_size, args.hidden_size, args.layers, args.proj_size, args.dropout, True, args.dtype, args.embedding_dim
    )
    optim = OptimConfig(args.optimizer, args.lr, args.momentum, args.weight_decay, args.clip)
    train = TrainConfig(args.epochs, args.batch_size, args.seed)
    return model, optim, train, data_config(args)


def data_config(args: argparse.Namespace) -> DataConfig:
    return DataConfig(args.text, args.level, args.max_len, args.sequences, args.k_min, args.k_max, args.seed)


def _load_data(args: argparse.Namespace) -> Dataset:
    try:
        return build_dataset(data_config(args))
    except FileNotFoundError as err:
        raise CLIError(f"--text: {err}") from None
    except ValueError as err:
        raise CLIError(f"{'--text: ' if args.text else ''}{err}") from None


def _meta(model: ModelConfig, optim: OptimConfig, train: TrainConfig, data: Dataset) -> dict[str, Any]:
    return {
        "model": model._asdict(),
        "optim": optim._asdict(),
        "train": {"seed": train.seed, "batch_size": train.batch_size},
        "data": data.description,
        "vocab": data.vocab.tokens,
    }


def _load_resume(path: str, meta_now: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    try:
        arrays, meta = load_checkpoint(path)
    except (FileNotFoundError, ValueError) as err:
        raise CLIError(f"--resume: {err}") from None
    if meta.get("vocab") != meta_now["vocab"]:
        raise CLIError(
            f"--resume: {path} was trained on another vocabulary ({len(meta.get('vocab', []))} "
            f"tokens) than this run's data gives ({len(meta_now['vocab'])} tokens)"
        )
    saved = {k: meta.get(k) for k in ("model", "optim", "train", "data")}
    try:  # a checkpoint from before a model field existed has that field's default
        saved["model"] = config_from_meta(saved["model"] or {})._asdict()
    except (TypeError, ValueError) as err:
        raise CLIError(f"--resume: {path}: its model description is not usable ({err})") from None
    diffs = mismatches(
        saved,
        {k: meta_now[k] for k in ("model", "optim", "train", "data")},
    )
    if diffs:
        raise CLIError(f"--resume: {path} comes from another model or run: " + "; ".join(diffs))
    return arrays, meta


def _make_backends(args: argparse.Namespace, model: NextTokenModel, optim: OptimConfig) -> list[Backend]:
    names = ["numpy", "torch"] if args.backend == "both" else [args.backend]
    backends: list[Backend] = []
    for name in names:
        if name == "numpy":
            backends.append(NumpyBackend(model, optim))
            continue
        try:
            from numpy_lstm_app.torch_backend import TorchBackend  # torch only when asked for
        except ImportError as err:
            raise CLIError(f"--backend {args.backend} needs PyTorch ({err}); pip install 'numpy-lstm[torch]'") from None
        try:
            # One CPU thread: the model is tiny, and extra threads mostly spin, fighting NumPy's BLAS
            # for the cores (5 float64 epochs of --backend both on 2 busy cores: 54 s, then 18 s).
            # With --backend both, the torch twin replays the NumPy model's dropout masks.
            masks = backends[0].dropout_masks if backends and isinstance(backends[0], NumpyBackend) else None
            backends.append(
                TorchBackend(model, optim, device=args.device, seed=args.seed, cpu_threads=1, mask_source=masks)
            )
        except ValueError as err:
            raise CLIError(f"--device: {err}") from None
    return backends


# --- printing -------------------------------------------------------------------------------------
def _epoch_line(epoch: int, history: dict[str, Any], width: int) -> str:
    hs = history["backends"]
    i = history["epoch"].index(epoch)
    if len(hs) == 1:
        (h,) = hs.values()
        return (
            f"epoch {epoch:>{width}}  train loss {h['train_loss'][i]:.4f} acc {h['train_accuracy'][i]:.3f}  "
            f"val loss {h['val_loss'][i]:.4f} acc {h['val_accuracy'][i]:.3f}"
        )
    parts = "  ".join(f"{name} train {h['train_loss'][i]:.12f} val {h['val_loss'][i]:.12f}" for name, h in hs.items())
    return f"epoch {epoch:>{width}}  {parts}  max |diff| {history['max_abs_loss_diff'][i]:.1e}"


def _describe_model(cfg: ModelConfig) -> str:
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
    return (
        f"{first}LSTM({E or cfg.vocab_size}, {cfg.hidden_size}{opts}) -> Linear({H_out}, {cfg.vocab_size}), {cfg.dtype}"
    )


def _progress(epoch: int, done: int, total: int) -> None:
    end = "\r" if done < total else "\r" + " " * 40 + "\r"
    print(f"  epoch {epoch} batch {done}/{total}", end=end, file=sys.stderr, flush=True)


def _describe(data: Dataset, args: argparse.Namespace) -> str:
    d = data.description
    src = (
        f"task a^k b^k EOS, k in [{d['k_min']}, {d['k_max']}]"
        if data.is_synthetic
        else f"text {args.text} ({d['level']}-level)"
    )
    sizes = ", ".join(f"{n} {len(s)}" for n, s in zip(("train", "validation", "test"), data.splits, strict=True))
    shown = " ".join(data.vocab.tokens[:12]) + (" ..." if len(data.vocab) > 12 else "")
    return f"data: {src}: {sizes} sequences; vocabulary {len(data.vocab)} ({shown})"


# --- the command ----------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    check_args(args)
    data = _load_data(args)
    model_cfg, optim_cfg, train_cfg, _ = _configs(args, len(data.vocab))
    meta = _meta(model_cfg, optim_cfg, train_cfg, data)
    model = NextTokenModel(model_cfg, seed=args.seed)
    backends = _make_backends(args, model, optim_cfg)
    history = new_history([b.name for b in backends])
    if args.resume:
        arrays, saved = _load_resume(args.resume, meta)
        for b in backends:
            b.load_state_arrays(arrays)
        past = saved["history"]["backends"]
        for b in backends:
            # A checkpoint from the other backend resumes here too: its past is this backend's past
            # (a fresh copy of the lists, so that two backends never append to the same one).
            h = past.get(b.name, next(iter(past.values())))
            history["backends"][b.name] = {k: list(v) for k, v in h.items()}
        history["epoch"] = list(saved["history"]["epoch"])
        history["max_abs_loss_diff"] = list(saved["history"]["max_abs_loss_diff"])
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CLIError(f"--out: cannot create {out}: {err}") from None

    if importlib.util.find_spec("matplotlib") is None:
        print(
            "note: matplotlib is not installed, so no plot will be drawn (pip install 'numpy-lstm[plot]')",
            file=sys.stderr,
        )
    print(_describe(data, args))
    print(f"model: {_describe_model(model_cfg)}, {model.num_parameters():,} parameters")
    device = f" ({backends[-1].device})" if args.backend != "numpy" else ""
    print(
        f"training: {args.optimizer} lr {args.lr}{f' momentum {args.momentum}' if args.momentum else ''}"
        f"{f' clip {args.clip}' if args.clip else ''}, batch {args.batch_size}, {args.epochs} epochs, "
        f"seed {args.seed}, backend {args.backend}{device}"
    )
    if history["epoch"]:
        print(f"resuming from {args.resume} after epoch {history['epoch'][-1]}")
    width = len(str(args.epochs))
    every = 1 if args.backend == "both" else args.every

    saved_epochs: list[int] = []

    def save(epoch: int, hist: dict[str, Any]) -> None:
        save_checkpoint(out / CHECKPOINT, backends[0].state_arrays(), {**meta, "epoch": epoch, "history": hist})
        saved_epochs.append(epoch)

    def on_epoch_end(epoch: int, hist: dict[str, Any]) -> None:
        save(epoch, hist)
        if epoch % every == 0 or epoch == args.epochs:
            print(_epoch_line(epoch, hist, width), flush=True)

    progress = _progress if sys.stderr.isatty() else None
    ceiling = float(accuracy_ceiling(args.k_min, args.k_max)) if data.is_synthetic else None
    floor = loss_floor(args.k_min, args.k_max) if data.is_synthetic else None
    bounds = {"accuracy_ceiling": ceiling, "loss_floor": floor}
    try:
        fit(backends, data.encoded[0], data.encoded[1], train_cfg, history, on_epoch_end, progress)
    except Diverged as err:
        kept = (
            f"{out / CHECKPOINT} keeps epoch {saved_epochs[-1]}, the last good one"
            if saved_epochs
            else "no epoch finished, so this run wrote no checkpoint"
        )
        _write_outputs(out, history, {}, bounds, None, args, time.perf_counter() - t0, stopped=str(err))
        raise CLIError(f"{err}; {kept}") from None

    if not saved_epochs and history["epoch"]:  # resumed at or past --epochs: nothing trained
        print(f"the checkpoint is already at epoch {history['epoch'][-1]} (--epochs {args.epochs}): no training")
        save(history["epoch"][-1], history)
    test, test_diff = evaluate(backends, make_batches(data.encoded[2], args.batch_size))
    best_here = best_accuracy_on(data.splits.test, args.k_min, args.k_max) if data.is_synthetic else None
    for name, r in test.items():
        print(f"test ({name}): loss {r.loss:.4f}  accuracy {r.accuracy:.3f}")
    if ceiling is not None:
        print(
            f"best possible: accuracy {ceiling:.3f} and loss {floor:.4f} expected over the task; "
            f"accuracy {best_here:.3f} on this test set"
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
    _write_outputs(out, history, test, bounds, test_diff, args, wall, best_here=best_here)
    plot = f"{out / PLOT}, " if importlib.util.find_spec("matplotlib") else ""
    print(f"wrote {plot}{out / CHECKPOINT}, {out / METRICS} in {wall:.1f} s")
    return 0


def _write_outputs(
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
        "args": {k: v for k, v in vars(args).items() if k != "func"},
    }
    if len(names) > 1:
        metrics["max_abs_loss_diff"] = max(history["max_abs_loss_diff"] + ([test_diff] if test_diff else []))
        metrics["max_abs_loss_diff_per_epoch"] = history["max_abs_loss_diff"]
    if stopped:
        metrics["stopped"] = stopped
    atomic_write(out / METRICS, lambda f: f.write(json.dumps(metrics, indent=1).encode()))
    if history["epoch"] and importlib.util.find_spec("matplotlib") is not None:
        plot_history({**history, **bounds}, out / PLOT, title=f"next-token LSTM, backend {args.backend}")
