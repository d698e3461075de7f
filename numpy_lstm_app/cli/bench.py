"""``numpy-lstm bench``: NumPy against PyTorch on the CPU (the harness is the :mod:`benchmarks` package).

Registering the command imports no torch.  ``func`` imports ``benchmarks.main`` when the command
runs, and a missing torch becomes a one-line error.
"""

from __future__ import annotations

import argparse

from benchmarks.options import add_arguments
from numpy_lstm_app.cli import CLIError, RunFailed, pip_hint

HELP = "benchmark numpy_lstm.LSTM against torch.nn.LSTM (needs numpy-lstm[bench])"


def run(args: argparse.Namespace) -> int:
    try:
        import threadpoolctl  # noqa: F401
        import torch  # noqa: F401

        from benchmarks.main import run_benchmark
    except ImportError as err:
        raise CLIError(
            f"{err}; the benchmark needs torch and threadpoolctl: {pip_hint('torch', 'threadpoolctl')}"
        ) from err
    try:
        return run_benchmark(args)
    except ValueError as err:  # what only the run can check (--out is a file, ...): a usage error
        raise CLIError(str(err)) from err
    except OSError as err:  # a results file the OS would not let us write (a full disk, ...): a failure
        raise RunFailed(describe_os_error(err)) from err


def describe_os_error(err: OSError) -> str:
    """``"bench-results/grid.json: No space left on device"``: one line, the file and the reason."""
    return f"{err.filename}: {err.strerror}" if err.filename and err.strerror else str(err)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bench", help=HELP, description=HELP)
    add_arguments(p)
    p.set_defaults(func=run)
