"""Shared entry point of the benchmark scripts in this folder (run from a checkout, uninstalled)."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from numpy_lstm.cli_bench import add_arguments  # noqa: E402
from torch_ref.benchmark.main import run_benchmark  # noqa: E402


def main(what: str, description: str) -> int:
    """Parse the ``numpy-lstm bench`` options with ``--what`` defaulting to ``what``, then run."""
    parser = argparse.ArgumentParser(description=description)
    add_arguments(parser)
    parser.set_defaults(what=what)
    return run_benchmark(parser.parse_args())
