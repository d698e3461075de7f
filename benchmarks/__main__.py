"""``python -m benchmarks``: the same run as ``numpy-lstm bench`` (options: ``--help``)."""

import argparse
import sys

from benchmarks.main import run_benchmark
from benchmarks.options import add_arguments

PROG = "python -m benchmarks"


def main(argv: list[str] | None = None) -> int:
    """Parse, run, and return the exit status: 2 with one line on stderr for a bad argument."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Time numpy_lstm.LSTM against torch.nn.LSTM side by side (the same as `numpy-lstm bench`).",
        allow_abbrev=False,  # --budget, not --bud: as `numpy-lstm bench`
    )
    add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, or a usage error argparse has printed
        return 0 if done.code is None else done.code if isinstance(done.code, int) else 2
    try:
        return run_benchmark(args)
    except ValueError as err:  # what only the run can check (--out is a file, ...)
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a results file the OS would not let us write: a failure while running
        where = f"{err.filename}: {err.strerror}" if err.filename and err.strerror else str(err)
        print(f"{PROG}: error: {where}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
