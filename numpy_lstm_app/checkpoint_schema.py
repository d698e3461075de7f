"""The schema of a checkpoint: every key of its JSON description, its type and range, and the arrays
(names, shapes, dtypes) and optimiser state the description implies.

:func:`describe` turns the parsed JSON into a :class:`Description` or raises :class:`SchemaError`
naming the field (``model.hidden_size: expected an integer in [1, ...], got 2.5``).  Sizes are
bounded (:mod:`numpy_lstm_app.limits`) before :func:`expected_arrays` does its arithmetic, so an
absurd description is refused before anything sized by it exists.  :func:`check_values` then checks
the arrays' contents: finite numbers, a step count equal to the batches of the epochs trained.

The description, as ``numpy-lstm train`` writes it (format version 2)::

    format, version      "numpy-lstm-next-token-checkpoint", 2
    model                ModelConfig: vocab_size, hidden_size, num_layers, proj_size, dropout, bias, dtype,
                         embedding_dim (0: one-hot input)
    optim                OptimConfig: name, lr, momentum, weight_decay, clip
    train                seed, batch_size
    run                  the run's other options: epochs (its target), backend, device, every, samples,
                         text (the text file's absolute path, or null), train_sequences
    data                 built-in task: task "anbn", sequences, k_min, k_max, seed
                         text:          task "text", file, sha256, level, max_len, seed
    vocab                the tokens, "UNK" and "EOS" first, then the rest sorted
    epoch                epochs trained (>= 1)
    history              epoch [1..epoch], backends {name: {metric: [epoch numbers]}}, max_abs_loss_diff
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from numpy_lstm_app.backend import OptimConfig
from numpy_lstm_app.data import SPECIALS, split_sizes
from numpy_lstm_app.limits import (
    MAX_BATCH,
    MAX_EPOCHS,
    MAX_LAYERS,
    MAX_SEED,
    MAX_SEQUENCES,
    MAX_SIZE,
    MAX_STEPS,
    MAX_VOCAB_CHARS,
    check_model_size,
)
from numpy_lstm_app.model import ModelConfig, parameter_shapes
from numpy_lstm_app.train import METRICS

BACKENDS = {"numpy": ("numpy",), "torch": ("torch",), "both": ("numpy", "torch")}
SLOTS = {"adam": ("exp_avg", "exp_avg_sq"), "sgd": ("momentum_buffer",)}  # sgd: only with momentum


class SchemaError(ValueError):
    """A field of a checkpoint that is missing, of the wrong type, or out of range."""


class RunOptions(NamedTuple):
    """The options of the run that wrote a checkpoint, beyond the model, optimiser and data."""

    epochs: int  # the run's target; --resume trains up to it unless --epochs is given
    backend: str
    device: str
    every: int
    samples: int
    text: str | None  # absolute path of the --text file, None for the built-in task
    train_sequences: int  # sequences in the training split: fixes the optimiser steps per epoch


class Description(NamedTuple):
    model: ModelConfig
    optim: OptimConfig
    seed: int
    batch_size: int
    run: RunOptions
    data: dict[str, Any]
    vocab: list[str]
    epoch: int
    history: dict[str, Any]

    @property
    def steps(self) -> int:
        """Optimiser steps of ``epoch`` full epochs: one per minibatch."""
        return self.epoch * math.ceil(self.run.train_sequences / self.batch_size)


# --- checking one value ---------------------------------------------------------------------------
def _fail(where: str, expected: str, value: Any) -> SchemaError:
    shown = repr(value)
    return SchemaError(f"{where}: expected {expected}, got {shown if len(shown) <= 60 else shown[:57] + '...'}")


def _obj(value: Any, where: str, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, f"an object with keys {list(keys)}", value)
    missing = [k for k in keys if k not in value]
    extra = sorted(k for k in value if k not in keys)
    if missing or extra:
        raise SchemaError(
            f"{where}: expected exactly the keys {list(keys)}"
            + (f"; missing {missing}" if missing else "")
            + (f"; unexpected {extra}" if extra else "")
        )
    return value


def _int(value: Any, where: str, lo: int, hi: int) -> int:
    if type(value) is not int or not lo <= value <= hi:  # bool is not an int here
        raise _fail(where, f"an integer in [{lo}, {hi}]", value)
    return value


def _num(
    value: Any, where: str, lo: float, hi: float = math.inf, lo_open: bool = False, hi_open: bool = False
) -> float:
    ok = type(value) in (int, float) and math.isfinite(value)
    ok = ok and (lo < value if lo_open else lo <= value) and (value < hi if hi_open else value <= hi)
    if not ok:
        interval = f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open or hi == math.inf else ']'}"
        raise _fail(where, f"a finite number in {interval}", value)
    return float(value)


def _choice(value: Any, where: str, choices: tuple[Any, ...]) -> Any:
    if type(value) is not type(choices[0]) or value not in choices:
        raise _fail(where, f"one of {list(choices)}", value)
    return value


def _str(value: Any, where: str, max_len: int = 4096) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= max_len:
        raise _fail(where, f"a non-empty string of at most {max_len} characters", value)
    return value


def _numbers(value: Any, where: str, length: int, check: Callable[[Any, str], float]) -> list[float]:
    if not isinstance(value, list) or len(value) != length:
        raise _fail(where, f"a list of {length} numbers (one per epoch)", value)
    return [check(v, f"{where}[{i}]") for i, v in enumerate(value)]


# --- the sections ---------------------------------------------------------------------------------
_MODEL_KEYS = ("vocab_size", "hidden_size", "num_layers", "proj_size", "dropout", "bias", "dtype", "embedding_dim")


def _model(m: Any) -> ModelConfig:
    m = _obj(m, "model", _MODEL_KEYS)
    cfg = ModelConfig(
        vocab_size=_int(m["vocab_size"], "model.vocab_size", len(SPECIALS), MAX_SIZE),
        hidden_size=_int(m["hidden_size"], "model.hidden_size", 1, MAX_SIZE),
        num_layers=_int(m["num_layers"], "model.num_layers", 1, MAX_LAYERS),
        proj_size=_int(m["proj_size"], "model.proj_size", 0, max(0, m["hidden_size"] - 1)),
        dropout=_num(m["dropout"], "model.dropout", 0.0, 1.0, hi_open=True),
        bias=_choice(m["bias"], "model.bias", (True, False)),
        dtype=_choice(m["dtype"], "model.dtype", ("float32", "float64")),
        embedding_dim=_int(m["embedding_dim"], "model.embedding_dim", 0, MAX_SIZE),
    )
    if cfg.dropout and cfg.num_layers < 2:
        raise SchemaError(f"model.dropout: {cfg.dropout} needs num_layers >= 2 (it acts between layers), got 1")
    try:
        check_model_size(cfg)
    except ValueError as err:
        raise SchemaError(f"model: {err}") from None
    return cfg


def _optim(o: Any) -> OptimConfig:
    o = _obj(o, "optim", OptimConfig._fields)
    cfg = OptimConfig(
        name=_choice(o["name"], "optim.name", ("adam", "sgd")),
        lr=_num(o["lr"], "optim.lr", 0.0, lo_open=True),
        momentum=_num(o["momentum"], "optim.momentum", 0.0),
        weight_decay=_num(o["weight_decay"], "optim.weight_decay", 0.0),
        clip=None if o["clip"] is None else _num(o["clip"], "optim.clip", 0.0, lo_open=True),
    )
    if cfg.momentum and cfg.name != "sgd":
        raise SchemaError(f"optim.momentum: {cfg.momentum} applies to sgd only, the optimiser is {cfg.name}")
    return cfg


def _run(r: Any) -> RunOptions:
    r = _obj(r, "run", RunOptions._fields)
    return RunOptions(
        epochs=_int(r["epochs"], "run.epochs", 1, MAX_EPOCHS),
        backend=_choice(r["backend"], "run.backend", tuple(BACKENDS)),
        device=_choice(r["device"], "run.device", ("auto", "cpu", "cuda")),
        every=_int(r["every"], "run.every", 1, MAX_EPOCHS),
        samples=_int(r["samples"], "run.samples", 0, MAX_SEQUENCES),
        text=None if r["text"] is None else _str(r["text"], "run.text"),
        train_sequences=_int(r["train_sequences"], "run.train_sequences", 1, MAX_SEQUENCES),
    )


def _data(d: Any, seed: int, run: RunOptions) -> dict[str, Any]:
    task = d.get("task") if isinstance(d, dict) else None
    if task == "anbn":
        d = _obj(d, "data", ("task", "sequences", "k_min", "k_max", "seed"))
        S = _int(d["sequences"], "data.sequences", 3, MAX_SEQUENCES)
        k_min = _int(d["k_min"], "data.k_min", 1, MAX_STEPS)
        _int(d["k_max"], "data.k_max", k_min, MAX_STEPS // 2)
        if run.text is not None:
            raise _fail("run.text", "null for the built-in task", run.text)
        if run.train_sequences != split_sizes(S)[0]:
            raise _fail("run.train_sequences", f"{split_sizes(S)[0]} (the training split of {S} sequences)",
                        run.train_sequences)
    elif task == "text":
        d = _obj(d, "data", ("task", "file", "sha256", "level", "max_len", "seed"))
        name = _str(d["file"], "data.file")
        sha = d["sha256"]
        if not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)):
            raise _fail("data.sha256", "64 lowercase hexadecimal digits", sha)
        _choice(d["level"], "data.level", ("word", "char"))
        _int(d["max_len"], "data.max_len", 1, MAX_STEPS)
        if run.text is None or run.text.replace("\\", "/").rsplit("/", 1)[-1] != name:
            raise _fail("run.text", f"the path of a file named {name!r} (data.file)", run.text)
    else:
        raise _fail("data.task", "'anbn' (the built-in task) or 'text'", task if isinstance(d, dict) else d)
    if _int(d["seed"], "data.seed", 0, MAX_SEED) != seed:
        raise SchemaError(f"data.seed: expected the run's seed {seed} (train.seed), got {d['seed']}")
    return d


def _vocab(v: Any, size: int, data: dict[str, Any]) -> list[str]:
    if not isinstance(v, list) or len(v) != size:
        raise _fail("vocab", f"a list of {size} tokens (model.vocab_size)", v)
    for i, tok in enumerate(v):
        _str(tok, f"vocab[{i}]", max_len=MAX_VOCAB_CHARS)
    if v[: len(SPECIALS)] != list(SPECIALS):
        raise _fail("vocab", f"a list starting with {list(SPECIALS)}", v[:2])
    rest = v[len(SPECIALS):]
    if rest != sorted(set(rest) - set(SPECIALS)):
        raise SchemaError("vocab: expected unique tokens, sorted after UNK and EOS")
    if data["task"] == "anbn" and v != [*SPECIALS, "a", "b"]:
        raise _fail("vocab", f"{[*SPECIALS, 'a', 'b']} for the built-in task", v)
    if data["task"] == "text":
        bad = [t for t in rest if (len(t) != 1 if data["level"] == "char" else any(c.isspace() for c in t))]
        if bad:
            raise _fail("vocab", f"{data['level']}-level tokens", bad[0])
    return v


def _history(h: Any, epoch: int, backend: str) -> dict[str, Any]:
    h = _obj(h, "history", ("epoch", "backends", "max_abs_loss_diff"))
    if h["epoch"] != list(range(1, epoch + 1)):
        raise _fail("history.epoch", f"[1, ..., {epoch}] (epoch is {epoch})", h["epoch"])
    names = BACKENDS[backend]
    backends = _obj(h["backends"], "history.backends", names)
    for name in names:
        metrics = _obj(backends[name], f"history.backends.{name}", METRICS)
        for key in METRICS:
            hi = 1.0 if key.endswith("accuracy") else math.inf
            _numbers(metrics[key], f"history.backends.{name}.{key}", epoch, lambda x, w, hi=hi: _num(x, w, 0.0, hi))
    _numbers(h["max_abs_loss_diff"], "history.max_abs_loss_diff", epoch, lambda x, w: _num(x, w, 0.0))
    return h


TOP_KEYS = ("format", "version", "model", "optim", "train", "run", "data", "vocab", "epoch", "history")


def describe(meta: Any) -> Description:
    """Check every field of a checkpoint's description (``format``/``version`` already checked)."""
    meta = _obj(meta, "the description", TOP_KEYS)
    model, optim = _model(meta["model"]), _optim(meta["optim"])
    train = _obj(meta["train"], "train", ("seed", "batch_size"))
    seed = _int(train["seed"], "train.seed", 0, MAX_SEED)
    batch_size = _int(train["batch_size"], "train.batch_size", 1, MAX_BATCH)
    run = _run(meta["run"])
    data = _data(meta["data"], seed, run)
    vocab = _vocab(meta["vocab"], model.vocab_size, data)
    epoch = _int(meta["epoch"], "epoch", 1, run.epochs)
    history = _history(meta["history"], epoch, run.backend)
    return Description(model, optim, seed, batch_size, run, data, vocab, epoch, history)


def expected_arrays(d: Description) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Every array the checkpoint must hold (and nothing else): name -> (shape, dtype)."""
    dtype = np.dtype(d.model.dtype)
    shapes = parameter_shapes(d.model)
    out = {f"model.{k}": (s, dtype) for k, s in shapes.items()}
    out["optim.steps"] = ((), np.dtype(np.int64))
    slots = SLOTS[d.optim.name] if d.optim.name == "adam" or d.optim.momentum else ()
    for slot in slots:
        out.update({f"optim.{slot}.{k}": (s, dtype) for k, s in shapes.items()})
    return out


def check_values(d: Description, arrays: dict[str, np.ndarray]) -> None:
    """Finite weights and optimiser state, ``exp_avg_sq >= 0``, and the step count of ``d.epoch`` epochs."""
    for name, value in arrays.items():
        if name != "optim.steps" and not np.all(np.isfinite(value)):
            raise SchemaError(f"array {name!r}: holds NaN or infinite values")
        if name.startswith("optim.exp_avg_sq.") and np.any(value < 0):
            raise SchemaError(f"array {name!r}: a second-moment estimate must be >= 0, it has negative values")
    steps = int(arrays["optim.steps"])
    if steps != d.steps:
        raise SchemaError(
            f"array 'optim.steps': expected {d.steps} ({d.epoch} epoch(s) x "
            f"{math.ceil(d.run.train_sequences / d.batch_size)} batches), got {steps}"
        )
