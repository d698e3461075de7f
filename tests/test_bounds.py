"""The bounds of ``numpy-lstm bench --what bounds``: its GEMMs are the step's FLOPs, its verdicts
follow its floors, and a quick run writes rows that hold together.  No timed assertions."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import bounds, configs, flops, targets
from benchmarks import main as bench_main
from benchmarks.options import add_arguments
from numpy_lstm.functional.rows import row_threads


@pytest.mark.parametrize("name", ["seed", "small", "large"])
@pytest.mark.parametrize("mode", ["inference", "train"])
def test_the_gemms_are_the_steps_flops_in_every_layout(name: str, mode: str) -> None:
    cfg = configs.GRID[name]
    shapes = bounds.gemm_shapes(cfg, mode)
    for _, layouts in shapes.values():
        assert all(a[1] == b[0] for a, b in layouts)  # inner sizes agree
        assert len({a[0] * a[1] * b[1] for a, b in layouts}) == 1  # the layouts have the same m*k*n
    total = sum(calls * 2 * a[0] * a[1] * b[1] for calls, ((a, b), *_) in shapes.values())
    assert total == flops.flops(cfg, mode)


def _row(ratio: float, a: float, b: float, target: float | None = 1.0, b1: float | None = None) -> dict[str, object]:
    return {"ratio_torch": ratio, "floor_a_ratio": a, "floor_b_ratio": b, "floor_b1_ratio": b if b1 is None else b1,
            "target": target, "rows_split": False}


def test_verdicts_follow_the_floors() -> None:
    assert bounds.verdict(_row(0.9, 0.5, 0.7)) == "met"
    assert bounds.verdict(_row(1.4, 1.1, 1.3)) == "out of reach: GEMMs alone"
    assert bounds.verdict(_row(1.4, 0.9, 1.1)) == "out of reach: GEMMs + elementwise"
    assert bounds.verdict(_row(1.4, 0.8, 0.9)) == "not met; floor B allows it"
    assert bounds.verdict(_row(1.4, 0.8, 0.9, b1=1.05)) == "not met; floor B allows it on all cores, not on one"
    split = _row(1.4, 0.8, 0.9, b1=1.05) | {"rows_split": True}  # the row split runs it on every core
    assert bounds.verdict(split) == "not met; floor B allows it"
    assert bounds.verdict(_row(1.4, 0.8, 0.9, None)) == "no target"


def test_rows_split_is_the_layers_own_choice() -> None:
    large, small = configs.GRID["large"], configs.GRID["small"]
    with row_threads(2):
        assert bounds.rows_split(large, np.float32, "train")
        assert not bounds.rows_split(large, np.float32, "inference")  # inference is never split
        assert not bounds.rows_split(small, np.float64, "train")  # too small a batch
    with row_threads(1):
        assert not bounds.rows_split(large, np.float32, "train")


def test_the_limits_are_those_the_grid_checks() -> None:
    assert targets.ratio_limit("seed", "float32", "train") == 0.6
    assert [targets.ratio_limit(c, "float32", "train") for c in ("small", "medium", "large")] == [1.0] * 3
    assert [targets.ratio_limit(c, "float32", "inference") for c in targets.CORE] == [1.0] * 4
    assert [targets.ratio_limit(c, "float64", "train") for c in targets.CORE] == [0.8] * 4
    assert targets.ratio_limit("seed", "float64", "inference") is None
    assert targets.ratio_limit("2-layer", "float32", "train") is None
    rows = [{"config": "small", "dtype": "float32", "mode": "train", "ratio_torch": 1.01}]
    checked = {name: met for name, met, _ in targets.check(rows)}
    assert checked["float32 training step <= 1.0 x torch at small, medium, large"] is False


def test_stacked_layers_are_refused() -> None:
    with pytest.raises(ValueError, match="one layer, one direction only"):
        bounds.run_bounds(configs.QUICK["tiny-2L-bidir"], np.dtype(np.float32), "train", 2, 0.01)
    p = argparse.ArgumentParser()
    add_arguments(p)
    args = p.parse_args(["--what", "bounds", "--config", "2-layer,bidir", "--out", "unused"])
    with pytest.raises(ValueError, match="expected one-layer, one-direction configs .* got 2-layer, bidir"):
        bench_main.run_benchmark(args)


def test_quick_bounds_write_rows_that_hold_together(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = argparse.ArgumentParser()
    add_arguments(p)
    args = p.parse_args(["--what", "bounds", "--quick", "--config", "tiny,tiny-2L-bidir", "--budget", "0.02",
                         "--out", str(tmp_path)])
    assert bench_main.run_benchmark(args) == 0
    printed = capsys.readouterr().out
    assert "tiny-2L-bidir skipped (one layer, one direction only)" in printed
    assert "floor A/torch" in printed
    rows = json.loads((tmp_path / "bounds.json").read_text())["rows"]
    assert [(r["config"], r["dtype"], r["mode"]) for r in rows] == [
        ("tiny", dt, m) for dt in ("float32", "float64") for m in ("inference", "train")
    ]
    for r in rows:
        parts = [v for k, v in r.items() if k.startswith("gemm_numpy_") and k.endswith("_ms") and k != "gemm_numpy_ms"]
        assert len(parts) == (6 if r["mode"] == "train" else 2)
        assert r["gemm_numpy_ms"] == pytest.approx(sum(parts))
        assert 0 < r["gemm_numpy_ms"] and 0 < r["gemm_torch_ms"] and 0 < r["elementwise_floor_ms"]
        assert r["floor_a_ratio"] == pytest.approx(r["gemm_numpy_ms"] / r["torch_ms"])
        assert r["floor_b_ratio"] == pytest.approx((r["gemm_numpy_ms"] + r["elementwise_floor_ms"]) / r["torch_ms"])
        one_core = r["gemm_numpy_ms"] + args.threads * r["elementwise_floor_ms"]  # floor B's share times threads
        assert r["floor_b1_ratio"] == pytest.approx(one_core / r["torch_ms"])
        assert r["verdict"] == bounds.verdict(r) == "no target"  # tiny is not one of the target rows
        assert r["rows_split"] is False  # a tiny batch is never split
        assert 0 < r["gemm_numpy_pct_peak"] and 0 < r["numpy_pct_peak"]
    with (tmp_path / "bounds.csv").open() as f:
        assert len(list(csv.DictReader(f))) == len(rows)
    assert (tmp_path / "bounds.md").read_text().startswith("| config")
