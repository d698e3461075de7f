"""Training in the feature-major layout (numpy_lstm.functional.feature_major): the numbers of the
textbook loop and of the (N, 4H) layer, forward and backward, in both gate forms and whatever the
chunks; the same bits whatever the BLAS threads; taken exactly where it should be; and nothing the
caller does to the output reaches the gradients."""

from __future__ import annotations

import numpy as np
import pytest
import threadpoolctl
from hypothesis import given
from hypothesis import strategies as st

from numpy_lstm.functional import (
    activation,
    chunks,
    layer_backward,
    layer_forward,
    rows,
    textbook_backward,
    textbook_forward,
)
from numpy_lstm.functional.feature_major import FeatureMajorCache, feature_major, fm_takes, set_feature_major
from numpy_lstm.functional.layer import LayerCache
from tests.strategies import random_layer_weights

GRAD_NAMES = ("dx", "dh0", "dc0", "dW_ih", "dW_hh", "db")


def _problem(rng: np.random.Generator, T: int, N: int, I: int, H: int, bias: bool, dtype: type = np.float64):
    """Weights (PyTorch's layout), ``x (T, N, I)``, ``h0``, ``c0 (N, H)`` and upstream gradients."""
    W = tuple(w.astype(dtype) if w is not None else None for w in random_layer_weights(rng, I, H, 0, bias, 0.5)[:4])
    x = rng.standard_normal((T, N, I)).astype(dtype)
    h0, c0 = rng.standard_normal((N, H)).astype(dtype), rng.standard_normal((N, H)).astype(dtype)
    dy = rng.standard_normal((T, N, H)).astype(dtype)
    dh_n, dc_n = rng.standard_normal((N, H)).astype(dtype), rng.standard_normal((N, H)).astype(dtype)
    return W, x, h0, c0, dy, dh_n, dc_n


def _step(W, x, h0, c0, dy, dh_n, dc_n) -> dict[str, np.ndarray]:
    y, h_n, c_n, cache = layer_forward(x, h0, c0, *W)
    g = layer_backward(dy, dh_n, dc_n, cache)
    return {"y": y, "h_n": h_n, "c_n": c_n, **{k: v for k, v in g._asdict().items() if v is not None}}


@pytest.fixture
def restore_form():
    yield
    activation.set_gate_form(None)


@given(
    T=st.integers(1, 8), N=st.integers(2, 5), I=st.integers(1, 5), H=st.integers(1, 6),
    bias=st.booleans(), form=st.sampled_from(activation.FORMS), seed=st.integers(0, 10_000),
)
def test_feature_major_equals_textbook_and_the_row_layout(T, N, I, H, bias, form, seed):
    rng = np.random.default_rng(seed)
    W, x, h0, c0, dy, dh_n, dc_n = _problem(rng, T, N, I, H, bias)
    before = activation.chosen_form(np.float64)
    activation.set_gate_form(form, np.float64)
    try:
        y, h_n, c_n, cache = layer_forward(x, h0, c0, *W)
        assert isinstance(cache, FeatureMajorCache)
        g = layer_backward(dy, dh_n, dc_n, cache)
        with feature_major(False):
            rows_layout = _step(W, x, h0, c0, dy, dh_n, dc_n)
    finally:
        activation.set_gate_form(before, np.float64)
    y_ref, h_ref, c_ref, caches = textbook_forward(x, h0, c0, *W)
    ref = textbook_backward(dy, dh_n, dc_n, caches, W[0], W[1], None)
    ref.update(y=y_ref, h_n=h_ref, c_n=c_ref)
    ours = {"y": y, "h_n": h_n, "c_n": c_n, **{k: getattr(g, k) for k in GRAD_NAMES}}
    assert g.dW_hr is None
    for name, value in ours.items():
        if ref[name] is None or (name == "db" and not bias):
            assert value is None, name
            continue
        assert value.shape == ref[name].shape, name
        np.testing.assert_allclose(value, ref[name], rtol=1e-12, atol=1e-13, err_msg=f"{name} vs textbook")
        np.testing.assert_allclose(value, rows_layout[name], rtol=1e-12, atol=1e-13, err_msg=f"{name} vs (N, 4H)")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunk_steps", [1, 3, 100])
def test_chunks_of_every_kind_give_the_same_numbers(monkeypatch: pytest.MonkeyPatch, dtype: type,
                                                    chunk_steps: int) -> None:
    """Input projection, local derivatives and gradient GEMMs a few steps at a time (short last
    chunks included) against all at once, and float32 against the float64 textbook loop."""
    rng = np.random.default_rng(chunk_steps)
    T, N, I, H = 11, 4, 3, 5
    W, x, h0, c0, dy, dh_n, dc_n = _problem(rng, T, N, I, H, True, dtype)
    whole = _step(W, x, h0, c0, dy, dh_n, dc_n)
    step_bytes = N * 4 * H * np.dtype(dtype).itemsize
    monkeypatch.setattr(chunks, "PROJECTION_CHUNK_BYTES", chunk_steps * step_bytes)
    monkeypatch.setattr(chunks, "DERIVATIVE_CHUNK_BYTES", chunk_steps * step_bytes)
    monkeypatch.setattr(chunks, "GRADIENT_CHUNK_BYTES", 0)
    monkeypatch.setattr(chunks, "GRADIENT_CHUNK_MAX_BYTES", 0)
    monkeypatch.setattr(chunks, "GRADIENT_CHUNK_ROWS", 2 * chunk_steps * N)  # feature-major: half of it
    chunked = _step(W, x, h0, c0, dy, dh_n, dc_n)
    W64 = tuple(w.astype(np.float64) for w in W)
    y_ref, h_ref, c_ref, caches = textbook_forward(x.astype(np.float64), h0.astype(np.float64),
                                                   c0.astype(np.float64), *W64)
    ref = textbook_backward(dy.astype(np.float64), dh_n.astype(np.float64), dc_n.astype(np.float64), caches,
                            W64[0], W64[1], None)
    ref.update(y=y_ref, h_n=h_ref, c_n=c_ref)
    tol = {"rtol": 1e-12, "atol": 1e-13} if dtype == np.float64 else {"rtol": 2e-5, "atol": 2e-5}
    for name, value in chunked.items():
        assert value.dtype == dtype, name
        np.testing.assert_allclose(value, whole[name], **tol, err_msg=f"{name}: chunked vs whole")
        np.testing.assert_allclose(value, ref[name], **tol, err_msg=f"{name}: vs float64 textbook")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_same_bits_whatever_the_blas_threads(monkeypatch: pytest.MonkeyPatch, dtype: type) -> None:
    monkeypatch.setattr(chunks, "GRADIENT_CHUNK_BYTES", 0)
    monkeypatch.setattr(chunks, "GRADIENT_CHUNK_MAX_BYTES", 0)
    monkeypatch.setattr(chunks, "GRADIENT_CHUNK_ROWS", 6 * 24)  # 3 steps a chunk: sums over chunks
    rng = np.random.default_rng(3)
    args = _problem(rng, 10, 24, 40, 48, True, dtype)
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        one = _step(*args)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        two = _step(*args)
    for name, value in one.items():
        np.testing.assert_array_equal(two[name], value, err_msg=name)


def test_taken_by_the_sizes_alone() -> None:
    """Unsplit batches without projection and with every step valid come here; projection, shorter
    sequences and batches large enough for the row split do not, whatever the row threads."""
    rng = np.random.default_rng(4)
    T, N, I, H = 4, 3, 2, 5
    W, x, h0, c0, *_ = _problem(rng, T, N, I, H, True)
    assert isinstance(layer_forward(x, h0, c0, *W)[3], FeatureMajorCache)
    assert isinstance(layer_forward(x, h0, c0, *W, lengths=np.full(N, T))[3], FeatureMajorCache)
    assert isinstance(layer_forward(x, h0, c0, *W, lengths=np.array([T, T - 1, T]))[3], LayerCache)
    Wp = random_layer_weights(rng, I, H, 2, True)
    assert isinstance(layer_forward(x, np.zeros((N, 2)), c0, *Wp)[3], LayerCache)
    big = -(-rows.ROW_BLOCKS * rows.MIN_BLOCK_BYTES // (4 * H * 8))  # rows of float64 gates the split needs
    assert fm_takes(big - 1, H, 8) and not fm_takes(big, H, 8)
    xb = rng.standard_normal((2, big, I))
    for k in (1, 2):  # the row split off, or on: the layout does not follow the threads
        with rows.row_threads(k):
            assert isinstance(layer_forward(xb, np.zeros((big, H)), np.zeros((big, H)), *W)[3], LayerCache)


def test_the_switch() -> None:
    rng = np.random.default_rng(5)
    W, x, h0, c0, *_ = _problem(rng, 3, 2, 2, 3, True)
    with feature_major(False):
        assert isinstance(layer_forward(x, h0, c0, *W)[3], LayerCache)
        with feature_major(True):
            assert isinstance(layer_forward(x, h0, c0, *W)[3], FeatureMajorCache)
    assert isinstance(layer_forward(x, h0, c0, *W)[3], FeatureMajorCache), "the block restores the setting"
    with pytest.raises(TypeError, match="expected True or False, got 'no'"):
        set_feature_major("no")  # type: ignore[arg-type]
    try:
        set_feature_major(False)
        assert isinstance(layer_forward(x, h0, c0, *W)[3], LayerCache)
    finally:
        set_feature_major(True)


def test_what_the_caller_does_to_its_arrays_does_not_reach_the_gradients() -> None:
    """The output is a view of the layer's own ``h``, which the cache does not hold: overwriting it,
    or the initial state, after forward changes nothing; backward twice gives the same numbers."""
    rng = np.random.default_rng(6)
    W, x, h0, c0, dy, dh_n, dc_n = _problem(rng, 5, 3, 4, 6, True)
    ref = _step(W, x, h0.copy(), c0.copy(), dy, dh_n, dc_n)
    y, h_n, c_n, cache = layer_forward(x, h0, c0, *W)
    y[...] = np.nan
    h0[...] = np.nan
    c0[...] = np.nan
    first = layer_backward(dy, dh_n, dc_n, cache)
    second = layer_backward(dy, dh_n, dc_n, cache)
    for name in GRAD_NAMES:
        np.testing.assert_array_equal(getattr(first, name), ref[name], err_msg=name)
        np.testing.assert_array_equal(getattr(second, name), ref[name], err_msg=f"{name}, second backward")
    np.testing.assert_array_equal(h_n, ref["h_n"])
    assert cache.acts.shape == (5, 3, 24), "acts as LayerCache holds them: (T, N, 4H)"
