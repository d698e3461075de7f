"""The layers point one way: every import of every module, read from its source (AST), obeys them.

    numpy_lstm_app   the app and the CLI              may import everything below
    benchmarks       the benchmark harness            numpy_lstm, torch_ref, torch, ...; never the app
    torch_ref        the PyTorch twin                 numpy_lstm, torch; never the app or the harness
    numpy_lstm       the library                      numpy; matplotlib only inside functions

Function-level imports count (a lazy import is still an import), relative imports are resolved, and
``importlib.import_module("...")`` / ``__import__("...")`` with a literal name count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package -> top-level names it must never import (anywhere in a module)
FORBIDDEN: dict[str, set[str]] = {
    "numpy_lstm": {"torch", "torch_ref", "numpy_lstm_app", "benchmarks"},
    "torch_ref": {"numpy_lstm_app", "benchmarks"},
    "benchmarks": {"numpy_lstm_app"},
    "numpy_lstm_app": set(),
}
# package -> top-level names it may import only inside a function (lazily)
LAZY_ONLY: dict[str, set[str]] = {"numpy_lstm": {"matplotlib", "threadpoolctl"}}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of ``from <level dots><target> import ...`` written in ``module``."""
    if level == 0:
        return target or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def imports_of(source: str, module: str, is_package: bool = False) -> list[tuple[str, int, bool]]:
    """``(imported module, line, at module level)`` for every import in ``source``."""
    tree = ast.parse(source)
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, top) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                found.append((_resolve(module, is_package, child.level, child.module), child.lineno, top))
            elif isinstance(child, ast.Call) and child.args and isinstance(child.args[0], ast.Constant):
                f = child.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if name in ("import_module", "__import__") and isinstance(child.args[0].value, str):
                    found.append((child.args[0].value, child.lineno, top))
            visit(child, inner)

    visit(tree, True)
    return found


def violations(package: str, source: str, module: str, is_package: bool = False) -> list[str]:
    out = []
    for name, line, top in imports_of(source, module, is_package):
        head = name.split(".")[0]
        if head in FORBIDDEN[package]:
            out.append(f"{module}:{line} imports {name}: {package} must never import {head}")
        elif top and head in LAZY_ONLY.get(package, set()):
            out.append(f"{module}:{line} imports {name} at module level: {package} imports {head} lazily")
    return out


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_every_import_points_down(package: str) -> None:
    paths = _modules(package)
    assert paths, f"no modules found in {package}/"
    bad = []
    for path in paths:
        module = _module_name(path)
        bad += violations(package, path.read_text(), module, path.name == "__init__.py")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_every_package_of_the_project_is_covered() -> None:
    """A new top-level package must be placed in the layering before it can hold code."""
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages == set(FORBIDDEN), f"packages {sorted(packages)} vs layered {sorted(FORBIDDEN)}"


@pytest.mark.parametrize(
    "package, source, module, expected",
    [
        ("numpy_lstm", "import torch\n", "numpy_lstm.lstm", "must never import torch"),
        ("numpy_lstm", "def f():\n    from torch_ref import to_torch\n", "numpy_lstm.x", "never import torch_ref"),
        ("numpy_lstm", "from numpy_lstm_app.model import M\n", "numpy_lstm.x", "never import numpy_lstm_app"),
        ("numpy_lstm", "import matplotlib.pyplot as plt\n", "numpy_lstm.pictures", "lazily"),
        ("numpy_lstm", "import importlib\nimportlib.import_module('torch')\n", "numpy_lstm.x", "torch"),
        ("torch_ref", "from ..numpy_lstm_app import cli\n", "torch_ref.bridge", "never import numpy_lstm_app"),
        ("torch_ref", "if True:\n    import benchmarks.grid\n", "torch_ref.compare", "never import benchmarks"),
        ("benchmarks", "class A:\n    def f(self):\n        import numpy_lstm_app.cli\n", "benchmarks.grid", "app"),
    ],
)
def test_a_planted_wrong_way_import_is_caught(package: str, source: str, module: str, expected: str) -> None:
    found = violations(package, source, module)
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    "package, source, module",
    [
        ("numpy_lstm", "def draw():\n    import matplotlib\n", "numpy_lstm.pictures"),
        ("numpy_lstm", "from .functional import cell\nimport numpy as np\n", "numpy_lstm.lstm"),
        ("torch_ref", "import torch\nimport numpy_lstm\n", "torch_ref.bridge"),
        ("numpy_lstm_app", "import torch_ref\nimport benchmarks.main\n", "numpy_lstm_app.cli.bench"),
    ],
)
def test_imports_that_point_down_pass(package: str, source: str, module: str) -> None:
    assert violations(package, source, module) == []


def test_relative_imports_are_resolved() -> None:
    assert imports_of("from . import cell\n", "numpy_lstm.functional", True)[0][0] == "numpy_lstm.functional"
    assert imports_of("from ..module import Module\n", "numpy_lstm.functional.layer")[0][0] == "numpy_lstm.module"
