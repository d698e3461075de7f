"""``numpy-lstm gradflow``: how far back in time does the gradient of a loss reach?

A loss is read at the *last* step of a long sequence of random one-hot tokens, and the gradient is
carried back through every step.  The picture shows ``||dL/dh_t||`` and ``||dL/dc_t||`` for each
``t``: how much the loss at the end can still "hear" step ``t``.  Through ``h`` the gradient is
multiplied by ``W_hh`` and a gate derivative at every step; through ``c`` it is multiplied by the
forget gate only (``dc_prev = dc * f``), so with ``f`` near 1 it survives for much longer.
``--forget-bias 1.0`` starts the forget gate at ``sigmoid(1) = 0.73`` instead of about 0.5 and
draws both curves, to compare.

The loss is ``L = sum_n w_n . h_T[n]`` with fixed random unit vectors ``w_n``: any loss read at the
last step only enters through its gradient on ``h_T``, and a random direction stands for it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NamedTuple

import numpy as np

from numpy_lstm.grad_mode import no_grad
from numpy_lstm.introspect import set_forget_bias, state_gradients
from numpy_lstm.lstm import LSTM
from numpy_lstm_app.cli import CLIError, RunFailed, cannot_write, finite_float, int_at_least, int_in
from numpy_lstm_app.cli.train_outputs import writable_folder
from numpy_lstm_app.data import one_hot
from numpy_lstm_app.limits import MAX_SEED, MAX_STEPS, check_model_size, check_one_hot_size
from numpy_lstm_app.model import ModelConfig


class GradFlow(NamedTuple):
    """Mean over the batch of the per-sequence gradient norms, one value per step."""

    dh_norm: np.ndarray  # (T,)  mean_n ||dL/dh_t[n]||
    dc_norm: np.ndarray  # (T,)  mean_n ||dL/dc_t[n]||


def flow_of(lstm: LSTM, x: np.ndarray, w: np.ndarray) -> GradFlow:
    """Gradient norms through time of ``lstm``'s top layer on ``x (T, N, I)`` (seq-first), for the
    loss ``L = sum_n w[n] . h_T[n]`` read at the last step (``w (N, H_out)``).  Runs in float64."""
    lstm = lstm.astype(np.float64)  # a copy: the caller's module is left alone
    d_output = np.zeros((x.shape[0], x.shape[1], lstm.hidden_out))  # (T, N, H_out)
    d_output[-1] = w  # dL/dh_T: the loss only reads the last step
    g = state_gradients(lstm, x.astype(np.float64), d_output)[f"l{lstm.num_layers - 1}"]
    return GradFlow(np.linalg.norm(g.dh, axis=2).mean(axis=1), np.linalg.norm(g.dc, axis=2).mean(axis=1))


def unit_directions(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """``n`` random unit vectors of ``size`` numbers, ``(n, size)``."""
    w = rng.standard_normal((n, size))
    return w / np.linalg.norm(w, axis=1, keepdims=True)


def gradient_flow(
    steps: int, hidden: int, vocab: int, forget_bias: float | None, seed: int = 0, batch: int = 8
) -> GradFlow:
    """Gradient norms through time for a fresh float64 LSTM(vocab, hidden) on random tokens.

    ``forget_bias=None`` keeps PyTorch's initialisation; a number sets the forget gate's total bias.
    The same ``seed`` gives the same weights, tokens and loss for every ``forget_bias``.
    """
    lstm = LSTM(vocab, hidden, dtype=np.float64, seed=seed)
    if forget_bias is not None:
        set_forget_bias(lstm, forget_bias)
    rng = np.random.default_rng(seed + 1)
    tokens = rng.integers(0, vocab, size=(steps, batch))  # (T, N)
    x = one_hot(tokens, vocab, dtype=np.float64)  # (T, N, V), without a (V, V) identity
    return flow_of(lstm, x, unit_directions(rng, batch, hidden))


def trained_flow(path: str, steps: int, seed: int, batch: int) -> tuple[GradFlow, LSTM, str]:
    """Gradient norms through a trained next-token model's LSTM (a ``numpy-lstm train`` checkpoint).

    The input is the task's own kind of sequence when there is one (``a^k b^k`` with ``2k = T``),
    else random tokens of the model's vocabulary.  Returns the flow, the LSTM and what it read.
    """
    from numpy_lstm_app.cli.gates import load_trained  # the app, only when a checkpoint is asked for

    try:
        model, vocab, meta = load_trained(path)
    except ValueError as err:
        raise CLIError(f"--checkpoint: {err}") from None
    rng = np.random.default_rng(seed + 1)
    V = len(vocab)
    try:
        H4 = 4 * model.lstm.hidden_size  # the gate records are (T, N, 4H)
        check_one_hot_size(steps, batch, max(V, H4), "float64", "fewer --steps or a smaller --batch")
    except ValueError as err:
        raise CLIError(f"--checkpoint: {err}") from None
    if meta.get("data", {}).get("task") == "anbn":
        ids = vocab.encode(["a"] * (steps // 2) + ["b"] * (steps - steps // 2))[:, None].repeat(batch, axis=1)
        read = f"a^{steps // 2} b^{steps - steps // 2}"
    else:
        ids = rng.integers(min(2, V - 1), V, size=(steps, batch))  # skip UNK and EOS when there are others
        read = "random tokens of its vocabulary"
    with no_grad():
        x = model.lstm_input(model.encode(ids))  # (T, N, V) one-hot, or (T, N, E) embedded
    flow = flow_of(model.lstm, x, unit_directions(rng, batch, model.lstm.hidden_out))
    return flow, model.lstm, read


def _decades(norm: np.ndarray) -> str:
    first, last = float(norm[0]), float(norm[-1])
    if first == 0.0:
        return "underflows to 0"
    return f"x 1e{np.log10(first / last):+.1f}"


def _label(fb: float | None) -> str:
    if fb is None:
        return "PyTorch's init (f ≈ 0.5)"
    return f"forget bias {fb:g} (f ≈ {1 / (1 + np.exp(-fb)):.2f})"


def check_args(args: argparse.Namespace) -> None:
    """Every argument, and the memory the computation would need, before anything is computed."""
    if args.checkpoint and (args.hidden is not None or args.vocab is not None):
        raise CLIError("--hidden and --vocab come from the checkpoint; give them only without --checkpoint")
    args.hidden = 50 if args.hidden is None else args.hidden
    args.vocab = 20 if args.vocab is None else args.vocab
    for name, low in (("steps", 2), ("hidden", 1), ("vocab", 2), ("batch", 1)):
        if getattr(args, name) < low:
            raise CLIError(f"--{name} must be >= {low}, got {getattr(args, name)}")
    if args.steps > MAX_STEPS:
        raise CLIError(f"--steps must be <= {MAX_STEPS:,} (the time loop runs in Python), got {args.steps:,}")
    bad = [b for b in args.forget_bias or [] if not np.isfinite(b)]
    if bad:
        raise CLIError(f"--forget-bias must be finite numbers, got {bad[0]}")
    try:  # the untrained LSTM in float64, and its (T, N, V) input and (T, N, 4H) gate records
        check_model_size(ModelConfig(args.vocab, args.hidden, dtype="float64"))
        check_one_hot_size(args.steps, args.batch, max(args.vocab, 4 * args.hidden), "float64",
                           "fewer --steps, a smaller --batch, --vocab or --hidden")
    except ValueError as err:
        raise CLIError(f"--hidden {args.hidden} --vocab {args.vocab}: {err}") from None


def plain(text: str) -> str:
    """User text (a file name) for a matplotlib label: ``$`` would start mathtext, so it is escaped."""
    return text.replace("$", r"\$")


def run(args: argparse.Namespace) -> int:
    check_args(args)
    out = Path(args.out)
    curves: dict[str, GradFlow] = {}
    what = f"LSTM({args.vocab}, {args.hidden}), untrained, on random tokens"
    if args.checkpoint is not None:
        flow, lstm, read = trained_flow(args.checkpoint, args.steps, args.seed, args.batch)
        curves[plain(f"trained ({Path(args.checkpoint).name})")] = flow
        args.vocab, args.hidden = lstm.input_size, lstm.hidden_size
        what = f"{lstm!r} trained, on {read}; untrained twins on random tokens"
    writable_folder(out)
    for fb in [None] + list(args.forget_bias or []):
        curves[_label(fb) + (", untrained" if args.checkpoint else "")] = gradient_flow(
            args.steps, args.hidden, args.vocab, fb, args.seed, args.batch
        )
    for label, flow in curves.items():
        print(f"{label:<45} from t={args.steps - 1} back to t=0: ||dL/dh|| {_decades(flow.dh_norm)}, "
              f"||dL/dc|| {_decades(flow.dc_norm)}")
    title = f"Gradient of a loss at step {args.steps - 1}, carried back in time\n({what})"
    try:
        path = _plot(curves, out / "gradflow.png", title)
    except OSError as err:  # a failure while running (a full disk, a folder named gradflow.png): exit status 1
        raise RunFailed(cannot_write(out / "gradflow.png", err)) from None
    print(f"wrote {path}")
    return 0


def _plot(curves: dict[str, GradFlow], path: Path, title: str) -> Path:
    from numpy_lstm.pictures import plot_gradflow

    return plot_gradflow({k: (v.dh_norm, v.dc_norm) for k, v in curves.items()}, path, title)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "gradflow",
        help="plot how the gradient of a loss flows back through h_t and c_t over a long sequence",
        description="Read a loss at the last step of a long random sequence, carry its gradient back "
        "through an untrained LSTM, and plot ||dL/dh_t|| and ||dL/dc_t|| against t into DIR/gradflow.png. "
        "--forget-bias compares forget-gate bias initialisations; --checkpoint adds a trained model.",
    )
    p.add_argument("--out", default="runs/gradflow", metavar="DIR", help="folder for gradflow.png")
    p.add_argument("--steps", type=int_at_least(2), default=200, metavar="T", help="sequence length T")
    p.add_argument("--checkpoint", metavar="PATH",
                   help="also draw a trained model's curve (a checkpoint.npz written by `numpy-lstm train`; "
                   "default: none, untrained models only)")
    p.add_argument("--hidden", type=int_at_least(1), default=None, metavar="H",
                   help="hidden size H (default: 50; with --checkpoint, the checkpoint's)")
    p.add_argument("--vocab", type=int_at_least(2), default=None, metavar="V",
                   help="number of one-hot tokens (default: 20; with --checkpoint, the checkpoint's)")
    p.add_argument("--batch", type=int_at_least(1), default=8, metavar="N", help="sequences averaged over")
    # MAX_SEED - 1: the tokens and the loss are drawn with seed + 1
    p.add_argument("--seed", type=int_in(0, MAX_SEED - 1), default=0, help="seed of weights, tokens and loss")
    p.add_argument(
        "--forget-bias", type=finite_float, nargs="+", metavar="B",
        help="also draw the curves with the forget gate's bias initialised to B, e.g. 1.0 "
        "(default: none, PyTorch's initialisation only)",
    )
    p.set_defaults(func=run)
