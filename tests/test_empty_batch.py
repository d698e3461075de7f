"""A batch of zero sequences runs, as in PyTorch (empty outputs and states, zero gradients); a
sequence of zero steps is refused, as PyTorch refuses it."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import numpy_lstm
from torch_ref import to_torch

CONFIGS = [
    dict(),
    dict(batch_first=True),
    dict(num_layers=2, bidirectional=True, proj_size=2, dropout=0.5),
    dict(num_layers=2, batch_first=True, bias=False, dropout=1.0),
]


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_zero_sequences_match_torch(kwargs):
    m = numpy_lstm.LSTM(3, 4, dtype=np.float64, seed=0, **kwargs)
    m.grads["weight_ih_l0"] += 1.0  # accumulated from an earlier batch: must stay as it is
    T = 5
    x = np.zeros((0, T, 3) if m.batch_first else (T, 0, 3))
    out, (h_n, c_n) = m(x)
    t = to_torch(m).train()
    xt = torch.tensor(x, requires_grad=True)
    out_t, (h_t, c_t) = t(xt)
    assert out.shape == tuple(out_t.shape) and out.dtype == np.float64
    assert h_n.shape == tuple(h_t.shape) and c_n.shape == tuple(c_t.shape)
    (out_t.sum() + h_t.sum() + c_t.sum()).backward()
    dx, (dh0, dc0) = m.backward(np.zeros(out.shape), (np.zeros(h_n.shape), np.zeros(c_n.shape)))
    assert dx.shape == tuple(xt.grad.shape) == x.shape
    assert dh0.shape == h_n.shape and dc0.shape == c_n.shape
    for name, p in t.named_parameters():
        expect = p.grad.numpy() + (1.0 if name == "weight_ih_l0" else 0.0)  # torch: all zero
        np.testing.assert_array_equal(m.grads[name], expect, err_msg=f"grad {name}")


def test_zero_sequences_with_lengths_and_states():
    m = numpy_lstm.LSTM(3, 4, num_layers=2, dtype=np.float64, seed=0)
    out, (h_n, c_n) = m(np.zeros((5, 0, 3)), (np.zeros((2, 0, 4)), np.zeros((2, 0, 4))), lengths=[])
    assert out.shape == (5, 0, 4) and h_n.shape == c_n.shape == (2, 0, 4)
    dx, _ = m.backward(np.zeros(out.shape))
    assert dx.shape == (5, 0, 3)


def test_a_batch_with_sequences_is_unchanged_by_the_empty_case():
    """The empty path is only taken for N = 0; an empty batch's grads add nothing."""
    m = numpy_lstm.LSTM(3, 4, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    out, _ = m(x)
    m.backward(np.ones(out.shape))
    before = {k: g.copy() for k, g in m.grads.items()}
    out0, _ = m(x[:, :0])
    m.backward(np.ones(out0.shape))
    for k, g in m.grads.items():
        np.testing.assert_array_equal(g, before[k], err_msg=k)


@pytest.mark.parametrize("batch_first, shape", [(False, (0, 2, 3)), (True, (2, 0, 3)), (False, (0, 3))])
def test_zero_steps_are_refused_as_torch_refuses_them(batch_first, shape):
    with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0"):
        torch.nn.LSTM(3, 4, batch_first=batch_first)(torch.zeros(shape))
    m = numpy_lstm.LSTM(3, 4, batch_first=batch_first, dtype=np.float64)
    msg = f"got {shape}: seq_len must be at least 1 (only the batch axis may be empty)"
    with pytest.raises(ValueError, match=re.escape(msg)):
        m(np.zeros(shape))
