"""``numpy-lstm gates``: heatmaps of a trained next-token model's gates and states over a sequence.

The model comes from ``--checkpoint`` (a ``checkpoint.npz`` written by ``numpy-lstm train``) or,
without one, from a quick training of the default task (the ``a^k b^k EOS`` language) with the
app's own loop.  The sequence is fed one token per step; the picture shows, for every hidden unit
(rows) and step (columns), the input gate ``i``, forget gate ``f``, output gate ``o``, candidate
``g``, cell state ``c`` and hidden state ``h``, with each step's input token and the model's
prediction of the next token under its column.  The values come from
:func:`numpy_lstm.introspect.record_gates`, which re-runs the model's weights through the readable
cell step.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from numpy_lstm.grad_mode import no_grad
from numpy_lstm.introspect import record_gates
from numpy_lstm_app.backend import NumpyBackend, OptimConfig
from numpy_lstm_app.checkpoint import load_checkpoint
from numpy_lstm_app.cli import CLIError, RunFailed, cannot_write, int_at_least, int_in, nonempty
from numpy_lstm_app.cli.train_outputs import writable_folder
from numpy_lstm_app.data import Vocabulary
from numpy_lstm_app.dataset import DataConfig, Dataset, build_dataset
from numpy_lstm_app.limits import MAX_EPOCHS, MAX_SEED, MAX_STEPS, check_one_hot_size
from numpy_lstm_app.model import ModelConfig, NextTokenModel
from numpy_lstm_app.progress import EpochProgress
from numpy_lstm_app.train import TrainConfig, fit, new_history


def load_trained(path: str | Path) -> tuple[NextTokenModel, Vocabulary, dict[str, Any]]:
    """The model, vocabulary and description saved in a ``numpy-lstm train`` checkpoint.

    The checkpoint is checked completely first (:func:`numpy_lstm_app.checkpoint.load_checkpoint`:
    every field, every array's name, shape and dtype, sizes bounded) and only then is the model
    built: ``CheckpointError`` (a ``ValueError``) names what is wrong.
    """
    ckpt = load_checkpoint(path)
    model = NextTokenModel(ckpt.description.model)
    model.load_state_dict(ckpt.model_state())
    return model.eval(), ckpt.vocab, ckpt.meta


def quick_train(
    epochs: int, seed: int, data: Dataset | None = None
) -> tuple[NextTokenModel, Vocabulary, dict[str, Any]]:
    """Train the default next-token model on the default task with the app's loop (a few seconds),
    showing each epoch's time and the time left."""
    data = build_dataset(DataConfig(seed=seed)) if data is None else data
    model = NextTokenModel(ModelConfig(len(data.vocab)), seed=seed)
    backend = NumpyBackend(model, OptimConfig())
    cfg = TrainConfig(epochs=epochs, seed=seed)
    progress = EpochProgress(1, epochs, sys.stdout, plain_every=10)
    try:
        history = fit([backend], data.encoded[0], data.encoded[1], cfg, new_history(["numpy"]),
                      lambda epoch, _: progress.epoch_end(epoch), progress.batch)
    finally:
        progress.close()
    val = history["backends"]["numpy"]
    print(f"trained {epochs} epochs on the default task: validation loss {val['val_loss'][-1]:.3f}, "
          f"accuracy {val['val_accuracy'][-1]:.3f}")
    return model.eval(), data.vocab, {"data": data.description}


def default_tokens(meta: dict[str, Any]) -> list[str]:
    """An input sequence for the built-in task: ``k`` a's then ``k`` b's (the model should say EOS)."""
    data = meta.get("data", {})
    if data.get("task") != "anbn":
        raise CLIError(f"give --prime: this model was trained on {data.get('file', 'a text file')}, "
                       "so there is no default sequence to show")
    k = (int(data["k_min"]) + int(data["k_max"])) // 2 + 1
    return ["a"] * k + ["b"] * k


def split_text(text: str, meta: dict[str, Any]) -> list[str]:
    """``text`` as tokens: characters for a char-level model, else whitespace-separated words."""
    return list(text) if meta.get("data", {}).get("level") == "char" else text.split()


def trace(
    model: NextTokenModel, vocab: Vocabulary, tokens: list[str], layer: int
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Gates and states ``{name: (T, H)}`` of ``layer`` and the predicted next token at each step."""
    unknown = sorted({t for t in tokens if t not in vocab.index})
    if unknown:
        shown = " ".join(vocab.tokens[:30]) + (" ..." if len(vocab) > 30 else "")
        raise CLIError(f"--prime: {unknown} are not in the model's vocabulary ({len(vocab)} tokens: {shown})")
    if not 0 <= layer < model.lstm.num_layers:
        raise CLIError(f"--layer must be in [0, {model.lstm.num_layers - 1}] for this model, got {layer}")
    x = model.encode(vocab.encode(tokens)[:, None])  # (T, 1, V) one-hot, or (T, 1) ids for an embedding
    with no_grad():
        lstm_x = model.lstm_input(x)  # (T, 1, V or E): what the LSTM reads
    rec = {name: a[:, 0] for name, a in record_gates(model.lstm, lstm_x)[f"l{layer}"].items()}  # (T, H)
    with no_grad():
        predicted = vocab.decode(model(x).argmax(-1)[:, 0])  # (T,)
    return rec, predicted


def _check_tokens(tokens: list[str], vocab: Vocabulary, layer: int, num_layers: int) -> None:
    unknown = sorted({t for t in tokens if t not in vocab.index})
    if unknown:
        shown = " ".join(vocab.tokens[:30]) + (" ..." if len(vocab) > 30 else "")
        raise CLIError(f"--prime: {unknown} are not in the model's vocabulary ({len(vocab)} tokens: {shown})")
    if not 0 <= layer < num_layers:
        raise CLIError(f"--layer must be in [0, {num_layers - 1}] for this model, got {layer}")
    if len(tokens) > MAX_STEPS:
        raise CLIError(f"--prime has {len(tokens):,} tokens; at most {MAX_STEPS:,} are drawn")


def plain(text: str) -> str:
    """User text (tokens, paths) for a matplotlib label: ``$`` would start mathtext, so it is escaped."""
    return text.replace("$", r"\$")


QUICK_EPOCHS, QUICK_SEED = 30, 0  # the quick training's, when --epochs and --seed are not given


def run(args: argparse.Namespace) -> int:
    if args.checkpoint is not None and (args.epochs is not None or args.seed is not None):
        given = " and ".join(f"--{n}" for n in ("epochs", "seed") if getattr(args, n) is not None)
        raise CLIError(f"{given} set the quick training; give them only without --checkpoint")
    args.epochs = QUICK_EPOCHS if args.epochs is None else args.epochs
    args.seed = QUICK_SEED if args.seed is None else args.seed
    if not 1 <= args.epochs <= MAX_EPOCHS:
        raise CLIError(f"--epochs must be in [1, {MAX_EPOCHS:,}], got {args.epochs}")
    out = Path(args.out)
    if args.checkpoint is not None:
        try:
            model, vocab, meta = load_trained(args.checkpoint)
        except ValueError as err:
            raise CLIError(f"--checkpoint: {err}") from None
        source = f"checkpoint {args.checkpoint}"
    else:  # the default task's vocabulary is known before training: check the tokens first
        data = build_dataset(DataConfig(seed=args.seed))
        vocab, meta = data.vocab, {"data": data.description}
    tokens = split_text(args.prime, meta) if args.prime is not None else default_tokens(meta)
    if not tokens:
        raise CLIError("--prime: no tokens in it")
    _check_tokens(tokens, vocab, args.layer, model.lstm.num_layers if args.checkpoint is not None else 1)
    try:
        check_one_hot_size(len(tokens), 1, len(vocab), "float64", "fewer tokens in --prime")
    except ValueError as err:
        raise CLIError(f"--prime: {err}") from None
    writable_folder(out)
    if args.checkpoint is None:
        model, vocab, meta = quick_train(args.epochs, args.seed, data)
        source = f"quick training, {args.epochs} epochs"
    rec, predicted = trace(model, vocab, tokens, args.layer)
    visible = {" ": "␣", "\t": "⇥"}  # a char-level model reads spaces too: show them
    labels = [plain(f"{visible.get(tok, tok)}\n→{visible.get(pred, pred)}")
              for tok, pred in zip(tokens, predicted, strict=True)]
    from numpy_lstm.pictures import plot_gates

    title = plain(f"Inside layer {args.layer} of {model.lstm!r} ({source})\n"
                  "column t: the states after reading input token t")
    try:
        path = plot_gates(rec, labels, out / "gates.png", title, xlabel="step t: input token, → predicted next token")
    except OSError as err:  # a failure while running (a full disk, a folder named gates.png): exit status 1
        raise RunFailed(cannot_write(out / "gates.png", err)) from None
    print("input     " + " ".join(tokens))
    print("predicted " + " ".join(predicted))
    print(f"wrote {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "gates",
        help="draw heatmaps of i, f, g, o, c and h over a sequence, from a trained model",
        description="Run a trained next-token model (--checkpoint, or a quick training of the default "
        "task) on a sequence and draw heatmaps of its gates and states over time into DIR/gates.png.",
    )
    p.add_argument("--out", default="runs/gates", metavar="DIR", help="folder for gates.png")
    p.add_argument("--checkpoint", metavar="PATH",
                   help="a checkpoint.npz written by `numpy-lstm train` (default: none, a quick training "
                   "of the default task)")
    p.add_argument("--prime", "--text", dest="prime", type=nonempty, metavar="TOKENS",
                   help="the input tokens themselves, not a file: words separated by spaces, or characters for a "
                   "char-level model, as `numpy-lstm sample --prime` (--text is another name for it); default for "
                   "the built-in task: a a a a a a b b b b b b")
    p.add_argument("--layer", type=int_at_least(0), default=0, metavar="K",
                   help="which LSTM layer to draw, from 0")
    # None: not given (so that --checkpoint can refuse them); --help states the quick training's values
    p.add_argument("--epochs", type=int_at_least(1), default=None, metavar="N",
                   help=f"quick training's epochs, only without --checkpoint (default: {QUICK_EPOCHS})")
    p.add_argument("--seed", type=int_in(0, MAX_SEED), default=None,
                   help=f"quick training's seed, only without --checkpoint (default: {QUICK_SEED})")
    p.set_defaults(func=run)
