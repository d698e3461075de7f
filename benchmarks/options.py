"""The benchmark's command-line options, declared once for ``numpy-lstm bench`` and ``python -m benchmarks``.

Imports neither torch nor the timing code, so ``numpy-lstm --help`` stays fast and works without torch.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The benchmark's options, shared by ``numpy-lstm bench`` and ``python -m benchmarks``."""
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
