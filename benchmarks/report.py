"""Reports: the table on stdout, ``<name>.json``, ``<name>.csv`` and ``<name>.png`` in ``--out``.

A row is a flat dict (see :func:`benchmarks.grid.run_row`); the JSON file also holds the
run's metadata (machine, versions, threads, BLAS kernel, matmul peaks, FLOP model, command).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from numpy_lstm.files import atomic_write, probe_writable

Row = dict[str, Any]


def _fmt(value: Any, spec: str) -> str:
    if value is None:
        return "-"
    return format(value, spec)


def table(rows: list[Row], columns: list[tuple[str, str, str]]) -> str:
    """Plain-text table; ``columns`` are ``(key, header, format spec)``."""
    cells = [[h for _, h, _ in columns]]
    for r in rows:
        cells.append([_fmt(r.get(k), spec) for k, _, spec in columns])
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if n else c.ljust(w) for c, w in zip(row, widths, strict=True)))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


GRID_COLUMNS = [
    ("config", "config", "s"),
    ("dtype", "dtype", "s"),
    ("mode", "mode", "s"),
    ("numpy_ms", "numpy ms", ".2f"),
    ("numpy_spread", "±IQR", ".0%"),
    ("torch_ms", "torch ms", ".2f"),
    ("torch-native_ms", "native ms", ".2f"),
    ("ratio_torch", "np/torch", ".2f"),
    ("ratio_native", "np/native", ".2f"),
    ("numpy_gflops", "np GF/s", ".1f"),
    ("numpy_pct_peak", "np %peak", ".0%"),
    ("torch_pct_peak", "torch %peak", ".0%"),
    ("numpy_mem_mb", "np MiB", ".1f"),
    ("torch_mem_mb", "torch MiB", ".1f"),
    ("mem_ratio", "mem np/torch", ".2f"),
    ("other_load_cores", "busy elsewhere", ".2f"),
]


def markdown(rows: list[Row], columns: list[tuple[str, str, str]]) -> str:
    """The same table in Markdown, for the README."""
    out = ["| " + " | ".join(h for _, h, _ in columns) + " |"]
    out.append("|" + "|".join("---" for _ in columns) + "|")
    for r in rows:
        out.append("| " + " | ".join(_fmt(r.get(k), spec) for k, _, spec in columns) + " |")
    return "\n".join(out)


# --- files: each written whole or not at all (numpy_lstm.files, as the app's) -------------------
def write_text(path: Path, text: str) -> Path:
    """``text`` into ``path`` (UTF-8), atomically."""
    return atomic_write(path, lambda f: f.write(text.encode()))


def writable_folder(out: Path) -> None:
    """Create ``out`` and prove it writable with a file made and removed at once (``os.access`` says
    yes to root even on a read-only file system): ``ValueError`` before any timing, not after it."""
    try:
        probe_writable(out)
    except OSError as err:
        raise ValueError(f"--out: cannot write into {out}: {err.strerror or err}") from None


def write(out_dir: Path, name: str, meta: dict[str, Any], rows: list[Row]) -> list[Path]:
    """Write ``name.json`` (metadata + rows) and ``name.csv`` (rows), each atomically; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    jpath = write_text(out_dir / f"{name}.json", json.dumps({"meta": meta, "rows": rows}, indent=1, default=str) + "\n")
    keys: list[str] = []
    for r in rows:
        keys.extend(k for k in r if k not in keys and not isinstance(r[k], (list, dict)))
    table = io.StringIO(newline="")
    w = csv.DictWriter(table, fieldnames=keys, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    cpath = write_text(out_dir / f"{name}.csv", table.getvalue())
    return [jpath, cpath]


def plot_grid(path: Path, rows: list[Row], title: str) -> Path:
    """Bar chart of NumPy/PyTorch time ratios per config; one panel per mode, bars per dtype."""
    from matplotlib.figure import Figure  # a bare Figure: no pyplot state, no backend switch

    modes = [m for m in ("inference", "train") if any(r["mode"] == m for r in rows)]
    dtypes = sorted({r["dtype"] for r in rows})
    configs = list(dict.fromkeys(r["config"] for r in rows))
    fig = Figure(figsize=(6 * len(modes), 5.6))
    axes = fig.subplots(1, len(modes), squeeze=False)
    width = 0.8 / max(1, 2 * len(dtypes))
    for ax, mode in zip(axes[0], modes, strict=True):
        k = 0
        for dt in dtypes:
            for key, lab in (("ratio_torch", "vs torch (default)"), ("ratio_native", "vs torch native")):
                vals = []
                for c in configs:
                    r = next(
                        (r for r in rows if r["config"] == c and r["mode"] == mode and r["dtype"] == dt), None
                    )
                    vals.append(r.get(key) if r and r.get(key) is not None else float("nan"))
                xs = [i + (k - (2 * len(dtypes) - 1) / 2) * width for i in range(len(configs))]
                ax.bar(xs, vals, width, label=f"{dt} {lab}")
                k += 1
        ax.axhline(1.0, color="grey", lw=1, label="1.0: as fast as PyTorch")
        from benchmarks.targets import CORE, ratio_limit  # here: targets imports this module

        limits: dict[float, dict[str, list[str]]] = {}  # limit -> dtype -> the configs it applies to
        for dt in dtypes:
            for c in CORE:
                limit = ratio_limit(c, dt, mode)
                if limit is not None:
                    limits.setdefault(limit, {}).setdefault(dt, []).append(c)
        for limit, ls in zip(sorted(limits), ("--", ":", "-."), strict=False):
            named = "; ".join(
                f"{dt} {f'{cs[0]} to {cs[-1]}' if len(cs) == len(CORE) else ', '.join(cs)}"
                for dt, cs in limits[limit].items()
            )
            ax.axhline(limit, color="red", lw=1, ls=ls, label=f"target {limit:g}: {named}")
        ax.set_xticks(range(len(configs)), configs, rotation=20)
        ax.set_ylabel("time ratio NumPy / PyTorch (lower is faster)")
        ax.set_title(mode)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)  # below: no bar hidden
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))


def plot_lines(
    path: Path,
    xs_key: str,
    series: dict[str, list[tuple[float, float]]],
    ylabel: str,
    title: str,
    logx: bool = False,
    logy: bool = False,
) -> Path:
    """A line plot: ``series`` maps a label to ``(x, y)`` points."""
    from matplotlib.figure import Figure  # a bare Figure: no pyplot state, no backend switch

    fig = Figure(figsize=(6.5, 4.2))
    ax = fig.subplots()
    for label, pts in series.items():
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xs_key)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))
