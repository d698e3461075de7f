"""The row split (numpy_lstm.functional.rows): the same bits whatever the number of threads, the BLAS
setting restored afterwards, errors from a worker raised, and a way to turn it off."""

from __future__ import annotations

import numpy as np
import pytest
import threadpoolctl

from numpy_lstm.functional import chunks, layer_backward, layer_forward, rows
from tests.strategies import random_layer_weights


def _run(x, h0, c0, W, lengths, dy, dh_n, dc_n):
    y, h_n, c_n, cache = layer_forward(x, h0, c0, *W, lengths=lengths)
    g = layer_backward(dy, dh_n, dc_n, cache)
    y_nc, h_nc, c_nc, _ = layer_forward(x, h0, c0, *W, lengths=lengths, keep_cache=False)
    return {"y": y, "h_n": h_n, "c_n": c_n, "y no cache": y_nc, "h_n no cache": h_nc, "c_n no cache": c_nc,
            **{name: v for name, v in g._asdict().items() if v is not None}}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("proj", [False, True])
@pytest.mark.parametrize("with_lengths", [False, True])
@pytest.mark.parametrize("grad_chunk_steps", [2, 100])
@pytest.mark.parametrize(("bias", "projection_chunk_steps"), [(True, 3), (False, 100)])
def test_results_are_identical_whatever_the_thread_count(
    monkeypatch: pytest.MonkeyPatch, dtype: type, proj: bool, with_lengths: bool, grad_chunk_steps: int,
    bias: bool, projection_chunk_steps: int,
) -> None:
    monkeypatch.setattr(rows, "MIN_BLOCK_BYTES", 1)  # split even these small sizes
    monkeypatch.setattr(chunks, "GRADIENT_CHUNK_BYTES", 0)  # gradient GEMMs per chunk of steps too
    monkeypatch.setattr(chunks, "GRADIENT_CHUNK_MAX_BYTES", 0)  # no quarter-of-the-steps chunks
    monkeypatch.setattr(chunks, "GRADIENT_CHUNK_ROWS", grad_chunk_steps * 9)
    # the input projection per chunk of steps (3 of 7: a short last chunk), or all at once
    monkeypatch.setattr(chunks, "PROJECTION_CHUNK_BYTES", projection_chunk_steps * 9 * 4 * 8 * np.dtype(dtype).itemsize)
    rng = np.random.default_rng(11)
    T, N, I, H = 7, 9, 6, 8
    P = 3 if proj else 0
    W = tuple(
        w.astype(dtype) if w is not None else None for w in random_layer_weights(rng, I, H, P, bias=bias, scale=0.5)
    )
    x = rng.standard_normal((T, N, I)).astype(dtype)  # (T, N, I)
    h0, c0 = rng.standard_normal((N, P or H)).astype(dtype), rng.standard_normal((N, H)).astype(dtype)
    lengths = rng.integers(1, T + 1, N) if with_lengths else None
    dy = rng.standard_normal((T, N, P or H)).astype(dtype)
    dh_n, dc_n = rng.standard_normal((N, P or H)).astype(dtype), rng.standard_normal((N, H)).astype(dtype)
    args = (x, h0, c0, W, lengths, dy, dh_n, dc_n)
    itemsize = np.dtype(dtype).itemsize
    with rows.row_threads(1):
        assert rows.row_blocks(N, 4 * H, itemsize) == [(0, N)]
        ref = _run(*args)
    for k in (2, 3):
        with rows.row_threads(k):
            assert len(rows.row_blocks(N, 4 * H, itemsize)) == 2
            out = _run(*args)
        assert out.keys() == ref.keys()
        for name, value in ref.items():
            np.testing.assert_array_equal(out[name], value, err_msg=f"{k} threads: {name}")


def test_blas_threads_are_held_at_one_and_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rows, "MIN_BLOCK_BYTES", 1)
    seen: list[int] = []

    def task() -> None:
        seen.extend(lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas")

    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
        rows.run_parallel([task, task])
        after = [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
        assert after == before == [2] * len(before)
        assert rows.threads() == 2, "as many threads as the BLAS had"
    assert seen and all(n == 1 for n in seen), f"BLAS at one thread while the rows run, saw {seen}"


def test_blocks_follow_the_sizes_and_threads_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(rows.ENV_VAR, raising=False)
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        assert rows.threads() == 1, "a BLAS held at one thread: no second thread either"
        assert rows.row_blocks(128, 2048, 4) == [(0, 128)]
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        assert rows.threads() == 2
        assert rows.row_blocks(1, 2048, 8) == [(0, 1)], "one row cannot be split"
        assert rows.row_blocks(64, 1024, 4) == [(0, 64)], "medium float32: too little work per block"
        assert rows.row_blocks(64, 1024, 8) == [(0, 32), (32, 64)], "medium float64"
        assert rows.row_blocks(128, 2048, 4) == [(0, 64), (64, 128)], "large float32"
        monkeypatch.setenv(rows.ENV_VAR, "1")
        assert rows.threads() == 1, "NUMPY_LSTM_ROW_THREADS=1 turns it off"
        assert rows.row_blocks(128, 2048, 4) == [(0, 128)]
        monkeypatch.setenv(rows.ENV_VAR, "two")
        with pytest.raises(ValueError, match="NUMPY_LSTM_ROW_THREADS: expected a positive integer, got 'two'"):
            rows.threads()


def test_an_error_in_a_worker_is_raised_after_all_finish() -> None:
    done: list[str] = []

    def bad() -> None:
        raise FloatingPointError("in the worker")

    with pytest.raises(FloatingPointError, match="in the worker"):
        rows.run_parallel([lambda: done.append("main"), bad])
    assert done == ["main"]
    with pytest.raises(ValueError, match="expected a positive int or None, got 0"):
        rows.set_row_threads(0)


def test_layers_running_at_once_restore_the_blas_setting_of_before() -> None:
    """Two caller threads in run_parallel at overlapping times: the BLAS comes back to 2 threads,
    not to the 1 that the first of them set."""
    import threading

    gate = threading.Barrier(2)

    def step() -> None:
        rows.run_parallel([lambda: gate.wait(timeout=10), lambda: None])

    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        callers = [threading.Thread(target=step) for _ in range(2)]
        for th in callers:
            th.start()
        for th in callers:
            th.join(timeout=20)
        blas = [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
        assert blas and all(n == 2 for n in blas)


def test_the_first_call_of_a_process_may_be_run_parallel() -> None:
    """run_parallel (or blas_held) before anything has looked up the BLAS: the lookup takes the
    module's lock, which the hold must not be holding already (it used to, and hung)."""
    import subprocess
    import sys

    code = (
        "from numpy_lstm.functional import rows\n"
        "done = []\n"
        "rows.run_parallel([lambda: done.append(0), lambda: done.append(1)])\n"
        "with rows.blas_held():\n"
        "    pass\n"
        "print(sorted(done))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[0, 1]"
