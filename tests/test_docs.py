"""The docs cannot rot: every ```python block in docs/*.md runs, every ``numpy-lstm`` command in
a ```bash block runs, and every code reference names a function that exists and a line that
really occurs inside it.

Blocks run in order, one fresh namespace per page, in a temporary working directory, so a page is
a script read top to bottom; commands run in order, per page, in a temporary directory that holds a
copy of the repository's LICENSE (the text file the pages train on, as in a checkout). Running
blocks and commands is end to end, so those tests are marked ``slow``.  A code reference is written

    `function` in [`path/to/file.py`](../path/to/file.py), the line `quoted code`
    `function` in [`path/to/file.py`](../path/to/file.py), the line commented `its comment`

(the ", the line ..." part is optional; a quoted comment is looked up like code, within the
function).  Line numbers are never used: they rot.
"""

from __future__ import annotations

import ast
import re
import shlex
import shutil
from pathlib import Path

import pytest

from numpy_lstm_app.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
SHELL = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
REFERENCE = re.compile(r"`(\w+)` in \[`([\w/.]+\.py)`\]\(([^)]+)\)(?:, the line (?:commented )?`([^`]+)`)?")
LINK = re.compile(r"\]\(((?!https?:)[^)#]+)(?:#[^)]*)?\)")


def python_blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


def definitions(path: Path) -> dict[str, list[str]]:
    """``{name: [source of each function or class of that name]}`` for one file."""
    source = path.read_text(encoding="utf-8")
    found: dict[str, list[str]] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            found.setdefault(node.name, []).append(ast.get_source_segment(source, node) or "")
    return found


def test_the_docs_exist_and_have_code():
    names = {p.name for p in DOCS}
    pages = {"README.md", "derivation.md", "layouts.md", "parity.md", "pictures.md", "pitfalls.md", "train.md"}
    assert pages <= names, names
    assert sum(len(python_blocks(p)) for p in DOCS) >= 15


@pytest.mark.slow
@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_every_python_block_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for n, block in enumerate(python_blocks(page), start=1):
        code = compile(block, f"{page.name} python block {n}", "exec")
        exec(code, namespace)  # a failure's traceback names the page and the block


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in DOCS if SHELL.search(p.read_text(encoding="utf-8"))],
                         ids=lambda p: p.name)
def test_every_command_runs(page, tmp_path, monkeypatch, capsys):
    """Each ``numpy-lstm ...`` line, in order, in one temporary directory (so ``train`` can write
    the checkpoint that ``gates`` reads), through the real entry point."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(ROOT / "LICENSE", tmp_path / "LICENSE")
    commands = [line.split(" #")[0].strip() for block in SHELL.findall(page.read_text(encoding="utf-8"))
                for line in block.splitlines() if line.startswith("numpy-lstm ")]
    assert commands
    for command in commands:
        assert main(shlex.split(command)[1:]) == 0, f"{page.name}: `{command}` failed: {capsys.readouterr().err}"


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_every_code_reference_is_real(page):
    text = page.read_text(encoding="utf-8")
    refs = REFERENCE.findall(text)
    for function, file, link, line in refs:
        path = ROOT / file
        assert path.is_file(), f"{page.name}: {file} does not exist"
        assert (page.parent / link).resolve() == path, f"{page.name}: the link {link} does not point at {file}"
        bodies = definitions(path).get(function)
        assert bodies, f"{page.name}: no function or class `{function}` in {file}"
        if line:
            assert any(line in body for body in bodies), (
                f"{page.name}: `{line}` does not occur in `{function}` of {file}; update the doc or the code"
            )
    if page.name == "derivation.md":  # the derivation ties every term to code
        assert len(refs) >= 30, len(refs)


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_relative_links_point_at_files(page):
    for link in LINK.findall(page.read_text(encoding="utf-8")):
        assert (page.parent / link).resolve().exists(), f"{page.name}: broken link {link}"


def test_pictures_for_the_docs_are_small_pngs():
    images = sorted((ROOT / "docs" / "images").glob("*"))
    assert {p.name for p in images} >= {"gates.png", "gradflow.png"}
    for p in images:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", p.name
        assert p.stat().st_size < 300_000, f"{p.name} is {p.stat().st_size} bytes; keep docs pictures < 300 KB"
