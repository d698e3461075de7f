"""The project's speed and memory targets, checked against a grid run (ratios are NumPy time over
the time of PyTorch's default CPU path; the configs are those of :data:`benchmarks.configs.GRID`)."""

from __future__ import annotations

from benchmarks.report import Row

CORE = ("seed", "small", "medium", "large")  # the four configs the ratio targets name
PEAK_TARGET = 0.90  # the large float32 training step at >= 90% of its GEMMs' time at the matmul peak


def ratio_limit(config: str, dtype: str, mode: str) -> float | None:
    """The largest NumPy / torch time a row may have, or None where no target names it."""
    if config not in CORE:
        return None
    if dtype == "float32":
        return (0.6 if config == "seed" else 1.0) if mode == "train" else 1.0
    return 0.8 if mode == "train" else None


def quartile_range(row: Row) -> tuple[float, float] | None:
    """How far a row's time ratio moves within the two sides' interquartile ranges: NumPy's first
    quartile over PyTorch's third, to NumPy's third over PyTorch's first; None without quartiles."""
    try:
        return row["numpy_q1_ms"] / row["torch_q3_ms"], row["numpy_q3_ms"] / row["torch_q1_ms"]
    except (KeyError, TypeError, ZeroDivisionError):
        return None


def check(rows: list[Row]) -> list[tuple[str, bool | None, str]]:
    """``(target, met, detail)`` per target; ``met`` is None when the run has no row for it.

    The verdict is the medians'.  A row whose :func:`quartile_range` holds the limit is said to be
    "at the limit" in the detail: the two sides' spreads overlap it, so another run may well give
    the other verdict."""

    def pick(dtype: str, mode: str, configs: tuple[str, ...] | None = CORE) -> list[Row]:
        return [
            r for r in rows if r["dtype"] == dtype and r["mode"] == mode and (configs is None or r["config"] in configs)
        ]

    out: list[tuple[str, bool | None, str]] = []

    def ratio_target(name: str, sel: list[Row], key: str, limit: float | None) -> None:
        if not sel or limit is None:
            out.append((name, None, "no rows"))
            return
        worst = max(sel, key=lambda r: r[key])
        several = len({r["dtype"] for r in sel}) > 1

        def said(r: Row) -> str:
            text = f"{r['config']} {r['dtype']} {r[key]:.2f}" if several else f"{r['config']} {r[key]:.2f}"
            span = quartile_range(r) if key == "ratio_torch" else None
            if span is not None and span[0] <= limit <= span[1]:
                text += f" (at the limit: {span[0]:.2f}-{span[1]:.2f} between the quartiles)"
            return text

        out.append((name, worst[key] <= limit, ", ".join(said(r) for r in sel)))

    seed = pick("float32", "train", ("seed",))
    ratio_target(
        "float32 training step <= 0.6 x torch at seed", seed, "ratio_torch", ratio_limit("seed", "float32", "train")
    )
    ratio_target(
        "float32 training step <= 1.0 x torch at small, medium, large",
        pick("float32", "train", ("small", "medium", "large")),
        "ratio_torch",
        ratio_limit("small", "float32", "train"),
    )
    ratio_target("float32 inference <= 1.0 x torch", pick("float32", "inference"), "ratio_torch",
                 ratio_limit("small", "float32", "inference"))
    ratio_target("float64 training step <= 0.8 x torch", pick("float64", "train"), "ratio_torch",
                 ratio_limit("small", "float64", "train"))
    name = f"large float32 training step >= {PEAK_TARGET:.0%} of its GEMMs' time at the matmul peak"
    large = pick("float32", "train", ("large",))
    if large and large[0].get("numpy_pct_peak") is not None:
        pct = large[0]["numpy_pct_peak"]
        out.append((name, pct >= PEAK_TARGET, f"{pct:.0%}"))
    else:
        out.append((name, None, "no large row"))
    mem = [r for r in rows if r["mode"] == "train" and r.get("mem_ratio") is not None]
    ratio_target("training-step peak memory <= torch's", mem, "mem_ratio", 1.0)
    return out


def format_targets(results: list[tuple[str, bool | None, str]]) -> str:
    words = {True: "MET    ", False: "NOT MET", None: "n/a    "}
    return "\n".join(f"  {words[met]}  {name}: {detail}" for name, met, detail in results)
