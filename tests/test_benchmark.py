"""Smoke tests of the benchmark (``numpy-lstm bench``): it checks results, then writes its files.

No timed assertions: the machine is shared and noisy; speed is what the benchmark reports.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import cases, configs, flops, memory
from benchmarks import main as bench_main
from benchmarks.options import add_arguments
from numpy_lstm_app.cli import build_parser, main


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(list(argv))


@pytest.mark.slow
def test_quick_grid_writes_well_formed_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _args("--quick", "--no-memory", "--budget", "0.02", "--config", "tiny", "--out", str(tmp_path))
    assert bench_main.run_benchmark(args) == 0
    printed = capsys.readouterr().out
    assert "np/torch" in printed and "matmul peak" in printed
    data = json.loads((tmp_path / "grid.json").read_text())
    rows = data["rows"]
    assert [(r["dtype"], r["mode"]) for r in rows] == [
        (dt, m) for dt in ("float32", "float64") for m in ("inference", "train")
    ]
    for r in rows:
        assert r["max_rel_diff"] <= cases.TOLERANCE[np.dtype(r["dtype"])]  # the check ran
        for side in cases.SIDES:
            assert r[f"{side}_ms"] > 0 and 0 < r[f"{side}_pct_peak"]
        assert r["ratio_torch"] == pytest.approx(r["numpy_ms"] / r["torch_ms"])
        assert r["gflop"] * 1e9 == flops.flops(configs.QUICK["tiny"], r["mode"])
    assert data["meta"]["threads"] == 2 and "peak_gflops" in data["meta"]["matmul_peak"]["float32"]
    with (tmp_path / "grid.csv").open() as f:
        assert len(list(csv.DictReader(f))) == len(rows)
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "grid.md").read_text().startswith("| config")


def test_unequal_results_are_refused_before_timing() -> None:
    case = cases.make_case(configs.QUICK["tiny"], np.float64)
    case.twin.weight_hh_l0.data[0, 0] += 1e-3  # the torch twin no longer matches
    with pytest.raises(AssertionError, match="refusing to time"):
        cases.check_equal(case, "train")


def test_flop_model_counts_layers_and_directions() -> None:
    one = configs.BenchConfig("a", 10, 2, 3, 4)
    assert flops.forward_flops(one) == 2 * 10 * 2 * 16 * (3 + 4)
    two = configs.BenchConfig("b", 10, 2, 3, 4, layers=2, bidirectional=True)
    assert flops.forward_flops(two) == 2 * (2 * 10 * 2 * 16 * (3 + 4)) + 2 * (2 * 10 * 2 * 16 * (8 + 4))
    assert flops.flops(two, "train") == 3 * flops.forward_flops(two)


def test_sizes_and_config_selection() -> None:
    c = configs.parse_sizes("30,4,8,16,2,bidir")
    assert (c.T, c.N, c.I, c.H, c.layers, c.bidirectional) == (30, 4, 8, 16, 2, True)
    assert [c.name for c in configs.select(["small,large"], None, False)] == ["small", "large"]
    assert len(configs.select(None, None, False)) == len(configs.GRID)
    with pytest.raises(ValueError, match="unknown config"):
        configs.select(["huge"], None, False)
    with pytest.raises(ValueError, match="T,N,I,H"):
        configs.parse_sizes("1,2,3")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak RSS from /proc")
def test_memory_of_numpy_side_is_measured_in_a_subprocess() -> None:
    spec = {
        "T": 20,
        "N": 8,
        "I": 16,
        "H": 64,
        "layers": 1,
        "bidirectional": False,
        "dtype": "float64",
        "mode": "train",
        "threads": 1,
        "side": "numpy",
    }
    mb = memory.measure(spec)
    cache_mb = 20 * 8 * 64 * 8 * 8 / 2**20  # acts alone: T*N*4H doubles, twice (acts, dA)
    assert mb is not None and cache_mb / 4 < mb < 200


def test_cli_registers_bench_and_reports_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert "bench" in build_parser().format_help()
    assert main(["bench", "--quick", "--dtype", "float16"]) == 2
    assert "--dtype" in capsys.readouterr().err


def test_numpy_lstm_cli_does_not_import_torch() -> None:
    code = "import sys, numpy_lstm_app.cli; numpy_lstm_app.cli.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_python_m_benchmarks_runs_the_grid_and_writes_its_files(tmp_path: Path) -> None:
    """``python -m benchmarks`` is the same run as ``numpy-lstm bench``: it times, prints, writes."""
    out = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--no-memory", "--dtype", "float64",
         "--mode", "train", "--config", "tiny", "--out", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads((out / "grid.json").read_text())["rows"]
    assert [(r["config"], r["dtype"], r["mode"]) for r in rows] == [("tiny", "float64", "train")]
    assert rows[0]["numpy_ms"] > 0 and rows[0]["torch_ms"] > 0
    assert "tiny" in done.stdout
