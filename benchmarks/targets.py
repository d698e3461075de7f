"""Issue 5's targets, checked against a grid run (ratios are NumPy time / PyTorch default time)."""

from __future__ import annotations

from benchmarks.report import Row


def check(rows: list[Row]) -> list[tuple[str, bool | None, str]]:
    """``(target, met, detail)`` per target; ``met`` is None when the run has no row for it."""

    def pick(dtype: str, mode: str) -> list[Row]:
        return [r for r in rows if r["dtype"] == dtype and r["mode"] == mode]

    out: list[tuple[str, bool | None, str]] = []

    def ratio_target(name: str, sel: list[Row], key: str, limit: float) -> None:
        if not sel:
            out.append((name, None, "no rows"))
            return
        worst = max(sel, key=lambda r: r[key])
        detail = ", ".join(f"{r['config']} {r[key]:.2f}" for r in sel)
        if len({r["dtype"] for r in sel}) > 1:
            detail = ", ".join(f"{r['config']} {r['dtype']} {r[key]:.2f}" for r in sel)
        out.append((name, worst[key] <= limit, detail))

    ratio_target("float32 training step <= 0.8 x torch", pick("float32", "train"), "ratio_torch", 0.8)
    ratio_target("float32 inference <= 1.0 x torch", pick("float32", "inference"), "ratio_torch", 1.0)
    ratio_target("float64 training step <= 0.6 x torch", pick("float64", "train"), "ratio_torch", 0.6)
    large = [r for r in pick("float32", "train") if r["config"] == "large"]
    if large and large[0].get("numpy_pct_peak") is not None:
        pct = large[0]["numpy_pct_peak"]
        out.append(("large float32 training step >= 85% of matmul peak", pct >= 0.85, f"{pct:.0%}"))
    else:
        out.append(("large float32 training step >= 85% of matmul peak", None, "no large row"))
    mem = [r for r in rows if r["mode"] == "train" and r.get("mem_ratio") is not None]
    ratio_target("training-step peak memory <= torch's", mem, "mem_ratio", 1.0)
    return out


def format_targets(results: list[tuple[str, bool | None, str]]) -> str:
    words = {True: "MET    ", False: "NOT MET", None: "n/a    "}
    return "\n".join(f"  {words[met]}  {name}: {detail}" for name, met, detail in results)
