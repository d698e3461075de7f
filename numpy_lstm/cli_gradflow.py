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

from numpy_lstm.cli import CLIError
from numpy_lstm.introspect import set_forget_bias, state_gradients
from numpy_lstm.lstm import LSTM


class GradFlow(NamedTuple):
    """Mean over the batch of the per-sequence gradient norms, one value per step."""

    dh_norm: np.ndarray  # (T,)  mean_n ||dL/dh_t[n]||
    dc_norm: np.ndarray  # (T,)  mean_n ||dL/dc_t[n]||


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
    x = np.eye(vocab)[tokens]  # (T, N, V) one-hot
    w = rng.standard_normal((batch, hidden))
    w /= np.linalg.norm(w, axis=1, keepdims=True)  # (N, H) unit vectors
    d_output = np.zeros((steps, batch, hidden))  # (T, N, H)
    d_output[-1] = w  # dL/dh_T: the loss only reads the last step
    g = state_gradients(lstm, x, d_output)["l0"]
    return GradFlow(np.linalg.norm(g.dh, axis=2).mean(axis=1), np.linalg.norm(g.dc, axis=2).mean(axis=1))


def _decades(norm: np.ndarray) -> str:
    first, last = float(norm[0]), float(norm[-1])
    if first == 0.0:
        return "underflows to 0"
    return f"x 1e{np.log10(first / last):+.1f}"


def run(args: argparse.Namespace) -> int:
    for name, low in (("steps", 2), ("hidden", 1), ("vocab", 2), ("batch", 1)):
        if getattr(args, name) < low:
            raise CLIError(f"--{name} must be >= {low}, got {getattr(args, name)}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out must be a directory, got the file {out}")
    settings = [None] + list(args.forget_bias or [])
    curves = {}
    for fb in settings:
        flow = gradient_flow(args.steps, args.hidden, args.vocab, fb, args.seed, args.batch)
        label = "PyTorch's init (f ≈ 0.5)" if fb is None else f"forget bias {fb:g} (f ≈ {1 / (1 + np.exp(-fb)):.2f})"
        curves[label] = flow
        print(f"{label:<32} from t={args.steps - 1} back to t=0: ||dL/dh|| {_decades(flow.dh_norm)}, "
              f"||dL/dc|| {_decades(flow.dc_norm)}")
    title = (f"Gradient of a loss at step {args.steps - 1}, carried back in time "
             f"(LSTM({args.vocab}, {args.hidden}), untrained)")
    path = _plot(curves, out / "gradflow.png", title)
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
        "--forget-bias compares forget-gate bias initialisations.",
    )
    p.add_argument("--out", default="runs/gradflow", metavar="DIR",
                   help="folder for gradflow.png (default: runs/gradflow)")
    p.add_argument("--steps", type=int, default=200, help="sequence length T (default: 200)")
    p.add_argument("--hidden", type=int, default=50, help="hidden size H (default: 50)")
    p.add_argument("--vocab", type=int, default=20, help="number of one-hot tokens (default: 20)")
    p.add_argument("--batch", type=int, default=8, help="sequences averaged over (default: 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, tokens and loss (default: 0)")
    p.add_argument(
        "--forget-bias", type=float, nargs="+", metavar="B",
        help="also draw the curves with the forget gate's bias initialised to B (e.g. 1.0)",
    )
    p.set_defaults(func=run)
