"""``numpy-lstm train --resume CKPT``: the run continues with the options of the run it came from.

Options given again on the command line are compared with what the checkpoint fixed: the model's
shape, its dtype, the optimiser, the seed, the batch size and the data (``FIXED``) must be the same,
and a conflict is named (``--hidden-size 9 conflicts with ...``).  The others (``CHANGEABLE``) may
change: ``--epochs`` to train longer, ``--out`` to write elsewhere, the backend, the device, how
often to print.  Options not given come from the checkpoint (``--out``: the checkpoint's folder).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from numpy_lstm_app.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from numpy_lstm_app.checkpoint_schema import Description
from numpy_lstm_app.cli import CLIError

GIVEN = "given_options"  # the namespace attribute listing the options given on the command line


def given(args: argparse.Namespace) -> set[str]:
    """Destinations of the options that were on the command line (see :class:`Store`)."""
    return set(getattr(args, GIVEN, ()) or ())


def _mark(namespace: argparse.Namespace, dest: str) -> None:
    setattr(namespace, GIVEN, sorted({*getattr(namespace, GIVEN, ()), dest}))


class Store(argparse.Action):
    """``store``, and remember that the option was given (its default stays what ``--help`` shows)."""

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option_string: Any = None) -> None:
        setattr(namespace, self.dest, values)
        _mark(namespace, self.dest)


class StoreTrue(argparse.Action):
    """``store_true``, and remember that the flag was given."""

    def __init__(self, option_strings: list[str], dest: str, default: bool = False, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, const=True, default=default, help=help)

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option_string: Any = None) -> None:
        setattr(namespace, self.dest, True)
        _mark(namespace, self.dest)


_NA = object()  # an option that does not apply to the checkpoint's kind of data


def _anbn(key: str) -> Callable[[Description], Any]:
    return lambda d: d.data[key] if d.data["task"] == "anbn" else _NA


def _text(key: str) -> Callable[[Description], Any]:
    return lambda d: d.data[key] if d.data["task"] == "text" else _NA


# option dest -> its value in the checkpoint; these must not change
FIXED: dict[str, Callable[[Description], Any]] = {
    "dtype": lambda d: d.model.dtype,
    "hidden_size": lambda d: d.model.hidden_size,
    "layers": lambda d: d.model.num_layers,
    "proj_size": lambda d: d.model.proj_size,
    "dropout": lambda d: d.model.dropout,
    "embedding_dim": lambda d: d.model.embedding_dim,
    "optimizer": lambda d: d.optim.name,
    "lr": lambda d: d.optim.lr,
    "momentum": lambda d: d.optim.momentum,
    "weight_decay": lambda d: d.optim.weight_decay,
    "clip": lambda d: d.optim.clip,
    "seed": lambda d: d.seed,
    "batch_size": lambda d: d.batch_size,
    "sequences": _anbn("sequences"),
    "k_min": _anbn("k_min"),
    "k_max": _anbn("k_max"),
    "level": _text("level"),
    "max_len": _text("max_len"),
}
# option dest -> its value in the checkpoint; these may be given anew
CHANGEABLE: dict[str, Callable[[Checkpoint], Any]] = {
    "epochs": lambda c: c.description.run.epochs,
    "backend": lambda c: c.description.run.backend,
    "device": lambda c: c.description.run.device,
    "every": lambda c: c.description.run.every,
    "samples": lambda c: c.description.run.samples,
    "out": lambda c: str(c.path.parent),
}


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def apply_checkpoint(args: argparse.Namespace) -> Checkpoint:
    """Load ``args.resume`` (fully checked) and fill in every option not given from it, in place.

    ``CLIError`` for an unusable checkpoint or a given option that conflicts with it.
    """
    if not args.resume:
        raise CLIError("--resume needs the path of a checkpoint.npz, got an empty string")
    try:
        ckpt = load_checkpoint(args.resume)
    except CheckpointError as err:
        raise CLIError(f"--resume: {err}") from None
    d, on_line = ckpt.description, given(args)
    data = "the built-in task" if d.data["task"] == "anbn" else f"the text {d.data['file']}"
    for dest, value_of in FIXED.items():
        saved = value_of(d)
        if dest not in on_line:
            if saved is not _NA:
                setattr(args, dest, saved)
            continue
        if saved is _NA:
            raise CLIError(f"{_flag(dest)} does not apply: {args.resume} was trained on {data}")
        if getattr(args, dest) != saved:
            raise CLIError(
                f"{_flag(dest)} {getattr(args, dest)} conflicts with {args.resume}, which fixed it at {saved} "
                "(the model, optimiser, seed, batch size and data come from the checkpoint; "
                "--epochs, --out, --backend, --device, --every and --samples may change)"
            )
    if "text" in on_line and d.data["task"] == "anbn":
        raise CLIError(f"--text does not apply: {args.resume} was trained on {data}")
    if "text" not in on_line:
        args.text = d.run.text
        if args.text is not None and not Path(args.text).is_file():
            raise CLIError(f"--resume: {args.resume} was trained on {args.text}, which is not there now; give --text")
    for dest, value_of in CHANGEABLE.items():
        if dest not in on_line:
            setattr(args, dest, value_of(ckpt))
    return ckpt


def check_same_data(
    ckpt: Checkpoint, data_description: dict[str, Any], vocab: list[str], args: argparse.Namespace
) -> None:
    """The data read now must be the data the checkpoint was trained on (a text's content, not its name)."""
    saved = {k: v for k, v in ckpt.description.data.items() if k != "file"}
    now = {k: v for k, v in data_description.items() if k != "file"}
    if saved != now:
        diffs = [f"{k}: checkpoint has {saved.get(k)!r}, now {now.get(k)!r}" for k in sorted(set(saved) | set(now))
                 if saved.get(k) != now.get(k)]
        raise CLIError(f"--text: {args.text} is not the data {args.resume} was trained on ({'; '.join(diffs)})")
    if vocab != ckpt.description.vocab:
        raise CLIError(
            f"--resume: {args.resume} was trained on another vocabulary ({len(ckpt.description.vocab)} tokens) "
            f"than this run's data gives ({len(vocab)} tokens)"
        )
