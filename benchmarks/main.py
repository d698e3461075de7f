"""Entry point shared by ``numpy-lstm bench`` and ``python -m benchmarks``: run, print, write files."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks import ablation, bounds, configs, grid, report, scale, targets, timing

SCALE_CONFIG = configs.SCALE  # N, I, H of the scale study
ABLATION_CONFIGS = ("small", "medium")


def _list(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    items = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in items if p not in allowed]
    if bad or not items:
        raise ValueError(f"{what}: expected a comma list of {', '.join(allowed)}, got {text!r}")
    return items


def run_benchmark(args: argparse.Namespace) -> int:
    """Run what ``args.what`` asks; print tables; write JSON/CSV/PNG into ``args.out``."""
    t_start = time.perf_counter()
    dtypes = [np.dtype(d) for d in _list(args.dtype, ("float32", "float64"), "--dtype")]
    modes = _list(args.mode, ("inference", "train"), "--mode")
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    if args.steps and args.what not in ("scale", "all"):
        raise ValueError(f"--steps applies to --what scale or all, got --what {args.what}")
    cfgs = configs.select(args.config, args.sizes, args.quick)
    budget = args.budget if args.budget is not None else (0.2 if args.quick else 6.0)
    if not (budget > 0 and np.isfinite(budget)):
        raise ValueError(f"--budget must be a number of seconds > 0, got {args.budget}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out must be a directory, got the file {out}")
    report.writable_folder(out)  # before any timing: a folder that cannot be written is found now
    if args.what == "bounds" and not any(c.layers == 1 and not c.bidirectional for c in cfgs):
        raise ValueError(
            "--what bounds: expected one-layer, one-direction configs (seed, small, medium, large, or "
            f"--sizes T,N,I,H), got {', '.join(c.name for c in cfgs)}"
        )
    if args.what in ("ablation", "scale") and "train" not in modes:
        raise ValueError(f"--what {args.what} times the training step only; got --mode {args.mode}")
    if args.what == "scale" and (args.sizes or args.config):
        raise ValueError(
            f"--what scale runs N={SCALE_CONFIG.N}, I={SCALE_CONFIG.I}, H={SCALE_CONFIG.H} at the lengths of "
            "--steps; --sizes and --config choose the rows of grid, ablation and bounds"
        )
    with timing.run_threads(args.threads):  # put back after the run, also after an error
        return _run(args, t_start, dtypes, modes, cfgs, budget, out)


def _run(
    args: argparse.Namespace,
    t_start: float,
    dtypes: list[np.dtype],
    modes: list[str],
    cfgs: list[configs.BenchConfig],
    budget: float,
    out: Path,
) -> int:
    memory = not args.no_memory
    meta = grid.metadata(args.threads)
    print(
        f"numpy {meta['numpy']} (SIMD {meta['numpy_simd']}; {meta['blas']} {meta['blas_version']}, kernel "
        f"{meta['blas_kernel']}, OPENBLAS_CORETYPE={meta['OPENBLAS_CORETYPE']}), torch {meta['torch']} (CPU "
        f"capability {meta['torch_cpu_capability']}), {args.threads} threads each side, CPU {meta['cpu']}"
    )
    meta["layer"] = grid.layer_choices(dtypes)
    print(grid.format_choices(meta["layer"]))
    print(grid.format_memory(meta["memory"]))
    print(f"FLOP model: {meta['flop_model']}")
    note = grid.early_contention_note(timing.other_load_now(), meta["cpus_available"])
    if note:
        grid.say(note)
    written: list[Path] = []
    what = {"grid", "ablation", "scale", "bounds"} if args.what == "all" else {args.what}
    results: dict[str, list[report.Row]] = {}

    if "grid" in what:
        grid.say(  # with the work ahead, so that a reader knows how long to wait
            f"\ngrid: {len(cfgs) * len(dtypes) * len(modes)} rows, up to {budget:g} s of timing each"
            f"{' and a peak-memory subprocess per side' if memory else ''} (median of interleaved "
            "repetitions; ratio < 1 means NumPy is faster):"
        )
        results["grid"] = grid.run_grid(cfgs, dtypes, modes, args.threads, budget, memory)
    if "ablation" in what:
        names = (
            [c.name for c in cfgs] if (args.config or args.sizes or args.quick) else list(ABLATION_CONFIGS)
        )
        pool = {c.name: c for c in cfgs} | configs.GRID
        print("\nablation (training step of one layer; each variant adds one idea to the one above):")
        results["ablation"] = [
            r for n in names for dt in dtypes for r in ablation.run_ablation(pool[n], dt, budget * 2)
        ]

    if "bounds" in what:
        one_layer = [c for c in cfgs if c.layers == 1 and not c.bidirectional]
        skipped = [c.name for c in cfgs if c not in one_layer]
        grid.say(
            f"\nbounds: {len(one_layer) * len(dtypes) * len(modes)} rows: each step beside its GEMMs alone "
            "(NumPy's BLAS and torch.mm) and the elementwise floor"
            + (f"; {', '.join(skipped)} skipped (one layer, one direction only)" if skipped else "")
        )
        results["bounds"] = []
        for c in one_layer:
            for dt in dtypes:
                for mode in modes:
                    row = bounds.run_bounds(c, dt, mode, args.threads, budget)
                    grid.say(
                        f"  {c.name:>8} {dt.name} {mode:<9} numpy {row['numpy_ms']:9.2f} ms  torch "
                        f"{row['torch_ms']:9.2f} ms  GEMMs alone {row['gemm_numpy_ms']:9.2f} ms  "
                        f"floor A {row['floor_a_ratio']:.2f}  B {row['floor_b_ratio']:.2f} "
                        f"(1 core {row['floor_b1_ratio']:.2f})  {row['verdict']}"
                    )
                    results["bounds"].append(row)

    peaks = grid.matmul_peaks(dtypes, args.quick)  # after the timed rows: see grid.matmul_peaks
    meta["matmul_peak"] = peaks
    for name, pk in peaks.items():
        print(
            f"\nmatmul peak {name} (n={pk['n']}): numpy {pk['numpy_gflops']:.0f} GFLOP/s, "
            f"torch {pk['torch_gflops']:.0f} GFLOP/s -> peak {pk['peak_gflops']:.0f}"
        )
    grid.add_peak(results.get("grid", []), peaks, ("numpy", "torch", "torch-native"))
    for r in results.get("ablation", []):
        r["pct_peak"] = r["gflops"] / peaks[r["dtype"]]["peak_gflops"]
    bounds.add_peak(results.get("bounds", []), peaks)

    if "grid" in what:
        rows = results["grid"]
        print()
        print(report.table(rows, report.GRID_COLUMNS))
        checked = targets.check(rows)
        meta["targets"] = [{"target": n, "met": m, "detail": d} for n, m, d in checked]
        print("\nthe project's targets (NumPy / PyTorch default CPU path):")
        print(targets.format_targets(checked))
        busy = [r["config"] + " " + r["dtype"] + " " + r["mode"] for r in rows if grid.contention_note(r)]
        if busy:
            print(f"\nWARNING: other processes used the CPUs during {len(busy)} row(s) ({', '.join(busy)}): "
                  "those timings are not fair; rerun on a quiet machine")
        written += report.write(out, "grid", meta, rows)
        report.write_text(out / "grid.md", report.markdown(rows, report.GRID_COLUMNS) + "\n")
        written.append(out / "grid.md")
        written.append(report.plot_grid(out / "grid.png", rows, f"{meta['cpu']}, {args.threads} threads"))

    if "ablation" in what:
        rows = results["ablation"]
        print()
        print(report.table(rows, ablation.ABLATION_COLUMNS))
        written += report.write(out, "ablation", meta, rows)
        report.write_text(out / "ablation.md", report.markdown(rows, ablation.ABLATION_COLUMNS) + "\n")
        written.append(out / "ablation.md")

    if "scale" in what:
        if args.steps:
            steps = tuple(int(s) for s in args.steps.split(",") if s.strip())
        else:
            steps = scale.QUICK_STEPS if args.quick else scale.DEFAULT_STEPS
        sc = configs.QUICK["tiny"] if args.quick else SCALE_CONFIG
        rows = []
        print(f"\nscale (training step, N={sc.N} I={sc.I} H={sc.H}, {', '.join(dt.name for dt in dtypes)}):")
        for dt in dtypes:
            rows += scale.run_scale(sc, dt, steps, args.threads, budget, memory, log=grid.say)
        print(report.table(rows, scale.SCALE_COLUMNS))
        written += report.write(out, "scale", meta, rows)
        report.write_text(out / "scale.md", report.markdown(rows, scale.SCALE_COLUMNS) + "\n")
        written.append(out / "scale.md")
        series = {}
        for dt in dtypes:  # one line per side, dtype and measure: each over T
            mine = [r for r in rows if r["dtype"] == dt.name]
            for s in ("numpy", "torch"):
                series[f"{s} {dt.name} us/step"] = [(r["T"], r[f"{s}_us_per_step"]) for r in mine]
                if memory:
                    series[f"{s} {dt.name} KiB/step"] = [(r["T"], r[f"{s}_kb_per_step"]) for r in mine]
        written.append(
            report.plot_lines(
                out / "scale.png",
                "T (steps)",
                series,
                "per step",
                "training step as T grows",
                logx=True,
                logy=True,
            )
        )

    if "bounds" in what:
        rows = results["bounds"]
        print("\nbounds (floor A: the step's GEMMs alone in NumPy's BLAS; B: A + the elementwise passes at "
              "NumPy's best cost per value, shared over the threads; both / torch's step):")
        print(report.table(rows, bounds.BOUNDS_COLUMNS))
        large = [r for r in rows if r["config"] == "large" and r["dtype"] == "float32" and r["mode"] == "train"]
        for r in large:
            print(f"large float32 training step: GEMMs alone reach {r['gemm_numpy_pct_peak']:.0%} of the "
                  f"matmul peak, the step {r['numpy_pct_peak']:.0%} (target {targets.PEAK_TARGET:.0%})")
        written += report.write(out, "bounds", meta, rows)
        report.write_text(out / "bounds.md", report.markdown(rows, bounds.BOUNDS_COLUMNS) + "\n")
        written.append(out / "bounds.md")

    print(f"\nwrote {', '.join(str(p) for p in written)} in {time.perf_counter() - t_start:.0f} s")
    return 0
