"""Every ```python block of the README runs, in order, in one namespace: the front door cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_readme_python_blocks_run(tmp_path, monkeypatch, capsys):
    blocks = python_blocks(README.read_text())
    assert blocks, "the README should show the Python API"
    monkeypatch.chdir(tmp_path)  # anything a block writes lands in a temporary directory
    namespace: dict = {"__name__": "__readme__"}
    for n, block in enumerate(blocks):
        try:
            exec(compile(block, f"README.md python block {n}", "exec"), namespace)
        except Exception as err:  # re-raise with the block that failed
            raise AssertionError(f"README python block {n} failed: {err!r}\n{block}") from err
    assert "weight_ih_l0" in capsys.readouterr().out
