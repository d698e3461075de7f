"""``numpy-lstm train`` end to end in temporary directories, including its error paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from numpy_lstm_app.cli import main

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--sequences", "40", "--hidden-size", "8", "--samples", "1"]


def _train(tmp: Path, *args: str, out: str = "out") -> tuple[int, dict]:
    rc = main(["train", "--out", str(tmp / out), *args])
    metrics = tmp / out / "metrics.json"
    return rc, json.loads(metrics.read_text()) if metrics.exists() else {}


@pytest.mark.slow
def test_default_command_end_to_end(tmp_path: Path) -> None:
    """``python -m numpy_lstm_app train`` with no arguments, in a fresh directory; torch stays unimported."""
    code = (
        "import runpy, sys\n"
        "sys.argv = ['numpy-lstm', 'train']\n"
        "try:\n"
        "    runpy.run_module('numpy_lstm_app', run_name='__main__')\n"
        "finally:\n"
        "    assert 'torch' not in sys.modules, 'the numpy backend imported torch'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for expected in (
        "epoch  1/50  ",  # every epoch: its time and the time left (stdout is not a terminal here)
        "epoch  5/50  train loss",
        "epoch 50/50  train loss",
        "test (numpy): loss",
        "best possible",
        "input     a",
        "predicted ",
        "wrote ",
    ):
        assert expected in out, f"{expected!r} missing from:\n{out}"
    run = tmp_path / "runs" / "train"
    assert (run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
        assert len(metrics[key]) == 50 and all(np.isfinite(metrics[key])), key
    assert metrics["test_accuracy"] >= metrics["best_accuracy_on_test_set"] - 0.05
    assert metrics["accuracy_ceiling"] == pytest.approx(41 / 45)  # k in [1, 9]: 8 of 90 tokens unknowable
    assert metrics["val_loss"][-1] < metrics["loss_floor"] + 0.05
    assert metrics["wall_time_s"] < 60
    assert proc.stderr == ""
    assert sum(line.startswith("epoch ") and " left" in line for line in out.splitlines()) == 50


@pytest.mark.parametrize(
    "opt",
    [["--optimizer", "sgd", "--momentum", "0.9", "--lr", "0.3"], ["--optimizer", "adam", "--lr", "0.01"]],
    ids=["sgd", "adam"],
)
def test_both_backends_agree_in_float64(tmp_path: Path, capsys, opt: list[str]) -> None:
    rc, m = _train(
        tmp_path,
        "--backend",
        "both",
        "--dtype",
        "float64",
        "--clip",
        "1.0",
        "--epochs",
        "4",
        "--layers",
        "2",
        *opt,
        *FAST,
    )
    assert rc == 0
    assert set(m["histories"]) == {"numpy", "torch"}
    assert 0 <= m["max_abs_loss_diff"] < 1e-9
    for key in ("train_loss", "val_loss"):
        np.testing.assert_allclose(m["histories"]["numpy"][key], m["histories"]["torch"][key], rtol=0, atol=1e-9)
    out = capsys.readouterr().out
    assert out.count("max |diff|") == 4, "one line per epoch with both losses"
    assert "largest |loss difference| numpy vs torch" in out


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["numpy", "torch", "both"])
def test_resume_equals_uninterrupted_run(tmp_path: Path, backend: str) -> None:
    common = ["--backend", backend, "--layers", "2", "--dropout", "0.3", "--dtype", "float64", *FAST]
    rc, full = _train(tmp_path, "--epochs", "4", *common, out="full")
    assert rc == 0
    assert main(["train", "--out", str(tmp_path / "part"), "--epochs", "2", *common]) == 0
    rc, resumed = _train(
        tmp_path, "--epochs", "4", "--resume", str(tmp_path / "part" / "checkpoint.npz"), *common, out="part"
    )
    assert rc == 0
    assert resumed["epochs"] == full["epochs"] == [1, 2, 3, 4]
    tol = 0 if backend == "numpy" else 1e-12
    if backend == "both":  # with dropout: the torch twin replays NumPy's masks
        assert full["max_abs_loss_diff"] < 1e-9 and resumed["max_abs_loss_diff"] < 1e-9
    for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
        np.testing.assert_allclose(resumed[key], full[key], rtol=0, atol=tol, err_msg=key)
    assert resumed["test_loss"] == pytest.approx(full["test_loss"], abs=tol)
    a = np.load(tmp_path / "full" / "checkpoint.npz")
    b = np.load(tmp_path / "part" / "checkpoint.npz")
    assert sorted(a.files) == sorted(b.files)
    for name in a.files:
        if name != "meta":
            np.testing.assert_allclose(a[name], b[name], rtol=0, atol=tol, err_msg=name)


@pytest.mark.slow
def test_checkpoint_from_numpy_resumes_in_torch(tmp_path: Path) -> None:
    common = ["--dtype", "float64", "--clip", "1.0", *FAST]
    _, full = _train(tmp_path, "--epochs", "4", *common, out="full")
    assert main(["train", "--out", str(tmp_path / "part"), "--epochs", "2", *common]) == 0
    rc, resumed = _train(
        tmp_path,
        "--backend",
        "torch",
        "--epochs",
        "4",
        "--resume",
        str(tmp_path / "part" / "checkpoint.npz"),
        *common,
        out="part",
    )
    assert rc == 0
    np.testing.assert_allclose(resumed["val_loss"], full["val_loss"], rtol=0, atol=1e-9)


@pytest.mark.slow
def test_both_resumes_from_a_numpy_checkpoint(tmp_path: Path) -> None:
    common = ["--dtype", "float64", *FAST]
    assert main(["train", "--out", str(tmp_path / "a"), "--epochs", "2", *common]) == 0
    ckpt = str(tmp_path / "a" / "checkpoint.npz")
    rc, m = _train(tmp_path, "--backend", "both", "--epochs", "3", "--resume", ckpt, *common, out="b")
    assert rc == 0 and m["epochs"] == [1, 2, 3]
    for name in ("numpy", "torch"):
        assert len(m["histories"][name]["train_loss"]) == 3, name
    assert m["histories"]["numpy"]["train_loss"][:2] == m["histories"]["torch"]["train_loss"][:2]
    assert m["max_abs_loss_diff"] < 1e-9
    rc, again = _train(tmp_path, "--epochs", "3", "--resume", str(tmp_path / "b" / "checkpoint.npz"), *common, out="c")
    assert rc == 0 and again["epochs"] == [1, 2, 3], "already trained: nothing to do, still reports"
    assert again["test_loss"] == pytest.approx(m["test_loss"], abs=1e-12)
    assert (tmp_path / "c" / "checkpoint.npz").exists()


@pytest.mark.parametrize("level, sep", [("char", ""), ("word", " ")])
def test_text_file(tmp_path: Path, capsys, level: str, sep: str) -> None:
    text = tmp_path / "poem.txt"
    text.write_text("\n".join(f"the cat sat on mat number {i % 7}" for i in range(30)) + "\n")
    rc, m = _train(tmp_path, "--text", str(text), "--level", level, "--epochs", "2", *FAST)
    assert rc == 0 and m["accuracy_ceiling"] is None and 0 <= m["test_accuracy"] <= 1
    out = capsys.readouterr().out
    inputs = [ln for ln in out.splitlines() if ln.startswith("  input     ")]
    assert inputs and inputs[0].removeprefix("  input     ").startswith(sep.join(["the", "cat"] if sep else "the c"))


def _previous_run(out: Path) -> dict[str, bytes]:
    out.mkdir(parents=True)
    files = {"metrics.json": b'{"old": true}', "checkpoint.npz": b"old checkpoint", "loss.png": b"old plot"}
    for name, data in files.items():
        (out / name).write_bytes(data)
    return files


@pytest.mark.parametrize(
    "args, message",
    [
        (["--text", "{tmp}/missing.txt"], "--text: text file not found"),
        (["--text", "{tmp}/empty.txt"], "is empty"),
        (["--bidirectional"], "--bidirectional is refused"),
        (["--lr", "-0.1"], "--lr must be a positive number, got -0.1"),
        (
            ["--resume", "{tmp}/small/checkpoint.npz", "--hidden-size", "9"],
            "--hidden-size 9 conflicts with {tmp}/small/checkpoint.npz, which fixed it at 8",
        ),
        (["--resume", "{tmp}/empty.txt"], "not a readable .npz"),
        (["--dropout", "0.2"], "needs --layers >= 2"),
        (["--proj-size", "8"], "--proj-size must be in [0, --hidden-size=8)"),
        (["--clip", "0"], "--clip must be a positive number"),
        (["--embedding-dim", "-2"], "--embedding-dim must be in [0, 1,000,000,000], got -2"),
        (
            ["--resume", "{tmp}/small/checkpoint.npz", "--embedding-dim", "4"],
            "--embedding-dim 4 conflicts with {tmp}/small/checkpoint.npz, which fixed it at 0",
        ),
    ],
)
def test_errors_are_one_line_and_lose_nothing(tmp_path: Path, capsys, args: list[str], message: str) -> None:
    (tmp_path / "empty.txt").write_text("  \n\n")
    assert main(["train", "--out", str(tmp_path / "small"), "--epochs", "1", *FAST]) == 0
    before = _previous_run(tmp_path / "out")
    capsys.readouterr()
    rc = main(
        ["train", "--out", str(tmp_path / "out"), "--epochs", "2", *FAST, *[a.format(tmp=tmp_path) for a in args]]
    )
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("numpy-lstm train: error: "), err
    assert message.format(tmp=tmp_path) in err, err
    after = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    assert after == before, "nothing in the output directory changed"


def test_divergence_stops_with_a_message(tmp_path: Path, capsys) -> None:
    rc, m = _train(tmp_path, "--optimizer", "sgd", "--lr", "1e38", "--epochs", "3", *FAST)
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1  # a failure while running, not a usage error (2)
    assert "loss became" in err and "no epoch finished, so this run wrote no checkpoint" in err, err
    assert not (tmp_path / "out" / "checkpoint.npz").exists()
    assert m["stopped"] and m["test_accuracy"] is None


def test_embedding_model_trains_on_both_backends_in_lockstep_and_samples(tmp_path: Path, capsys) -> None:
    common = ["--embedding-dim", "4", "--dtype", "float64", "--epochs", "3", *FAST]
    rc, m = _train(tmp_path, "--backend", "both", *common)
    assert rc == 0 and 0 <= m["max_abs_loss_diff"] < 1e-9
    assert "model: Embedding(4, 4) -> LSTM(4, 8) -> Linear(8, 4), float64" in capsys.readouterr().out
    texts = []
    for backend in ("numpy", "torch"):
        ckpt = str(tmp_path / "out" / "checkpoint.npz")
        assert main(["sample", "--checkpoint", ckpt, "--prime", "a a", "--seed", "1", "--backend", backend]) == 0
        texts.append(capsys.readouterr().out)
    assert texts[0] == texts[1] and texts[0].startswith("a a")


def test_a_backend_without_torch_says_how_to_install_its_cpu_build(tmp_path: Path, capsys, monkeypatch) -> None:
    """Without torch, `--backend torch` and `sample --backend torch` name the command that installs
    PyTorch's CPU build (numpy-lstm is installed from a checkout: no index has it, and PyPI's torch
    is a CUDA build of several GB)."""
    assert _train(tmp_path, "--epochs", "1", *FAST, out="numpy-run")[0] == 0  # a checkpoint for sample
    ckpt = str(tmp_path / "numpy-run" / "checkpoint.npz")
    capsys.readouterr()
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    monkeypatch.setitem(sys.modules, "numpy_lstm_app.torch_backend", None)
    hint = "python3 -m pip install torch --index-url https://download.pytorch.org/whl/cpu"
    rc, _ = _train(tmp_path, "--backend", "torch", "--epochs", "1", *FAST)
    err = capsys.readouterr().err
    assert rc == 2 and "--backend torch needs PyTorch" in err and err.rstrip().endswith(hint), err
    assert "numpy-lstm[" not in err
    assert main(["sample", "--checkpoint", ckpt, "--prime", "a", "--backend", "torch"]) == 2
    err = capsys.readouterr().err
    assert "--backend torch needs PyTorch" in err and err.rstrip().endswith(hint), err
