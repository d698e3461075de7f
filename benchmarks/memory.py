"""Peak memory of one call, measured in a fresh subprocess per (config, dtype, side, mode).

tracemalloc sees NumPy's allocations but not torch's CPU allocator, so both sides are measured the
same way, by the operating system: the growth of the process's resident set during the call.

In the child process: import, set the thread count, build the model and the data, run the same call
once on two steps of the row's own batch, so through the same code path (library start-up, thread
stacks, oneDNN's kernel generation are not the call's memory), then reset the peak (``echo 5 >
/proc/self/clear_refs`` sets ``VmHWM`` to the current ``VmRSS``), run the real call once, and report
``VmHWM - VmRSS_before``. The first real call is measured, so nothing freed by an earlier call of
the same size hides in the allocators' caches, nor in the buffers the fast layer keeps for reuse
(released before the call: the call's own, reused within the call, are counted). Linux only
(``/proc``); elsewhere the result is None.

Run as ``python -m benchmarks.memory '<json>'``; the NumPy child never imports torch.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _build(spec: dict[str, Any], T: int, N: int) -> Any:
    """The call to measure, for sizes ``T`` and ``N`` (the tiny warm-up shrinks them)."""
    import numpy_lstm

    dtype = np.dtype(spec["dtype"])
    I, H, L, bidir = spec["I"], spec["H"], spec["layers"], spec["bidirectional"]
    D = 2 if bidir else 1
    m = numpy_lstm.LSTM(I, H, num_layers=L, bidirectional=bidir, dtype=dtype, seed=0)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((T, N, I)).astype(dtype)  # (T, N, I)
    dy = rng.standard_normal((T, N, D * H)).astype(dtype)  # (T, N, D*H)
    side, mode = spec["side"], spec["mode"]
    if side == "numpy":
        if mode == "inference":

            def call() -> None:
                with numpy_lstm.no_grad():
                    m(x)

        else:

            def call() -> None:
                y, _ = m(x)  # the output stays alive through backward, as torch's y does below
                m.backward(dy)

        return call
    import torch

    from benchmarks.cases import onednn
    from torch_ref.bridge import to_torch

    t = to_torch(m)
    tx = torch.from_numpy(x).requires_grad_(True)
    tdy = torch.from_numpy(dy)
    use_onednn = side == "torch"

    def tcall() -> None:
        with onednn(use_onednn):
            if mode == "inference":
                with torch.no_grad():
                    t(tx)
            else:
                y, _ = t(tx)
                y.backward(tdy)

    return tcall


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Measure in this process (the subprocess side)."""
    import threadpoolctl

    from numpy_lstm.functional import rows

    with threadpoolctl.threadpool_limits(limits=spec["threads"], user_api="blas"):
        with rows.row_threads(min(spec["threads"], rows.threads())):  # as in the timed run (timing.run_threads)
            if spec["side"] != "numpy":
                import torch

                torch.set_num_threads(spec["threads"])
            _build(spec, 2, spec["N"])()  # a warm-up of two steps on the row's own batch: the same path
            call = _build(spec, spec["T"], spec["N"])
            if spec["side"] == "numpy":
                from numpy_lstm.functional import buffers

                buffers.release()  # no buffer kept from the warm-up: the call's own buffers are counted
            _reset_peak()
            before = _status_kb("VmRSS")
            call()
            peak = _status_kb("VmHWM")
    return {"peak_mb": (peak - before) / 1024.0}


def measure(spec: dict[str, Any], timeout_s: float = 600.0) -> float | None:
    """Peak memory in MiB of one call described by ``spec`` (keys: T N I H layers bidirectional
    dtype side mode threads), or None where it cannot be measured."""
    if not sys.platform.startswith("linux"):
        return None
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"memory measurement failed for {spec}:\n{proc.stderr[-2000:]}")
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["peak_mb"])


if __name__ == "__main__":
    print(json.dumps(child(json.loads(sys.argv[1]))))
