"""The main benchmark: every (config, dtype, mode) row, all sides timed side by side."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

import numpy_lstm
from benchmarks import cases, flops, memory, timing
from benchmarks.configs import BenchConfig
from benchmarks.report import Row
from numpy_lstm.functional import activation, buffers, feature_major, rows


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


THP = "/sys/kernel/mm/transparent_hugepage"  # Linux: the kernel's transparent huge pages
NUMPY_HUGEPAGE_BYTES = 4 << 20  # NumPy asks for huge pages on arrays of at least this size (Linux)


def sysfs_choice(text: str) -> str | None:
    """The selected value of a sysfs choice file: ``"always [madvise] never"`` -> ``"madvise"``."""
    words = [w[1:-1] for w in text.split() if w.startswith("[") and w.endswith("]")]
    return words[0] if len(words) == 1 else None


def memory_settings(thp_dir: str = THP) -> dict[str, Any]:
    """What sets the cost of a step's fresh memory (13-15% of the float64 steps at small and large
    sizes in docs/benchmark.md): the kernel's transparent huge pages and their defrag mode (None
    where not readable), whether NumPy asks for them, and the allocator's settings from the
    environment (glibc's ``MALLOC_*`` and ``GLIBC_TUNABLES``)."""
    found: dict[str, Any] = {}
    for key, name in (("thp_enabled", "enabled"), ("thp_defrag", "defrag")):
        try:
            with open(os.path.join(thp_dir, name)) as f:
                found[key] = sysfs_choice(f.read())
        except OSError:
            found[key] = None
    try:  # NumPy >= 2 (private, hence the fallback: unknown)
        from numpy._core.multiarray import _get_madvise_hugepage
    except ImportError:
        found["numpy_hugepage"] = None
    else:
        found["numpy_hugepage"] = bool(_get_madvise_hugepage())
    found["allocator_env"] = {
        k: v for k, v in sorted(os.environ.items()) if k.startswith("MALLOC_") or k == "GLIBC_TUNABLES"
    }
    return found


def format_memory(m: dict[str, Any]) -> str:
    """One line: ``memory: transparent huge pages madvise (defrag madvise); NumPy asks for them ...``."""
    if m["thp_enabled"]:
        thp = f"transparent huge pages {m['thp_enabled']} (defrag {m['thp_defrag']})"
    else:
        thp = "transparent huge pages: not readable"
    asks = {True: "yes", False: "no", None: "unknown"}[m["numpy_hugepage"]]
    env = ", ".join(f"{k}={v}" for k, v in m["allocator_env"].items()) or "none"
    return (f"memory: {thp}; NumPy asks for them on arrays >= {NUMPY_HUGEPAGE_BYTES >> 20} MiB: {asks}; "
            f"allocator settings in the environment: {env}")


def matmul_peaks(dtypes: list[np.dtype], quick: bool) -> dict[str, dict[str, float]]:
    """The matmul peak per dtype (:func:`timing.matmul_peak`), measured after the rows: its large
    GEMMs would disturb the timing of small rows right after them."""
    n = 512 if quick else 2048
    return {
        np.dtype(dt).name: timing.matmul_peak(np.dtype(dt), n=n, rounds=2 if quick else 5) for dt in dtypes
    }


def add_peak(rows: list[Row], peaks: dict[str, dict[str, float]], sides: tuple[str, ...]) -> None:
    """Fill ``<side>_pct_peak`` = GFLOP/s over the matmul peak of the row's dtype."""
    for r in rows:
        peak = peaks[r["dtype"]]["peak_gflops"]
        for side in sides:
            if f"{side}_gflops" in r:
                r[f"{side}_pct_peak"] = r[f"{side}_gflops"] / peak


def layer_choices(dtypes: list[np.dtype]) -> dict[str, Any]:
    """What the fast layer chose on this computer: the gate form per dtype (with the calibration's
    ns per gate value), how many threads share the row blocks (:mod:`numpy_lstm.functional.rows`),
    whether the batches they do not split train feature-major (:mod:`numpy_lstm.functional.feature_major`)
    and whether large buffers are reused (:mod:`numpy_lstm.functional.buffers`)."""
    forms = {}
    for dt in dtypes:
        form = activation.gate_form(np.dtype(dt))
        ns = activation.calibration(np.dtype(dt))
        forms[np.dtype(dt).name] = {"form": form, "ns_per_value": ns}
    return {
        "gate_forms": forms,
        "row_threads": rows.threads(),
        "row_min_block_kib": rows.MIN_BLOCK_BYTES >> 10,
        "feature_major": feature_major.enabled(),
        "buffer_reuse": buffers.enabled(),
        "buffer_min_kib": buffers.MIN_BYTES >> 10,
    }


def format_choices(choices: dict[str, Any]) -> str:
    """One line: ``gates float32 tanh (tanh 0.25 / exp 0.41 ns), ...; row split on 2 threads ...;
    smaller batches feature-major; buffers ... kept and reused``."""
    parts = []
    for name, c in choices["gate_forms"].items():
        ns = c["ns_per_value"]
        timed = f" (tanh {ns['tanh']:.2f} / exp {ns['exp']:.2f} ns per value)" if ns else " (set, not measured)"
        parts.append(f"{name} {c['form']}{timed}")
    k = choices["row_threads"]
    split = f"row split on {k} threads" if k > 1 else "row split off"
    kib = choices["row_min_block_kib"]
    kept = "kept and reused" if choices["buffer_reuse"] else "fresh each call (reuse off)"
    fm = "smaller batches feature-major" if choices["feature_major"] else "feature-major training off"
    return (f"layer: gates {', '.join(parts)}; {split} (batches of >= 2 x {kib} KiB of gates per step); "
            f"{fm}; buffers of >= {choices['buffer_min_kib']} KiB {kept}")


def metadata(threads: int) -> dict[str, Any]:
    """Machine, versions, threads, the BLAS kernel, the SIMD kernels and the memory settings."""
    return {
        "command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
        "cpu": cpu_name(),
        "cpus_available": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "numpy_lstm": numpy_lstm.__version__,
        "threads": threads,
        "torch_threads": torch.get_num_threads(),
        "onednn_available": torch.backends.mkldnn.is_available(),
        **timing.blas_info(),
        **timing.simd_info(),
        "memory": memory_settings(),
        "flop_model": "matmul FLOPs only: forward = sum over layers, directions of 2*T*N*4H*(I_k + H); "
        "train = 3 * forward",
    }


def run_row(case: cases.Case, mode: str, threads: int, budget_s: float, with_memory: bool) -> Row:
    """Check, time and measure one (config, dtype, mode)."""
    cfg = case.cfg
    worst = cases.check_equal(case, mode)
    fns = cases.callables(case, mode)
    cap_s = timing.warmup_cap(budget_s)
    call_ms = max(timing.warm_up(fn, cap_s=cap_s) for fn in fns.values())
    rounds, inner, settle = timing.plan(call_ms, len(fns), budget_s)
    with timing.OtherLoad() as load:
        res = timing.interleaved(fns, rounds=rounds, inner=inner, settle=settle, warmup_cap_s=cap_s)
    fl = flops.flops(cfg, mode)
    row: Row = {
        "config": cfg.name,
        "dtype": case.dtype.name,
        "mode": mode,
        "T": cfg.T,
        "N": cfg.N,
        "I": cfg.I,
        "H": cfg.H,
        "layers": cfg.layers,
        "D": cfg.D,
        "gflop": fl / 1e9,
        "max_rel_diff": worst,
        "rounds": rounds,
        "inner": inner,
        "other_load_cores": load.cores,
    }
    for side, t in res.items():
        gf = fl / (t.median / 1e3) / 1e9
        row[f"{side}_ms"] = t.median
        row[f"{side}_q1_ms"] = t.q1
        row[f"{side}_q3_ms"] = t.q3
        row[f"{side}_spread"] = t.spread
        row[f"{side}_gflops"] = gf
    row["ratio_torch"] = row["numpy_ms"] / row["torch_ms"]
    row["ratio_native"] = row["numpy_ms"] / row["torch-native_ms"]
    if with_memory:
        base = {
            "T": cfg.T,
            "N": cfg.N,
            "I": cfg.I,
            "H": cfg.H,
            "layers": cfg.layers,
            "bidirectional": cfg.bidirectional,
            "dtype": case.dtype.name,
            "mode": mode,
            "threads": threads,
        }
        sides = cases.SIDES if mode == "train" else ("numpy", "torch")
        for side in sides:
            row[f"{side}_mem_mb"] = memory.measure({**base, "side": side})
        if row.get("numpy_mem_mb") is not None and row.get("torch_mem_mb"):
            row["mem_ratio"] = row["numpy_mem_mb"] / row["torch_mem_mb"]
    return row


CONTENDED = 0.15  # cores used by other processes above which a row is flagged


def contention_note(row: Row) -> str:
    load = row.get("other_load_cores")
    if load is not None and load > CONTENDED:
        return f"   !! other processes used {load:.2f} cores meanwhile: not a fair timing"
    return ""


def early_contention_note(cores: float | None, cpus: int | None) -> str:
    """The warning printed before the first row when other processes already use the CPUs
    (``cores`` from :func:`timing.other_load_now`), or "" on a quiet machine."""
    if cores is None or cores <= CONTENDED:
        return ""
    of = f" of {cpus}" if cpus else ""
    return (
        f"WARNING: other processes are using {cores:.2f}{of} cores right now: the timings will not be "
        "fair while they run (each row says how busy the CPUs were; rerun on a quiet machine)"
    )


def say(line: str) -> None:
    """Print one line now: flushed, so that each row shows as soon as it is timed, even into a pipe."""
    print(line, flush=True)


def run_grid(
    configs: list[BenchConfig],
    dtypes: list[np.dtype],
    modes: list[str],
    threads: int,
    budget_s: float,
    with_memory: bool,
    log: Callable[[str], object] = say,
) -> list[Row]:
    """Every row of the grid, timed from the smallest config to the largest (see
    :func:`matmul_peaks` for why), returned in the order config, dtype, mode."""
    rows: list[Row] = []
    for cfg in sorted(configs, key=flops.forward_flops):
        for dt in dtypes:
            case = cases.make_case(cfg, dt)
            for mode in modes:
                row = run_row(case, mode, threads, budget_s, with_memory)
                rows.append(row)
                log(
                    f"  {cfg.name:>14s} {np.dtype(dt).name} {mode:9s} numpy {row['numpy_ms']:9.2f} ms  "
                    f"torch {row['torch_ms']:9.2f} ms  native {row['torch-native_ms']:9.2f} ms  "
                    f"ratio {row['ratio_torch']:.2f} / {row['ratio_native']:.2f}" + contention_note(row)
                )
    order = {c.name: n for n, c in enumerate(configs)}
    return sorted(rows, key=lambda r: order[r["config"]])  # stable: dtype and mode order kept
