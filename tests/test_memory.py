"""Memory of a training step: backward holds the gradient of the gate pre-activations ``dA`` one chunk
of steps at a time (never for all ``T`` steps), and frees each layer's cache as soon as its backward
is done.  Measured with tracemalloc (NumPy's allocations), against bounds made from the sizes."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import numpy_lstm
from numpy_lstm.functional import buffers, chunks, layer
from numpy_lstm.functional.feature_major import FeatureMajorCache, feature_major


@pytest.mark.parametrize("fm", [False, True], ids=["(N, 4H)", "feature-major"])
def test_backward_holds_da_one_chunk_at_a_time_and_frees_the_caches(fm: bool) -> None:
    """The same bound for both layouts: the feature-major one holds half the steps of ``dA`` at a
    time and their ``(4H, n*N)`` copy."""
    with buffers.reuse(False), feature_major(fm):  # every buffer from NumPy's allocator, as tracemalloc counts it
        _backward_holds_da_one_chunk_at_a_time_and_frees_the_caches()


def test_with_reuse_a_step_leaves_every_buffer_unused_and_the_next_step_takes_no_new_one() -> None:
    T, N, I, H, L = 200, 16, 8, 64, 2
    m = numpy_lstm.LSTM(I, H, num_layers=L, dtype=np.float64, seed=0)
    rng = np.random.default_rng(0)
    x, d_out = rng.standard_normal((T, N, I)), rng.standard_normal((T, N, H))  # (T, N, I), (T, N, H)
    with buffers.reuse(True):
        buffers.release()
        base, _ = buffers.held()  # what other tests' arrays still hold
        m(x)
        m.backward(d_out)
        total, idle = buffers.held()
        assert total - base > T * N * 4 * H * 8, "the caches came from the kept buffers"
        assert idle >= total - base, "backward let go of every cache and dA (nothing still refers to them)"
        m(x)
        m.backward(d_out)
        assert buffers.held()[0] == total, "the second step reused the first step's buffers"
        buffers.release()


def _backward_holds_da_one_chunk_at_a_time_and_frees_the_caches() -> None:
    T, N, I, H, L = 400, 16, 8, 64, 2
    item = 8  # float64
    m = numpy_lstm.LSTM(I, H, num_layers=L, dtype=np.float64, seed=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, N, I))  # (T, N, I)
    d_out = rng.standard_normal((T, N, H))  # (T, N, H)
    m(x[:2])  # warm-up: the gate form's calibration is not the step's memory
    tracemalloc.start()
    try:
        m(x)
        held = tracemalloc.get_traced_memory()[0]  # the caches (and the private copy of x)
        tracemalloc.reset_peak()
        m.backward(d_out)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    full_dA = T * N * 4 * H * item  # what one layer's dA for all T steps would take: 12.5 MiB
    rows = chunks.gradient_chunk_rows(T, N, 4 * H * item)  # a quarter of the steps here
    chunk_dA = (rows + N) * 4 * H * item  # one chunk, rounded up to whole steps: 3.2 MiB
    dx = T * N * H * item  # layer 1's input gradient, held while layer 0 runs: 3.1 MiB
    weights = 4 * H * (I + 3 * H) * item * 3  # the layers' weight gradients and scratch
    bound = chunk_dA + 2 * dx + weights + (1 << 20)  # 1 MiB for the small buffers
    assert bound < full_dA + dx  # the bound would catch a dA of all T steps
    extra = (peak - held) / 2**20
    assert peak - held < bound, f"backward took {extra:.1f} MiB over the caches, bound {bound / 2**20:.1f}"
    caches = T * N * (4 * H + 2 * H) * item * L  # acts, c, tanh(c) of both layers (x, h besides)
    assert held - after > caches, "the caches were not freed by backward"


@pytest.mark.parametrize("fm", [False, True], ids=["(N, 4H)", "feature-major"])
def test_cache_does_not_hold_the_output_without_projection(fm: bool) -> None:
    """Backward remakes ``h = o * tanh(c)`` per chunk, so the cache keeps ``h_0`` alone: the layer's
    output (the module's, or the concatenation of directions) is not held twice until backward, and
    nothing the caller does to the output reaches the cache."""
    rng = np.random.default_rng(0)
    T, N, I, H = 6, 3, 4, 5
    W_ih, W_hh = rng.standard_normal((4 * H, I)), rng.standard_normal((4 * H, H))
    x, h0, c0 = rng.standard_normal((T, N, I)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    with feature_major(fm):
        y, _, _, cache = layer.layer_forward(x, h0, c0, W_ih, W_hh)
    assert isinstance(cache, FeatureMajorCache if fm else layer.LayerCache)
    kept = cache.h0.T if fm else cache.h[0]  # (N, H)
    assert (cache.h0.shape == (H, N)) if fm else (cache.h.shape == (1, N, H))
    np.testing.assert_array_equal(kept, h0)
    for name, value in cache._asdict().items():
        if isinstance(value, np.ndarray) and name != "x":
            assert not np.shares_memory(y, value) and not np.shares_memory(h0, value), name


def test_gradient_chunks_are_a_quarter_of_the_steps_within_32_mib() -> None:
    """``dA`` per chunk: about 2 MiB at small sizes, a quarter of the steps where that is more (fewer,
    larger gradient GEMMs), never more than 32 MiB however long the sequence."""
    assert chunks.gradient_chunk_rows(50, 32, 4 * 128 * 4) == 1024  # small float32: 2 MiB of rows of 2 KiB
    assert chunks.gradient_chunk_rows(100, 64, 4 * 256 * 4) == 1600  # medium float32: T * N / 4
    assert chunks.gradient_chunk_rows(10_000, 16, 4 * 128 * 4) == 16_384  # 32 MiB, not T * N / 4
    assert chunks.gradient_chunk_rows(3, 2, 4 * 8 * 8) == 8192  # tiny: 2 MiB of rows, far more than T * N
