"""Every script in examples/ runs to the end (its own asserts included), as a user would run it:
a fresh Python process, in an empty working directory, without a display."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

# A line of each example's output that shows it reached its point, not just that it exited 0.
EXPECTED = {
    "01_check_against_pytorch.py": "every parameter gradient matches, by name",
    "02_train_next_token.py": "predicted",
    "03_layout_mistake.py": "after the fix:  sequence 1 sees sequence 0? False",
    "04_break_the_backward.py": "tensors that differ: dc_0\n",
    "05_write_the_seed_model.py": "the NumPy Net trained identically to the torch Net",
}


def test_the_examples_are_there():
    names = {p.name for p in EXAMPLES}
    assert set(EXPECTED) <= names, f"missing: {set(EXPECTED) - names}"


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT), PYTHONWARNINGS="error::RuntimeWarning")
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{script.name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert EXPECTED.get(script.name, "") in result.stdout, result.stdout[-3000:]
    assert "# %%" in script.read_text(encoding="utf-8"), "examples are cells, so they open as notebooks"
