"""Benchmark script: ``python benchmarks/ablation.py [options]``,
the same as ``numpy-lstm bench --what ablation [options]``.

Settings are the command-line options (see ``--help``); defaults: 2 threads on each side,
float32 and float64, results in ./bench-results.  For NumPy's fastest BLAS kernel, run it with
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`` (see the README's benchmark section).
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, uninstalled

from numpy_lstm.cli_bench import add_arguments  # noqa: E402
from torch_ref.benchmark.main import run_benchmark  # noqa: E402

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    parser.set_defaults(what="ablation")
    sys.exit(run_benchmark(parser.parse_args()))
