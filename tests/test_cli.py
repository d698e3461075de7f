"""The habits of the ``numpy-lstm`` command line, for every command (those added later too):
defaults in ``--help``, no abbreviations, the command's own usage and the closest name for a typo,
``--version``, help when no command is given, and bad values refused in one line before any work."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import numpy_lstm
from numpy_lstm_app import cli
from numpy_lstm_app.cli import HelpFormatter, Parser, build_parser, main, shows_default

ROOT = Path(__file__).resolve().parent.parent
# Commands whose option definitions say, for every option left at None, what happens then.
# (train's options belong to their own module; the habits below hold for every command.)
EXPLAINED = ("bench", "gates", "gradflow")


def commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def option_blocks(help_text: str) -> dict[str, str]:
    """``--help`` output cut into one block per option, keyed by its first option string."""
    blocks: dict[str, str] = {}
    key = None
    for line in help_text.splitlines():
        m = re.match(r"  (-[-\w]+)", line)
        if m:
            key = m.group(1)
            blocks[key] = line
        elif key and line.startswith("    "):
            blocks[key] += " " + line.strip()
        else:
            key = None
    return blocks


def usage_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[list[str], str]:
    """Run ``argv``; expect exit status 2 and nothing on stdout; return stderr's lines and last line."""
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip("\n").splitlines()
    return lines, lines[-1]


def test_every_parser_refuses_abbreviations_and_uses_the_habits() -> None:
    assert build_parser().allow_abbrev is False
    for name, p in commands().items():
        assert isinstance(p, Parser), name
        assert p.allow_abbrev is False, name
        assert p.formatter_class is HelpFormatter, name


def test_a_command_added_later_gets_the_habits_without_code_of_its_own() -> None:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    later = sub.add_parser("later", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    later.add_argument("--temperature", type=float, default=1.0, help="softmax temperature")
    later.add_argument("--prompt", default=None, help="text to start from")
    assert isinstance(later, Parser) and later.allow_abbrev is False
    blocks = option_blocks(later.format_help())
    assert "(default: 1.0)" in blocks["--temperature"]
    assert "default" not in blocks["--prompt"]  # None: no "(default: None)"


@pytest.mark.parametrize("name", list(commands()))
def test_help_of_every_command_shows_each_default(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    assert main([name, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: numpy-lstm {name}")
    blocks = option_blocks(out)
    for action in commands()[name]._actions:
        if not action.option_strings or action.dest == "help":
            continue
        block = " ".join(blocks[action.option_strings[0]].split())
        assert "default: None" not in block, block
        if shows_default(action):
            assert f"default: {action.default}" in block, block
        if name in EXPLAINED:
            assert action.help, f"{name} {action.option_strings[0]} says nothing about its meaning"
            if action.nargs != 0:  # not a flag: the default, or what happens without it
                assert "default" in block, block


def test_no_command_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    lines, last = usage_error(capsys, [])
    err = "\n".join(lines)
    assert err.startswith("usage: numpy-lstm [-h] [--version] COMMAND")
    for name in commands():
        assert re.search(rf"^    {name} ", err, flags=re.MULTILINE), name  # each command with its line


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"numpy-lstm {numpy_lstm.__version__}\n"


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["train", "--epoch", "3"], "unrecognized arguments: --epoch 3; did you mean --epochs?"),
        (["gates", "--chekpoint", "x.npz"], "unrecognized arguments: --chekpoint x.npz; did you mean --checkpoint?"),
        (["gradflow", "--forget-bais=1"], "unrecognized arguments: --forget-bais=1; did you mean --forget-bias?"),
        (["bench", "--quik"], "unrecognized arguments: --quik; did you mean --quick?"),
    ],
)
def test_an_unknown_option_gets_the_commands_usage_and_the_closest_name(
    argv: list[str], hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lines, last = usage_error(capsys, argv)
    assert lines[0].startswith(f"usage: numpy-lstm {argv[0]} [-h]")
    assert last == f"numpy-lstm {argv[0]}: error: {hint}"


@pytest.mark.parametrize("name", list(commands()))
def test_an_abbreviation_is_an_unknown_option(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    p = commands()[name]
    longest = max((s for s in p._option_string_actions if s.startswith("--")), key=len)
    required = [arg for a in p._actions if a.required for arg in (a.option_strings[0], "x")]  # given, so
    lines, last = usage_error(capsys, [name, *required, longest[:-1]])  # the abbreviation is what fails
    assert lines[0].startswith(f"usage: numpy-lstm {name}")
    assert last.endswith(f"did you mean {longest}?")


def test_a_misspelled_command_or_choice_gets_the_closest(capsys: pytest.CaptureFixture[str]) -> None:
    lines, last = usage_error(capsys, ["trian"])
    assert lines[0].startswith("usage: numpy-lstm [-h]")
    assert last.startswith("numpy-lstm: error: argument COMMAND: invalid choice: 'trian'")
    assert last.endswith("; did you mean train?")
    _, last = usage_error(capsys, ["bench", "--what", "gird"])
    assert last.startswith("numpy-lstm bench: error: argument --what: invalid choice: 'gird'")
    assert last.endswith("; did you mean grid?")


BAD_VALUES = [
    ("gates", ["--layer", "-1"], "argument --layer: expected an integer >= 0, got -1"),
    ("gates", ["--epochs", "0"], "argument --epochs: expected an integer >= 1, got 0"),
    ("gates", ["--epochs", "2.5"], "argument --epochs: expected an integer >= 1, got '2.5'"),
    ("gates", ["--seed", "-1"], "argument --seed: expected an integer in [0, 9223372036854775807], got -1"),
    ("gates", ["--seed", str(2**63)], f"argument --seed: expected an integer in [0, 9223372036854775807], got {2**63}"),
    ("gates", ["--prime", ""], "argument --prime/--text: expected some text, got ''"),
    ("gates", ["--text", ""], "argument --prime/--text: expected some text, got ''"),  # its other name
    ("gradflow", ["--steps", "1"], "argument --steps: expected an integer >= 2, got 1"),
    ("gradflow", ["--steps", "x"], "argument --steps: expected an integer >= 2, got 'x'"),
    ("gradflow", ["--hidden", "0"], "argument --hidden: expected an integer >= 1, got 0"),
    ("gradflow", ["--vocab", "1"], "argument --vocab: expected an integer >= 2, got 1"),
    ("gradflow", ["--batch", "0"], "argument --batch: expected an integer >= 1, got 0"),
    ("gradflow", ["--seed", "-2"], "argument --seed: expected an integer in [0, 9223372036854775806], got -2"),
    ("gradflow", ["--seed", str(2**63 - 1)],  # it draws the tokens with seed + 1
     "argument --seed: expected an integer in [0, 9223372036854775806], got 9223372036854775807"),
    ("gradflow", ["--forget-bias", "nan"], "argument --forget-bias: expected a finite number, got 'nan'"),
    ("gradflow", ["--forget-bias", "1", "inf"], "argument --forget-bias: expected a finite number, got 'inf'"),
    ("gradflow", ["--forget-bias", "one"], "argument --forget-bias: expected a number, got 'one'"),
    ("bench", ["--threads", "0"], "argument --threads: expected an integer >= 1, got 0"),
    ("bench", ["--threads", "two"], "argument --threads: expected an integer >= 1, got 'two'"),
    ("bench", ["--budget", "0"], "argument --budget: expected a number of seconds > 0, got '0'"),
    ("bench", ["--budget", "-1"], "argument --budget: expected a number of seconds > 0, got '-1'"),
    ("bench", ["--budget", "nan"], "argument --budget: expected a number of seconds > 0, got 'nan'"),
    ("bench", ["--dtype", "float16"],
     "argument --dtype: expected a comma list of float32, float64, got 'float16'; did you mean float64?"),
    ("bench", ["--mode", "fit"], "argument --mode: expected a comma list of inference, train, got 'fit'"),
    ("bench", ["--config", "smal,large"], "got 'smal,large'; did you mean small?"),
    ("bench", ["--sizes", "1,2,3"], "expected positive integers T,N,I,H[,layers][,bidir], got '1,2,3'"),
    ("bench", ["--steps", "10,0"], "argument --steps: expected a comma list of integers >= 1, got '10,0'"),
    ("bench", ["--sizes", "100000000000,1000,1000,1000"],
     "100000000000,1000,1000,1000: the gates (T, N, 4H) would be 100,000,000,000 x 1,000 x 4,000: "
     "2,910,383.0 TiB in float64; the limit is 1.0 GiB per array"),
    ("bench", ["--sizes", "10,2,3,4,100"], "10,2,3,4,100: 100 layers; the limit is 64"),
    ("bench", ["--steps", "10,100000000"],
     "T = 100,000,000 in the scale study (N=16, I=64, H=128): the gates (T, N, 4H) would be "
     "100,000,000 x 16 x 512: 6.0 TiB in float64; the limit is 1.0 GiB per array"),
]


@pytest.mark.parametrize(("name", "args", "message"), BAD_VALUES)
def test_a_bad_value_is_refused_in_one_line_before_any_work(
    name: str, args: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_work(_: argparse.Namespace) -> int:
        raise AssertionError("the command started working")

    monkeypatch.setattr(f"numpy_lstm_app.cli.{name}.run", no_work)
    lines, last = usage_error(capsys, [name, *args])
    assert last.startswith(f"numpy-lstm {name}: error: argument ") and last.endswith(message), last
    named = last.split(": error: argument ", 1)[1].split(": ", 1)[0]  # --prime/--text: an option's names
    assert args[0] in named.split("/"), last
    assert lines[0].startswith(f"usage: numpy-lstm {name}")


def test_bench_refuses_an_out_that_is_a_file_before_timing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks import grid

    def no_timing(*_: object, **__: object) -> None:
        raise AssertionError("timing started")

    monkeypatch.setattr(grid, "run_grid", no_timing)
    (tmp_path / "results").write_text("")
    assert main(["bench", "--quick", "--no-memory", "--out", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err
    assert err == f"numpy-lstm bench: error: --out must be a directory, got the file {tmp_path / 'results'}\n"


def test_bench_refuses_steps_without_scale(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import grid

    monkeypatch.setattr(grid, "run_grid", lambda *a, **k: pytest.fail("timing started"))
    assert main(["bench", "--quick", "--steps", "10,20"]) == 2
    err = capsys.readouterr().err
    assert err == "numpy-lstm bench: error: --steps applies to --what scale or all, got --what grid\n"


def test_modules_list_every_command() -> None:
    assert list(commands()) == [m.rsplit(".", 1)[1] for m in cli._COMMAND_MODULES]


@pytest.mark.slow
def test_the_console_script(tmp_path: Path) -> None:
    """The installed ``numpy-lstm`` script runs ``main`` and passes its status to the shell."""
    script = shutil.which("numpy-lstm") or shutil.which("numpy-lstm", path=str(Path(sys.executable).parent))
    assert script is not None, "the numpy-lstm console script is not installed: pip install -e '.[test]'"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([script, *argv], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)

    done = run("--version")
    assert (done.returncode, done.stdout) == (0, f"numpy-lstm {numpy_lstm.__version__}\n")
    done = run()
    assert done.returncode == 2 and done.stderr.startswith("usage: numpy-lstm [-h] [--version] COMMAND")
    done = run("gates", "--epoch", "3")
    assert done.returncode == 2 and done.stderr.startswith("usage: numpy-lstm gates")
    assert done.stderr.endswith("numpy-lstm gates: error: unrecognized arguments: --epoch 3; did you mean --epochs?\n")
    assert not (tmp_path / "runs").exists()  # nothing was run


@pytest.mark.slow
def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path) -> None:
    """``numpy-lstm train | head -1``: the reader leaves early; no BrokenPipeError traceback."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    cmd = [sys.executable, "-m", "numpy_lstm_app", "train", "--epochs", "30", "--hidden-size", "8", "--out", "o"]
    with subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()  # what `head -1` does after its line
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=120)
    assert first.startswith(b"data: ")
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert code == 141, (code, err)


@pytest.fixture
def stop_guard() -> object:
    """A SIGTERM/SIGHUP handler of the test's own, so that a signal main() does not handle fails the
    test instead of killing pytest; put back afterwards."""

    def guard(signum: int, frame: object) -> None:
        raise AssertionError(f"signal {signum} reached the handler outside main()")

    saved = {sig: signal.signal(sig, guard) for sig in cli.STOP_SIGNALS}
    yield guard
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.parametrize(("name", "status"), [("SIGTERM", 143), ("SIGHUP", 129)])
def test_sigterm_and_sighup_stop_a_command_as_ctrl_c_does(
    name: str, status: int, stop_guard: object, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if not hasattr(signal, name):
        pytest.skip(f"no {name} here")
    sig = getattr(signal, name)
    cleaned: list[str] = []

    def run(_: argparse.Namespace) -> int:
        try:
            signal.raise_signal(sig)  # delivered to this (the main) thread before the next line
            raise AssertionError("the command went on after the signal")
        except KeyboardInterrupt:  # what a command catches to stop cleanly (train writes its files)
            cleaned.append("cleaned up")
            raise

    monkeypatch.setattr("numpy_lstm_app.cli.gradflow.run", run)
    assert main(["gradflow"]) == status == 128 + sig
    assert capsys.readouterr().err == f"numpy-lstm gradflow: stopped by {name}\n"
    assert cleaned == ["cleaned up"]
    assert signal.getsignal(sig) is stop_guard, "the handler from before main() is back"


def test_ctrl_c_still_exits_130(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def run(_: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr("numpy_lstm_app.cli.gradflow.run", run)
    assert main(["gradflow"]) == 130
    assert capsys.readouterr().err == "numpy-lstm gradflow: interrupted\n"


def test_main_in_another_thread_leaves_the_signal_handlers_alone(
    stop_guard: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """signal.signal works in the main thread only: main() called from a thread runs the command as is."""
    seen: list[object] = []

    def run(_: argparse.Namespace) -> int:
        seen.append(signal.getsignal(signal.SIGTERM))
        return 0

    monkeypatch.setattr("numpy_lstm_app.cli.gradflow.run", run)
    results: list[int] = []
    worker = threading.Thread(target=lambda: results.append(main(["gradflow"])))
    worker.start()
    worker.join()
    assert results == [0] and seen == [stop_guard]
    assert signal.getsignal(signal.SIGTERM) is stop_guard


def test_bench_refuses_an_out_under_a_file_before_timing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks import grid

    monkeypatch.setattr(grid, "run_grid", lambda *a, **k: pytest.fail("timing started"))
    (tmp_path / "afile").write_text("")
    assert main(["bench", "--quick", "--no-memory", "--out", str(tmp_path / "afile" / "sub")]) == 2
    err = capsys.readouterr().err
    assert err == f"numpy-lstm bench: error: --out: cannot write into {tmp_path / 'afile' / 'sub'}: Not a directory\n"


def test_bench_reports_a_write_the_os_refused_in_one_line_with_status_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from benchmarks import main as bench_main

    def disk_full(_: argparse.Namespace) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "grid.json"))

    monkeypatch.setattr(bench_main, "run_benchmark", disk_full)
    assert main(["bench", "--quick", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"numpy-lstm bench: error: {tmp_path / 'grid.json'}: No space left on device\n"
