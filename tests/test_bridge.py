"""torch_ref.bridge: configuration and weights cross over, copied or shared."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import numpy_lstm
from torch_ref import TorchTree, from_torch, load_from_torch, load_into_torch, to_torch

CONFIGS = [
    dict(),
    dict(num_layers=3, bias=False, batch_first=True),
    dict(num_layers=2, bidirectional=True, proj_size=3, dropout=0.25),
]


@pytest.mark.parametrize("kwargs", CONFIGS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_to_torch_has_the_same_configuration_names_shapes_and_values(kwargs, dtype):
    m = numpy_lstm.LSTM(4, 6, dtype=dtype, seed=0, **kwargs)
    t = to_torch(m)
    for attr in ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "bidirectional", "proj_size"):
        assert getattr(t, attr) == getattr(m, attr), attr
    assert t.dropout == m.dropout
    state = t.state_dict()
    assert list(state) == list(m.params)  # names and order
    for k, v in state.items():
        assert v.dtype == {np.float32: torch.float32, np.float64: torch.float64}[dtype]
        np.testing.assert_array_equal(v.numpy(), m.params[k], err_msg=k)


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_from_torch_round_trip(kwargs):
    torch.manual_seed(0)
    t = torch.nn.LSTM(4, 6, dtype=torch.float64, **kwargs)
    m = from_torch(t)
    assert isinstance(m, numpy_lstm.LSTM) and m.dtype == np.float64
    back = to_torch(m)
    for k, v in t.state_dict().items():
        torch.testing.assert_close(back.state_dict()[k], v, rtol=0, atol=0)
    cell = from_torch(torch.nn.LSTMCell(3, 5))
    assert isinstance(cell, numpy_lstm.LSTMCell)
    assert list(cell.params) == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]


def test_copies_are_independent():
    m = numpy_lstm.LSTM(2, 3, seed=0)
    t = to_torch(m)
    m.params["weight_ih_l0"] += 1.0
    assert not np.allclose(t.weight_ih_l0.detach().numpy(), m.params["weight_ih_l0"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shared_memory_both_ways(dtype):
    m = numpy_lstm.LSTM(2, 3, num_layers=2, dtype=dtype, seed=0)
    t = to_torch(m, share_memory=True)
    with torch.no_grad():
        t.weight_hh_l1.mul_(2.0)  # an in-place torch update ...
    np.testing.assert_array_equal(m.params["weight_hh_l1"], t.weight_hh_l1.detach().numpy())  # ... shows in numpy
    m.params["bias_ih_l0"][...] = 0.5  # and the other way round
    assert torch.all(t.bias_ih_l0 == 0.5)
    x = np.random.default_rng(0).standard_normal((4, 2, 2)).astype(dtype)
    out_t, _ = t(torch.from_numpy(x))  # torch's forward sees the shared weights
    out, _ = m(x)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-5 if dtype == np.float32 else 1e-12)

    t2 = torch.nn.LSTM(2, 3, dtype=torch.float64)
    m2 = from_torch(t2, share_memory=True)
    with torch.no_grad():
        t2.bias_hh_l0.fill_(0.25)
    assert np.all(m2.params["bias_hh_l0"] == 0.25)


def test_bridge_rejects_what_it_cannot_convert():
    with pytest.raises(ValueError, match="Module has no parameters; expected LSTM, LSTMCell, Linear, Embedding"):
        to_torch(numpy_lstm.Module())
    with pytest.raises(ValueError, match="torch.nn.GRU, which has no NumPy twin"):
        from_torch(torch.nn.GRU(2, 3))
    with pytest.raises(ValueError, match="float32 or all float64"):
        from_torch(torch.nn.LSTM(2, 3, dtype=torch.float16))


class _Tagger(torch.nn.Module):
    """A torch model of one's own: embedding, LSTM, a list of heads."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(7, 3, padding_idx=0, dtype=torch.float64)
        self.lstm = torch.nn.LSTM(3, 4, num_layers=2, dtype=torch.float64)
        self.heads = torch.nn.ModuleList(
            [torch.nn.Linear(4, 2, dtype=torch.float64), torch.nn.Linear(4, 5, dtype=torch.float64)]
        )
        self.scale = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))


def test_trees_cross_over_with_their_names_and_back() -> None:
    torch.manual_seed(1)
    t = _Tagger().eval()
    m = from_torch(t)
    assert type(m) is numpy_lstm.Module and not m.training and not m.heads.training
    assert isinstance(m.embed, numpy_lstm.Embedding) and m.embed.padding_idx == 0
    assert isinstance(m.lstm, numpy_lstm.LSTM) and isinstance(getattr(m.heads, "1"), numpy_lstm.Linear)
    assert list(m.params) == list(t.state_dict())  # own parameter first, then children, as torch
    for name, v in t.state_dict().items():
        np.testing.assert_array_equal(m.params[name], v.numpy(), err_msg=name)
    back = to_torch(m)
    assert isinstance(back, TorchTree) and isinstance(back.heads, TorchTree) and isinstance(back.lstm, torch.nn.LSTM)
    assert list(back.state_dict()) == list(t.state_dict())
    for name, v in t.state_dict().items():
        torch.testing.assert_close(back.state_dict()[name], v, rtol=0, atol=0, msg=name)
    with pytest.raises(NotImplementedError, match="load_into_torch"):
        back(torch.zeros(1))
    fresh = _Tagger()
    load_into_torch(fresh, m)  # into the torch model the user already has, by name
    for name, v in t.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[name], v, rtol=0, atol=0, msg=name)


def test_load_into_torch_names_every_mismatch_and_writes_nothing() -> None:
    m = from_torch(_Tagger())
    target = _Tagger()
    target.heads[1] = torch.nn.Linear(4, 6, dtype=torch.float64)  # another shape
    target.lstm = torch.nn.LSTM(3, 4, num_layers=2, dtype=torch.float32)  # another dtype
    target.extra = torch.nn.Linear(1, 1, dtype=torch.float64)  # unexpected names
    del target.scale  # a missing name
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(ValueError) as err:
        load_into_torch(target, m)
    message = str(err.value)
    for part in [
        "nothing was written",
        "missing in torch: ['scale']",
        "not in the NumPy tree: ['extra.weight', 'extra.bias']",
        "'heads.1.weight' is (6, 4) in torch, (5, 4) in NumPy",
        "'lstm.weight_ih_l0' is torch.float32 in torch, float64 in NumPy",
    ]:
        assert part in message, (part, message)
    for name, v in target.state_dict().items():
        torch.testing.assert_close(v, before[name], rtol=0, atol=0, msg=f"{name} was written")


def test_shared_memory_into_an_existing_torch_model() -> None:
    m = from_torch(_Tagger())
    t = _Tagger()
    load_into_torch(t, m, share_memory=True)
    m.params["lstm.weight_hh_l1"][...] = 0.5
    m.params["embed.weight"][3] = 2.0
    assert torch.all(t.lstm.weight_hh_l1 == 0.5) and torch.all(t.embed.weight[3] == 2.0)
    out, _ = t.lstm(torch.ones(2, 1, 3, dtype=torch.float64))  # the LSTM's own weight list follows
    np.testing.assert_allclose(out.detach().numpy(), m.lstm(np.ones((2, 1, 3)))[0], rtol=1e-12)
    m2 = numpy_lstm.Module()
    m2.fc = numpy_lstm.Linear(2, 2, dtype=np.float64)
    t2 = to_torch(m2)
    load_from_torch(m2, t2, share_memory=True)
    with torch.no_grad():
        t2.fc.bias.fill_(3.0)
    assert np.all(m2.params["fc.bias"] == 3.0)


def test_trees_refuse_layers_without_a_twin() -> None:
    seq = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Conv1d(1, 1, 1))
    with pytest.raises(ValueError, match="'1' is a torch.nn.Conv1d, which has no NumPy twin"):
        from_torch(seq)

    class WithBuffer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(2, 2)
            self.register_buffer("running", torch.zeros(2))

    with pytest.raises(ValueError, match=r"not in the NumPy tree: \['running'\]"):
        from_torch(WithBuffer())
