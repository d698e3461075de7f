"""Command line: ``numpy-lstm <command>`` (also ``python -m numpy_lstm_app``).

Each command lives in its own module, which provides ``register(subparsers)``: it adds its
sub-parser and sets ``func`` (``args -> exit code``).  Commands that need torch import it inside
``func``, so ``numpy_lstm`` itself never imports torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# One line per command module, in the order they appear in --help.
_COMMAND_MODULES: list[str] = [
    "numpy_lstm_app.cli.train",
    "numpy_lstm_app.cli.sample",
    "numpy_lstm_app.cli.bench",
    "numpy_lstm_app.cli.gates",
    "numpy_lstm_app.cli.gradflow",
]


class CLIError(Exception):
    """A user error: printed as one line to stderr, exit status 2, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="numpy-lstm",
        description="An LSTM in pure NumPy that matches torch.nn.LSTM: train, compare, benchmark, look inside.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CLIError as err:
        print(f"numpy-lstm {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"numpy-lstm {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
