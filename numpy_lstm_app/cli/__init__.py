"""Command line: ``numpy-lstm <command>`` (also ``python -m numpy_lstm_app``).

Each command lives in its own module, which provides ``register(subparsers)``: it adds its
sub-parser and sets ``func`` (``args -> exit code``).  Commands that need torch import it inside
``func``, so ``numpy_lstm`` itself never imports torch.

Habits every command gets from here, without code of its own (``subparsers.add_parser`` builds a
:class:`Parser` with :class:`HelpFormatter`, whatever the command passes):

- ``--help`` shows each option's default; options whose default is "not given" (None) or a flag
  (False) show none, and their help says what happens then.
- No abbreviations: ``--epoch 3`` is an error, not ``--epochs 3``.
- An unknown option is reported by the command's own parser (its usage, not the top-level one),
  with the closest option name; a misspelled command or choice gets the closest one too.
- ``numpy-lstm`` alone prints the full help on stderr and exits 2 (a usage error, as argparse
  treats a missing argument); ``numpy-lstm --version`` prints the version.
- Exit status: 2 and one line for a usage error (:class:`CLIError`), 1 and one line for a failure
  while running (:class:`RunFailed`: a file that cannot be written, a run that diverged).
- SIGTERM (``timeout``, Slurm, ``docker stop``) and SIGHUP stop a command as Ctrl-C does (a
  ``KeyboardInterrupt`` the command may clean up after), with the status a shell reports for the
  signal: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP.

:func:`main` returns the exit status instead of raising ``SystemExit`` (0 for ``--help``, 2 for a
usage error), so it can be called in-process; the console script passes it to ``sys.exit``.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import importlib
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy_lstm

# One line per command module, in the order they appear in --help.
_COMMAND_MODULES: list[str] = [
    "numpy_lstm_app.cli.train",
    "numpy_lstm_app.cli.sample",
    "numpy_lstm_app.cli.bench",
    "numpy_lstm_app.cli.gates",
    "numpy_lstm_app.cli.gradflow",
]
PROG = "numpy-lstm"


class CLIError(Exception):
    """A user error: printed as one line to stderr, exit status 2, no traceback."""

    status = 2


class RunFailed(CLIError):
    """A failure while running, not a usage error (a write the OS refused, a run that diverged):
    printed as one line to stderr, exit status 1, no traceback."""

    status = 1


def cannot_write(path: str | os.PathLike[str], err: OSError, verb: str = "write") -> str:
    """``"cannot write run/gates.png: Is a directory"``: the file meant, not a temporary one."""
    return f"cannot {verb} {path}: {err.strerror or err}"


class Stopped(KeyboardInterrupt):
    """A signal other than SIGINT (SIGTERM, SIGHUP) that stops a command as Ctrl-C does."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def stop_status(err: KeyboardInterrupt) -> tuple[int, str]:
    """``(exit status, what happened)``: ``(130, "interrupted")`` for Ctrl-C, ``(143, "stopped by
    SIGTERM")`` for :class:`Stopped` by SIGTERM: 128 + the signal's number, as shells report it."""
    if isinstance(err, Stopped):
        return 128 + err.signum, f"stopped by {signal.Signals(err.signum).name}"
    return 128 + signal.SIGINT, "interrupted"


STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextmanager
def signals_stop() -> Iterator[None]:
    """While the block runs, SIGTERM and SIGHUP raise :class:`Stopped`; the handlers before are put
    back after it.  Only in the main thread: elsewhere ``signal.signal`` cannot be called (and a
    signal is delivered to the main thread anyway), so the block runs with the handlers as they are."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise Stopped(signum)

    before = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in before.items():  # None: a handler installed outside Python
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)


TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def pip_hint(*packages: str) -> str:
    """The command that installs ``packages`` (numpy-lstm itself is installed from a checkout, not
    from an index); torch from PyTorch's CPU index, as the README says, since PyPI would send a CUDA
    build of several GB."""
    commands = [f"python3 -m pip install torch --index-url {TORCH_CPU_INDEX}"] if "torch" in packages else []
    others = [p for p in packages if p != "torch"]
    if others:
        commands.append("python3 -m pip install " + " ".join(others))
    return " && ".join(commands)


class HelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to an option's help, but not for a default of None (not given) or
    False (a flag that is off), nor where the help already speaks of its default."""

    def _format_action(self, action: argparse.Action) -> str:
        if not action.help and action.option_strings and shows_default(action):
            action = copy.copy(action)  # an option without help still shows its default
            action.help = "default: %(default)s"
        return super()._format_action(action)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.option_strings and shows_default(action) and "default" not in text:
            text += " (default: %(default)s)"
        return text


def shows_default(action: argparse.Action) -> bool:
    """Whether ``--help`` states ``action``'s default: not for None, False or a suppressed one."""
    silent = action.default is None or action.default is False or action.default == argparse.SUPPRESS
    return not silent and action.nargs != 0  # 0 is a default to show (is, not ==: 0 == False)


def _closest(word: str, candidates: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return close[0] if close else None


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` with the habits of this command line (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        if kwargs.get("description"):  # a command's docstring paragraph, without its reST quoting
            kwargs["description"] = kwargs["description"].replace("``", "")
        asked = kwargs.get("formatter_class")
        if not (isinstance(asked, type) and issubclass(asked, HelpFormatter)):
            kwargs["formatter_class"] = HelpFormatter  # also over ArgumentDefaultsHelpFormatter: no "None"
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        """As argparse's, but anything left over is an error of *this* parser: a command's
        sub-parser reports its own unknown options, with its own usage."""
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(self._unrecognized(extras))
        return namespace, extras

    def _unrecognized(self, extras: list[str]) -> str:
        known = [s for s in self._option_string_actions if s.startswith("--")]
        hints = [
            f"{arg.split('=', 1)[0]} -> {close}"
            for arg in extras
            if arg.startswith("--") and (close := _closest(arg.split("=", 1)[0], known))
        ]
        hint = ""
        if len(hints) == 1:
            hint = f"; did you mean {hints[0].split(' -> ')[1]}?"
        elif hints:
            hint = f"; did you mean {', '.join(hints)}?"
        return f"unrecognized arguments: {' '.join(extras)}{hint}"

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        """As argparse's (a value outside ``choices`` is an error), plus the closest choice."""
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as err:
            close = _closest(str(value), [str(c) for c in action.choices or ()])
            if close is None:
                raise
            raise argparse.ArgumentError(action, f"{err.message}; did you mean {close}?") from None


# --- option types: a bad value is refused while parsing, before any work, in one line -------------
def int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer in ``[low, high]`` (``>= low`` when ``high`` is None);
    anything else is refused naming what arrived."""
    expected = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value

    return parse


def int_at_least(low: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer ``>= low`` (:func:`int_in` without a top)."""
    return int_in(low)


def finite_float(text: str) -> float:
    """An argparse ``type``: a finite number (NaN and infinities are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def nonempty(text: str) -> str:
    """An argparse ``type``: any text but the empty string."""
    if not text:
        raise argparse.ArgumentTypeError("expected some text, got ''")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        description="An LSTM in pure NumPy that matches torch.nn.LSTM: train, compare, benchmark, look inside.",
        epilog=f"`{PROG} COMMAND --help` lists a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {numpy_lstm.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version, or a usage error argparse has printed
        return 0 if done.code is None else done.code if isinstance(done.code, int) else 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        with signals_stop():
            return int(args.func(args) or 0)
    except CLIError as err:
        print(f"{PROG} {args.command}: error: {err}", file=sys.stderr)
        return err.status
    except KeyboardInterrupt as err:  # Ctrl-C, or a SIGTERM / SIGHUP (Stopped)
        status, what = stop_status(err)
        print(f"{PROG} {args.command}: {what}", file=sys.stderr)
        return status
    except BrokenPipeError:  # the reader went away (`numpy-lstm train | head`): stop quietly, as `cat` does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the interpreter's final flush does not fail again
        return 141  # 128 + SIGPIPE, what a shell reports for a program ended by a closed pipe


if __name__ == "__main__":
    sys.exit(main())
