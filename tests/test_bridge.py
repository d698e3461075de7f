"""torch_ref.bridge: configuration and weights cross over, copied or shared."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import numpy_lstm
from torch_ref import from_torch, to_torch

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
