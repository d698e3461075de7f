"""Benchmark configurations: the sizes of one row of the grid."""

from __future__ import annotations

import math
from dataclasses import dataclass

# Bounds on a row, checked by arithmetic while the options are parsed (as the app's own, in
# numpy_lstm_app/limits.py, which the harness does not import): a typo (--sizes 100000000000,...)
# would otherwise ask NumPy for terabytes, after the other rows had been timed.
MAX_ARRAY_BYTES = 2**30  # the largest array of one row, in float64: 1 GiB
MAX_LAYERS = 64


@dataclass(frozen=True)
class BenchConfig:
    """One LSTM problem size.  Input is seq-first ``(T, N, I)``, as ``torch.nn.LSTM``'s default."""

    name: str  # row label in the table
    T: int  # time steps
    N: int  # batch
    I: int  # input features
    H: int  # hidden size
    layers: int = 1  # stacked layers
    bidirectional: bool = False  # two directions per layer

    @property
    def D(self) -> int:
        """Number of directions."""
        return 2 if self.bidirectional else 1

    def label(self) -> str:
        extra = f" L={self.layers}" if self.layers > 1 else ""
        extra += " bidir" if self.bidirectional else ""
        return f"T={self.T} N={self.N} I={self.I} H={self.H}{extra}"


# The benchmark grid.  seed is the motivating next-token example (one sequence, hidden 50).
GRID: dict[str, BenchConfig] = {
    c.name: c
    for c in [
        BenchConfig("seed", 20, 1, 4, 50),
        BenchConfig("small", 50, 32, 64, 128),
        BenchConfig("medium", 100, 64, 256, 256),
        BenchConfig("large", 100, 128, 512, 512),
        BenchConfig("2-layer", 50, 32, 128, 256, layers=2),
        BenchConfig("bidir", 50, 32, 128, 256, bidirectional=True),
    ]
}

# N, I, H of the scale study (T is what it varies).
SCALE = BenchConfig("scale", 0, 16, 64, 128)

# Tiny sizes for a smoke run (--quick), selectable by name too.
QUICK: dict[str, BenchConfig] = {
    c.name: c
    for c in [
        BenchConfig("tiny", 8, 2, 4, 8),
        BenchConfig("tiny-2L-bidir", 6, 2, 4, 8, layers=2, bidirectional=True),
    ]
}
# The rows of --quick without --config.  What a smoke run costs is mostly the peak-memory
# subprocesses (each one that imports torch takes about 2 CPU seconds), one per side of every row.
QUICK_DEFAULT: tuple[str, ...] = ("tiny-2L-bidir",)  # two layers, two directions: every path


def parse_sizes(text: str) -> BenchConfig:
    """``"T,N,I,H"`` (optionally ``",L"`` layers and ``",bidir"``) -> a config named by its sizes,
    ``T50-N32-I64-H128`` (``-2L``, ``-bidir``): two custom rows never share a name, in the tables, the
    files or the plot."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    bidir = "bidir" in parts
    nums = [p for p in parts if p != "bidir"]
    if len(nums) not in (4, 5) or not all(p.isdigit() and int(p) > 0 for p in nums):
        raise ValueError(f"sizes: expected positive integers T,N,I,H[,layers][,bidir], got {text!r}")
    T, N, I, H = (int(p) for p in nums[:4])
    layers = int(nums[4]) if len(nums) == 5 else 1
    name = f"T{T}-N{N}-I{I}-H{H}" + (f"-{layers}L" if layers > 1 else "") + ("-bidir" if bidir else "")
    return BenchConfig(name, T, N, I, H, layers=layers, bidirectional=bidir)


def _human_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TiB"


def check_bounds(cfg: BenchConfig) -> None:
    """``ValueError`` for a row whose largest array (in float64) would exceed :data:`MAX_ARRAY_BYTES`,
    or with more than :data:`MAX_LAYERS` layers; the message names the array, its shape and the limit."""
    if cfg.layers > MAX_LAYERS:
        raise ValueError(f"{cfg.layers:,} layers; the limit is {MAX_LAYERS}")
    T, N, I, H, D = cfg.T, cfg.N, cfg.I, cfg.H, cfg.D
    arrays = {  # what each side makes of one row, per layer and direction
        "the input (T, N, I)": (T, N, I),
        "the gates (T, N, 4H)": (T, N, 4 * H),
        "the output (T, N, D*H)": (T, N, D * H),
        "weight_ih (4H, I)": (4 * H, I),
        "weight_hh (4H, H)": (4 * H, H),
    }
    if cfg.layers > 1:
        arrays["a later layer's weight_ih (4H, D*H)"] = (4 * H, D * H)
    name, shape = max(arrays.items(), key=lambda kv: math.prod(kv[1]))
    nbytes = math.prod(shape) * 8
    if nbytes > MAX_ARRAY_BYTES:
        raise ValueError(
            f"{name} would be {' x '.join(f'{d:,}' for d in shape)}: {_human_bytes(nbytes)} in float64; "
            f"the limit is {_human_bytes(MAX_ARRAY_BYTES)} per array"
        )


def select(names: list[str] | None, sizes: list[str] | None, quick: bool) -> list[BenchConfig]:
    """The configurations to run: named ones from the grid, custom sizes, or the default set."""
    table = {**GRID, **QUICK}
    out: list[BenchConfig] = []
    for name in names or []:
        for part in name.split(","):
            if part == "all":
                out.extend(GRID.values())
            elif part in table:
                out.append(table[part])
            else:
                raise ValueError(f"unknown config {part!r}; choose from {', '.join(table)} or all")
    out.extend(parse_sizes(s) for s in sizes or [])
    if not out:
        out = [QUICK[n] for n in QUICK_DEFAULT] if quick else list(GRID.values())
    return out
