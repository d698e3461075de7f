"""Generation: the state carried between steps, NumPy and PyTorch drawing the same tokens (float64),
EOS, top-k, and ``numpy-lstm sample`` on both backends and both token levels, with its errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from numpy_lstm_app.cli import main
from numpy_lstm_app.data import EOS, SPECIALS
from numpy_lstm_app.generate import generate, numpy_stepper, sample_next, torch_stepper
from numpy_lstm_app.model import ModelConfig, NextTokenModel

CONFIGS = [
    dict(hidden_size=6),
    dict(hidden_size=6, num_layers=2, proj_size=3, embedding_dim=4),
]


@pytest.mark.parametrize("kw", CONFIGS, ids=["one-hot", "embedding-2layers-proj"])
def test_steps_carrying_the_state_equal_one_run_over_the_whole_sequence(kw) -> None:
    model = NextTokenModel(ModelConfig(7, dtype="float64", **kw), seed=0).eval()
    ids = np.random.default_rng(0).integers(0, 7, size=(9, 1))
    whole = model(model.encode(ids))  # (9, 1, V)
    logits, state = model.step(ids[:4])  # the prime, once
    pieces = [logits]
    for t in range(4, 9):
        logits, state = model.step(ids[t : t + 1], state)  # one token, the state carried
        pieces.append(logits)
    np.testing.assert_allclose(np.concatenate(pieces), whole, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kw", CONFIGS, ids=["one-hot", "embedding-2layers-proj"])
def test_numpy_and_torch_draw_the_same_tokens_in_float64(kw) -> None:
    model = NextTokenModel(ModelConfig(9, dtype="float64", **kw), seed=1)
    np_step, t_step = numpy_stepper(model), torch_stepper(model)
    prime = [2, 3, 4]
    a, sa = np_step(np.array(prime)[:, None], None)
    b, sb = t_step(np.array(prime)[:, None], None)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13, err_msg="prime logits")
    for seed, temperature, top_k in [(0, 1.0, None), (1, 1.7, None), (2, 0.8, 3), (3, 1.0, 5)]:
        ours = generate(np_step, prime, 40, temperature=temperature, top_k=top_k, seed=seed)
        theirs = generate(t_step, prime, 40, temperature=temperature, top_k=top_k, seed=seed)
        assert ours == theirs, (seed, temperature, top_k)
        assert len(set(ours.ids)) > 1, "a real draw, not one token repeated"


def test_top_k_one_is_greedy_and_eos_stops() -> None:
    model = NextTokenModel(ModelConfig(6, 5, dtype="float64"), seed=2)
    step = numpy_stepper(model)
    out = generate(step, [2], 12, top_k=1, seed=0)
    history = [2]
    for token in out.ids:  # replay: each drawn token is the argmax after the tokens before it
        logits, _ = model.step(np.array(history)[:, None])
        assert token == int(logits[-1, 0].argmax())
        history.append(token)
    eos = SPECIALS.index(EOS)
    model.fc.params["bias"][...] = -30.0
    model.fc.params["bias"][eos] = 30.0  # the model now always says EOS
    assert generate(step, [2], 12, seed=0, eos_id=eos) == ([], True)
    assert generate(step, [2], 3, seed=0, eos_id=None).ids == [eos] * 3, "without an EOS id, no stop"


def test_sample_next_follows_the_temperature_scaled_distribution() -> None:
    rng = np.random.default_rng(0)
    logits = np.log(np.array([0.5, 0.3, 0.2]))
    draws = np.bincount([sample_next(logits, 1.0, None, rng) for _ in range(20000)], minlength=3) / 20000
    np.testing.assert_allclose(draws, [0.5, 0.3, 0.2], atol=0.015)
    hot = np.bincount([sample_next(logits, 2.0, 2, rng) for _ in range(20000)], minlength=3) / 20000
    p = np.sqrt([0.5, 0.3])
    np.testing.assert_allclose(hot, [*(p / p.sum()), 0.0], atol=0.015)  # top 2, flattened


@pytest.mark.parametrize("temperature", [1e-310, 5e-324, 1e-300, 1e-200])
def test_a_tiny_temperature_takes_the_likeliest_token(temperature: float) -> None:
    """``logits / 1e-310`` overflows to +-inf, and inf - inf is NaN: the draw must still be the argmax."""
    rng = np.random.default_rng(3)
    for _ in range(50):
        logits = rng.normal(scale=5.0, size=7)
        best = int(np.argmax(logits))
        assert sample_next(logits, temperature, None, rng) == best, (logits, temperature)
        assert sample_next(logits, temperature, 3, rng) == best, "with --top-k too"
        assert sample_next(logits - 1e3, temperature, None, rng) == best, "all logits negative"


def test_a_huge_temperature_draws_every_token_about_equally() -> None:
    rng = np.random.default_rng(0)
    draws = np.bincount([sample_next(np.array([0.0, 5.0, 50.0]), 1e300, None, rng) for _ in range(6000)], minlength=3)
    np.testing.assert_allclose(draws / 6000, [1 / 3] * 3, atol=0.03)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_logits_that_are_not_finite_are_refused(bad: float) -> None:
    logits = np.array([0.5, bad, 1.0])
    with pytest.raises(ValueError, match=r"the logits must be finite, got (nan|inf|-inf) for token id 1"):
        sample_next(logits, 1.0, None, np.random.default_rng(0))


def test_generate_refuses_bad_options() -> None:
    step = numpy_stepper(NextTokenModel(ModelConfig(4, 3)))
    for kwargs, message in [
        (dict(temperature=0.0), "temperature must be a finite number > 0, got 0.0"),
        (dict(temperature=float("nan")), "temperature must be a finite number > 0"),
        (dict(top_k=0), "top_k must be an integer >= 1"),
        (dict(length=-1), "length must be an integer >= 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            generate(step, [1], **{"length": 3, **kwargs})
    with pytest.raises(ValueError, match="non-empty sequence"):
        generate(step, [], 3)
    with pytest.raises(ValueError, match=r"step must return logits of shape \(T, 1, V\), got \(1, 1, 1, 4\)"):
        generate(lambda ids, state: (np.zeros((len(ids), 1, 1, 4)), state), [1], 3)


# --- the command ----------------------------------------------------------------------------------
def _checkpoint(tmp: Path, lines: list[str], *args: str) -> Path:
    """A float64 checkpoint written by ``numpy-lstm train`` (one epoch on ``lines``, a small model)."""
    text = tmp / "text.txt"
    text.write_text("\n".join(lines) + "\n")
    out = tmp / "run"
    argv = ["train", "--text", str(text), "--dtype", "float64", "--hidden-size", "8", "--epochs", "1",
            "--samples", "0", "--batch-size", "4", "--out", str(out), *args]
    assert main(argv) == 0
    return out / "checkpoint.npz"


@pytest.mark.parametrize(
    "level, lines, prime, args",
    [
        ("char", ["hello hole", "a hello", "oh hell", "lo ho he"] * 3, "hello", ["--embedding-dim", "3"]),
        ("word", ["the cat sat", "the dog sat", "a cat sat", "the dog ran"] * 3, "the cat", []),
    ],
)
def test_sample_command_both_backends_same_text(tmp_path: Path, capsys, level, lines, prime, args) -> None:
    ckpt = _checkpoint(tmp_path, lines, "--level", level, *args)
    capsys.readouterr()
    tokens = set("".join(lines)) if level == "char" else {w for line in lines for w in line.split()}
    texts = []
    for backend in ("numpy", "torch"):
        args = ["sample", "--checkpoint", str(ckpt), "--prime", prime, "--length", "30", "--seed", "5"]
        assert main([*args, "--temperature", "1.5", "--backend", backend]) == 0
        out, err = capsys.readouterr()
        texts.append(out.rstrip("\n"))
        assert f"generated by {backend}" in err
    assert texts[0] == texts[1], texts
    assert texts[0].startswith(prime) and len(texts[0]) > len(prime)
    if level == "char":
        assert set(texts[0].replace("<UNK>", "")) <= tokens, "characters joined without spaces"
    else:
        assert set(texts[0].split()) - {"UNK"} <= tokens, "words joined with spaces"


def test_sample_command_errors_are_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    ckpt = _checkpoint(tmp_path, ["a b", "a a b b", "a b a b"] * 3, "--level", "word")
    capsys.readouterr()
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    cases = [
        (["--checkpoint", str(ckpt), "--prime", "a c d"], "--prime: ['c', 'd'] are not in the model's vocabulary"),
        (["--checkpoint", str(ckpt), "--prime", "a", "--temperature", "0"], "temperature must be a finite number > 0"),
        (["--checkpoint", str(ckpt), "--prime", "a", "--temperature", "-1"], "got -1.0"),
        (["--checkpoint", str(ckpt), "--prime", "  "], "--prime: it has no tokens"),
        (["--checkpoint", str(tmp_path / "junk.npz"), "--prime", "a"], "--checkpoint:"),
        (["--checkpoint", str(tmp_path / "none.npz"), "--prime", "a"], "--checkpoint: checkpoint not found"),
    ]
    for args, message in cases:
        assert main(["sample", *args]) == 2, args
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and message in err, (args, err)


def test_sample_with_a_tiny_temperature_is_greedy_on_both_backends(tmp_path: Path, capsys) -> None:
    ckpt = _checkpoint(tmp_path, ["a b", "a a b b", "a b a b"] * 3, "--level", "word")
    capsys.readouterr()
    texts = {}
    for backend in ("numpy", "torch"):
        for how in (["--top-k", "1"], ["--temperature", "1e-310"], ["--temperature", "1e-310", "--seed", "7"]):
            argv = ["sample", "--checkpoint", str(ckpt), "--prime", "a", "--length", "12", "--backend", backend]
            assert main([*argv, *how]) == 0, how
            texts[backend, " ".join(how)] = capsys.readouterr().out
    assert len(set(texts.values())) == 1, texts


SAMPLE_BAD_VALUES = [
    (["--seed", "-1"], "argument --seed: expected an integer in [0, 9223372036854775807], got -1"),
    (["--seed", str(2**63)], f"argument --seed: expected an integer in [0, 9223372036854775807], got {2**63}"),
    (["--length", "-1"], "argument --length: expected an integer in [0, 1000000], got -1"),
    (["--length", "10000000000"], "argument --length: expected an integer in [0, 1000000], got 10000000000"),
    (["--top-k", "0"], "argument --top-k: expected an integer >= 1, got 0"),
    (["--temperature", "nan"], "argument --temperature: expected a finite number, got 'nan'"),
    (["--temperature", "inf"], "argument --temperature: expected a finite number, got 'inf'"),
]


@pytest.mark.parametrize(("args", "message"), SAMPLE_BAD_VALUES)
def test_sample_refuses_bad_values_while_parsing(args: list[str], message: str, capsys, monkeypatch) -> None:
    """Each value is refused before the checkpoint is read, naming the option (never a Python name)."""
    monkeypatch.setattr("numpy_lstm_app.cli.sample.run", lambda _: pytest.fail("the command started working"))
    assert main(["sample", "--checkpoint", "none.npz", "--prime", "a", *args]) == 2
    out, err = capsys.readouterr()
    *usage, last = err.rstrip("\n").split("\n")
    assert out == "" and usage[0].startswith("usage: numpy-lstm sample"), err
    assert last == f"numpy-lstm sample: error: {message}", last
    assert "top_k" not in err and "None" not in err


def test_sample_help_says_what_happens_without_top_k(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["sample", "--help"]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("--top-k")]
    assert "(default: all tokens)" in line, line


def test_sample_stops_in_one_line_with_status_1_when_the_model_gives_logits_that_are_not_finite(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    ckpt = _checkpoint(tmp_path, ["a b", "a a b b", "a b a b"] * 3, "--level", "word")
    real = numpy_stepper

    def overflowing(model: NextTokenModel):  # weights so large that the logits overflow to inf
        step = real(model)
        return lambda ids, state: ((lambda out: (out[0] * np.inf, out[1]))(step(ids, state)))

    monkeypatch.setattr("numpy_lstm_app.cli.sample.numpy_stepper", overflowing)
    capsys.readouterr()
    assert main(["sample", "--checkpoint", str(ckpt), "--prime", "a"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert err.startswith(f"numpy-lstm sample: error: --checkpoint {ckpt}: sample_next: the logits must be finite")
