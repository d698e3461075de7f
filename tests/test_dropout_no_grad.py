"""Dropout between layers (train/eval, masks, parity with given masks) and no_grad inference."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import numpy_lstm
from numpy_lstm.functional import buffers
from tests.strategies import lstm_cases
from torch_ref import compare_with_torch, to_torch

F64 = dict(rtol=1e-9, atol=1e-15)  # see test_parity_torch.py for why


@given(case=lstm_cases(allow_unbatched=True), p=st.sampled_from([0.2, 0.5, 0.9]))
def test_training_dropout_matches_torch_with_the_same_masks(case, p):
    from dataclasses import replace

    case = replace(case, num_layers=max(2, case.num_layers))
    m = case.build(dropout=p)
    x, hx, lengths = case.inputs(m)
    report = compare_with_torch(m, x, hx, lengths, seed=case.seed)
    masks = m.dropout_masks
    assert masks[-1] is None and all(mk is not None for mk in masks[:-1])
    for mk in masks[:-1]:  # inverted dropout: kept units scaled by 1/(1-p)
        assert set(np.unique(mk)) <= {0.0, 1 / (1 - p)}
    report.assert_close(**F64)


def test_eval_mode_matches_torch_dropout_eval():
    m = numpy_lstm.LSTM(3, 4, num_layers=3, dropout=0.5, dtype=np.float64, seed=0).eval()
    t = to_torch(m).eval()
    assert not t.training
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    out, _ = m(x)
    with torch.no_grad():
        out_t, _ = t(torch.tensor(x))
    np.testing.assert_allclose(out, out_t.numpy(), rtol=1e-12)
    assert all(mk is None for mk in m.dropout_masks)
    compare_with_torch(m, x).assert_close(**F64)


def test_masks_come_from_the_seed_and_change_every_forward():
    x = np.random.default_rng(0).standard_normal((6, 4, 3)).astype(np.float32)
    a = numpy_lstm.LSTM(3, 8, num_layers=2, dropout=0.5, seed=11)
    b = numpy_lstm.LSTM(3, 8, num_layers=2, dropout=0.5, seed=11)
    out_a1, _ = a(x)
    mask_a1 = a.dropout_masks[0]
    out_b1, _ = b(x)
    np.testing.assert_array_equal(out_a1, out_b1)  # same seed: same weights and same masks
    np.testing.assert_array_equal(mask_a1, b.dropout_masks[0])
    out_a2, _ = a(x)
    assert not np.array_equal(mask_a1, a.dropout_masks[0])  # a new mask every forward
    assert not np.array_equal(out_a1, out_a2)
    frac = 1 - np.mean(mask_a1 > 0)
    assert 0.35 < frac < 0.65  # p = 0.5 over 192 units


def test_dropout_arguments_are_checked():
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        numpy_lstm.LSTM(2, 3, num_layers=1, dropout=0.3)
    for bad in (-0.1, 1.5, float("nan"), True, "0.5", None):
        with pytest.raises(ValueError, match=r"dropout should be a number in range \[0, 1\]"):
            numpy_lstm.LSTM(2, 3, num_layers=2, dropout=bad)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        numpy_lstm.LSTM(2, 3, num_layers=2, dropout=0.3)  # no warning when it applies


def test_no_grad_keeps_no_cache_and_backward_says_why():
    m = numpy_lstm.LSTM(2, 3, num_layers=2, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).standard_normal((4, 2, 2))
    out, (h, c) = m(x)
    assert numpy_lstm.is_grad_enabled()
    with numpy_lstm.no_grad():
        assert not numpy_lstm.is_grad_enabled()
        out2, (h2, c2) = m(x)
        with numpy_lstm.no_grad():  # nests
            pass
        assert not numpy_lstm.is_grad_enabled()
    assert numpy_lstm.is_grad_enabled()
    np.testing.assert_array_equal(out, out2)
    np.testing.assert_array_equal(h, h2)
    np.testing.assert_array_equal(c, c2)
    with pytest.raises(RuntimeError, match="no_grad"):
        m.backward(np.ones_like(out))
    with pytest.raises(RuntimeError, match="no_grad"):
        m.dropout_masks  # noqa: B018  (a property that raises)
    cell = numpy_lstm.LSTMCell(2, 3)
    with numpy_lstm.no_grad():
        hc, _ = cell(np.ones((1, 2), np.float32))
    with pytest.raises(RuntimeError, match="no_grad"):
        cell.backward(np.ones_like(hc))


def test_no_grad_uses_less_memory():
    import tracemalloc

    m = numpy_lstm.LSTM(16, 32, num_layers=2, seed=0)
    x = np.ones((200, 8, 16), np.float32)

    def peak(fn):
        tracemalloc.start()
        fn()
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    def infer():
        with numpy_lstm.no_grad():
            m(x)

    with buffers.reuse(False):  # every buffer from NumPy's allocator, as tracemalloc counts it
        with_cache = peak(lambda: m(x))
        m._record = None  # drop the cache held from the measured call
        without = peak(infer)
    assert without < 0.7 * with_cache, (without, with_cache)


def test_dropout_masks_before_any_forward_say_so() -> None:
    m = numpy_lstm.LSTM(2, 3, num_layers=2, dropout=0.5, seed=0)
    with pytest.raises(RuntimeError, match="has not run yet"):
        m.dropout_masks  # noqa: B018  (a property that raises)


def _torch_forward_backward(t, x, d_out):
    xt = torch.tensor(x, requires_grad=True)
    out, _ = t(xt)
    out.backward(torch.tensor(d_out))
    return out.detach().numpy(), xt.grad.numpy(), {k: p.grad.numpy() for k, p in t.named_parameters()}


@pytest.mark.parametrize("bidirectional", [False, True])
def test_dropout_one_drops_everything_between_layers_as_torch(bidirectional):
    """p = 1: every value between layers is zero (no 0/0), in forward and backward, as torch."""
    m = numpy_lstm.LSTM(3, 4, num_layers=3, dropout=1, bidirectional=bidirectional, dtype=np.float64, seed=0)
    assert m.dropout == 1.0
    t = to_torch(m).train()  # torch's masks are all zero too, so no replay is needed
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 2, 3))
    out, _ = m(x)
    d_out = rng.standard_normal(out.shape)
    dx, _ = m.backward(d_out)
    out_t, dx_t, grads_t = _torch_forward_backward(t, x, d_out)
    assert np.all(np.isfinite(out)) and all(np.all(mk == 0) for mk in m.dropout_masks[:-1])
    np.testing.assert_allclose(out, out_t, **F64, err_msg="output")
    np.testing.assert_allclose(dx, dx_t, **F64, err_msg="dx")  # zero: nothing reaches the input
    for k, g in grads_t.items():
        np.testing.assert_allclose(m.grads[k], g, **F64, err_msg=f"grad {k}")
    compare_with_torch(m, x).assert_close(**F64)  # the same, through the replayed masks


def test_dropout_one_set_after_construction_and_in_eval_mode():
    m = numpy_lstm.LSTM(3, 4, num_layers=2, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    m.dropout = 1  # used to give 0/0 = NaN everywhere
    out, _ = m(x)
    out_t, _, _ = _torch_forward_backward(to_torch(m).train(), x, np.zeros(out.shape))
    np.testing.assert_allclose(out, out_t, **F64)
    m.eval()
    out_eval, _ = m(x)
    with torch.no_grad():
        ref, _ = to_torch(m).eval()(torch.tensor(x))
    np.testing.assert_allclose(out_eval, ref.numpy(), **F64)  # eval: no dropout at all
    assert not np.allclose(out_eval, out)
