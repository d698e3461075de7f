"""The pictures: gradflow's numbers are torch autograd's, the commands write readable PNGs and
refuse bad options with one line."""

from __future__ import annotations

import numpy as np
import pytest

from numpy_lstm.introspect import set_forget_bias
from numpy_lstm.lstm import LSTM
from numpy_lstm.pictures import plot_gates
from numpy_lstm_app.cli import main
from numpy_lstm_app.cli.gradflow import gradient_flow
from tests.test_introspect import torch_state_grads

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("forget_bias", [None, 1.0])
def test_gradient_flow_numbers_are_torch_autograds(forget_bias):
    T, H, V, N, seed = 6, 4, 3, 2, 7
    flow = gradient_flow(T, H, V, forget_bias, seed=seed, batch=N)
    # the same model, tokens and loss, rebuilt here and differentiated by torch
    lstm = LSTM(V, H, dtype=np.float64, seed=seed)
    if forget_bias is not None:
        set_forget_bias(lstm, forget_bias)
    rng = np.random.default_rng(seed + 1)
    x = np.eye(V)[rng.integers(0, V, size=(T, N))]
    w = rng.standard_normal((N, H))
    dout = np.zeros((T, N, H))
    dout[-1] = w / np.linalg.norm(w, axis=1, keepdims=True)
    dh, dc = torch_state_grads(lstm, x, dout, np.zeros((1, N, H)), np.zeros((1, N, H)))["l0"]
    np.testing.assert_allclose(flow.dh_norm, np.linalg.norm(dh, axis=2).mean(axis=1), rtol=1e-10)
    np.testing.assert_allclose(flow.dc_norm, np.linalg.norm(dc, axis=2).mean(axis=1), rtol=1e-10)


def test_forget_bias_makes_the_gradient_reach_further():
    default = gradient_flow(60, 20, 10, None)
    remembering = gradient_flow(60, 20, 10, 1.0)
    assert remembering.dc_norm[0] / remembering.dc_norm[-1] > 1e3 * default.dc_norm[0] / default.dc_norm[-1]


@pytest.mark.slow
def test_gradflow_command_writes_a_png(tmp_path, capsys):
    assert main(["gradflow", "--out", str(tmp_path / "pics"), "--steps", "30", "--hidden", "8",
                 "--forget-bias", "1.0"]) == 0
    png = tmp_path / "pics" / "gradflow.png"
    assert png.read_bytes()[:8] == PNG_MAGIC
    out = capsys.readouterr().out
    assert "forget bias 1" in out and f"wrote {png}" in out
    assert [p.name for p in png.parent.iterdir()] == ["gradflow.png"]  # no temporary file left


@pytest.mark.parametrize(
    "args, message",
    [
        (["--steps", "1"], "argument --steps: expected an integer >= 2, got 1"),
        (["--hidden", "0"], "argument --hidden: expected an integer >= 1, got 0"),
    ],
)
def test_gradflow_bad_options_are_one_line_errors(tmp_path, capsys, args, message):
    assert main(["gradflow", "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err.splitlines()  # the command's usage, then the error in one line
    assert err[0].startswith("usage: numpy-lstm gradflow") and err[-1] == f"numpy-lstm gradflow: error: {message}"


def test_gradflow_out_must_be_a_directory(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("")
    assert main(["gradflow", "--out", str(f)]) == 2
    assert "--out must be a directory" in capsys.readouterr().err


def test_plot_gates_writes_a_png_and_checks_its_input(tmp_path):
    rng = np.random.default_rng(0)
    rec = {name: rng.random((4, 3)) for name in "ifgoch"}
    path = plot_gates(rec, ["a", "b", "c", "d"], tmp_path / "g.png")
    assert path.read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(ValueError, match=r"'i' should be \(T=3, H\), got \(4, 3\)"):
        plot_gates(rec, ["a", "b", "c"], tmp_path / "g.png")
    with pytest.raises(ValueError, match="missing 'o'"):
        plot_gates({k: v for k, v in rec.items() if k != "o"}, list("abcd"), tmp_path / "g.png")


def test_the_new_modules_import_neither_torch_nor_matplotlib():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent

    code = ("import sys, numpy_lstm.introspect, numpy_lstm.pictures, "
            "numpy_lstm_app.cli.gates, numpy_lstm_app.cli.gradflow; "
            "from numpy_lstm_app.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=str(root))
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_gradflow_of_a_trained_model(small_checkpoint, tmp_path, capsys):
    from numpy_lstm_app.cli.gradflow import trained_flow

    flow, lstm, read = trained_flow(str(small_checkpoint), steps=20, seed=0, batch=2)
    assert read == "a^10 b^10" and lstm.hidden_size == 12
    assert flow.dh_norm.shape == flow.dc_norm.shape == (20,) and np.all(np.isfinite(flow.dc_norm))
    capsys.readouterr()
    assert main(["gradflow", "--checkpoint", str(small_checkpoint), "--steps", "20", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "trained (checkpoint.npz)" in out and "PyTorch's init (f ≈ 0.5), untrained" in out
    assert (tmp_path / "gradflow.png").read_bytes()[:8] == PNG_MAGIC


def test_gradflow_checkpoint_errors(small_checkpoint, tmp_path, capsys):
    assert main(["gradflow", "--checkpoint", str(tmp_path / "none.npz"), "--out", str(tmp_path)]) == 2
    assert "--checkpoint: checkpoint not found" in capsys.readouterr().err
    assert main(["gradflow", "--checkpoint", str(small_checkpoint), "--hidden", "8", "--out", str(tmp_path)]) == 2
    assert "--hidden and --vocab come from the checkpoint" in capsys.readouterr().err


def test_plot_gates_gives_a_projected_h_its_own_range(monkeypatch, tmp_path):
    """With a projection, ``h = W_hr·(o·tanh(c))`` is not bounded by 1: its panel takes its own
    range (as ``c``'s does) and says what it is, where [-1, 1] drew 1.2 and 2.4 alike."""
    import numpy_lstm.pictures as pictures

    drawn = {}

    def keep(fig, path):  # the figure, to read its panels, instead of a PNG
        drawn["fig"] = fig
        return path

    monkeypatch.setattr(pictures, "save_figure", keep)
    rng = np.random.default_rng(0)
    rec = {k: rng.uniform(0, 1, (4, 5)) for k in "ifo"}
    rec["g"], rec["c"] = rng.uniform(-1, 1, (4, 5)), rng.uniform(-3, 3, (4, 5))
    for h, title, bound in [
        (np.array([[0.5, -0.25, 0.1, 0.2, 0.3]] * 4), "h = o·tanh(c)", 1.0),  # (T, H): fixed [-1, 1]
        (np.array([[2.4, -1.2, 0.5]] * 4), "h = W_hr·(o·tanh(c))", 2.4),  # (T, P), P < H
    ]:
        pictures.plot_gates({**rec, "h": h}, list("abcd"), tmp_path / "g.png")
        ax = drawn.pop("fig").axes[5]  # the sixth panel: h
        assert title in ax.get_title()
        assert ax.images[0].get_clim() == (-bound, bound)
