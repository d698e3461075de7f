"""Whatever the caller does between forward and backward to the arrays it passed in or got back
(``x``, ``hx``, the output, ``h_n``, ``c_n``, the dropout masks) or to the module's parameters (an
optimiser step), backward gives the gradients of the forward that ran.

Each test runs forward and backward twice on identical copies of a module: once untouched (the
reference), once with every such array changed in place in between.  Every gradient must agree.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numpy_lstm
from tests.strategies import lstm_cases

TOL = dict(rtol=1e-12, atol=1e-14)  # the same float64 computation: only BLAS blocking may differ


def _spoil(*arrays):
    """Change every array in place, as a caller might (``o *= 2``, an optimiser's ``p -= ...``)."""
    for a in arrays:
        if a is not None and a.size:
            a *= -3.0
            a += 0.25


def _lstm_grads(m, x, hx, lengths, d_out, dhx, spoil: bool):
    m.zero_grad()
    out, (h_n, c_n) = m(x, hx, lengths)
    if spoil:
        masks = m.dropout_masks
        _spoil(x, out, h_n, c_n, *(hx or ()), *masks, *m.params.values())
    dx, (dh0, dc0) = m.backward(d_out, dhx)
    return {"dx": dx, "dh0": dh0, "dc0": dc0, **{f"grad {k}": g.copy() for k, g in m.grads.items()}}


def _check_lstm(m, x, hx, lengths):
    out, (h_n, c_n) = copy.deepcopy(m)(x, hx, lengths)
    rng = np.random.default_rng(1)
    d_out = rng.standard_normal(out.shape)
    dhx = (rng.standard_normal(h_n.shape), rng.standard_normal(c_n.shape))
    copies = lambda: (copy.deepcopy(m), x.copy(), None if hx is None else tuple(s.copy() for s in hx))  # noqa: E731
    ref_m, ref_x, ref_hx = copies()
    ref = _lstm_grads(ref_m, ref_x, ref_hx, lengths, d_out, dhx, spoil=False)
    got_m, got_x, got_hx = copies()
    got = _lstm_grads(got_m, got_x, got_hx, lengths, d_out, dhx, spoil=True)
    for name, value in ref.items():
        np.testing.assert_allclose(got[name], value, **TOL, err_msg=name)


@given(case=lstm_cases(), dropout=st.sampled_from([0.0, 0.5]))
def test_lstm_backward_ignores_every_change_after_forward(case, dropout):
    if dropout:
        case = replace(case, num_layers=max(2, case.num_layers))
    m = case.build(dropout=dropout)
    x, hx, lengths = case.inputs(m)
    _check_lstm(m, x, hx, lengths)


@pytest.mark.parametrize(
    "kwargs, shape",
    [
        (dict(), (5, 3, 2)),  # seq-first: the output is a view of the cache's h
        (dict(batch_first=True), (1, 5, 2)),  # one sequence: the transpose needs no copy
        (dict(batch_first=True), (3, 5, 2)),
        (dict(), (5, 2)),  # unbatched
        (dict(proj_size=2), (5, 3, 2)),  # the cache holds weight_hr
        (dict(num_layers=2, bidirectional=True), (5, 3, 2)),  # the reverse direction reads x[::-1]
    ],
)
def test_lstm_paths(kwargs, shape):
    m = numpy_lstm.LSTM(2, 4, dtype=np.float64, seed=3, **kwargs)
    x = np.random.default_rng(0).standard_normal(shape)
    _check_lstm(m, x, None, None)


def test_the_audit_example():
    """``o *= 2`` after forward used to change the weight_hh gradient (the output was the cache)."""
    m = numpy_lstm.LSTM(3, 4, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).standard_normal((6, 2, 3))
    g = np.random.default_rng(1).standard_normal((6, 2, 4))
    ref = copy.deepcopy(m)
    ref(x)
    ref.backward(g)
    o, _ = m(x)
    o *= 2
    x *= 2
    m.backward(g)
    for k in m.grads:
        np.testing.assert_allclose(m.grads[k], ref.grads[k], **TOL, err_msg=k)


def test_layout_changed_between_forward_and_backward():
    """backward reads ``d_output`` in the layout of the forward that ran, not the attribute's now."""
    m = numpy_lstm.LSTM(2, 3, batch_first=True, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).standard_normal((4, 4, 2))  # N = T: both layouts have one shape
    g = np.random.default_rng(1).standard_normal((4, 4, 3))
    ref = copy.deepcopy(m)
    ref(x)
    dx_ref, _ = ref.backward(g)
    m(x)
    m.batch_first = False
    dx, _ = m.backward(g)
    np.testing.assert_allclose(dx, dx_ref, **TOL)
    for k in m.grads:
        np.testing.assert_allclose(m.grads[k], ref.grads[k], **TOL, err_msg=k)


@pytest.mark.parametrize("unbatched", [False, True])
def test_lstm_cell(unbatched):
    rng = np.random.default_rng(0)
    cell = numpy_lstm.LSTMCell(3, 4, dtype=np.float64, seed=0)
    batch = () if unbatched else (2,)
    x, h, c = rng.standard_normal((*batch, 3)), rng.standard_normal((*batch, 4)), rng.standard_normal((*batch, 4))
    dh, dc = rng.standard_normal((*batch, 4)), rng.standard_normal((*batch, 4))
    ref = copy.deepcopy(cell)
    ref(x.copy(), (h.copy(), c.copy()))
    dx_ref, (dh_ref, dc_ref) = ref.backward(dh, dc)
    h1, c1 = cell(x, (h, c))
    _spoil(x, h, c, h1, c1, *cell.params.values())  # the current parameters used to be read
    dx, (dh_prev, dc_prev) = cell.backward(dh, dc)
    for name, a, b in [("dx", dx, dx_ref), ("dh_prev", dh_prev, dh_ref), ("dc_prev", dc_prev, dc_ref)]:
        np.testing.assert_allclose(a, b, **TOL, err_msg=name)
    for k in cell.grads:
        np.testing.assert_allclose(cell.grads[k], ref.grads[k], **TOL, err_msg=k)


@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3), (3,)])
def test_linear(shape):
    rng = np.random.default_rng(0)
    lin = numpy_lstm.Linear(3, 2, dtype=np.float64, seed=0)
    x = rng.standard_normal(shape)
    dy = rng.standard_normal((*shape[:-1], 2))
    ref = copy.deepcopy(lin)
    ref(x.copy())
    dx_ref = ref.backward(dy)
    y = lin(x)
    _spoil(x, y, *lin.params.values())
    np.testing.assert_allclose(lin.backward(dy), dx_ref, **TOL, err_msg="dx")
    for k in lin.grads:
        np.testing.assert_allclose(lin.grads[k], ref.grads[k], **TOL, err_msg=k)


def test_cross_entropy_keeps_its_own_targets():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 3, 5))
    targets = rng.integers(0, 5, size=(4, 3))
    targets[0, 0] = numpy_lstm.losses.IGNORE_INDEX
    _, cache = numpy_lstm.cross_entropy(logits, targets.copy())
    ref = numpy_lstm.cross_entropy_backward(cache)
    _, cache = numpy_lstm.cross_entropy(logits, targets)
    targets[...] = (targets + 1) % 5  # the caller reuses its array for the next batch
    np.testing.assert_array_equal(numpy_lstm.cross_entropy_backward(cache), ref)


class _Holder:
    """An array-like that hands NumPy an array it keeps (as ``xarray.DataArray`` or a pandas frame
    can): ``np.asarray(holder)`` is not ``holder`` and owns its data, yet the caller can change it."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def __array__(self, dtype=None, copy=None):
        return self.values


@pytest.mark.parametrize(
    "N, H",
    [(3, 4), (1, 4), (64, 256)],  # the general path, one sequence, the feature-major training path
)
def test_lstm_input_through_array_protocol(N, H):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, N, 3)).astype(np.float32)
    h0, c0 = (rng.standard_normal((1, N, H)).astype(np.float32) for _ in range(2))
    g = rng.standard_normal((5, N, H)).astype(np.float32)
    m = numpy_lstm.LSTM(3, H, seed=0)
    ref = copy.deepcopy(m)
    ref(x.copy(), (h0.copy(), c0.copy()))
    dx_ref, (dh0_ref, dc0_ref) = ref.backward(g)
    held = [_Holder(x), _Holder(h0), _Holder(c0)]
    m(held[0], (held[1], held[2]))
    for a in held:
        a.values *= -3.0  # the caller changes its data after forward
    dx, (dh0, dc0) = m.backward(g)
    for name, a, b in [("dx", dx, dx_ref), ("dh0", dh0, dh0_ref), ("dc0", dc0, dc0_ref)]:
        np.testing.assert_array_equal(a, b, err_msg=name)
    for k in m.grads:
        np.testing.assert_array_equal(m.grads[k], ref.grads[k], err_msg=k)


@pytest.mark.parametrize("module", ["cell", "linear"])
def test_cell_and_linear_input_through_array_protocol(module):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3))
    build = numpy_lstm.LSTMCell if module == "cell" else numpy_lstm.Linear
    m = build(3, 4, dtype=np.float64, seed=0)
    ref = copy.deepcopy(m)
    h, c = _Holder(rng.standard_normal((2, 4))), _Holder(rng.standard_normal((2, 4)))
    hx = (h, c) if module == "cell" else ()
    ref(x.copy(), *([(h.values.copy(), c.values.copy())] if hx else []))
    dy = rng.standard_normal((2, 4))
    back = (lambda mod: mod.backward(dy, dy)[0]) if module == "cell" else (lambda mod: mod.backward(dy))
    dx_ref = back(ref)
    held = _Holder(x)
    m(held, *([hx] if hx else []))
    held.values *= -3.0
    for s in hx:
        s.values *= -3.0
    np.testing.assert_array_equal(back(m), dx_ref)
    for k in m.grads:
        np.testing.assert_array_equal(m.grads[k], ref.grads[k], err_msg=k)
