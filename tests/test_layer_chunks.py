"""The fast layer's chunked work (input projection, local derivatives and gradient GEMMs for a few
steps at a time) gives the textbook loop's numbers whatever the chunk size: the grid's sizes use chunks
shorter than T, which the small sizes of the other tests never reach."""

from __future__ import annotations

import numpy as np
import pytest

from numpy_lstm.functional import (
    chunks,
    layer_backward,
    layer_forward,
    textbook_backward,
    textbook_forward,
)
from numpy_lstm.functional.feature_major import fm_forward
from tests.strategies import random_layer_weights


@pytest.mark.parametrize("chunk_steps", [1, 2, 3, 100])
@pytest.mark.parametrize("proj", [False, True])
def test_chunked_layer_equals_textbook(monkeypatch: pytest.MonkeyPatch, chunk_steps: int, proj: bool) -> None:
    rng = np.random.default_rng(chunk_steps)
    T, N, I, H = 7, 3, 4, 5
    P = 2 if proj else 0
    H_out = P or H
    step_bytes = N * 4 * H * 8  # float64 gates of one step
    monkeypatch.setattr(chunks, "PROJECTION_CHUNK_BYTES", chunk_steps * step_bytes)
    monkeypatch.setattr(chunks, "DERIVATIVE_CHUNK_BYTES", chunk_steps * step_bytes)
    monkeypatch.setattr(chunks, "GRADIENT_CHUNK_BYTES", 0)
    monkeypatch.setattr(chunks, "GRADIENT_CHUNK_MAX_BYTES", 0)  # no quarter-of-the-steps chunks
    monkeypatch.setattr(chunks, "GRADIENT_CHUNK_ROWS", chunk_steps * N)  # chunk_steps steps, or all T
    W_ih, W_hh, b_ih, b_hh, W_hr = random_layer_weights(rng, I, H, P)
    x = rng.standard_normal((T, N, I))  # (T, N, I)
    h0, c0 = rng.standard_normal((N, H_out)), rng.standard_normal((N, H))
    y, h_n, c_n, cache = layer_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh, W_hr)
    y_ref, h_ref, c_ref, caches = textbook_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh, W_hr)
    y_nc, h_nc, c_nc, none = layer_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh, W_hr, keep_cache=False)
    assert none is None
    for name, a, b in [
        ("y", y, y_ref),
        ("h_n", h_n, h_ref),
        ("c_n", c_n, c_ref),
        ("y no cache", y_nc, y_ref),
        ("h_n no cache", h_nc, h_ref),
        ("c_n no cache", c_nc, c_ref),
    ]:
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13, err_msg=name)
    dy, dh_n, dc_n = (
        rng.standard_normal(y.shape),
        rng.standard_normal(h_n.shape),
        rng.standard_normal(c_n.shape),
    )
    g = layer_backward(dy, dh_n, dc_n, cache)
    ref = textbook_backward(dy, dh_n, dc_n, caches, W_ih, W_hh, W_hr)
    for name in ("dx", "dh0", "dc0", "dW_ih", "dW_hh", "db", "dW_hr"):
        if ref[name] is None:
            assert getattr(g, name) is None, name
            continue
        np.testing.assert_allclose(getattr(g, name), ref[name], rtol=1e-11, atol=1e-12, err_msg=name)
    g2 = layer_backward(dy, dh_n, dc_n, cache)  # the cache is left intact: backward again, same result
    np.testing.assert_array_equal(g2.dW_hh, g.dW_hh)


@pytest.mark.parametrize("chunk_steps", [1, 4])
def test_chunked_layer_with_lengths_matches_unchunked(
    monkeypatch: pytest.MonkeyPatch, chunk_steps: int
) -> None:
    rng = np.random.default_rng(7)
    T, N, I, H = 9, 4, 3, 4
    W = random_layer_weights(rng, I, H)[:4]  # W_ih, W_hh, b_ih, b_hh
    x = rng.standard_normal((T, N, I))
    h0, c0 = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    lengths = np.array([9, 2, 5, 1])
    dy, dh_n, dc_n = rng.standard_normal((T, N, H)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    y, h_n, c_n, cache = layer_forward(x, h0, c0, *W, lengths=lengths)
    g = layer_backward(dy, dh_n, dc_n, cache)
    step_bytes = N * 4 * H * 8
    monkeypatch.setattr(chunks, "PROJECTION_CHUNK_BYTES", chunk_steps * step_bytes)
    monkeypatch.setattr(chunks, "DERIVATIVE_CHUNK_BYTES", chunk_steps * step_bytes)
    monkeypatch.setattr(chunks, "GRADIENT_CHUNK_BYTES", 0)
    monkeypatch.setattr(chunks, "GRADIENT_CHUNK_MAX_BYTES", 0)  # no quarter-of-the-steps chunks
    monkeypatch.setattr(chunks, "GRADIENT_CHUNK_ROWS", chunk_steps * N)
    y2, h2, c2, cache2 = layer_forward(x, h0, c0, *W, lengths=lengths)
    g2 = layer_backward(dy, dh_n, dc_n, cache2)
    for name, a, b in [("y", y2, y), ("h_n", h2, h_n), ("c_n", c2, c_n)] + [
        (k, getattr(g2, k), getattr(g, k)) for k in ("dx", "dh0", "dc0", "dW_ih", "dW_hh", "db")
    ]:
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("chunk_steps", [1, 3, 100])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_feature_major_inference_equals_textbook(
    monkeypatch: pytest.MonkeyPatch, chunk_steps: int, dtype: type, bias: bool
) -> None:
    rng = np.random.default_rng(11)
    T, N, I, H = 8, 3, 4, 5
    monkeypatch.setattr(chunks, "PROJECTION_CHUNK_BYTES", chunk_steps * 4 * H * N * np.dtype(dtype).itemsize)
    W_ih, W_hh, b_ih, b_hh, _ = random_layer_weights(rng, I, H, bias=bias)
    x = rng.standard_normal((T, N, I))
    h0, c0 = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    ref = textbook_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh)[:3]
    cast = [None if a is None else a.astype(dtype) for a in (x, h0, c0, W_ih, W_hh, b_ih, b_hh)]
    out = fm_forward(*cast, keep_cache=False)[:3]
    via_layer = layer_forward(*cast, keep_cache=False)[:3]  # layer_forward dispatches here
    tol = 1e-12 if dtype == np.float64 else 2e-5
    for name, a, b, c in zip(("y", "h_n", "c_n"), out, via_layer, ref, strict=True):
        assert a.dtype == dtype and a.shape == c.shape, name
        np.testing.assert_array_equal(a, b, err_msg=name)
        np.testing.assert_allclose(a, c, rtol=tol, atol=tol, err_msg=name)
