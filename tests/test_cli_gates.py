"""``numpy-lstm gates``: from a checkpoint or a quick training to a PNG; clear one-line errors for
a missing, foreign or mismatched checkpoint and for tokens the model does not know."""

from __future__ import annotations

import numpy as np
import pytest

from numpy_lstm_app.checkpoint import read_checkpoint, save_checkpoint
from numpy_lstm_app.cli import main
from numpy_lstm_app.cli.gates import load_trained, trace

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_gates_from_a_checkpoint(small_checkpoint, tmp_path, capsys):
    assert main(["gates", "--checkpoint", str(small_checkpoint), "--text", "a a b", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "gates.png").read_bytes()[:8] == PNG_MAGIC
    out = capsys.readouterr().out
    assert "input     a a b\npredicted " in out and f"wrote {tmp_path / 'gates.png'}" in out


@pytest.mark.slow
def test_gates_with_a_quick_training(tmp_path, capsys):
    assert main(["gates", "--epochs", "2", "--out", str(tmp_path / "new")]) == 0
    assert (tmp_path / "new" / "gates.png").read_bytes()[:8] == PNG_MAGIC
    out = capsys.readouterr().out
    assert "trained 2 epochs on the default task" in out and "input     a a a a a a b b b b b b" in out


def test_trace_gives_the_models_own_states_and_predictions(small_checkpoint):
    model, vocab, _ = load_trained(small_checkpoint)
    rec, predicted = trace(model, vocab, ["a", "a", "b", "b"], layer=0)
    assert rec["i"].shape == (4, 12) and len(predicted) == 4
    x = np.eye(len(vocab), dtype=np.float32)[vocab.encode(["a", "a", "b", "b"])][:, None]  # (T, 1, V)
    out, _ = model.lstm(x)
    np.testing.assert_allclose(rec["h"], out[:, 0], rtol=1e-5, atol=1e-6)
    assert predicted == vocab.decode(model(x).argmax(-1)[:, 0])


def error_of(capsys, *argv) -> str:
    assert main(["gates", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("numpy-lstm gates: error: "), err  # one line, no traceback
    return err


def test_missing_checkpoint(capsys, tmp_path):
    assert "checkpoint not found" in error_of(capsys, "--checkpoint", str(tmp_path / "nope.npz"))


def test_a_file_that_is_not_a_checkpoint(capsys, tmp_path):
    np.savez(tmp_path / "weights.npz", w=np.zeros(3))
    assert "not a numpy-lstm checkpoint" in error_of(capsys, "--checkpoint", str(tmp_path / "weights.npz"))
    (tmp_path / "text.npz").write_text("hello")
    assert "not a readable .npz checkpoint" in error_of(capsys, "--checkpoint", str(tmp_path / "text.npz"))


def test_weights_that_do_not_match_their_description(small_checkpoint, capsys, tmp_path):
    arrays, meta = read_checkpoint(small_checkpoint)
    meta["model"]["hidden_size"] = 20  # the weights are for 12
    save_checkpoint(tmp_path / "edited.npz", arrays, meta)
    err = error_of(capsys, "--checkpoint", str(tmp_path / "edited.npz"))
    assert "array 'model.lstm.weight_ih_l0' has shape (48, 4) dtype float32, expected (80, 4) float32" in err
    del arrays["model.fc.bias"]
    save_checkpoint(tmp_path / "partial.npz", arrays, meta | {"model": {**meta["model"], "hidden_size": 12}})
    assert "missing ['model.fc.bias']" in error_of(capsys, "--checkpoint", str(tmp_path / "partial.npz"))


def test_unknown_tokens_layer_and_text_models(small_checkpoint, capsys, tmp_path):
    err = error_of(capsys, "--checkpoint", str(small_checkpoint), "--text", "a c")
    assert "['c'] are not in the model's vocabulary" in err and "UNK EOS a b" in err
    assert "--layer must be in [0, 0]" in error_of(capsys, "--checkpoint", str(small_checkpoint), "--layer", "1")
    text = tmp_path / "poems.txt"
    text.write_text("roses are red\nviolets are blue\n" * 5)
    assert main(["train", "--text", str(text), "--epochs", "1", "--hidden-size", "4", "--samples", "0",
                 "--out", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    assert "give --prime" in error_of(capsys, "--checkpoint", str(tmp_path / "run" / "checkpoint.npz"))


@pytest.mark.slow
def test_a_char_level_model_reads_characters(tmp_path, capsys):
    text = tmp_path / "abc.txt"
    text.write_text("ab ab\nba ba\nab ba\n" * 10)
    out = tmp_path / "run"
    assert main(["train", "--text", str(text), "--level", "char", "--epochs", "1", "--hidden-size", "8",
                 "--samples", "0", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["gates", "--checkpoint", str(out / "checkpoint.npz"), "--text", "ab b", "--out", str(out)]) == 0
    assert "input     a b   b\n" in capsys.readouterr().out  # four characters, the space included


def test_gates_refuses_quick_training_options_with_a_checkpoint(small_checkpoint, capsys, tmp_path):
    """They would be ignored: the model comes from the checkpoint (gradflow refuses its own the same way)."""
    base = ["--checkpoint", str(small_checkpoint), "--out", str(tmp_path / "o")]
    assert "--epochs set the quick training; give them only without --checkpoint" in error_of(
        capsys, *base, "--epochs", "5")
    assert "--seed set the quick training" in error_of(capsys, *base, "--seed", "0")
    assert "--epochs and --seed set the quick training" in error_of(capsys, *base, "--epochs", "30", "--seed", "1")
    assert not (tmp_path / "o").exists()


def test_gates_help_shows_the_quick_trainings_defaults_and_says_prime_is_tokens(capsys, monkeypatch):
    assert main(["gates", "--help"]) == 0
    blocks: dict[str, str] = {}  # "--epochs" -> its lines, joined
    for line in capsys.readouterr().out.split("options:")[1].splitlines():
        if line.startswith("  -"):
            key = line.split()[0]
            blocks[key] = line.strip()
        elif line.strip():
            blocks[key] += " " + line.strip()
    assert "(default: 30)" in blocks["--epochs"] and "(default: 0)" in blocks["--seed"]
    assert blocks["--prime"].startswith("--prime TOKENS, --text TOKENS the input tokens themselves, not a file")


def test_prime_and_its_other_name_text_draw_the_same_tokens(small_checkpoint, tmp_path, capsys):
    for flag in ("--prime", "--text"):
        argv = ["gates", "--checkpoint", str(small_checkpoint), flag, "a a b", "--out", str(tmp_path / flag[2:])]
        assert main(argv) == 0
        assert "input     a a b\n" in capsys.readouterr().out, flag


def test_a_gates_png_that_cannot_be_written_is_one_line_with_status_1(small_checkpoint, tmp_path, capsys):
    (tmp_path / "gates.png").mkdir()
    assert main(["gates", "--checkpoint", str(small_checkpoint), "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == f"numpy-lstm gates: error: cannot write {tmp_path / 'gates.png'}: Is a directory\n", err
    assert [p.name for p in tmp_path.iterdir()] == ["gates.png"], "no temporary file left behind"


def test_a_gradflow_png_that_cannot_be_written_is_one_line_with_status_1(tmp_path, capsys):
    (tmp_path / "gradflow.png").mkdir()
    assert main(["gradflow", "--steps", "5", "--hidden", "4", "--vocab", "3", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == f"numpy-lstm gradflow: error: cannot write {tmp_path / 'gradflow.png'}: Is a directory\n", err
