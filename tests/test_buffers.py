"""The kept buffers of the fast layer (numpy_lstm.functional.buffers): a buffer is handed out again only
when nothing refers to it any more, so nothing a caller kept (an output, a cache, a tensor sharing
its memory) is ever overwritten; the results are the same bits with reuse or without; threads get
distinct buffers; and reuse can be turned off, released and bounded."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pytest
import torch

import numpy_lstm
from numpy_lstm.functional import buffers, layer_backward, layer_forward
from tests.strategies import random_layer_weights

SHAPE = (64, 1024)  # float64: 512 KiB; MIN_BYTES is lowered to 1 in these tests
SHIPPED_MIN_BYTES = buffers.MIN_BYTES  # read at import, before any fixture lowers it


@pytest.fixture(autouse=True)
def _reuse_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(buffers, "MIN_BYTES", 1)  # every buffer of the layer comes from the kept ones
    monkeypatch.delenv(buffers.ENV_VAR, raising=False)
    with buffers.reuse(True):
        yield
    buffers.release()


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


class _Box(NamedTuple):
    kept: Any


HOLDERS: dict[str, Callable[[np.ndarray], Any]] = {
    "the array": lambda a: a,
    "a slice": lambda a: a[1:],
    "a row from list()": lambda a: list(a)[3],
    "the transpose": lambda a: a.T,
    "a reshape": lambda a: a.reshape(-1),
    "a dtype view": lambda a: a.view(np.uint8),
    "a memoryview": lambda a: memoryview(a),
    "a torch tensor": lambda a: torch.from_numpy(a),
    "a NamedTuple": lambda a: _Box(a[:2]),
    "a closure": lambda a: (lambda: a),
}


@pytest.mark.parametrize("holder", list(HOLDERS))
def test_a_buffer_is_not_handed_out_while_anything_refers_to_it(holder: str) -> None:
    buffers.release()
    a = buffers.empty(SHAPE, np.float64)
    where = _address(a)
    kept = HOLDERS[holder](a)  # the one reference left once `a` is gone
    del a
    b = buffers.empty(SHAPE, np.float64)
    assert _address(b) != where, f"reused while {holder} still refers to it"
    b[...] = 1.0  # writing the new buffer cannot reach what the holder sees
    del b, kept
    c = buffers.empty(SHAPE, np.float64)
    assert _address(c) == where, "reused once nothing refers to it"


def test_the_smallest_unused_buffer_that_fits_is_taken() -> None:
    buffers.release()
    big, small = buffers.empty((4, *SHAPE), np.float64), buffers.empty(SHAPE, np.float64)
    where_big, where_small = _address(big), _address(small)
    del big, small
    half = buffers.empty((32, 1024), np.float64)
    assert _address(half) == where_small
    larger = buffers.empty((2, *SHAPE), np.float64)  # does not fit in the small one
    assert _address(larger) == where_big
    assert half.flags.c_contiguous and larger.shape == (2, *SHAPE) and larger.dtype == np.float64


def _layer_run(dtype: type, proj: bool, with_lengths: bool, seed: int) -> tuple[dict[str, np.ndarray], Any]:
    rng = np.random.default_rng(seed)
    T, N, I, H = 7, 5, 4, 6
    P = 3 if proj else 0
    W = tuple(w.astype(dtype) if w is not None else None for w in random_layer_weights(rng, I, H, P, scale=0.5))
    x = rng.standard_normal((T, N, I)).astype(dtype)  # (T, N, I)
    h0, c0 = rng.standard_normal((N, P or H)).astype(dtype), rng.standard_normal((N, H)).astype(dtype)
    lengths = rng.integers(1, T + 1, N) if with_lengths else None
    y, h_n, c_n, cache = layer_forward(x, h0, c0, *W, lengths=lengths)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dh, dc = rng.standard_normal(h_n.shape).astype(dtype), rng.standard_normal(c_n.shape).astype(dtype)
    g = layer_backward(dy, dh, dc, cache)
    out = {"y": y, "h_n": h_n, "c_n": c_n, **{k: v for k, v in g._asdict().items() if v is not None}}
    return out, (dy, dh, dc, cache)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("proj", "with_lengths"), [(False, False), (True, True)])
def test_what_the_caller_kept_is_never_overwritten_and_reuse_changes_no_bit(
    dtype: type, proj: bool, with_lengths: bool
) -> None:
    with buffers.reuse(False):
        fresh = [_layer_run(dtype, proj, with_lengths, seed)[0] for seed in range(4)]
    kept = [_layer_run(dtype, proj, with_lengths, seed) for seed in range(4)]  # outputs and caches kept
    for _ in range(3):  # more calls of the same sizes: they must take other buffers
        _layer_run(dtype, proj, with_lengths, 99)
    for seed, (out, (dy, dh, dc, cache)) in enumerate(kept):
        for name, value in fresh[seed].items():
            np.testing.assert_array_equal(out[name], value, err_msg=f"call {seed}: {name}")
        again = layer_backward(dy, dh, dc, cache)  # the kept cache still gives the same gradients
        for name, value in again._asdict().items():
            if value is not None:
                np.testing.assert_array_equal(value, fresh[seed][name], err_msg=f"call {seed}: {name} again")


def test_a_module_step_keeps_the_returned_gradients_through_the_next_step() -> None:
    m = numpy_lstm.LSTM(4, 6, num_layers=2, bidirectional=True, dtype=np.float64, seed=0)
    rng = np.random.default_rng(0)
    x1, x2 = rng.standard_normal((9, 5, 4)), rng.standard_normal((9, 5, 4))  # (T, N, I)
    d_out = rng.standard_normal((9, 5, 12))  # (T, N, 2H)
    y1, _ = m(x1)
    dx1, (dh1, dc1) = m.backward(d_out)
    saved = [a.copy() for a in (y1, dx1, dh1, dc1)]
    m(x2)
    m.backward(d_out)
    for name, now, before in zip(("output", "dx", "dh_0", "dc_0"), (y1, dx1, dh1, dc1), saved, strict=True):
        np.testing.assert_array_equal(now, before, err_msg=f"{name} of the first step changed")


def test_threads_running_layers_at_once_get_the_numbers_of_one_thread() -> None:
    seeds = range(8)
    with buffers.reuse(False):
        ref = {s: _layer_run(np.float64, False, False, s)[0] for s in seeds}
    errors: list[str] = []

    def worker(s: int) -> None:
        for _ in range(5):
            out, _ = _layer_run(np.float64, False, False, s)
            for name, value in ref[s].items():
                if not np.array_equal(out[name], value):
                    errors.append(f"seed {s}: {name}")

    threads = [threading.Thread(target=worker, args=(s,)) for s in seeds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, f"results changed under threads: {errors[:5]}"


def test_unused_buffers_are_bounded_and_released(monkeypatch: pytest.MonkeyPatch) -> None:
    buffers.release()
    base, _ = buffers.held()
    arrays = [buffers.empty((k, 1024), np.float64) for k in (8, 16, 32)]  # 64, 128, 256 KiB
    assert buffers.held() == (base + (8 + 16 + 32) * 8192, 0)
    del arrays
    assert buffers.held()[1] == (8 + 16 + 32) * 8192
    monkeypatch.setattr(buffers, "MAX_IDLE_BYTES", 200 * 1024)
    big = buffers.empty((64, 1024), np.float64)  # no unused one fits: a new one, then the trim
    total, idle = buffers.held()
    assert idle <= 200 * 1024 and total == base + 64 * 8192 + idle
    del big
    assert buffers.release() == total - base
    assert buffers.held() == (base, 0)


def test_reuse_can_be_turned_off_and_small_buffers_are_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(buffers, "MIN_BYTES", 1 << 20)
    small = buffers.empty((10, 10), np.float64)
    assert small.flags.owndata, "below MIN_BYTES: a plain np.empty"
    before = buffers.held()
    with buffers.reuse(False):
        assert not buffers.enabled()
        assert buffers.empty((256, 1024), np.float64).flags.owndata
    assert buffers.held()[0] == before[0]
    monkeypatch.setenv(buffers.ENV_VAR, "0")
    with buffers.reuse(None):
        assert not buffers.enabled() and buffers.empty((256, 1024), np.float64).flags.owndata
        monkeypatch.setenv(buffers.ENV_VAR, "yes")
        with pytest.raises(ValueError, match="NUMPY_LSTM_BUFFERS: expected 0 or 1, got 'yes'"):
            buffers.enabled()
    with pytest.raises(TypeError, match="set_reuse: expected True, False or None, got 'off'"):
        buffers.set_reuse("off")  # type: ignore[arg-type]


def test_a_small_layers_caches_are_kept_buffers(monkeypatch: pytest.MonkeyPatch) -> None:
    """As shipped (``MIN_BYTES`` not lowered), the 0.8 MiB cell-state and ``tanh(c)`` caches of the
    small benchmark size (float32, T=50, N=32, H=128) come from the kept buffers: fresh pages there
    every step cost that step 9-16% (``docs/benchmark.md``)."""
    monkeypatch.setattr(buffers, "MIN_BYTES", SHIPPED_MIN_BYTES)  # the fixture lowered it
    assert buffers.MIN_BYTES <= 50 * 32 * 128 * 4 <= 1 << 20  # a (T, H, N) cache lies between the two sizes
    rng = np.random.default_rng(0)
    w = [a.astype(np.float32) for a in random_layer_weights(rng, 64, 128, scale=0.1)[:4]]
    x = rng.standard_normal((50, 32, 64)).astype(np.float32)
    z = np.zeros((32, 128), np.float32)
    cache = layer_forward(x, z, z, *w)[3]
    kept = buffers._owners[1:]
    for name in ("c", "tanh_c"):
        owner = getattr(cache, name).base
        assert any(o is owner for o in kept), f"cache.{name} is not a kept buffer"
