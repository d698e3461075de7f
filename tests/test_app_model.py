"""NextTokenModel against its PyTorch twin Net (float64), by name; and a finite-difference check."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numpy_lstm import Linear, no_grad
from numpy_lstm.losses import IGNORE_INDEX, cross_entropy, cross_entropy_backward
from numpy_lstm_app.data import one_hot
from numpy_lstm_app.model import ModelConfig, NextTokenModel, parameter_shapes
from numpy_lstm_app.torch_model import net_from_numpy, numpy_from_net


def _batch(rng: np.random.Generator, T: int, N: int, V: int):
    lengths = rng.integers(1, T + 1, size=N)
    lengths[rng.integers(N)] = T
    ids = rng.integers(0, V, size=(T, N))
    targets = rng.integers(0, V, size=(T, N))
    targets[np.arange(T)[:, None] >= lengths[None, :]] = IGNORE_INDEX
    return one_hot(ids, V, lengths, np.float64), targets, lengths, ids


@settings(max_examples=12, deadline=None)
@given(
    V=st.integers(2, 6),
    H=st.integers(2, 6),
    layers=st.integers(1, 2),
    proj=st.booleans(),
    E=st.sampled_from([0, 3]),
    T=st.integers(1, 6),
    N=st.integers(1, 4),
    seed=st.integers(0, 10**6),
)
def test_model_loss_and_grads_match_torch(V, H, layers, proj, E, T, N, seed) -> None:
    cfg = ModelConfig(V, H, layers, proj_size=1 if proj else 0, dtype="float64", embedding_dim=E)
    model = NextTokenModel(cfg, seed=seed)
    net = net_from_numpy(model)
    rng = np.random.default_rng(seed)
    _, targets, lengths, ids = _batch(rng, T, N, V)
    x = model.encode(ids, lengths)  # one-hot (T, N, V), or the ids (T, N) for an embedding
    logits = model(x, lengths)
    loss, cache = cross_entropy(logits, targets)
    model.backward(cross_entropy_backward(cache))
    tlogits = net(torch.from_numpy(x), torch.from_numpy(lengths))
    tloss = torch.nn.functional.cross_entropy(tlogits.reshape(-1, V), torch.from_numpy(targets).reshape(-1))
    tloss.backward()
    assert logits.shape == tuple(tlogits.shape) == (T, N, V)
    np.testing.assert_allclose(logits, tlogits.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg="logits")
    np.testing.assert_allclose(loss, tloss.item(), rtol=1e-12, err_msg="loss")
    names = [n for n, _ in net.named_parameters()]
    assert names == list(model.params), "same names, same order as the twin's state_dict"
    for name, p in net.named_parameters():
        assert model.grads[name].shape == tuple(p.shape), f"shape grad {name}"
        np.testing.assert_allclose(model.grads[name], p.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=f"grad {name}")


def test_twin_replays_numpy_dropout_masks() -> None:
    V, T, N = 5, 6, 4
    model = NextTokenModel(ModelConfig(V, 6, num_layers=3, proj_size=2, dropout=0.4, dtype="float64"), seed=3)
    net = net_from_numpy(model)
    x, targets, lengths, _ = _batch(np.random.default_rng(3), T, N, V)
    loss, cache = cross_entropy(model(x, lengths), targets)  # training mode: masks drawn
    model.backward(cross_entropy_backward(cache))
    masks = model.lstm.dropout_masks
    assert [m is None for m in masks] == [False, False, True], "dropout after every layer but the last"
    tmasks = [None if m is None else torch.from_numpy(m) for m in masks]
    tlogits = net(torch.from_numpy(x), torch.from_numpy(lengths), tmasks)
    tloss = torch.nn.functional.cross_entropy(tlogits.reshape(-1, V), torch.from_numpy(targets).reshape(-1))
    tloss.backward()
    np.testing.assert_allclose(loss, tloss.item(), rtol=1e-12, err_msg="loss")
    assert [n for n, _ in net.named_parameters()] == list(model.params), "the same names: no renaming"
    for name, p in net.named_parameters():
        np.testing.assert_allclose(model.grads[name], p.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=f"grad {name}")


def test_model_finite_differences() -> None:
    """The loss gradient, checked without torch: central differences on sampled entries."""
    rng = np.random.default_rng(0)
    model = NextTokenModel(ModelConfig(5, 4, 2, proj_size=2, dtype="float64"), seed=1)
    x, targets, lengths, _ = _batch(rng, 5, 3, 5)

    def loss() -> float:
        with no_grad():
            return cross_entropy(model(x, lengths), targets)[0]

    model.zero_grad()
    _, cache = cross_entropy(model(x, lengths), targets)
    model.backward(cross_entropy_backward(cache))
    eps = 1e-6
    for name, p in model.params.items():
        for flat in rng.choice(p.size, size=min(4, p.size), replace=False):
            idx = np.unravel_index(flat, p.shape)
            old = p[idx]
            p[idx] = old + eps
            up = loss()
            p[idx] = old - eps
            down = loss()
            p[idx] = old
            np.testing.assert_allclose(
                model.grads[name][idx], (up - down) / (2 * eps), rtol=1e-5, atol=1e-9, err_msg=f"grad {name}{idx}"
            )


def test_params_are_the_submodules_arrays_and_shared_with_torch() -> None:
    model = NextTokenModel(ModelConfig(4, 3, dtype="float64"), seed=0)
    assert model.params["lstm.weight_hh_l0"] is model.lstm.params["weight_hh_l0"]
    assert model.grads["fc.bias"] is model.fc.grads["bias"]
    net = net_from_numpy(model, share_memory=True)
    model.params["fc.bias"][...] = 7.0
    assert torch.all(net.fc.bias == 7.0), "shared memory: a NumPy write shows in torch"
    with torch.no_grad():
        net.lstm.weight_ih_l0.mul_(0)
    assert np.all(model.params["lstm.weight_ih_l0"] == 0), "and a torch write shows in NumPy"
    x = one_hot(np.array([[1], [2]]), 4, dtype=np.float64)
    np.testing.assert_allclose(model(x), net(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)
    back = numpy_from_net(net)
    for name in model.params:
        np.testing.assert_array_equal(back.params[name], model.params[name], err_msg=name)


def test_model_refuses_bidirectional_and_bad_input() -> None:
    with pytest.raises(ValueError, match="cannot be bidirectional"):
        NextTokenModel(ModelConfig(4), bidirectional=True)
    model = NextTokenModel(ModelConfig(4))
    with pytest.raises(ValueError, match=r"expected one-hot \(seq_len, batch, 4\), got \(2, 3\)"):
        model(np.zeros((2, 3), np.float32))


def test_astype_keeps_names_values_and_links() -> None:
    model = NextTokenModel(ModelConfig(4, 3, embedding_dim=2), seed=2)
    m64 = model.astype(np.float64)
    assert m64.params["fc.weight"] is m64.fc.params["weight"]
    assert m64.config.dtype == "float64" and m64.embedding.dtype == np.float64
    for name, v in model.params.items():
        assert m64.params[name].dtype == np.float64
        np.testing.assert_array_equal(m64.params[name], v.astype(np.float64), err_msg=name)


def test_embedding_model_names() -> None:
    model = NextTokenModel(ModelConfig(6, 4, embedding_dim=3, dtype="float64"), seed=0)
    assert list(model.params)[:2] == ["embedding.weight", "lstm.weight_ih_l0"]
    assert model.params["embedding.weight"].shape == (6, 3) and model.params["lstm.weight_ih_l0"].shape == (16, 3)
    one_hot_model = NextTokenModel(ModelConfig(6, 4), seed=0)
    assert "embedding.weight" not in one_hot_model.params
    # a one-hot model's weights come from the seed exactly as before the embedding option existed
    lstm_seed, fc_seed = (int(v) for v in np.random.default_rng(0).integers(0, 2**63 - 1, size=2))
    fc = Linear(4, 6, dtype=np.float32, seed=fc_seed)
    np.testing.assert_array_equal(one_hot_model.params["fc.bias"], fc.params["bias"])
    with pytest.raises(ValueError, match="embedding_dim must be >= 0"):
        NextTokenModel(ModelConfig(6, embedding_dim=-1))
    with pytest.raises(ValueError, match=r"expected token ids \(seq_len, batch\), got \(2, 3, 6\)"):
        model(np.zeros((2, 3, 6)))


@pytest.mark.parametrize(
    "cfg",
    [
        ModelConfig(4),
        ModelConfig(7, 5, num_layers=3, proj_size=2, dropout=0.2),
        ModelConfig(3, 1, bias=False, dtype="float64"),
        ModelConfig(9, 6, num_layers=2, bias=False, proj_size=5),
        ModelConfig(8, 5, num_layers=2, embedding_dim=3),
    ],
    ids=["default", "3-layers-proj", "no-bias", "2-layers-proj-no-bias", "embedding"],
)
def test_parameter_shapes_are_the_state_dicts(cfg: ModelConfig) -> None:
    """The arithmetic gives the same names, order and shapes as a model that is built."""
    built = {name: value.shape for name, value in NextTokenModel(cfg).state_dict().items()}
    assert list(parameter_shapes(cfg).items()) == list(built.items())
