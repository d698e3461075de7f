"""The one-sequence path (numpy_lstm.functional.single): the same numbers as the readable cell loop
and as the general fused layer, forward and backward, and taken exactly where it should be."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numpy_lstm.functional import layer_backward, layer_forward, textbook_backward, textbook_forward
from numpy_lstm.functional.feature_major import FeatureMajorCache
from numpy_lstm.functional.layer import LayerCache
from numpy_lstm.functional.single import MAX_WEIGHT_BYTES, SingleCache, fits, set_single_path, single_path
from tests.strategies import random_layer_weights

GRAD_NAMES = ("dx", "dh0", "dc0", "dW_ih", "dW_hh", "db", "dW_hr")


def one_sequence(rng: np.random.Generator, T: int, I: int, H: int, bias: bool):
    """Random weights (PyTorch's layout), ``x (T, 1, I)``, ``h0``, ``c0 (1, H)`` and upstream gradients."""
    W = random_layer_weights(rng, I, H, 0, bias, scale=0.5)
    x = rng.standard_normal((T, 1, I))  # (T, 1, I)
    h0, c0 = rng.standard_normal((1, H)), rng.standard_normal((1, H))  # (1, H)
    dy, dh_n, dc_n = rng.standard_normal((T, 1, H)), rng.standard_normal((1, H)), rng.standard_normal((1, H))
    return W, x, h0, c0, dy, dh_n, dc_n


@given(T=st.integers(1, 9), I=st.integers(1, 6), H=st.integers(1, 7), bias=st.booleans(), seed=st.integers(0, 10_000))
def test_one_sequence_equals_cell_loop_and_general_layer(T, I, H, bias, seed):
    rng = np.random.default_rng(seed)
    W, x, h0, c0, dy, dh_n, dc_n = one_sequence(rng, T, I, H, bias)
    y, h_n, c_n, cache = layer_forward(x, h0, c0, *W)
    assert isinstance(cache, SingleCache), "one sequence without projection takes the one-sequence path"
    g = layer_backward(dy, dh_n, dc_n, cache)
    with single_path(False):  # the general fused layer (feature-major at these sizes)
        y_gen, h_gen, c_gen, cache_gen = layer_forward(x, h0, c0, *W)
    assert isinstance(cache_gen, FeatureMajorCache)
    g_gen = layer_backward(dy, dh_n, dc_n, cache_gen)
    y_ref, h_ref, c_ref, caches = textbook_forward(x, h0, c0, *W)
    ref = textbook_backward(dy, dh_n, dc_n, caches, W[0], W[1], None)

    for name, a, b, b_gen in [("y", y, y_ref, y_gen), ("h_n", h_n, h_ref, h_gen), ("c_n", c_n, c_ref, c_gen)]:
        assert a.shape == b.shape, name
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13, err_msg=f"{name} vs cell loop")
        np.testing.assert_allclose(a, b_gen, rtol=1e-12, atol=1e-13, err_msg=f"{name} vs general layer")
    np.testing.assert_allclose(cache.acts, cache_gen.acts, rtol=1e-12, atol=1e-13, err_msg="acts")
    for name in GRAD_NAMES:
        ours, general = getattr(g, name), getattr(g_gen, name)
        if ref[name] is None or (name == "db" and not bias):
            assert ours is None and general is None, name
            continue
        assert ours.shape == ref[name].shape, name
        np.testing.assert_allclose(ours, ref[name], rtol=1e-11, atol=1e-12, err_msg=f"{name} vs cell loop")
        np.testing.assert_allclose(ours, general, rtol=1e-11, atol=1e-12, err_msg=f"{name} vs general layer")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_twice_and_without_cache(dtype):
    """Backward leaves the cache as it was (a second backward gives the same bits); a forward without
    cache gives the same outputs; the dtype is kept."""
    rng = np.random.default_rng(4)
    W, x, h0, c0, dy, dh_n, dc_n = one_sequence(rng, 5, 3, 4, True)
    W, x, h0, c0, dy, dh_n, dc_n = (
        [w.astype(dtype) for w in W[:4]] + [None],
        *(a.astype(dtype) for a in (x, h0, c0, dy, dh_n, dc_n)),
    )
    y, h_n, c_n, cache = layer_forward(x, h0, c0, *W)
    first = layer_backward(dy, dh_n, dc_n, cache)
    second = layer_backward(dy, dh_n, dc_n, cache)
    for name in GRAD_NAMES[:-1]:
        a, b = getattr(first, name), getattr(second, name)
        assert a.dtype == dtype, name
        np.testing.assert_array_equal(a, b, err_msg=name)
    y2, h2, c2, none = layer_forward(x, h0, c0, *W, keep_cache=False)
    assert none is None
    for name, a, b in [("y", y, y2), ("h_n", h_n, h2), ("c_n", c_n, c2)]:
        assert a.dtype == dtype, name
        np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_saturated_gates_stay_finite_without_warnings(dtype):
    """Inputs of magnitude 1e4 saturate the gates; nothing overflows (a RuntimeWarning is an error
    under pytest's settings) and every gate stays within its range."""
    rng = np.random.default_rng(2)
    W = [w.astype(dtype) for w in random_layer_weights(rng, 3, 4, 0, True, scale=0.5)[:4]]
    x = (rng.standard_normal((5, 1, 3)) * 1e4).astype(dtype)  # (T, 1, I)
    z = np.zeros((1, 4), dtype)
    y, h_n, c_n, cache = layer_forward(x, z, z, *W)
    assert isinstance(cache, SingleCache)
    sig, g_gate = cache.acts[..., : 3 * 4], cache.acts[..., 3 * 4 :]  # o | i | f, then g
    assert np.all((sig >= 0) & (sig <= 1)) and np.all(np.abs(g_gate) <= 1)
    g = layer_backward(np.ones_like(y), h_n, c_n, cache)
    assert all(np.all(np.isfinite(a)) for a in (y, h_n, c_n, g.dx, g.dW_ih, g.dW_hh, g.db))


def test_what_goes_to_the_general_layer():
    """Projection, a sequence shorter than the steps, more than one sequence and weights beyond
    MAX_WEIGHT_BYTES take the general layer (in the feature-major layout where it takes them: no
    projection, every step valid); one full-length sequence (lengths or not) this path."""
    rng = np.random.default_rng(5)
    T, I, H = 4, 3, 5
    x = rng.standard_normal((T, 1, I))
    h0, c0 = np.zeros((1, H)), np.zeros((1, H))
    W = random_layer_weights(rng, I, H, 0, True)
    assert isinstance(layer_forward(x, h0, c0, *W)[3], SingleCache)
    assert isinstance(layer_forward(x, h0, c0, *W, lengths=np.array([T]))[3], SingleCache)
    assert isinstance(layer_forward(x, h0, c0, *W, lengths=np.array([T - 1]))[3], LayerCache)
    Wp = random_layer_weights(rng, I, H, 2, True)
    assert isinstance(layer_forward(x, np.zeros((1, 2)), c0, *Wp)[3], LayerCache)
    x2 = rng.standard_normal((T, 2, I))
    assert isinstance(layer_forward(x2, np.zeros((2, H)), np.zeros((2, H)), *W)[3], FeatureMajorCache)
    H_big = 200  # 5H * (I + 1 + H) float64 values: over the bound
    assert 5 * H_big * (I + 1 + H_big) * 8 > MAX_WEIGHT_BYTES
    assert not fits(T, 1, I, H_big, 8) and fits(T, 1, I, H, 8) and not fits(T, 2, I, H, 8)
    Wb = random_layer_weights(rng, I, H_big, 0, True)
    assert isinstance(layer_forward(x, np.zeros((1, H_big)), np.zeros((1, H_big)), *Wb)[3], FeatureMajorCache)


def test_a_shorter_sequence_still_matches_the_cell_loop():
    """One sequence with ``lengths`` below ``T`` (the general layer): zeros past the end, the final
    state at the last valid step; the same as the cell loop over the valid steps alone."""
    rng = np.random.default_rng(6)
    W, x, h0, c0, dy, dh_n, dc_n = one_sequence(rng, 6, 2, 3, True)
    y, h_n, c_n, cache = layer_forward(x, h0, c0, *W, lengths=np.array([4]))
    y_ref, h_ref, c_ref, _ = textbook_forward(x[:4], h0, c0, *W)
    np.testing.assert_allclose(y[:4], y_ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(y[4:], 0)
    np.testing.assert_allclose(h_n, h_ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(c_n, c_ref, rtol=1e-12, atol=1e-13)


def test_the_switch_sends_one_sequence_to_the_general_layer():
    rng = np.random.default_rng(7)
    W, x, h0, c0, *_ = one_sequence(rng, 3, 2, 3, True)
    with single_path(False):
        assert isinstance(layer_forward(x, h0, c0, *W)[3], FeatureMajorCache)
        with single_path(True):
            assert isinstance(layer_forward(x, h0, c0, *W)[3], SingleCache)
        assert not fits(3, 1, 2, 3, 8)
    assert isinstance(layer_forward(x, h0, c0, *W)[3], SingleCache), "the block restores the setting"
    with pytest.raises(TypeError, match="expected True or False"):
        set_single_path("no")  # type: ignore[arg-type]
    try:
        set_single_path(False)
        assert isinstance(layer_forward(x, h0, c0, *W)[3], FeatureMajorCache)
    finally:
        set_single_path(True)
