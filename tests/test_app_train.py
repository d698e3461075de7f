"""The training loop: NumPy and PyTorch in lockstep (float64), learning, divergence, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

from numpy_lstm_app.backend import NumpyBackend, OptimConfig
from numpy_lstm_app.checkpoint import read_checkpoint, save_checkpoint
from numpy_lstm_app.data import best_accuracy_on, make_batches
from numpy_lstm_app.dataset import DataConfig, build_dataset
from numpy_lstm_app.model import ModelConfig, NextTokenModel
from numpy_lstm_app.torch_backend import TorchBackend
from numpy_lstm_app.train import METRICS, Diverged, TrainConfig, evaluate, fit, new_history

SMALL = DataConfig(sequences=48, k_min=1, k_max=5, seed=3)


@pytest.mark.parametrize(
    "optim, model_kw",
    [
        (OptimConfig("sgd", 0.3, momentum=0.9, weight_decay=1e-3, clip=0.5), dict(hidden_size=8)),
        (OptimConfig("adam", 0.01, weight_decay=1e-3, clip=0.5), dict(hidden_size=8, num_layers=2, proj_size=3)),
        (OptimConfig("adam", 0.01, clip=1.0), dict(hidden_size=8, num_layers=3, dropout=0.3)),
        (OptimConfig("adam", 0.01), dict(hidden_size=8, num_layers=2, dropout=0.2, embedding_dim=5)),
    ],
    ids=["sgd-momentum-clip", "adam-clip-2layers-proj", "adam-3layers-dropout-replayed", "adam-embedding-dropout"],
)
def test_numpy_and_torch_train_in_lockstep(optim: OptimConfig, model_kw: dict) -> None:
    data = build_dataset(SMALL)
    model = NextTokenModel(ModelConfig(len(data.vocab), dtype="float64", **model_kw), seed=1)
    numpy_backend = NumpyBackend(model, optim)
    backends = [numpy_backend, TorchBackend(model, optim, "cpu", seed=1, mask_source=numpy_backend.dropout_masks)]
    hist = fit(backends, data.encoded[0], data.encoded[1], TrainConfig(4, 8, 1), new_history(["numpy", "torch"]))
    assert hist["epoch"] == [1, 2, 3, 4]
    for key in METRICS:
        np.testing.assert_allclose(
            hist["backends"]["numpy"][key], hist["backends"]["torch"][key], rtol=0, atol=1e-9, err_msg=key
        )
    assert max(hist["max_abs_loss_diff"]) < 1e-9, "every batch loss agrees, not just the epoch means"
    assert hist["backends"]["numpy"]["train_loss"][-1] < hist["backends"]["numpy"]["train_loss"][0]
    a, b = backends[0].state_arrays(), backends[1].state_arrays()
    assert sorted(a) == sorted(b), "same checkpoint entries from both backends"
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-7, atol=1e-9, err_msg=name)


@pytest.mark.slow
def test_default_task_is_learned_to_the_ceiling() -> None:
    data = build_dataset(DataConfig())
    model = NextTokenModel(ModelConfig(len(data.vocab)), seed=0)  # the CLI defaults, float32
    backend = NumpyBackend(model, OptimConfig())
    hist = fit([backend], data.encoded[0], data.encoded[1], TrainConfig(), new_history(["numpy"]))
    test, _ = evaluate([backend], make_batches(data.encoded[2], 16))
    best = best_accuracy_on(data.splits.test, 1, 9)
    majority = max(np.mean(np.concatenate(data.encoded[2])[None] == v) for v in range(len(data.vocab)))
    # within 5 points of the Bayes-optimal predictor on the same tokens (the late epochs wander by
    # about 3 points, and BLAS rounding on another machine leads to another late trajectory)
    assert test["numpy"].accuracy >= best - 0.05, (test["numpy"].accuracy, best)
    assert test["numpy"].accuracy > majority + 0.2
    assert hist["backends"]["numpy"]["val_loss"][-1] < 0.5 * hist["backends"]["numpy"]["val_loss"][0]


class _Corrupting(NumpyBackend):
    """Puts a NaN into a weight at the start of epoch ``bad_epoch``."""

    bad_epoch = 3

    def begin_epoch(self, seed: int, epoch: int) -> None:
        super().begin_epoch(seed, epoch)
        if epoch == self.bad_epoch:
            self.model.params["fc.weight"][0, 0] = np.nan


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path) -> None:
    data = build_dataset(SMALL)
    backend = _Corrupting(NextTokenModel(ModelConfig(len(data.vocab), 6), seed=0), OptimConfig())
    path = tmp_path / "ckpt.npz"

    def save(epoch, hist):
        save_checkpoint(path, backend.state_arrays(), {"epoch": epoch})

    hist = new_history(["numpy"])
    with pytest.raises(Diverged, match=r"numpy loss became nan at epoch 3, batch 1"):
        fit([backend], data.encoded[0], data.encoded[1], TrainConfig(6, 8, 0), hist, save)
    arrays, meta = read_checkpoint(path)
    assert meta["epoch"] == 2 and hist["epoch"] == [1, 2]
    assert all(np.all(np.isfinite(v)) for v in arrays.values())


def test_checkpoint_is_atomic_and_rejects_foreign_files(tmp_path) -> None:
    path = tmp_path / "c.npz"
    save_checkpoint(path, {"model.w": np.arange(3.0)}, {"epoch": 1})
    before = path.read_bytes()
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(path, {"meta": np.zeros(1)}, {"epoch": 2})
    assert path.read_bytes() == before, "a failed write leaves the old file"
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"], "and no temporary file"
    (tmp_path / "plain").write_bytes(b"")
    assert path.stat().st_mode & 0o777 == (tmp_path / "plain").stat().st_mode & 0o777, "usual permissions"
    np.savez(tmp_path / "other.npz", x=np.zeros(2))
    with pytest.raises(ValueError, match="not a numpy-lstm checkpoint"):
        read_checkpoint(tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable .npz"):
        read_checkpoint(tmp_path / "junk.npz")


@pytest.mark.parametrize("first, second", [("numpy", "torch"), ("torch", "numpy")])
def test_checkpoint_moves_between_backends(first: str, second: str) -> None:
    """Train 2 epochs in one backend, continue 2 in the other: equal to 4 epochs uninterrupted."""
    data = build_dataset(SMALL)
    cfg = ModelConfig(len(data.vocab), 6, dtype="float64")
    optim = OptimConfig("adam", 0.01, clip=1.0)
    make = {"numpy": lambda m: NumpyBackend(m, optim), "torch": lambda m: TorchBackend(m, optim, "cpu")}
    ref = make[first](NextTokenModel(cfg, seed=5))
    ref_hist = fit([ref], data.encoded[0], data.encoded[1], TrainConfig(4, 8, 0), new_history([first]))
    a = make[first](NextTokenModel(cfg, seed=5))
    hist = fit([a], data.encoded[0], data.encoded[1], TrainConfig(2, 8, 0), new_history([first]))
    b = make[second](NextTokenModel(cfg, seed=99))  # other initial weights: all must come from the state
    b.load_state_arrays(a.state_arrays())
    hist["backends"][second] = hist["backends"].pop(first)
    fit([b], data.encoded[0], data.encoded[1], TrainConfig(4, 8, 0), hist)
    for key in METRICS:
        np.testing.assert_allclose(
            hist["backends"][second][key], ref_hist["backends"][first][key], rtol=0, atol=1e-9, err_msg=key
        )
