"""Hand-edited checkpoints: every field is checked before anything runs.

A real checkpoint (``small_checkpoint``: 3 epochs of Adam, hidden 12, the built-in task, so 10
batches an epoch and ``optim.steps == 30``) is edited one field at a time and written back without
any checking.  ``train --resume``, ``gates`` and ``gradflow`` must each answer with one line on
stderr naming what is wrong, exit status 2, and write nothing.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from numpy_lstm_app.checkpoint import CheckpointError, load_checkpoint, read_checkpoint
from numpy_lstm_app.checkpoint_schema import _MODEL_KEYS
from numpy_lstm_app.cli import main
from numpy_lstm_app.model import ModelConfig

Arrays = dict[str, np.ndarray]
Meta = dict[str, Any]


def write_raw(path: Path, arrays: Arrays, meta: Any) -> None:
    """An .npz as ``np.savez`` writes it, with ``meta`` as given (a dict becomes JSON, NaN and all)."""
    text = meta if isinstance(meta, str) else json.dumps(meta)
    np.savez(path, meta=np.array(text), **arrays)


def _set(*keys: Any, value: Any) -> Callable[[Arrays, Meta], None]:
    def edit(arrays: Arrays, meta: Meta) -> None:
        target = meta
        for k in keys[:-1]:
            target = target[k]
        target[keys[-1]] = value

    return edit


def _del(*keys: Any) -> Callable[[Arrays, Meta], None]:
    def edit(arrays: Arrays, meta: Meta) -> None:
        target = meta
        for k in keys[:-1]:
            target = target[k]
        del target[keys[-1]]

    return edit


def _array(name: str, value: Callable[[np.ndarray | None], Any]) -> Callable[[Arrays, Meta], None]:
    def edit(arrays: Arrays, meta: Meta) -> None:
        new = value(arrays.get(name))
        if new is None:
            del arrays[name]
        else:
            arrays[name] = new

    return edit


def _nan_at(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.flat[0] = np.nan
    return a


def _history(key: str, value: Any) -> Callable[[Arrays, Meta], None]:
    def edit(arrays: Arrays, meta: Meta) -> None:
        meta["history"]["backends"]["numpy"][key] = value(meta["history"]["backends"]["numpy"][key])

    return edit


def _both(*edits: Callable[[Arrays, Meta], None]) -> Callable[[Arrays, Meta], None]:
    def edit(arrays: Arrays, meta: Meta) -> None:
        for e in edits:
            e(arrays, meta)

    return edit


# (id, edit, a fragment of the expected message)
EDITS: list[tuple[str, Callable[[Arrays, Meta], None], str]] = [
    # missing keys
    ("no-history", _del("history"), "missing ['history']"),
    ("no-run", _del("run"), "missing ['run']"),
    ("no-hidden-size", _del("model", "hidden_size"), "model: expected exactly the keys"),
    ("no-vocab", _del("vocab"), "missing ['vocab']"),
    ("no-epoch", _del("epoch"), "missing ['epoch']"),
    ("no-clip", _del("optim", "clip"), "missing ['clip']"),
    ("no-train", _del("train"), "missing ['train']"),
    ("no-k-max", _del("data", "k_max"), "missing ['k_max']"),
    ("no-val-loss", _del("history", "backends", "numpy", "val_loss"), "missing ['val_loss']"),
    # extra keys
    ("extra-top-key", _set("extra", value=1), "unexpected ['extra']"),
    ("extra-model-key", _set("model", "colour", value="red"), "unexpected ['colour']"),
    # wrong types
    ("hidden-size-str", _set("model", "hidden_size", value="12"), "model.hidden_size: expected an integer"),
    ("hidden-size-float", _set("model", "hidden_size", value=12.0), "model.hidden_size: expected an integer"),
    ("epoch-str", _set("epoch", value="3"), "epoch: expected an integer"),
    ("epoch-fraction", _set("epoch", value=2.7), "epoch: expected an integer"),
    ("history-list", _set("history", value=[]), "history: expected an object"),
    ("vocab-str", _set("vocab", value="UNK EOS a b"), "vocab: expected a list of 4 tokens"),
    ("lr-str", _set("optim", "lr", value="fast"), "optim.lr: expected a finite number"),
    ("model-null", _set("model", value=None), "model: expected an object"),
    ("dtype-other", _set("model", "dtype", value="float16"), "model.dtype: expected one of"),
    ("optimizer-other", _set("optim", "name", value="rmsprop"), "optim.name: expected one of"),
    ("bias-int", _set("model", "bias", value=1), "model.bias: expected one of [True, False]"),
    # bool for int
    ("layers-bool", _set("model", "num_layers", value=True), "model.num_layers: expected an integer"),
    ("epoch-bool", _set("epoch", value=True), "epoch: expected an integer"),
    ("batch-size-bool", _set("train", "batch_size", value=True), "train.batch_size: expected an integer"),
    # out of range, huge
    ("hidden-size-0", _set("model", "hidden_size", value=0), "model.hidden_size: expected an integer in [1,"),
    ("layers-0", _set("model", "num_layers", value=0), "model.num_layers: expected an integer in [1, 64]"),
    ("layers-huge", _set("model", "num_layers", value=10**7), "model.num_layers: expected an integer in [1, 64]"),
    ("hidden-size-huge", _set("model", "hidden_size", value=30000), "the limit is 1.0 GiB"),
    ("vocab-size-huge", _set("model", "vocab_size", value=10**12), "model.vocab_size: expected an integer"),
    ("proj-size-hidden", _set("model", "proj_size", value=12), "model.proj_size: expected an integer in [0, 11]"),
    ("dropout-1.5", _set("model", "dropout", value=1.5), "model.dropout: expected a finite number in [0.0, 1.0)"),
    ("dropout-one-layer", _set("model", "dropout", value=0.5), "needs num_layers >= 2"),
    ("lr-negative", _set("optim", "lr", value=-1), "optim.lr: expected a finite number in (0.0, inf)"),
    ("lr-zero", _set("optim", "lr", value=0), "optim.lr"),
    ("momentum-adam", _set("optim", "momentum", value=0.9), "applies to sgd only"),
    ("clip-zero", _set("optim", "clip", value=0), "optim.clip"),
    ("seed-negative", _set("train", "seed", value=-1), "train.seed: expected an integer in [0,"),
    ("batch-size-0", _set("train", "batch_size", value=0), "train.batch_size"),
    ("epoch-0", _set("epoch", value=0), "epoch: expected an integer in [1, 3]"),
    ("epoch-beyond-history", _both(_set("epoch", value=4), _set("run", "epochs", value=4)), "history.epoch"),
    ("epoch-huge", _set("epoch", value=10**9), "epoch: expected an integer in [1, 3]"),
    ("run-epochs-0", _set("run", "epochs", value=0), "run.epochs"),
    ("run-epochs-below-epoch", _set("run", "epochs", value=2), "epoch: expected an integer in [1, 2]"),
    ("backend-other", _set("run", "backend", value="jax"), "run.backend: expected one of"),
    ("device-other", _set("run", "device", value="tpu"), "run.device: expected one of"),
    ("train-sequences-off", _set("run", "train_sequences", value=159), "run.train_sequences: expected 160"),
    ("text-path-for-task", _set("run", "text", value="/tmp/x.txt"), "run.text: expected null"),
    ("k-max-huge", _set("data", "k_max", value=10**6), "data.k_max: expected an integer in [1, 5000]"),
    ("k-min-0", _set("data", "k_min", value=0), "data.k_min"),
    ("data-seed-other", _set("data", "seed", value=1), "data.seed: expected the run's seed 0"),
    ("data-task-other", _set("data", "task", value="zzz"), "data.task: expected 'anbn'"),
    ("data-sequences-2", _set("data", "sequences", value=2), "data.sequences"),
    ("text-task-without-file", _set("data", value={"task": "text", "file": "poems.txt"}), "data: expected exactly"),
    # NaN and numbers out of their range in the history
    ("loss-nan", _history("train_loss", lambda v: [math.nan, *v[1:]]), "NaN is not a JSON number"),
    ("loss-infinite", _history("train_loss", lambda v: [math.inf, *v[1:]]), "Infinity is not a JSON number"),
    ("lr-nan", _set("optim", "lr", value=math.nan), "NaN is not a JSON number"),
    ("accuracy-above-1", _history("val_accuracy", lambda v: [1.5, *v[1:]]), "val_accuracy[0]"),
    ("loss-diff-negative", _set("history", "max_abs_loss_diff", value=[-1.0, 0.0, 0.0]), "max_abs_loss_diff[0]"),
    # the history's lengths against the epoch
    ("history-epochs-short", _set("history", "epoch", value=[1, 2]), "history.epoch: expected [1, ..., 3]"),
    ("history-loss-short", _history("train_loss", lambda v: v[:2]), "train_loss: expected a list of 3 numbers"),
    ("history-other-backend", _set("history", "backends", value={"torch": None}), "history.backends: expected"),
    # the vocabulary
    ("vocab-specials-swapped", _set("vocab", value=["EOS", "UNK", "a", "b"]), "starting with ['UNK', 'EOS']"),
    ("vocab-duplicate", _set("vocab", value=["UNK", "EOS", "a", "a"]), "unique tokens, sorted"),
    ("vocab-unsorted", _set("vocab", value=["UNK", "EOS", "b", "a"]), "unique tokens, sorted"),
    ("vocab-longer", _set("vocab", value=["UNK", "EOS", "a", "b", "c"]), "a list of 4 tokens"),
    ("vocab-other-task", _set("vocab", value=["UNK", "EOS", "a", "c"]), "for the built-in task"),
    ("vocab-numbers", _set("vocab", value=[1, 2, 3, 4]), "vocab[0]: expected a non-empty string"),
    # nested junk
    ("hidden-size-nested", _set("model", "hidden_size", value={"a": [1, {"b": 2}]}), "model.hidden_size"),
    ("loss-nested", _history("train_loss", lambda v: [[1]] * 3), "train_loss[0]: expected a finite number"),
    ("format-other", _set("format", value="other"), "not a numpy-lstm checkpoint"),
    ("version-1", _set("version", value=1), "version 1 did not record the run's options"),
    ("version-str", _set("version", value="2"), "expected checkpoint version 2, got '2'"),
    # arrays: missing, extra, shape, dtype, values
    ("no-fc-bias", _array("model.fc.bias", lambda a: None), "missing ['model.fc.bias']"),
    ("no-adam-exp-avg", _array("optim.exp_avg.fc.weight", lambda a: None), "missing ['optim.exp_avg.fc.weight']"),
    ("no-steps", _array("optim.steps", lambda a: None), "missing ['optim.steps']"),
    ("extra-array", _array("model.extra", lambda a: np.zeros(3, np.float32)), "unexpected ['model.extra']"),
    ("extra-slot", _array("optim.momentum_buffer.fc.bias", lambda a: np.zeros(4, np.float32)), "unexpected"),
    ("shape-transposed", _array("model.fc.weight", lambda a: a.T.copy()), "'model.fc.weight' has shape (12, 4)"),
    ("shape-slot", _array("optim.exp_avg_sq.fc.bias", lambda a: np.zeros(5, np.float32)), "has shape (5,)"),
    ("dtype-float64", _array("model.fc.bias", lambda a: a.astype(np.float64)), "dtype float64, expected (4,) float32"),
    ("dtype-big-endian", _array("model.fc.bias", lambda a: a.astype(">f4")), "dtype >f4"),
    ("steps-fraction", _array("optim.steps", lambda a: np.array(2.7)), "'optim.steps' has shape () dtype float64"),
    ("steps-int32", _array("optim.steps", lambda a: np.array(30, np.int32)), "dtype int32"),
    ("steps-0", _array("optim.steps", lambda a: np.array(0, np.int64)), "'optim.steps': expected 30"),
    ("steps-off-by-one", _array("optim.steps", lambda a: np.array(29, np.int64)), "expected 30 (3 epoch(s) x 10"),
    ("weight-nan-value", _array("model.lstm.weight_hh_l0", _nan_at), "'model.lstm.weight_hh_l0': holds NaN"),
    ("exp-avg-inf", _array("optim.exp_avg.fc.bias", lambda a: np.full_like(a, np.inf)), "holds NaN or infinite"),
    ("exp-avg-sq-negative", _array("optim.exp_avg_sq.fc.bias", lambda a: -np.ones_like(a)), "must be >= 0"),
    ("object-array", _array("model.fc.bias", lambda a: np.array([1, "x"], dtype=object)), "Python objects"),
    ("sgd-momentum-with-adam-state", _both(_set("optim", "name", value="sgd"), _set("optim", "momentum", value=0.9)),
     "missing ['optim.momentum_buffer.lstm.weight_ih_l0'"),
]

RAW: list[tuple[str, Callable[[Path, Arrays, Meta], None], str]] = [
    ("meta-not-json", lambda p, a, m: write_raw(p, a, "{not json"), "not valid JSON"),
    ("meta-deeply-nested", lambda p, a, m: write_raw(p, a, "[" * 100_000 + "]" * 100_000), "nested too deeply"),
    ("meta-nan-constant", lambda p, a, m: write_raw(p, a, json.dumps(m).replace('"lr": 0.01', '"lr": NaN')),
     "not valid JSON (NaN is not a JSON number)"),
    ("meta-duplicate-key", lambda p, a, m: write_raw(p, a, json.dumps(m)[:-1] + ', "epoch": 2}'),
     "a key appears twice"),
    ("meta-top-list", lambda p, a, m: write_raw(p, a, "[]"), "expected format"),
    ("meta-number-array", lambda p, a, m: np.savez(p, meta=np.arange(3), **a), "its 'meta' entry should be one string"),
    ("no-meta", lambda p, a, m: np.savez(p, **a), "not a numpy-lstm checkpoint (no 'meta' entry)"),
    ("text-file", lambda p, a, m: p.write_text("hello"), "not a readable .npz checkpoint"),
    ("empty-file", lambda p, a, m: p.write_bytes(b""), "not a readable .npz checkpoint"),
    ("npy-pickle", lambda p, a, m: p.write_bytes(_pickled_npy()), "not a readable .npz checkpoint"),
    ("zip-with-junk", lambda p, a, m: _zip_with(p, "notes.txt", b"hi"), "not an .npy array: 'notes.txt'"),
    ("zip-bad-header", lambda p, a, m: _zip_with(p, "meta.npy", b"\x93NUMPY\x01\x00junk"), "the header of 'meta'"),
    ("zip-encrypted", lambda p, a, m: _encrypted(p, a, m), "the header of 'meta' is bad"),
]


def _encrypted(path: Path, arrays: Arrays, meta: Meta) -> None:
    """The checkpoint with its first member marked encrypted (bit 0 of the central directory's flags)."""
    write_raw(path, arrays, meta)
    data = bytearray(path.read_bytes())
    entry = data.index(b"PK\x01\x02")  # the first central directory entry: 'meta.npy'
    data[entry + 8] |= 0x01
    path.write_bytes(bytes(data))


def _pickled_npy() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return buf.getvalue()


def _zip_with(path: Path, name: str, data: bytes) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(name, data)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.exists() else {}


def _refused(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    assert main(argv) == 2, argv
    err = capsys.readouterr().err
    command = argv[0]
    assert err.count("\n") == 1 and err.startswith(f"numpy-lstm {command}: error: "), err
    return err


def _check_all_commands(capsys: pytest.CaptureFixture, path: Path, tmp: Path, fragment: str) -> None:
    folder = path.parent
    before = _snapshot(folder)
    capsys.readouterr()
    for argv in (
        ["train", "--resume", str(path)],  # writes into the checkpoint's folder if it ever ran
        ["gates", "--checkpoint", str(path), "--text", "a b", "--out", str(tmp / "gates")],
        ["gradflow", "--checkpoint", str(path), "--steps", "4", "--out", str(tmp / "gradflow")],
    ):
        err = _refused(capsys, argv)
        assert fragment in err, f"{argv[0]}: expected {fragment!r} in {err}"
        assert "allow_pickle" not in err and "Traceback" not in err, err
    assert _snapshot(folder) == before, "the checkpoint's folder is unchanged"
    assert not (tmp / "gates").exists() and not (tmp / "gradflow").exists(), "no output folder was made"


@pytest.mark.parametrize("name, edit, fragment", EDITS, ids=[e[0] for e in EDITS])
def test_a_hand_edited_field_is_refused_by_every_command(
    small_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture, name: str, edit: Any, fragment: str
) -> None:
    arrays, meta = read_checkpoint(small_checkpoint)
    edit(arrays, meta)
    path = tmp_path / "run" / "checkpoint.npz"
    path.parent.mkdir()
    write_raw(path, arrays, meta)
    _check_all_commands(capsys, path, tmp_path, fragment)


@pytest.mark.parametrize("name, write, fragment", RAW, ids=[e[0] for e in RAW])
def test_a_broken_file_is_refused_by_every_command(
    small_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture, name: str, write: Any, fragment: str
) -> None:
    arrays, meta = read_checkpoint(small_checkpoint)
    path = tmp_path / "run" / "checkpoint.npz"
    path.parent.mkdir()
    write(path, arrays, meta)
    _check_all_commands(capsys, path, tmp_path, fragment)


@pytest.mark.slow
def test_the_unedited_checkpoint_passes_every_command(small_checkpoint: Path, tmp_path: Path, capsys) -> None:
    """The control: the same harness, the checkpoint rewritten unedited, is accepted everywhere."""
    arrays, meta = read_checkpoint(small_checkpoint)
    path = tmp_path / "run" / "checkpoint.npz"
    path.parent.mkdir()
    write_raw(path, arrays, meta)
    ckpt = load_checkpoint(path)
    assert ckpt.description.epoch == 3 and ckpt.description.steps == int(ckpt.arrays["optim.steps"]) == 30
    assert main(["gates", "--checkpoint", str(path), "--text", "a b", "--out", str(tmp_path / "g")]) == 0
    assert main(["gradflow", "--checkpoint", str(path), "--steps", "4", "--out", str(tmp_path / "f")]) == 0
    assert main(["train", "--resume", str(path)]) == 0
    out = capsys.readouterr().out
    assert "already at epoch 3" in out
    assert {p.name for p in path.parent.iterdir()} == {"checkpoint.npz", "metrics.json", "loss.png"}


def test_a_directory_or_missing_path(tmp_path: Path, capsys) -> None:
    for argv in (["train", "--resume"], ["gates", "--checkpoint"], ["gradflow", "--checkpoint"]):
        assert "is a directory, not a checkpoint file" in _refused(capsys, [*argv, str(tmp_path)])
        assert "checkpoint not found" in _refused(capsys, [*argv, str(tmp_path / "nope.npz")])


def test_the_schema_covers_every_model_config_field() -> None:
    """A field added to ModelConfig needs its rule in the checkpoint schema (else checkpoints lose it)."""
    assert _MODEL_KEYS == ModelConfig._fields


def test_load_checkpoint_raises_one_error_type(tmp_path: Path) -> None:
    (tmp_path / "x.npz").write_text("junk")
    with pytest.raises(CheckpointError, match="not a readable .npz checkpoint"):
        load_checkpoint(tmp_path / "x.npz")
