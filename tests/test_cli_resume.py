"""``numpy-lstm train --resume``: the run continues with its own options; conflicts are named;
Ctrl-C leaves a consistent folder and the command that continues; stale temporaries are cleared."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from numpy_lstm_app.checkpoint import read_checkpoint
from numpy_lstm_app.cli import main
from numpy_lstm_app.cli.train_outputs import RunFolder

ROOT = Path(__file__).resolve().parents[1]
# Options far from the defaults, so that a resume that forgot one of them would differ.
OPTIONS = ["--optimizer", "sgd", "--momentum", "0.9", "--lr", "0.3", "--batch-size", "8", "--dtype", "float64",
           "--sequences", "40", "--k-max", "6", "--hidden-size", "8", "--layers", "2", "--dropout", "0.2",
           "--clip", "1.0", "--seed", "3", "--samples", "0", "--every", "1"]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _same_run(a: Path, b: Path) -> None:
    """Two run folders hold the same history, test figures and weights, exactly."""
    ma, mb = (json.loads((f / "metrics.json").read_text()) for f in (a, b))
    assert ma["epochs"] == mb["epochs"]
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy"):
        assert ma[key] == mb[key], key
    (xa, meta_a), (xb, meta_b) = read_checkpoint(a / "checkpoint.npz"), read_checkpoint(b / "checkpoint.npz")
    assert sorted(xa) == sorted(xb)
    for name in xa:
        np.testing.assert_array_equal(xa[name], xb[name], err_msg=name)
    assert meta_a["history"] == meta_b["history"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``full``: 4 epochs; ``part``: the same options, 2 epochs."""
    root = tmp_path_factory.mktemp("resume")
    assert main(["train", "--out", str(root / "full"), "--epochs", "4", *OPTIONS]) == 0
    assert main(["train", "--out", str(root / "part"), "--epochs", "2", *OPTIONS]) == 0
    return root


def test_resume_takes_every_option_from_the_checkpoint(runs: Path, tmp_path: Path) -> None:
    part = tmp_path / "part"
    part.mkdir()
    (part / "checkpoint.npz").write_bytes((runs / "part" / "checkpoint.npz").read_bytes())
    assert main(["train", "--resume", str(part / "checkpoint.npz"), "--epochs", "4"]) == 0
    _same_run(part, runs / "full")  # --out defaulted to the checkpoint's folder
    args = json.loads((part / "metrics.json").read_text())["args"]
    assert (args["optimizer"], args["lr"], args["batch_size"], args["seed"], args["k_max"]) == ("sgd", 0.3, 8, 3, 6)


@pytest.mark.parametrize(
    "given, message",
    [
        (["--lr", "0.1"], "--lr 0.1 conflicts with {ckpt}, which fixed it at 0.3"),
        (["--sequences", "50"], "--sequences 50 conflicts with {ckpt}, which fixed it at 40"),
        (["--dtype", "float32"], "--dtype float32 conflicts with {ckpt}, which fixed it at float64"),
        (["--seed", "0"], "--seed 0 conflicts with {ckpt}, which fixed it at 3"),
        (["--layers", "1", "--dropout", "0"], "--layers 1 conflicts"),
        (["--level", "char"], "--level does not apply: {ckpt} was trained on the built-in task"),
        (["--text", "{tmp}/t.txt"], "--text does not apply: {ckpt} was trained on the built-in task"),
        (["--resume", ""], "--resume needs the path of a checkpoint.npz, got an empty string"),
    ],
)
def test_a_conflicting_option_is_named(runs: Path, tmp_path: Path, capsys, given: list[str], message: str) -> None:
    ckpt = runs / "part" / "checkpoint.npz"
    (tmp_path / "t.txt").write_text("a b c\n" * 10)
    before = _snapshot(runs / "part")
    capsys.readouterr()
    assert main(["train", "--resume", str(ckpt), *[g.format(tmp=tmp_path) for g in given]]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message.format(ckpt=ckpt) in err, err
    assert _snapshot(runs / "part") == before


def test_options_that_may_change_are_accepted(runs: Path, tmp_path: Path) -> None:
    """Longer training, another folder, another print interval, a re-given fixed option with its value."""
    before = _snapshot(runs / "part")
    out = tmp_path / "elsewhere"
    rc = main(["train", "--resume", str(runs / "part" / "checkpoint.npz"), "--epochs", "4", "--out", str(out),
               "--every", "2", "--lr", "0.3", "--samples", "1"])
    assert rc == 0
    _same_run(out, runs / "full")
    assert _snapshot(runs / "part") == before, "resuming elsewhere leaves the checkpoint's folder alone"


def _stopped(proc: subprocess.Popen, run: Path, status: int, stopped: str, first: int, last: int) -> tuple[str, int]:
    """The checks every stopped run shares: the status, one line on stderr, metrics.json saying how
    it stopped after ``done`` whole epochs (``first <= done < last``), and the checkpoint at the same
    epoch.  Returns stderr and ``done``."""
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == status, (out, err)
    assert err.count("\n") == 1 and "continue with: " in err, err
    metrics = json.loads((run / "metrics.json").read_text())
    done = metrics["epochs"]
    assert first <= len(done) < last and done == list(range(1, len(done) + 1)), done
    assert metrics["stopped"] == f"{stopped} after epoch {len(done)}", metrics["stopped"]
    assert len(metrics["train_loss"]) == len(metrics["val_loss"]) == len(done)
    assert read_checkpoint(run / "checkpoint.npz")[1]["epoch"] == len(done), "metrics and checkpoint agree"
    return err, len(done)


@pytest.mark.slow
def test_ctrl_c_writes_the_epochs_done_and_the_command_that_resumes(tmp_path: Path) -> None:
    options = [*OPTIONS, "--sequences", "200", "--k-max", "9", "--epochs", "10"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "numpy_lstm_app", "train", "--out", "run", *options],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # one line per epoch (stdout is a pipe)
        if line.startswith("epoch  2/10"):
            proc.send_signal(signal.SIGINT)
            break
    run = tmp_path / "run"
    err, _ = _stopped(proc, run, 130, "interrupted", 2, 10)
    assert (run / "loss.png").read_bytes()[:4] == b"\x89PNG"
    command = shlex.split(err.split("continue with: ")[1])
    assert command[:2] == ["numpy-lstm", "train"]
    resumed = subprocess.run([sys.executable, "-m", "numpy_lstm_app", *command[1:]], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert main(["train", "--out", str(tmp_path / "full"), *options]) == 0
    _same_run(run, tmp_path / "full")


@pytest.mark.slow
def test_sigterm_stops_a_resumed_run_as_ctrl_c_does(tmp_path: Path) -> None:
    """``timeout``, Slurm and ``docker stop`` send SIGTERM: the folder stays consistent, status 143."""
    assert main(["train", "--out", str(tmp_path / "run"), "--epochs", "2", *OPTIONS]) == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "numpy_lstm_app", "train", "--resume", "run/checkpoint.npz", "--epochs", "500"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # one line per epoch (stdout is a pipe)
        if line.startswith("epoch") and int(line.split()[1].split("/")[0]) >= 4:
            proc.send_signal(signal.SIGTERM)
            break
    err, done = _stopped(proc, tmp_path / "run", 128 + signal.SIGTERM, "stopped by SIGTERM", 4, 500)
    assert err.startswith("numpy-lstm train: stopped by SIGTERM; "), err
    assert f"holds epoch {done}" in err and "continue with: numpy-lstm train --resume run/checkpoint.npz" in err


def test_a_checkpoint_that_cannot_be_written_stops_in_one_line_with_status_1(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    (out / "checkpoint.npz").mkdir(parents=True)  # a folder where the checkpoint goes
    fast = ["--sequences", "40", "--hidden-size", "8", "--samples", "0"]
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--epochs", "2", *fast]) == 1
    err = capsys.readouterr().err
    assert err == (f"numpy-lstm train: error: cannot write {out / 'checkpoint.npz'}: Is a directory; "
                   "this run wrote no checkpoint\n"), err
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.npz"], "no temporary file left behind"


def test_metrics_that_cannot_be_written_say_what_the_checkpoint_holds(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    fast = ["--sequences", "40", "--hidden-size", "8", "--samples", "0"]
    assert main(["train", "--out", str(out), "--epochs", "2", *fast]) == 0
    (out / "metrics.json").unlink()
    (out / "metrics.json").mkdir()  # the run's metrics cannot be replaced now
    capsys.readouterr()
    assert main(["train", "--resume", str(out / "checkpoint.npz"), "--epochs", "3"]) == 1
    err = capsys.readouterr().err
    assert err == (f"numpy-lstm train: error: cannot write {out / 'metrics.json'}: Is a directory; "
                   f"{out / 'checkpoint.npz'} holds epoch 3 of this run\n"), err
    assert read_checkpoint(out / "checkpoint.npz")[1]["epoch"] == 3


def test_stale_temporaries_of_a_killed_run_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    old = time.time() - 3600
    files = {
        "stale": out / ".checkpoint.npz.ab12cd_3.tmp",  # ours, an hour old: a killed writer's
        "stale-plot": out / ".loss.png.zz99yy00.tmp",
        "fresh": out / ".metrics.json.ab12cd34.tmp",  # ours but fresh: maybe a live writer's
        "foreign": out / ".notes.txt.ab12cd34.tmp",  # not ours
        "lookalike": out / "checkpoint.npz.tmp",
    }
    for name, path in files.items():
        path.write_bytes(b"partial")
        if name != "fresh":
            os.utime(path, (old, old))
    assert main(["train", "--out", str(out), "--epochs", "1", "--sequences", "20", "--hidden-size", "4",
                 "--samples", "0"]) == 0
    left = {name for name, path in files.items() if path.exists()}
    assert left == {"fresh", "foreign", "lookalike"}


def test_divergence_in_the_first_epoch_leaves_the_previous_run_whole(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    fast = ["--sequences", "40", "--hidden-size", "8", "--samples", "0"]
    assert main(["train", "--out", str(out), "--epochs", "2", *fast]) == 0
    before = _snapshot(out)
    capsys.readouterr()
    # a run that diverges is a failure while running (status 1), not a usage error (2)
    assert main(["train", "--out", str(out), "--optimizer", "sgd", "--lr", "1e38", "--epochs", "3", *fast]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nothing was written" in err and "keeps the files of the run before" in err, err
    assert _snapshot(out) == before, "metrics, plot and checkpoint still describe the same (previous) run"


def test_a_new_run_removes_the_old_runs_metrics_and_plot_with_its_first_checkpoint(tmp_path: Path) -> None:
    for name in ("metrics.json", "loss.png", "checkpoint.npz"):
        (tmp_path / name).write_bytes(b"old run")
    folder = RunFolder(tmp_path, resumed_from=None)
    assert folder.holds_another_run() and folder.checkpoint_epoch() is None
    folder.save({"model.w": np.zeros(2)}, {"epoch": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz"]
    assert folder.checkpoint_epoch() == 1 and not folder.holds_another_run()


@pytest.mark.slow
def test_a_text_run_resumes_from_its_recorded_file_and_refuses_another(tmp_path: Path, capsys) -> None:
    text = tmp_path / "poem.txt"
    text.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 8)
    options = ["--text", str(text), "--level", "char", "--max-len", "12", "--hidden-size", "6", "--samples", "0"]
    assert main(["train", "--out", str(tmp_path / "full"), "--epochs", "3", *options]) == 0
    assert main(["train", "--out", str(tmp_path / "part"), "--epochs", "1", *options]) == 0
    ckpt = tmp_path / "part" / "checkpoint.npz"
    assert main(["train", "--resume", str(ckpt), "--epochs", "3"]) == 0  # no --text: the recorded path
    _same_run(tmp_path / "part", tmp_path / "full")
    other = tmp_path / "other.txt"
    other.write_text("the cat sat on the mat\n" * 16)
    capsys.readouterr()
    assert main(["train", "--resume", str(ckpt), "--text", str(other), "--epochs", "4"]) == 2
    err = capsys.readouterr().err
    assert f"--text: {other} is not the data {ckpt} was trained on (sha256: checkpoint has" in err, err
    text.unlink()
    assert main(["train", "--resume", str(ckpt), "--epochs", "4"]) == 2
    assert f"was trained on {text}, which is not there now; give --text" in capsys.readouterr().err
