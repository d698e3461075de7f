"""``python -m benchmarks``: the same run as ``numpy-lstm bench`` (options: ``--help``)."""

import argparse
import sys

from benchmarks.main import run_benchmark
from benchmarks.options import add_arguments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time numpy_lstm.LSTM against torch.nn.LSTM side by side (the same as `numpy-lstm bench`).",
    )
    add_arguments(parser)
    return run_benchmark(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
