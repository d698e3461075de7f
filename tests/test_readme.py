"""The README is the front door and cannot rot: its Python blocks run, its shell commands run in
order as a newcomer pasting them would and print what the text around them promises, and its test
command is exactly what CI runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CI = ROOT / ".ci" / "run"
TEXT = README.read_text(encoding="utf-8")
WORDS = " ".join(TEXT.split())  # the README's prose with line breaks as spaces, to find phrases in


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def shell_lines(text: str) -> list[str]:
    """Every command line of every ```bash block, in the order a reader meets them."""
    blocks = re.findall(r"^```bash\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)
    return [line.strip() for block in blocks for line in block.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def _without_comment(line: str) -> str:
    return re.split(r"\s+#\s", line, maxsplit=1)[0].strip()


def what_to_run(line: str) -> str | None:
    """The part of a README line this test runs, or None for nothing.

    Left out, and only these: ``pip install`` steps (CI's fresh environment has just run exactly
    these installs, by running the README's test command; running them again here would re-point
    the installed package at a temporary copy), and ``pytest`` runs (this test is part of the run
    they start: running one here would run this test inside itself; the test command is checked
    against .ci/run instead, by ``test_the_readme_test_command_is_what_ci_runs``)."""
    steps = [step.strip() for step in _without_comment(line).split(" && ")]
    kept = [s for s in steps if not s.startswith("python3 -m pip install") and "-m pytest" not in s]
    return " && ".join(kept) or None


def _in_readme(*phrases: str) -> tuple[str, ...]:
    """The phrases a check looks for, each checked to be what the README itself says."""
    for phrase in phrases:
        said = " ".join(phrase.split()) in WORDS
        assert said, f"the README no longer says {phrase!r}: update this test's check with it"
    return phrases


def _predictions(out: str) -> list[dict[str, list[str]]]:
    """The ``input / target / predicted`` rows a command prints, split into tokens."""
    rows = re.findall(r"^ *(input|target|predicted) +(.*)$", out, flags=re.MULTILINE)
    samples: list[dict[str, list[str]]] = []
    for name, tokens in rows:
        if name == "input":
            samples.append({})
        samples[-1][name] = tokens.split()
    return samples


def check_train(out: str, cwd: Path) -> None:
    for phrase in _in_readme(
        "data: task a^k b^k EOS, k in [1, 9]: train 160, validation 20, test 20 sequences; vocabulary 4 (UNK EOS a b)",
        "model: LSTM(4, 50) -> Linear(50, 4), float32, 11,404 parameters",
        "training: adam lr 0.01, batch 16, 50 epochs, seed 0, backend numpy",
        "epoch  5/50  train loss 0.4198 acc 0.822  val loss 0.3713 acc 0.838",
        "epoch 10/50  train loss 0.2485 acc 0.900  val loss 0.2328 acc 0.907",
        "best possible: accuracy 0.911 and loss 0.2197 expected over the task; accuracy 0.936 on this test set",
        "wrote runs/train/loss.png, runs/train/checkpoint.npz, runs/train/metrics.json in",
    ):
        assert phrase in out, phrase
    # "the test accuracy lands within 0.05 of the best possible on the test set"
    _in_readme("within 0.05 of the best possible on the test set")
    accuracy = float(re.search(r"^test \(numpy\): loss [\d.]+  accuracy ([\d.]+)$", out, re.MULTILINE)[1])
    best = float(re.search(r"accuracy ([\d.]+) on this test set", out)[1])
    assert accuracy >= best - 0.05, (accuracy, best)
    # "From the first `b` on, everything is determined, and every prediction is right."
    _in_readme("From the first `b` on, everything is determined, and every prediction is right.")
    samples = _predictions(out)
    assert len(samples) == 3, out
    for s in samples:
        first_b = s["input"].index("b")
        assert s["predicted"][first_b:] == s["target"][first_b:], s
    assert (cwd / "runs" / "train" / "checkpoint.npz").is_file()


def check_gates(out: str, cwd: Path) -> None:
    _in_readme("from the first `b` on, `b b EOS`, exact")
    (sample,) = _predictions(out)
    assert sample["input"] == "a a a b b b".split(), sample
    assert sample["predicted"][3:] == ["b", "b", "EOS"], sample
    assert "wrote runs/gates/gates.png" in out
    assert (cwd / "runs" / "gates" / "gates.png").read_bytes()[:4] == b"\x89PNG"


def check_gradflow(out: str, cwd: Path) -> None:
    (untrained,) = _in_readme("PyTorch's init (f ≈ 0.5), untrained           from t=199 back to t=0: "
                              "||dL/dh|| x 1e-38.8, ||dL/dc|| x 1e-38.1")
    assert untrained in out
    # "The trained model keeps it (to within a factor of 1e-6 ...)"
    _in_readme("to within a factor of 1e-6")
    exponents = r"\|\|dL/dh\|\| x 1e([-+][\d.]+), \|\|dL/dc\|\| x 1e([-+][\d.]+)$"
    trained = re.search(r"^trained \(checkpoint\.npz\) .*" + exponents, out, re.MULTILINE)
    assert trained, out
    assert float(trained[1]) > -6 and float(trained[2]) > -6, trained[0]
    assert "wrote runs/gradflow/gradflow.png" in out


def check_sample(out: str, cwd: Path) -> None:
    _in_readme("after `a a a b` it prints `a a a b b b`\nand stops at `EOS`")
    assert out == "a a a b b b\n", out


def check_bench(out: str, cwd: Path) -> None:
    assert re.search(r"^ *tiny +float32 +train ", out, re.MULTILINE), out
    assert "ratio" in out
    written = sorted(p.name for p in (cwd / "runs" / "bench").iterdir())
    assert written == ["grid.csv", "grid.json", "grid.md", "grid.png"], written


# The commands a newcomer runs, in README order, each with what the text around it promises.
CHECKS: dict[str, Callable[[str, Path], None]] = {
    "python3 -m numpy_lstm_app train": check_train,
    'numpy-lstm gates --checkpoint runs/train/checkpoint.npz --prime "a a a b b b" --out runs/gates': check_gates,
    "numpy-lstm gradflow --checkpoint runs/train/checkpoint.npz --out runs/gradflow": check_gradflow,
    'numpy-lstm sample --checkpoint runs/train/checkpoint.npz --prime "a a a b" --length 10 --top-k 1': check_sample,
    "numpy-lstm bench --quick --config tiny --no-memory --out runs/bench": check_bench,
}


@pytest.mark.slow
def test_readme_python_blocks_run(tmp_path, monkeypatch, capsys):
    """Every ```python block of the README runs, in order, in one namespace."""
    blocks = python_blocks(TEXT)
    assert blocks, "the README should show the Python API"
    monkeypatch.chdir(tmp_path)  # anything a block writes lands in a temporary directory
    namespace: dict = {"__name__": "__readme__"}
    for n, block in enumerate(blocks):
        try:
            exec(compile(block, f"README.md python block {n}", "exec"), namespace)
        except Exception as err:  # re-raise with the block that failed
            raise AssertionError(f"README python block {n} failed: {err!r}\n{block}") from err
    assert "weight_ih_l0" in capsys.readouterr().out


@pytest.mark.slow
def test_readme_commands_run_in_order_and_print_what_it_says(tmp_path):
    """The README's shell commands, pasted one after the other into a shell in an empty directory."""
    commands = [c for c in map(what_to_run, shell_lines(TEXT)) if c]
    assert commands == list(CHECKS), "a README command changed: update CHECKS with what its text promises"
    # pip puts console scripts beside the interpreter; a version manager's shims may not list a new
    # one until it rehashes, so that folder goes first on PATH, as an activated environment would.
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg",
           "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}
    assert shutil.which("numpy-lstm", path=env["PATH"]), "`numpy-lstm` is missing: install the project first"
    for command in commands:
        done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, f"`{command}` failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        CHECKS[command](done.stdout, tmp_path)


def test_the_readme_test_command_is_what_ci_runs():
    """The README's test command is, verbatim, the one command .ci/run runs."""
    tests = [_without_comment(line) for line in shell_lines(TEXT) if "pytest -q" in line and "pip install" in line]
    assert len(tests) == 1, tests
    ci = [line for line in CI.read_text(encoding="utf-8").splitlines()
          if line.strip() and not line.startswith(("#", "set ", "cd "))]
    assert ci == tests, f".ci/run runs {ci}, the README says {tests}"


def test_readme_quick_start_commands_are_the_runnable_ones():
    """Dropping only installs and pytest runs: the quick start's main job still runs in the test above."""
    first = shell_lines(TEXT)[0]
    assert first.startswith("python3 -m pip install") and what_to_run(first) == "python3 -m numpy_lstm_app train"
    assert what_to_run('python3 -m pip install torch && python3 -m pytest -q   # the tests') is None
