"""``numpy-lstm train``: the next-token predictor end to end, on NumPy, PyTorch, or both in lockstep.

With no arguments it trains the built-in ``a^k b^k EOS`` task on NumPy, shows each epoch's time and
the time left (the losses every 5 epochs), the test metrics beside the best accuracy any model could
reach, and sample predictions, and writes ``loss.png``, ``checkpoint.npz`` and ``metrics.json`` into
``--out`` (``runs/train``).

Every argument is checked, the data read, sizes bounded and any ``--resume`` checkpoint validated
before the first byte is written, so a wrong argument leaves the output directory as it was.  Files
are written atomically (temporary file, then rename).  Ctrl-C writes the metrics and plot of the
epochs done and prints the command that continues the run (see :mod:`.train_resume`).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from numpy_lstm_app.backend import Backend, NumpyBackend, OptimConfig
from numpy_lstm_app.cli import CLIError, RunFailed, pip_hint, stop_status
from numpy_lstm_app.cli.train_outputs import (
    CHECKPOINT,
    METRICS,
    PLOT,
    RunFolder,
    WriteFailed,
    prepare,
    truncate,
    write_outputs,
)
from numpy_lstm_app.cli.train_report import describe_data, describe_model, losses, report
from numpy_lstm_app.cli.train_resume import Store, StoreTrue, apply_checkpoint, check_same_data, given
from numpy_lstm_app.data import SPECIALS, accuracy_ceiling, loss_floor
from numpy_lstm_app.dataset import DataConfig, Dataset, build_dataset
from numpy_lstm_app.limits import (
    MAX_BATCH,
    MAX_EPOCHS,
    MAX_LAYERS,
    MAX_SEED,
    MAX_SEQUENCES,
    MAX_SIZE,
    MAX_STEPS,
    MAX_VOCAB_CHARS,
    check_model_size,
    check_one_hot_size,
)
from numpy_lstm_app.model import ModelConfig, NextTokenModel
from numpy_lstm_app.progress import EpochProgress
from numpy_lstm_app.train import Diverged, TrainConfig, fit, new_history

RESUMED = "; with --resume: the checkpoint's"  # said by every option whose default then comes from it


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train",
        help="train the next-token predictor (NumPy, PyTorch, or both in lockstep)",
        description=__doc__.split("\n\n")[0],
    )

    def add(group: Any, *flags: str, **kw: Any) -> None:
        group.add_argument(*flags, action=StoreTrue if kw.pop("flag", False) else Store, **kw)

    g = p.add_argument_group("backend")
    add(g, "--backend", choices=("numpy", "torch", "both"), default="numpy",
        help="numpy, torch, or both: NumPy and PyTorch from the same weights on the same batches, their "
        f"losses compared (default: %(default)s{RESUMED})")
    add(g, "--device", choices=("auto", "cpu", "cuda"), default="auto",
        help="torch device, with --backend torch or both (refused with numpy); auto = CUDA when available "
        f"(default: %(default)s{RESUMED})")
    add(g, "--dtype", choices=("float32", "float64"), default="float32",
        help=f"parameters and arithmetic (default: %(default)s{RESUMED}, fixed by it)")
    g = p.add_argument_group("model (fixed by the checkpoint with --resume)")
    add(g, "--embedding-dim", type=int, default=0, metavar="E",
        help="0: one-hot tokens into the LSTM, as the seed's model; E > 0: a learned Embedding(V, E) first "
        f"(default: %(default)s{RESUMED})")
    add(g, "--hidden-size", type=int, default=50, help=f"LSTM hidden units H (default: %(default)s{RESUMED})")
    add(g, "--layers", type=int, default=1,
        help=f"stacked LSTM layers, at most {MAX_LAYERS} (default: %(default)s{RESUMED})")
    add(g, "--proj-size", type=int, default=0,
        help=f"LSTM projection size P, 0 for none, below --hidden-size (default: %(default)s{RESUMED})")
    add(g, "--dropout", type=float, default=0.0,
        help=f"dropout between LSTM layers, in [0, 1), needs --layers >= 2 (default: %(default)s{RESUMED})")
    add(g, "--bidirectional", flag=True,
        help="refused: a bidirectional model would read the tokens it predicts (default: off)")
    g = p.add_argument_group("training")
    add(g, "--epochs", type=int, default=50,
        help="train up to this epoch; with --resume a larger number trains longer "
        f"(default: %(default)s{RESUMED} target)")
    add(g, "--batch-size", type=int, default=16, help=f"sequences per minibatch (default: %(default)s{RESUMED})")
    add(g, "--optimizer", choices=("adam", "sgd"), default="adam",
        help=f"as torch.optim (default: %(default)s{RESUMED})")
    add(g, "--lr", type=float, default=0.01, help=f"learning rate, > 0 (default: %(default)s{RESUMED})")
    add(g, "--momentum", type=float, default=0.0, help=f"SGD momentum, >= 0 (default: %(default)s{RESUMED})")
    add(g, "--weight-decay", type=float, default=0.0,
        help=f"L2 penalty added to the gradient, >= 0 (default: %(default)s{RESUMED})")
    add(g, "--clip", type=float, default=None,
        help=f"clip the global gradient norm to this positive number (default: off{RESUMED})")
    add(g, "--seed", type=int, default=0,
        help=f"seeds data, split, weights, shuffling, dropout; in [0, 2**63 - 1] (default: %(default)s{RESUMED})")
    add(g, "--every", type=int, default=5,
        help=f"print the losses every N epochs; every epoch with --backend both (default: %(default)s{RESUMED})")
    g = p.add_argument_group("data (fixed by the checkpoint with --resume)")
    add(g, "--text", default=None, metavar="FILE",
        help="train on this UTF-8 text file, one sequence per line "
        f"(default: the built-in a^k b^k task{RESUMED} data, whose text file must still be there)")
    add(g, "--level", choices=("word", "char"), default="word",
        help=f"--text tokens: words or characters (default: %(default)s{RESUMED})")
    add(g, "--max-len", type=int, default=50,
        help=f"--text: longest input window, at most {MAX_STEPS:,} (default: %(default)s{RESUMED})")
    add(g, "--sequences", type=int, default=200,
        help=f"built-in task: number of sequences (default: %(default)s{RESUMED})")
    add(g, "--k-min", type=int, default=1, help=f"built-in task: fewest a's (default: %(default)s{RESUMED})")
    add(g, "--k-max", type=int, default=9,
        help=f"built-in task: most a's, at most {MAX_STEPS // 2:,} (default: %(default)s{RESUMED})")
    g = p.add_argument_group("output")
    add(g, "--out", default="runs/train", metavar="DIR",
        help="where the plot, checkpoint and metrics go (default: %(default)s; with --resume: the "
        "checkpoint's folder)")
    add(g, "--resume", default=None, metavar="CHECKPOINT",
        help="continue the run that wrote this checkpoint.npz, with its options unless given again "
        "(default: none, a fresh run)")
    add(g, "--samples", type=int, default=3,
        help=f"test sequences to show with their predictions (default: %(default)s{RESUMED})")
    p.set_defaults(func=run)


# --- checking the arguments -----------------------------------------------------------------------
def _require(ok: bool, message: str) -> None:
    if not ok:
        raise CLIError(message)


def _in(args: argparse.Namespace, name: str, lo: int, hi: int) -> None:
    value = getattr(args, name)
    _require(lo <= value <= hi, f"--{name.replace('_', '-')} must be in [{lo:,}, {hi:,}], got {value}")


def check_args(args: argparse.Namespace) -> None:
    """Every argument that can be checked without reading anything."""
    _require(
        not args.bidirectional,
        "--bidirectional is refused for a next-token model: its backward "
        "direction would read the very tokens it is asked to predict",
    )
    for name in ("hidden_size", "every"):
        value = getattr(args, name)
        _require(value >= 1, f"--{name.replace('_', '-')} must be >= 1, got {value}")
    _in(args, "epochs", 1, MAX_EPOCHS)
    _in(args, "batch_size", 1, MAX_BATCH)
    _in(args, "layers", 1, MAX_LAYERS)
    _in(args, "sequences", 1, MAX_SEQUENCES)
    _in(args, "max_len", 1, MAX_STEPS)
    _in(args, "k_min", 1, MAX_STEPS // 2)
    _in(args, "seed", 0, MAX_SEED)
    _in(args, "samples", 0, MAX_SEQUENCES)
    _in(args, "embedding_dim", 0, MAX_SIZE)
    _require(args.k_max >= args.k_min, f"--k-max must be >= --k-min ({args.k_min}), got {args.k_max}")
    _require(
        args.k_max <= MAX_STEPS // 2,
        f"--k-max {args.k_max:,} makes sequences of {2 * args.k_max:,} input steps; the longest this "
        f"command trains on is {MAX_STEPS:,} (--k-max <= {MAX_STEPS // 2:,})",
    )
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
    _require(args.text != "", "--text needs a file name, got an empty string")
    _require(args.out != "", "--out needs a folder name, got an empty string")
    out = Path(args.out)
    _require(not out.exists() or out.is_dir(), f"--out: {out} exists and is not a directory")


def check_device(args: argparse.Namespace) -> None:
    """``--device`` given for a backend that runs no torch would be ignored: refuse it (after ``--resume``
    has filled in the backend, which may be the checkpoint's)."""
    if args.backend == "numpy" and "device" in given(args):
        how = "" if "backend" in given(args) else f" (that of {args.resume})" if args.resume else " (the default)"
        raise CLIError(f"--device {args.device} applies to --backend torch or both, the device PyTorch runs on; "
                       f"--backend numpy{how} runs NumPy on the CPU")


def _configs(args: argparse.Namespace, vocab_size: int) -> tuple[ModelConfig, OptimConfig, TrainConfig, DataConfig]:
    model = ModelConfig(
        vocab_size, args.hidden_size, args.layers, args.proj_size, args.dropout, True, args.dtype, args.embedding_dim
    )
    optim = OptimConfig(args.optimizer, args.lr, args.momentum, args.weight_decay, args.clip)
    train = TrainConfig(args.epochs, args.batch_size, args.seed)
    return model, optim, train, data_config(args)


def data_config(args: argparse.Namespace) -> DataConfig:
    return DataConfig(args.text, args.level, args.max_len, args.sequences, args.k_min, args.k_max, args.seed)


BUILT_IN_VOCAB = len(SPECIALS) + 2  # UNK EOS a b: the built-in task's vocabulary, known before its data


def _model_options(args: argparse.Namespace) -> str:
    """The options that size the model, as given: ``--embedding-dim 100000000 --hidden-size 50``."""
    shown = [("embedding_dim", 0), ("hidden_size", None), ("layers", 1), ("proj_size", 0)]
    return " ".join(f"--{n.replace('_', '-')} {getattr(args, n)}" for n, usual in shown if getattr(args, n) != usual)


def _check_size(args: argparse.Namespace, vocab_size: int, note: str = "") -> None:
    try:
        check_model_size(_configs(args, vocab_size)[0])
    except ValueError as err:
        raise CLIError(f"{_model_options(args)}: {err}{note}") from None


def _load_data(args: argparse.Namespace) -> Dataset:
    """The data, with the sizes it implies bounded: before reading (the smallest vocabulary) and after."""
    if args.text:  # the text's vocabulary is not known yet: bound the model with the smallest one
        _check_size(args, len(SPECIALS), f" (vocabulary {len(SPECIALS)} is a lower bound: {args.text} is not "
                    f"read yet, and every vocabulary has {' and '.join(SPECIALS)})")
    else:
        _check_size(args, BUILT_IN_VOCAB)
    try:
        data = build_dataset(data_config(args))
    except FileNotFoundError as err:
        raise CLIError(f"--text: {err}") from None
    except ValueError as err:
        raise CLIError(f"{'--text: ' if args.text else ''}{err}") from None
    train = data.encoded[0]
    try:  # an embedding model reads token ids: no one-hot batch is ever made
        check_one_hot_size(
            max(len(s) for s in train) - 1, min(args.batch_size, len(train)),
            1 if args.embedding_dim else len(data.vocab), args.dtype,
            "a smaller --batch-size or --max-len, or --level char" if args.text else "a smaller --batch-size",
        )
    except ValueError as err:
        what = f"--text {args.text}: its vocabulary of {len(data.vocab):,} tokens: " if args.text else ""
        raise CLIError(f"{what}{err}") from None
    _check_size(args, len(data.vocab), f" (the vocabulary of {args.text})" if args.text else "")
    chars = len(json.dumps(data.vocab.tokens))
    if chars > MAX_VOCAB_CHARS:
        raise CLIError(f"--text {args.text}: its vocabulary of {len(data.vocab):,} tokens takes {chars:,} characters "
                       f"to store in a checkpoint; the limit is {MAX_VOCAB_CHARS:,} (try --level char)")
    return data


def _meta(
    model: ModelConfig, optim: OptimConfig, train: TrainConfig, data: Dataset, args: argparse.Namespace
) -> dict[str, Any]:
    return {
        "model": model._asdict(),
        "optim": optim._asdict(),
        "train": {"seed": train.seed, "batch_size": train.batch_size},
        "run": {
            "epochs": args.epochs,
            "backend": args.backend,
            "device": args.device,
            "every": args.every,
            "samples": args.samples,
            "text": str(Path(args.text).resolve()) if args.text else None,
            "train_sequences": len(data.encoded[0]),
        },
        "data": data.description,
        "vocab": data.vocab.tokens,
    }


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
            raise CLIError(f"--backend {args.backend} needs PyTorch ({err}): {pip_hint('torch')}") from None
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


# --- the command ----------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    check_args(args)
    ckpt = None
    if args.resume is not None:
        ckpt = apply_checkpoint(args)  # fills in the options not given from the checkpoint
        check_args(args)
    check_device(args)
    data = _load_data(args)
    model_cfg, optim_cfg, train_cfg, _ = _configs(args, len(data.vocab))
    meta = _meta(model_cfg, optim_cfg, train_cfg, data, args)
    history = new_history(["numpy", "torch"] if args.backend == "both" else [args.backend])
    if ckpt is not None:
        check_same_data(ckpt, data.description, data.vocab.tokens, args)
        if ckpt.description.model != model_cfg:
            raise CLIError(f"--resume: {args.resume} holds a model this command does not build: "
                           f"{ckpt.description.model} (expected {model_cfg})")
        past = ckpt.description.history
        for name in history["backends"]:
            # A checkpoint from the other backend resumes here too: its past is this backend's past
            # (a fresh copy of the lists, so that two backends never append to the same one).
            h = past["backends"].get(name, next(iter(past["backends"].values())))
            history["backends"][name] = {k: list(v) for k, v in h.items()}
        history["epoch"] = list(past["epoch"])
        history["max_abs_loss_diff"] = list(past["max_abs_loss_diff"])
    meta["run"]["epochs"] = max([args.epochs, *history["epoch"]])
    model = NextTokenModel(model_cfg, seed=args.seed)
    backends = _make_backends(args, model, optim_cfg)
    if ckpt is not None:
        for b in backends:
            b.load_state_arrays(ckpt.arrays)
    out = Path(args.out)
    prepare(out)  # the last check: nothing was written before it
    folder = RunFolder(out, ckpt.path if ckpt else None)

    if importlib.util.find_spec("matplotlib") is None:
        print(
            f"note: matplotlib is not installed, so no plot will be drawn ({pip_hint('matplotlib')})",
            file=sys.stderr,
        )
    print(describe_data(data, args))
    print(f"model: {describe_model(model_cfg)}, {model.num_parameters():,} parameters")
    device = f" ({backends[-1].device})" if args.backend != "numpy" else ""
    print(
        f"training: {args.optimizer} lr {args.lr}{f' momentum {args.momentum}' if args.momentum else ''}"
        f"{f' clip {args.clip}' if args.clip else ''}, batch {args.batch_size}, {args.epochs} epochs, "
        f"seed {args.seed}, backend {args.backend}{device}"
    )
    if history["epoch"]:
        print(f"resuming from {args.resume} after epoch {history['epoch'][-1]}")
    every = 1 if args.backend == "both" else args.every
    progress = EpochProgress(len(history["epoch"]) + 1, args.epochs, sys.stdout)
    saved_epochs: list[int] = []

    def save(epoch: int, hist: dict[str, Any]) -> None:
        folder.save(backends[0].state_arrays(), {**meta, "epoch": epoch, "history": hist})
        saved_epochs.append(epoch)

    def on_epoch_end(epoch: int, hist: dict[str, Any]) -> None:
        save(epoch, hist)
        progress.epoch_end(epoch, losses(epoch, hist) if epoch % every == 0 or epoch == args.epochs else "")

    ceiling = float(accuracy_ceiling(args.k_min, args.k_max)) if data.is_synthetic else None
    floor = loss_floor(args.k_min, args.k_max) if data.is_synthetic else None
    bounds = {"accuracy_ceiling": ceiling, "loss_floor": floor}
    try:
        try:
            fit(backends, data.encoded[0], data.encoded[1], train_cfg, history, on_epoch_end, progress.batch)
        except Diverged as err:  # a failure while running, not a usage error: exit status 1
            progress.close()
            raise RunFailed(f"{err}; {_stop(folder, history, bounds, args, t0, str(err))}") from None
        if not saved_epochs and history["epoch"]:  # resumed at or past --epochs: nothing trained
            print(f"the checkpoint is already at epoch {history['epoch'][-1]} (--epochs {args.epochs}): no training")
            save(history["epoch"][-1], history)
        report(args, data, backends, history, bounds, out, t0)
    except KeyboardInterrupt as err:  # Ctrl-C, SIGTERM or SIGHUP
        progress.close()
        return _interrupted(folder, history, bounds, args, t0, err)
    except WriteFailed as err:
        progress.close()
        raise RunFailed(f"{err}; {folder.kept()}") from None
    return 0


def _stop(folder: RunFolder, history: dict[str, Any], bounds: dict[str, Any], args: argparse.Namespace,
          t0: float, reason: str) -> str:
    """After a stop: metrics and plot for the epochs the checkpoint holds; what was kept, in words."""
    out, epoch = folder.out, folder.checkpoint_epoch()
    wall = time.perf_counter() - t0
    if epoch is not None:
        write_outputs(out, truncate(history, epoch), {}, bounds, None, args, wall, stopped=reason)
        return f"{out / CHECKPOINT} keeps epoch {epoch}, the last good one, and {METRICS} and {PLOT} its history"
    if folder.holds_another_run():
        return f"no epoch finished, so nothing was written ({out} keeps the files of the run before)"
    write_outputs(out, truncate(history, 0), {}, bounds, None, args, wall, stopped=reason)
    return "no epoch finished, so this run wrote no checkpoint"


def _interrupted(folder: RunFolder, history: dict[str, Any], bounds: dict[str, Any], args: argparse.Namespace,
                 t0: float, stop: KeyboardInterrupt) -> int:
    status, what = stop_status(stop)  # 130 "interrupted" for Ctrl-C, 143 "stopped by SIGTERM", ...
    epoch = folder.checkpoint_epoch()
    if epoch is None:
        print(f"numpy-lstm train: {what} before the first epoch ended; nothing was written", file=sys.stderr)
        return status
    path = folder.out / CHECKPOINT
    try:
        write_outputs(folder.out, truncate(history, epoch), {}, bounds, None, args, time.perf_counter() - t0,
                      stopped=f"{what} after epoch {epoch}")
    except WriteFailed as err:
        raise RunFailed(f"{what} after epoch {epoch}, then {err}; {path} holds epoch {epoch}") from None
    print(f"numpy-lstm train: {what}; {path} holds epoch {epoch}, {METRICS} and {PLOT} its history; "
          f"continue with: numpy-lstm train --resume {shlex.quote(str(path))}", file=sys.stderr)
    return status
