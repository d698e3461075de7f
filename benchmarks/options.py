"""The benchmark's command-line options, declared once for ``numpy-lstm bench`` and ``python -m benchmarks``.

Imports neither torch nor the timing code, so ``numpy-lstm --help`` stays fast and works without torch.

Every value is checked while the arguments are parsed (the ``type=`` functions below), so a bad one
is refused in one line naming the option, what it expects and what arrived, before anything is
timed.  The help texts state their defaults themselves (``%(default)s``), because ``python -m
benchmarks`` parses them with plain argparse, without the app's help formatter.
"""

from __future__ import annotations

import argparse
import difflib
import math
from collections.abc import Callable

from benchmarks import configs

DTYPES = ("float32", "float64")
MODES = ("inference", "train")


def _check_words(text: str, allowed: list[str]) -> str:
    """``text`` if it is a comma list of ``allowed`` words, else a one-line error with the closest."""
    items = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in items if p not in allowed]
    if bad or not items:
        close = difflib.get_close_matches(bad[0], allowed, n=1) if bad else []
        hint = f"; did you mean {close[0]}?" if close else ""
        raise argparse.ArgumentTypeError(f"expected a comma list of {', '.join(allowed)}, got {text!r}{hint}")
    return text


def comma_list(allowed: tuple[str, ...]) -> Callable[[str], str]:
    """A ``type``: a comma list of ``allowed`` words, returned as given once checked."""
    return lambda text: _check_words(text, list(allowed))


def config_names(text: str) -> str:
    """A ``type``: a comma list of grid rows by name (or ``all``), returned as given once checked."""
    return _check_words(text, [*configs.GRID, *configs.QUICK, "all"])


def sizes(text: str) -> str:
    """A ``type``: ``T,N,I,H[,L][,bidir]`` (see :func:`benchmarks.configs.parse_sizes`), its arrays
    bounded (:func:`benchmarks.configs.check_bounds`)."""
    try:
        cfg = configs.parse_sizes(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected positive integers T,N,I,H[,layers][,bidir], got {text!r}"
        ) from None
    try:
        configs.check_bounds(cfg)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text}: {err}") from None
    return text


def steps(text: str) -> str:
    """A ``type``: a comma list of sequence lengths, each an integer >= 1, bounded at the scale
    study's N, I, H (:func:`benchmarks.configs.check_bounds`)."""
    items = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() and int(p) >= 1 for p in items):
        raise argparse.ArgumentTypeError(f"expected a comma list of integers >= 1, got {text!r}")
    sc, T = configs.SCALE, max(int(p) for p in items)  # the largest T makes the largest arrays
    try:
        configs.check_bounds(configs.BenchConfig("scale", T, sc.N, sc.I, sc.H))
    except ValueError as err:
        what = f"T = {T:,} in the scale study (N={sc.N}, I={sc.I}, H={sc.H})"
        raise argparse.ArgumentTypeError(f"{what}: {err}") from None
    return text


def threads(text: str) -> int:
    """A ``type``: a thread count, an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def seconds(text: str) -> float:
    """A ``type``: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The benchmark's options, shared by ``numpy-lstm bench`` and ``python -m benchmarks``."""
    p.add_argument(
        "--what",
        choices=["grid", "ablation", "scale", "bounds", "all"],
        default="grid",
        help="grid: the side-by-side table; ablation: each optimisation in turn; "
        "scale: T up to 10,000; bounds: the GEMM and elementwise floors beside each step and what "
        "they allow of the targets; all: the four (default: %(default)s)",
    )
    p.add_argument(
        "--config",
        action="append",
        type=config_names,
        metavar="NAME",
        help=f"grid rows by name ({', '.join([*configs.GRID, *configs.QUICK])}, or all); repeat or "
        f"comma-separate (default: {', '.join(configs.GRID)}; with --quick {', '.join(configs.QUICK_DEFAULT)})",
    )
    p.add_argument(
        "--sizes",
        action="append",
        type=sizes,
        metavar="T,N,I,H[,L][,bidir]",
        help="a custom row, e.g. 200,16,32,64 or 50,8,16,32,2,bidir; repeatable (default: none; "
        "given alone, only these rows)",
    )
    p.add_argument("--dtype", type=comma_list(DTYPES), default=",".join(DTYPES),
                   help="comma list of float32, float64 (default: %(default)s)")
    p.add_argument("--mode", type=comma_list(MODES), default=",".join(MODES),
                   help="comma list of inference, train (default: %(default)s)")
    p.add_argument("--threads", type=threads, default=2, metavar="N",
                   help="threads on each side (default: %(default)s)")
    p.add_argument(
        "--budget", type=seconds, default=None, metavar="SECONDS",
        help="seconds of timing per row, at most: a row stops after 30 rounds of interleaved blocks, so a "
        "row of short calls takes less (default: 6, or 0.2 with --quick)",
    )
    p.add_argument(
        "--steps", type=steps, default=None, metavar="T,T,...",
        help="scale: the sequence lengths (default: 10,100,1000,10000; 10,40 with --quick)",
    )
    p.add_argument("--no-memory", action="store_true",
                   help="skip the peak-memory subprocesses (default: measure each row's memory)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes and 0.2 s of timing per row: a smoke test of every step of the benchmark "
        "(default: the full sizes)",
    )
    p.add_argument("--out", default="bench-results", metavar="DIR",
                   help="folder for the JSON, CSV, Markdown and PNG files (default: %(default)s)")
