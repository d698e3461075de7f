"""Parity with torch.nn.LSTM / LSTMCell: every output and gradient, by name.

Tolerances (relative to the largest magnitude of torch's tensor, so a near-zero element cannot
dominate; ``max|numpy - torch| <= rtol * max|torch| + atol``):

- float64: rtol 1e-9, atol 1e-15.  Both sides compute the same sums in a different order
  (our fused bias, BLAS blocking), so results agree to a few ulps (~1e-16); 1e-9 leaves room for
  the growth of rounding through T steps and L layers, and still catches any wrong term, which
  shows up at 1e-3 or worse.
- float32: rtol 2e-5, atol 1e-6.  torch's float32 CPU path is oneDNN, a different kernel from
  NumPy's BLAS; float32 carries 6e-8 relative error per operation, and sums of up to a few hundred
  products through tens of steps accumulate to ~1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import numpy_lstm
import numpy_lstm.lstm as lstm_module
from tests.strategies import lstm_cases
from torch_ref import compare_with_torch, to_torch

F64 = dict(rtol=1e-9, atol=1e-15)
F32 = dict(rtol=2e-5, atol=1e-6)


def expected_names(module: numpy_lstm.LSTM) -> list[str]:
    return ["output", "h_n", "c_n", "dx", "dh_0", "dc_0"] + [f"grad {k}" for k in module.params]


def assert_rows_close(report, rtol: float, atol: float) -> None:
    for row in report.rows:
        assert row.max_abs <= rtol * row.scale + atol, (
            f"{row.name} {row.shape}: max abs diff {row.max_abs:.3e}, max rel {row.max_rel:.3e}"
        )


@given(case=lstm_cases())
def test_float64_parity_every_tensor(case):
    module = case.build(np.float64)
    x, hx, lengths = case.inputs(module)
    report = compare_with_torch(module, x, hx, lengths, seed=case.seed, state_grads=case.state_grads)
    assert report.names == expected_names(module)
    assert_rows_close(report, **F64)


@given(case=lstm_cases(max_layers=2), hidden=st.integers(8, 40), T=st.integers(5, 25))
def test_float32_parity_with_torch_default_kernels(case, hidden, T):
    from dataclasses import replace

    case = replace(case, hidden_size=hidden, proj_size=min(case.proj_size * 5, hidden - 1), T=T)
    module = case.build(np.float32)
    x, hx, lengths = case.inputs(module)
    report = compare_with_torch(module, x, hx, lengths, seed=case.seed, state_grads=case.state_grads)
    assert report.names == expected_names(module)
    assert_rows_close(report, **F32)


@pytest.mark.parametrize("bias", [True, False])
def test_lstm_cell_parity(bias):
    rng = np.random.default_rng(3)
    cell = numpy_lstm.LSTMCell(5, 7, bias=bias, dtype=np.float64, seed=3)
    x = rng.standard_normal((4, 5))
    hx = (rng.standard_normal((4, 7)), rng.standard_normal((4, 7)))
    report = compare_with_torch(cell, x, hx)
    assert report.names == ["h", "c", "dx", "dh_0", "dc_0"] + [f"grad {k}" for k in cell.params]
    assert_rows_close(report, **F64)
    unbatched = compare_with_torch(cell, x[0], (hx[0][0], hx[1][0]))
    assert_rows_close(unbatched, **F64)


def test_parity_written_out_without_the_helper():
    """The whole comparison by hand, micrograd style: one config with every option at once."""
    rng = np.random.default_rng(0)
    m = numpy_lstm.LSTM(3, 5, num_layers=2, batch_first=True, bidirectional=True, proj_size=2,
                        dtype=np.float64, seed=0)
    t = to_torch(m)
    x = rng.standard_normal((4, 6, 3))  # (N, T, I)
    h0 = rng.standard_normal((4, 4, 2))  # (D*L, N, P)
    c0 = rng.standard_normal((4, 4, 5))  # (D*L, N, H)
    out, (h_n, c_n) = m(x, (h0, c0))
    xt, h0t, c0t = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    outt, (h_nt, c_nt) = t(xt, (h0t, c0t))
    d_out, dh_n, dc_n = (rng.standard_normal(a.shape) for a in (out, h_n, c_n))
    dx, (dh0, dc0) = m.backward(d_out, (dh_n, dc_n))
    torch.autograd.backward([outt, h_nt, c_nt], [torch.tensor(g) for g in (d_out, dh_n, dc_n)])
    pairs = {"output": (out, outt), "h_n": (h_n, h_nt), "c_n": (c_n, c_nt),
             "dx": (dx, xt.grad), "dh_0": (dh0, h0t.grad), "dc_0": (dc0, c0t.grad)}
    pairs.update({f"grad {k}": (m.grads[k], p.grad) for k, p in t.named_parameters()})
    assert len(pairs) == 6 + len(m.params)
    for name, (ours, theirs) in pairs.items():
        theirs = theirs.detach().numpy()
        assert ours.shape == theirs.shape, name
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12, err_msg=name)


def test_comparison_helper_names_the_term_that_differs(monkeypatch):
    """Plant a 0.1% error in dW_hh only: the helper must flag exactly the weight_hh gradients."""
    real = lstm_module.layer_backward

    def broken(*args, **kwargs):
        g = real(*args, **kwargs)
        return g._replace(dW_hh=g.dW_hh * 1.001)

    monkeypatch.setattr(lstm_module, "layer_backward", broken)
    m = numpy_lstm.LSTM(3, 4, num_layers=2, dtype=np.float64, seed=1)
    x = np.random.default_rng(1).standard_normal((5, 2, 3))
    report = compare_with_torch(m, x)
    with pytest.raises(AssertionError, match="grad weight_hh_l0") as err:
        report.assert_close(rtol=1e-9)
    assert "grad weight_ih" not in str(err.value) and "output" not in str(err.value)
    flagged = {r.name for r in report.rows if r.max_rel > 1e-9}
    assert flagged == {"grad weight_hh_l0", "grad weight_hh_l1"}
    assert "grad weight_hh_l0" in str(report)  # the printed table names every tensor


def test_the_report_never_passes_a_nan_or_an_infinity_on_one_side(monkeypatch):
    """A NaN or an infinity where torch has none (or the reverse) is an infinite difference: torch's
    infinity once made the scale infinite (every difference passed) and Python's max skipped a NaN
    row.  The same NaN or infinity on both sides agrees."""
    from torch_ref.compare import ComparisonReport

    r = ComparisonReport()
    r.add("output", np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    r.add("torch inf", np.array([1.0, 123.0]), np.array([np.inf, 2.0]))
    r.add("numpy nan", np.array([np.nan, 1.0]), np.array([0.5, 1.0]))
    r.add("both", np.array([np.nan, np.inf, -np.inf, 3.0]), np.array([np.nan, np.inf, -np.inf, 3.0]))
    r.add("signs", np.array([np.inf]), np.array([-np.inf]))
    assert [row.max_abs for row in r.rows] == [0.0, np.inf, np.inf, 0.0, np.inf]
    assert r["both"].scale == 3.0 and r["torch inf"].scale == 2.0  # over finite values
    assert r.max_rel == np.inf and r.worst().name == "torch inf"
    with pytest.raises(AssertionError) as err:
        r.assert_close(rtol=1e-3)
    assert all(name in str(err.value) for name in ("torch inf", "numpy nan", "signs"))
    assert "output" not in str(err.value) and "both" not in str(err.value)

    # End to end: a backward that returns one NaN gradient entry fails the comparison.
    real = lstm_module.layer_backward

    def nan_entry(*args, **kwargs):
        g = real(*args, **kwargs)
        g.dW_hh[0, 0] = np.nan
        return g

    monkeypatch.setattr(lstm_module, "layer_backward", nan_entry)
    m = numpy_lstm.LSTM(3, 4, dtype=np.float64, seed=1)
    report = compare_with_torch(m, np.random.default_rng(1).standard_normal((5, 2, 3)))
    assert report.worst().name == "grad weight_hh_l0" and report.max_rel == np.inf
    with pytest.raises(AssertionError, match="grad weight_hh_l0"):
        report.assert_close(**F64)
