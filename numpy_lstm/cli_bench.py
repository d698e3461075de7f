"""``numpy-lstm bench``: NumPy against PyTorch on the CPU (the benchmark lives in ``torch_ref``).

This module only declares the command line; it imports no torch.  ``func`` imports
``torch_ref.benchmark`` when the command runs, and a missing torch becomes a one-line error.
"""

from __future__ import annotations

import argparse

from numpy_lstm.cli import CLIError

HELP = "benchmark numpy_lstm.LSTM against torch.nn.LSTM (needs numpy-lstm[bench])"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The benchmark's options, shared by ``numpy-lstm bench`` and ``benchmarks/*.py``."""
    p.add_argument(
        "--what",
        choices=["grid", "ablation", "scale", "all"],
        default="grid",
        help="grid: the side-by-side table (default); ablation: each optimisation in turn; "
        "scale: T up to 10,000; all: the three",
    )
    p.add_argument(
        "--config",
        action="append",
        metavar="NAME",
        help="grid rows by name (seed, small, medium, large, 2-layer, bidir, tiny, "
        "tiny-2L-bidir, all); repeat or comma-separate",
    )
    p.add_argument(
        "--sizes",
        action="append",
        metavar="T,N,I,H[,L][,bidir]",
        help="a custom row, e.g. 200,16,32,64 or 50,8,16,32,2,bidir; repeatable",
    )
    p.add_argument("--dtype", default="float32,float64", help="comma list (default float32,float64)")
    p.add_argument("--mode", default="inference,train", help="comma list (default inference,train)")
    p.add_argument("--threads", type=int, default=2, help="threads on each side (default 2)")
    p.add_argument(
        "--budget", type=float, default=None, help="seconds of timing per row (default 6, 0.2 with --quick)"
    )
    p.add_argument("--steps", default=None, help="scale: comma list of T (default 10,100,1000,10000)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes and short timing: a smoke test that finishes in seconds",
    )
    p.add_argument(
        "--out",
        default="bench-results",
        metavar="DIR",
        help="folder for the JSON, CSV and PNG files (default ./bench-results)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        import threadpoolctl  # noqa: F401
        import torch  # noqa: F401

        from torch_ref.benchmark.main import run_benchmark
    except ImportError as err:
        raise CLIError(
            f"{err}; the benchmark needs torch and threadpoolctl: pip install 'numpy-lstm[bench]'"
        ) from err
    try:
        return run_benchmark(args)
    except ValueError as err:
        raise CLIError(str(err)) from err


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bench", help=HELP, description=HELP)
    add_arguments(p)
    p.set_defaults(func=run)
