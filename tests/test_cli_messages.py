"""Clear one-line messages for inputs that used to crash, hang or ask for gigabytes, found before
any work; ``$`` in user text is a dollar sign in the pictures, not mathtext."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from numpy_lstm_app.cli import main

FAST = ["--sequences", "40", "--hidden-size", "8", "--samples", "0", "--epochs", "1"]


def error_of(capsys: pytest.CaptureFixture, *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 2, argv
    captured = capsys.readouterr()
    *usage, message = captured.err.rstrip("\n").split("\n")
    # one error line; a value refused while parsing comes after the command's usage, as argparse does
    assert message.startswith(f"numpy-lstm {argv[0]}: error: "), captured.err
    assert not usage or usage[0].startswith(f"usage: numpy-lstm {argv[0]} "), captured.err
    assert "trained" not in captured.out and "epoch" not in captured.out, "refused before any training"
    return message


def test_text_that_is_a_directory_or_a_device(tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "out")
    assert "is a directory, not a text file" in error_of(capsys, "train", "--text", str(tmp_path), "--out", out)
    if Path("/dev/null").exists():
        assert "/dev/null is not a regular file" in error_of(capsys, "train", "--text", "/dev/null", "--out", out)
    assert "text file not found" in error_of(capsys, "train", "--text", str(tmp_path / "none.txt"), "--out", out)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["train", "gates", "gradflow"])
def test_a_negative_seed_names_the_option(tmp_path: Path, capsys, command: str) -> None:
    message = error_of(capsys, command, "--seed", "-1", "--out", str(tmp_path / "o"))
    assert "--seed" in message and "-1" in message and ">= 0" in message.replace("[0, ", ">= 0"), message
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_gradflow_refuses_a_forget_bias_that_is_not_finite(tmp_path: Path, capsys, value: str) -> None:
    err = error_of(capsys, "gradflow", "--forget-bias", "1.0", value, "--out", str(tmp_path / "o"))
    assert "--forget-bias: expected a finite number" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--k-max", "100000"], "--k-max 100,000 makes sequences of 200,000 input steps"),
        # the built-in task's vocabulary is UNK EOS a b
        (["train", "--hidden-size", "20000"], "--hidden-size 20000: a model with vocabulary 4, hidden size 20,000"),
        (["train", "--embedding-dim", "100000000"],
         "--embedding-dim 100000000 --hidden-size 50: a model with vocabulary 4, embedding dim 100,000,000, "
         "hidden size 50 and 1 layer(s) has"),
        (["train", "--layers", "10000000"], "--layers must be in [1, 64], got 10000000"),
        (["train", "--epochs", "10000000000"], "--epochs must be in [1, 1,000,000]"),
        (["gradflow", "--hidden", "20000"], "the limit is 1.0 GiB"),
        (["gradflow", "--steps", "100000000"], "--steps must be <= 10,000"),
        (["gradflow", "--batch", "100000000", "--steps", "1000"], "a one-hot batch of 1,000 steps x 100,000,000"),
    ],
)
def test_expensive_inputs_are_bounded_first(tmp_path: Path, capsys, argv: list[str], message: str) -> None:
    err = error_of(capsys, *argv, "--out", str(tmp_path / "o"))
    assert message in err, err
    assert not (tmp_path / "o").exists()


def test_a_model_too_large_for_any_text_says_its_vocabulary_is_a_lower_bound(tmp_path: Path, capsys) -> None:
    text = tmp_path / "words.txt"
    text.write_text("one two three\n" * 20)
    err = error_of(capsys, "train", "--text", str(text), "--embedding-dim", "200000000", "--out", str(tmp_path / "o"))
    assert "--embedding-dim 200000000 --hidden-size 50: a model with vocabulary 2, embedding dim 200,000,000" in err
    assert f"(vocabulary 2 is a lower bound: {text} is not read yet" in err, err


@pytest.mark.parametrize("device", ["cuda", "cpu", "auto"])
def test_device_is_refused_where_no_torch_runs(tmp_path: Path, capsys, device: str) -> None:
    err = error_of(capsys, "train", *FAST, "--backend", "numpy", "--device", device, "--out", str(tmp_path / "o"))
    assert f"--device {device} applies to --backend torch or both" in err and "--backend numpy runs NumPy" in err
    err = error_of(capsys, "train", *FAST, "--device", device, "--out", str(tmp_path / "o"))
    assert "--backend numpy (the default) runs NumPy" in err, err
    assert not (tmp_path / "o").exists()


def test_device_on_resume_of_a_numpy_run_names_the_checkpoints_backend(tmp_path: Path, capsys) -> None:
    assert main(["train", *FAST, "--out", str(tmp_path / "run")]) == 0
    ckpt = tmp_path / "run" / "checkpoint.npz"
    err = error_of(capsys, "train", "--resume", str(ckpt), "--epochs", "2", "--device", "cpu")
    assert f"--backend numpy (that of {ckpt}) runs NumPy on the CPU" in err, err


def test_a_text_whose_one_hot_batches_would_be_huge(tmp_path: Path, capsys) -> None:
    text = tmp_path / "words.txt"
    text.write_text("\n".join(" ".join(f"w{i}_{j}" for j in range(1000)) for i in range(100)) + "\n")
    err = error_of(capsys, "train", "--text", str(text), "--max-len", "1000", "--batch-size", "64",
                   "--out", str(tmp_path / "o"))
    assert "its vocabulary of 80,002 tokens" in err and "would need 19.1 GiB in float32" in err, err


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc, where no one may create files")
def test_an_unwritable_out_is_found_before_training(capsys) -> None:
    err = error_of(capsys, "train", *FAST, "--out", "/proc/self")
    assert "--out: cannot write into /proc/self" in err


def test_gates_checks_tokens_before_its_quick_training(tmp_path: Path, capsys) -> None:
    err = error_of(capsys, "gates", "--text", "a c b", "--out", str(tmp_path / "o"))
    assert "['c'] are not in the model's vocabulary" in err
    assert "--text: expected some text" in error_of(capsys, "gates", "--text", "", "--out", str(tmp_path / "o"))
    assert "--layer must be in [0, 0]" in error_of(capsys, "gates", "--layer", "3", "--out", str(tmp_path / "o"))
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_dollar_signs_in_tokens_and_paths_are_drawn_as_text(tmp_path: Path, capsys) -> None:
    """Unescaped, ``$\\foo$`` is mathtext with an unknown command: matplotlib raised ValueError."""
    text = tmp_path / "money.txt"
    text.write_text("it costs $\\foo$ now\n" * 12)
    run = tmp_path / "run $\\foo$"
    assert main(["train", "--text", str(text), "--out", str(run), "--epochs", "1", "--hidden-size", "4",
                 "--samples", "1"]) == 0
    ckpt = run / "$\\foo$.npz"
    shutil.copy(run / "checkpoint.npz", ckpt)
    assert main(["gates", "--checkpoint", str(ckpt), "--text", "it costs $\\foo$", "--out", str(run)]) == 0
    assert main(["gradflow", "--checkpoint", str(ckpt), "--steps", "5", "--out", str(run)]) == 0
    for name in ("loss.png", "gates.png", "gradflow.png"):
        assert (run / name).read_bytes()[:4] == b"\x89PNG", name


@pytest.mark.slow
def test_a_vocabulary_too_long_to_store_is_refused_before_training(tmp_path: Path, capsys) -> None:
    text = tmp_path / "long.txt"
    text.write_text("\n".join(" ".join(f"{'x' * 100}{i}_{j}" for j in range(100)) for i in range(1000)) + "\n")
    err = error_of(capsys, "train", "--text", str(text), "--max-len", "1", "--hidden-size", "1",
                   "--out", str(tmp_path / "o"))
    assert "characters to store in a checkpoint; the limit is 8,388,608" in err, err


def test_a_long_word_is_a_token_like_any_other(tmp_path: Path) -> None:
    """A checkpoint the command writes, the command reads: no length limit on a single token."""
    text = tmp_path / "long.txt"
    text.write_text(("short " + "y" * 5000 + " word\n") * 12)
    run = tmp_path / "run"
    assert main(["train", "--text", str(text), "--epochs", "1", "--hidden-size", "4", "--samples", "0",
                 "--out", str(run)]) == 0
    assert main(["train", "--resume", str(run / "checkpoint.npz"), "--epochs", "2"]) == 0
