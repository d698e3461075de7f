"""Properties of numpy_lstm.LSTM that need no torch: layouts, chunking, lengths, finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import numpy_lstm
from tests.strategies import LSTMCase, lstm_cases


def run(module, x, hx=None, lengths=None, seed=0, with_state_grads=True):
    """Forward and backward with seeded random upstream gradients; returns everything by name."""
    module.zero_grad()
    out, (h, c) = module(x, hx, lengths)
    rng = np.random.default_rng(seed)
    d_out = rng.standard_normal(out.shape).astype(module.dtype)
    dhx = (rng.standard_normal(h.shape).astype(module.dtype), rng.standard_normal(c.shape).astype(module.dtype))
    dhx = dhx if with_state_grads else None
    dx, (dh0, dc0) = module.backward(d_out, dhx)
    res = {"output": out, "h_n": h, "c_n": c, "dx": dx, "dh_0": dh0, "dc_0": dc0}
    res.update({f"grad {k}": g.copy() for k, g in module.grads.items()})
    return res, d_out, dhx


@given(case=lstm_cases(allow_unbatched=False))
def test_batch_first_equals_transposed_seq_first(case):
    from dataclasses import replace

    case = replace(case, batch_first=False)
    seq = case.build(batch_first=False)
    bf = case.build(batch_first=True)
    x, hx, lengths = case.inputs(seq)  # (T, N, I)
    a, d_out, dhx = run(seq, x, hx, lengths)
    bf.zero_grad()
    out, (h, c) = bf(x.transpose(1, 0, 2), hx, lengths)
    dx, (dh0, dc0) = bf.backward(d_out.transpose(1, 0, 2), dhx)
    np.testing.assert_allclose(out, a["output"].transpose(1, 0, 2), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(dx, a["dx"].transpose(1, 0, 2), rtol=1e-13, atol=1e-15)
    for name, value in [("h_n", h), ("c_n", c), ("dh_0", dh0), ("dc_0", dc0)]:
        np.testing.assert_allclose(value, a[name], rtol=1e-13, atol=1e-15, err_msg=name)
    for k in seq.params:
        np.testing.assert_allclose(bf.grads[k], a[f"grad {k}"], rtol=1e-13, atol=1e-15, err_msg=k)


@given(case=lstm_cases(allow_unbatched=False, lengths=False))
def test_unbatched_equals_batch_of_one(case):
    from dataclasses import replace

    case = replace(case, N=1, batch_first=False)
    m = case.build()
    x, hx, _ = case.inputs(m)  # (T, 1, I)
    batched, d_out, dhx = run(m, x, hx)
    m.zero_grad()
    hx1 = None if hx is None else (hx[0][:, 0], hx[1][:, 0])
    out, (h, c) = m(x[:, 0], hx1)
    dx, (dh0, dc0) = m.backward(d_out[:, 0], (dhx[0][:, 0], dhx[1][:, 0]))
    for name, value in [("output", out), ("dx", dx), ("h_n", h), ("c_n", c), ("dh_0", dh0), ("dc_0", dc0)]:
        np.testing.assert_allclose(value, batched[name][:, 0], rtol=1e-13, atol=1e-15, err_msg=name)
    for k in m.params:
        np.testing.assert_allclose(m.grads[k], batched[f"grad {k}"], rtol=1e-13, atol=1e-15, err_msg=k)


@given(case=lstm_cases(allow_unbatched=False, lengths=False), split=st.integers(1, 5))
def test_two_chunks_carrying_state_equal_the_whole_sequence(case, split):
    """Truncated BPTT done right: forward chunk 1, carry (h, c); backward chunk 2 first, carry the
    state gradient into chunk 1's backward.  Outputs and every gradient equal the single pass."""
    from dataclasses import replace

    case = replace(case, bidirectional=False, batch_first=False, T=max(case.T, 2))
    split = min(split, case.T - 1)
    whole = case.build()
    x, hx, _ = case.inputs(whole)
    full, d_out, dhx = run(whole, x, hx)

    first, second = case.build(), case.build()
    out1, state1 = first(x[:split], hx)
    out2, (h, c) = second(x[split:], state1)
    dx2, dstate1 = second.backward(d_out[split:], dhx)
    dx1, (dh0, dc0) = first.backward(d_out[:split], dstate1)
    np.testing.assert_allclose(np.concatenate([out1, out2]), full["output"], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(np.concatenate([dx1, dx2]), full["dx"], rtol=1e-12, atol=1e-14)
    for name, value in [("h_n", h), ("c_n", c), ("dh_0", dh0), ("dc_0", dc0)]:
        np.testing.assert_allclose(value, full[name], rtol=1e-12, atol=1e-14, err_msg=name)
    for k in whole.params:
        np.testing.assert_allclose(first.grads[k] + second.grads[k], full[f"grad {k}"],
                                   rtol=1e-12, atol=1e-14, err_msg=k)


# report.noise counts one rounding of the loss's sum; each output the loss sums also carries the
# rounding of the forward that made it, a few eps per operation along the chain.  Observed: up to
# 6x report.noise (the example below: 2 layers with projection, gradients ~1e-8, which agree with
# PyTorch's to 2e-14 relative).  An entry checked against this bound alone has an error of at most
# ~1e-10 here; the PyTorch parity tests check every gradient to its full precision.
FD_NOISE_FACTOR = 16


@example(case=LSTMCase(input_size=1, hidden_size=3, num_layers=2, bias=False, batch_first=False,
                       bidirectional=False, proj_size=1, T=2, N=None, with_hx=False, state_grads=False,
                       use_lengths=False, seed=0))
@given(case=lstm_cases(max_layers=2))
def test_finite_differences_agree_with_backward(case):
    m = case.build()
    x, hx, lengths = case.inputs(m)
    report = numpy_lstm.gradcheck(m, x, hx, lengths=lengths, max_entries=8, seed=case.seed)
    assert [r.name for r in report.rows] == [*m.params, "input"]
    for row in report.rows:
        # Relative 1e-5, unless the whole error is within what finite differences can resolve
        # (a tensor whose gradients are all tiny, e.g. weight_hh with short sequences and h_0 = 0).
        bound = FD_NOISE_FACTOR * report.noise
        assert row.max_rel < 1e-5 or row.max_abs < bound, f"{row.name}: {row}, noise {report.noise:.1e}"


def test_gradcheck_catches_a_wrong_backward(monkeypatch):
    import numpy_lstm.lstm as lstm_module

    real = lstm_module.layer_backward
    monkeypatch.setattr(lstm_module, "layer_backward",
                        lambda *a, **k: real(*a, **k)._replace(db=real(*a, **k).db * 1.01))
    m = numpy_lstm.LSTM(2, 3, dtype=np.float64, seed=0)
    report = numpy_lstm.gradcheck(m, np.random.default_rng(0).standard_normal((4, 2, 2)))
    assert report.row("bias_ih_l0").max_rel > 1e-3
    assert report.row("weight_ih_l0").max_rel < 1e-6
    assert "bias_ih_l0" in str(report)


def test_gradcheck_fails_a_nan_gradient():
    """A backward that returns NaN is an infinite error, never a pass (Python's max(0.0, nan) is 0.0)."""

    class NaNLinear(numpy_lstm.Linear):
        def backward(self, dy):
            dx = super().backward(dy)
            self.grads["weight"][0, 0] = np.nan  # one entry: the check must still see it
            return dx * np.nan

    m = NaNLinear(3, 2, dtype=np.float64, seed=0)
    report = numpy_lstm.gradcheck(m, np.random.default_rng(0).standard_normal((4, 3)))
    assert report.row("weight").max_rel == np.inf and report.row("weight").max_abs == np.inf
    assert report.row("input").max_rel == np.inf and report.max_rel == np.inf
    assert report.row("bias").max_rel < 1e-6  # the other rows are still measured


def test_gradcheck_of_a_parameter_that_is_not_c_ordered():
    """The perturbation reaches a Fortran-ordered parameter (``reshape(-1)`` of one is a copy, so
    the finite differences used to see no change and report a correct backward as 100% wrong)."""
    m = numpy_lstm.LSTM(3, 4, dtype=np.float64, seed=0)
    m.set_parameter("weight_hh_l0", np.asfortranarray(m.params["weight_hh_l0"]))
    assert not m.params["weight_hh_l0"].flags.c_contiguous
    report = numpy_lstm.gradcheck(m, np.random.default_rng(0).standard_normal((5, 2, 3)))
    assert report.row("weight_hh_l0").max_rel < 1e-6, str(report)
    assert report.max_rel < 1e-6, str(report)


def test_lstm_cell_loop_equals_one_layer_lstm():
    rng = np.random.default_rng(4)
    lstm = numpy_lstm.LSTM(3, 5, dtype=np.float64, seed=4)
    cell = numpy_lstm.LSTMCell(3, 5, dtype=np.float64)
    cell.load_state_dict({k[: -len("_l0")]: v for k, v in lstm.params.items()})
    x = rng.standard_normal((6, 2, 3))
    h0, c0 = rng.standard_normal((1, 2, 5)), rng.standard_normal((1, 2, 5))
    out, (h_n, c_n) = lstm(x, (h0, c0))
    h, c, hs = h0[0], c0[0], []
    for t in range(6):
        h, c = cell(x[t], (h, c))
        hs.append(h)
    np.testing.assert_allclose(np.stack(hs), out, rtol=1e-13)
    np.testing.assert_allclose(c, c_n[0], rtol=1e-13)
    grad = numpy_lstm.gradcheck(cell, x[0], (h0[0], c0[0]))
    assert grad.max_rel < 1e-6, str(grad)


@given(case=lstm_cases(allow_unbatched=False, lengths=True))
def test_padding_is_inert(case):
    """Outputs past each length are zero; d_output there has no effect; dx there is zero; the
    padded values themselves (even NaN) change nothing."""
    m = case.build()
    x, hx, lengths = case.inputs(m)
    a, d_out, dhx = run(m, x, hx, lengths)
    T = case.T
    pad = np.arange(T)[:, None] >= lengths[None, :]  # (T, N)
    if case.batch_first:
        pad = pad.T
    assert np.all(a["output"][pad] == 0)
    assert np.all(a["dx"][pad] == 0)
    x2 = x.copy()
    x2[pad] = np.nan
    m.zero_grad()
    out, (h, c) = m(x2, hx, lengths)
    d_out2 = d_out.copy()
    d_out2[pad] = 123.0
    dx, (dh0, dc0) = m.backward(d_out2, dhx)
    np.testing.assert_array_equal(out, a["output"])
    np.testing.assert_array_equal(dx, a["dx"])
    for k in m.params:
        np.testing.assert_allclose(m.grads[k], a[f"grad {k}"], rtol=1e-14, atol=0, err_msg=k)


def test_lengths_all_full_equal_no_lengths():
    m = numpy_lstm.LSTM(2, 3, bidirectional=True, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).standard_normal((5, 3, 2))
    a, *_ = run(m, x)
    b, *_ = run(m, x, lengths=[5, 5, 5])
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-14, atol=1e-16, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_everywhere(dtype):
    m = numpy_lstm.LSTM(3, 4, num_layers=2, proj_size=2, dtype=dtype, seed=0)
    res, *_ = run(m, np.ones((3, 2, 3), dtype))
    assert all(v.dtype == dtype for v in res.values()), {k: v.dtype for k, v in res.items()}
    assert all(p.dtype == dtype for p in m.params.values())


def test_same_seed_same_weights_and_torch_init_range():
    a = numpy_lstm.LSTM(3, 16, num_layers=2, seed=7)
    b = numpy_lstm.LSTM(3, 16, num_layers=2, seed=7)
    c = numpy_lstm.LSTM(3, 16, num_layers=2, seed=8)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
        assert np.all(np.abs(a.params[k]) <= 1 / 4)  # U(-1/sqrt(H), 1/sqrt(H)), H = 16
        assert np.all(a.grads[k] == 0)
    assert not np.array_equal(a.params["weight_ih_l0"], c.params["weight_ih_l0"])
    assert np.abs(a.params["weight_ih_l1"]).max() > 0.2  # really spread over the range


def test_backward_accumulates_and_zero_grad_resets():
    m = numpy_lstm.LSTM(2, 3, dtype=np.float64, seed=0)
    x = np.ones((4, 1, 2))
    out, _ = m(x)
    m.backward(np.ones_like(out))
    once = {k: g.copy() for k, g in m.grads.items()}
    with pytest.raises(RuntimeError, match="run forward again"):  # the caches were freed, as torch's graph
        m.backward(np.ones_like(out))
    for k in once:
        np.testing.assert_array_equal(m.grads[k], once[k], err_msg=f"a refused backward added to {k}")
    m(x)
    m.backward(np.ones_like(out))
    for k in once:
        np.testing.assert_allclose(m.grads[k], 2 * once[k], rtol=1e-15)
    m.zero_grad()
    assert all(np.all(g == 0) for g in m.grads.values())
