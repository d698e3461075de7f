"""The math in numpy_lstm.functional: readable cell, fused layer and textbook loop agree."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from numpy_lstm.functional import (
    cell_backward,
    cell_forward,
    layer_backward,
    layer_forward,
    reverse_time,
    sigmoid,
    textbook_backward,
    textbook_forward,
)
from tests.strategies import random_layer_weights

FLOATS = st.floats(-1e4, 1e4, allow_nan=False)


@given(arrays(np.float64, st.integers(1, 50), elements=FLOATS))
def test_sigmoid_bounds_symmetry_and_definition(a):
    s = sigmoid(a)
    assert np.all((s >= 0) & (s <= 1))
    np.testing.assert_allclose(s + sigmoid(-a), 1.0, atol=1e-15)
    # The tanh form is exact to ~1 ulp of 1 in *absolute* terms: near 0 (large negative a) its
    # relative error grows, which is harmless for gates that multiply values of order 1.
    moderate = np.abs(a) < 30  # where 1/(1+exp(-a)) does not overflow
    np.testing.assert_allclose(s[moderate], 1 / (1 + np.exp(-a[moderate])), rtol=1e-14, atol=5e-16)


@given(
    T=st.integers(1, 7), N=st.integers(1, 4), I=st.integers(1, 5), H=st.integers(1, 6),
    proj=st.booleans(), bias=st.booleans(), seed=st.integers(0, 10_000),
)
def test_fused_layer_equals_textbook_cell_loop(T, N, I, H, proj, bias, seed):
    rng = np.random.default_rng(seed)
    P = max(1, H - 1) if proj and H > 1 else 0
    H_out = P or H
    W_ih, W_hh, b_ih, b_hh, W_hr = random_layer_weights(rng, I, H, P, bias, scale=0.5)
    x = rng.standard_normal((T, N, I))
    h0, c0 = rng.standard_normal((N, H_out)), rng.standard_normal((N, H))
    y, h_n, c_n, cache = layer_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh, W_hr)
    y_ref, h_ref, c_ref, caches = textbook_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh, W_hr)
    for name, a, b in [("y", y, y_ref), ("h_n", h_n, h_ref), ("c_n", c_n, c_ref)]:
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13, err_msg=name)

    dy, dh_n, dc_n = rng.standard_normal(y.shape), rng.standard_normal(h_n.shape), rng.standard_normal(c_n.shape)
    g = layer_backward(dy, dh_n, dc_n, cache)
    ref = textbook_backward(dy, dh_n, dc_n, caches, W_ih, W_hh, W_hr)
    for name in ("dx", "dh0", "dc0", "dW_ih", "dW_hh", "db", "dW_hr"):
        ours = getattr(g, name)
        if ref[name] is None or (name == "db" and not bias):
            assert ours is None, name
            continue
        np.testing.assert_allclose(ours, ref[name], rtol=1e-11, atol=1e-12, err_msg=name)


def test_one_step_layer_equals_one_cell_step():
    rng = np.random.default_rng(0)
    W_ih, W_hh, b_ih, b_hh, W_hr = random_layer_weights(rng, 3, 4, 2, scale=0.5)
    x = rng.standard_normal((1, 5, 3))
    h0, c0 = rng.standard_normal((5, 2)), rng.standard_normal((5, 4))
    y, h_n, c_n, cache = layer_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh, W_hr)
    h, c, cell_cache = cell_forward(x[0], h0, c0, W_ih, W_hh, b_ih, b_hh, W_hr)
    np.testing.assert_allclose(y[0], h, rtol=1e-13)
    np.testing.assert_allclose(c_n, c, rtol=1e-13)
    dh, dc = rng.standard_normal(h.shape), rng.standard_normal(c.shape)
    g = layer_backward(np.zeros_like(y), dh, dc, cache)
    gc = cell_backward(dh, dc, cell_cache, W_ih, W_hh, W_hr)
    for name in ("dx", "dW_ih", "dW_hh", "db", "dW_hr"):
        ours = getattr(g, name)[0] if name == "dx" else getattr(g, name)
        np.testing.assert_allclose(ours, getattr(gc, name), rtol=1e-12, atol=1e-14, err_msg=name)
    np.testing.assert_allclose(g.dh0, gc.dh_prev, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g.dc0, gc.dc_prev, rtol=1e-12, atol=1e-14)


@given(T=st.integers(1, 8), N=st.integers(1, 5), seed=st.integers(0, 1000))
def test_reverse_time_is_an_involution_within_lengths(T, N, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N, 2))
    lengths = rng.integers(1, T + 1, size=N)
    r = reverse_time(x, lengths)
    np.testing.assert_array_equal(reverse_time(r, lengths), x)
    for n, L in enumerate(lengths):
        np.testing.assert_array_equal(r[:L, n], x[:L, n][::-1])  # valid steps reversed
        np.testing.assert_array_equal(r[L:, n], x[L:, n])  # padding stays in place


def test_no_cache_forward_gives_the_same_numbers():
    rng = np.random.default_rng(1)
    W = random_layer_weights(rng, 3, 4, 2, scale=0.5)
    x = rng.standard_normal((6, 2, 3))
    h0, c0 = rng.standard_normal((2, 2)), rng.standard_normal((2, 4))
    lengths = np.array([6, 3])
    with_cache = layer_forward(x, h0, c0, *W, lengths=lengths)
    without = layer_forward(x, h0, c0, *W, lengths=lengths, keep_cache=False)
    assert without[3] is None
    for a, b in zip(with_cache[:3], without[:3], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_inputs_stay_finite_without_warnings(dtype):
    """Inputs of magnitude 1e4 saturate the gates; nothing overflows (RuntimeWarning is an error)."""
    rng = np.random.default_rng(2)
    W = [w.astype(dtype) if w is not None else None for w in random_layer_weights(rng, 3, 4, 0, scale=0.5)]
    x = (rng.standard_normal((5, 2, 3)) * 1e4).astype(dtype)
    h0, c0 = np.zeros((2, 4), dtype), np.zeros((2, 4), dtype)
    y, h_n, c_n, cache = layer_forward(x, h0, c0, *W)
    g = layer_backward(np.ones_like(y), h_n, c_n, cache)
    assert y.dtype == dtype and g.dx.dtype == dtype
    assert all(np.all(np.isfinite(a)) for a in (y, h_n, c_n, g.dx, g.dW_ih, g.dW_hh, g.db))
    h, c, _ = cell_forward(x[0], h0, c0, *W)
    assert np.all(np.isfinite(h)) and np.all(np.isfinite(c))
