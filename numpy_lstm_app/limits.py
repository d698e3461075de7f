"""Bounds on what the app will allocate, checked by arithmetic before anything is built.

A typo (``--hidden-size 20000``), a hand-edited checkpoint (``num_layers = 10**7``) or a text with a
huge vocabulary would otherwise ask NumPy for tens of GiB, or loop for hours, before failing.  Each
check raises ``ValueError`` saying what the input would need and what the limit is.
"""

from __future__ import annotations

import math

import numpy as np

from numpy_lstm_app.model import ModelConfig, parameter_shapes

MAX_ARRAY_BYTES = 2**30  # one model's parameters, or one batch's one-hot input: 1 GiB
MAX_LAYERS = 64  # LSTM layers
MAX_STEPS = 10_000  # input steps of one sequence (the time loop runs in Python)
MAX_EPOCHS = 1_000_000
MAX_GENERATED = 1_000_000  # tokens of one `numpy-lstm sample` (a step each, in Python; kept as a list)
MAX_BATCH = 1_000_000  # sequences in one minibatch
MAX_SEQUENCES = 10_000_000  # sequences of the built-in task
MAX_VOCAB_CHARS = 1 << 23  # a vocabulary's JSON in a checkpoint's description (read back up to 2**24)
MAX_SIZE = 10**9  # a bound on sizes (vocabulary, hidden) before their product is checked
MAX_SEED = 2**63 - 1  # seeds are non-negative (NumPy's SeedSequence, torch.manual_seed)


def human_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def num_parameters(cfg: ModelConfig) -> int:
    """Parameters of ``NextTokenModel(cfg)``, counted without building it (``cfg.num_layers`` bounded)."""
    if not 1 <= cfg.num_layers <= MAX_LAYERS:
        raise ValueError(f"num_layers must be in [1, {MAX_LAYERS}], got {cfg.num_layers}")
    return sum(math.prod(shape) for shape in parameter_shapes(cfg).values())


def check_model_size(cfg: ModelConfig) -> None:
    """Refuse a model whose parameters alone would take more than :data:`MAX_ARRAY_BYTES`."""
    n = num_parameters(cfg)
    nbytes = n * np.dtype(cfg.dtype).itemsize
    if nbytes > MAX_ARRAY_BYTES:
        sizes = [f"vocabulary {cfg.vocab_size:,}"]
        sizes += [f"embedding dim {cfg.embedding_dim:,}"] if cfg.embedding_dim else []
        sizes += [f"projection size {cfg.proj_size:,}"] if cfg.proj_size else []
        raise ValueError(
            f"a model with {', '.join(sizes)}, hidden size {cfg.hidden_size:,} and {cfg.num_layers} layer(s) "
            f"has {n:,} parameters: {human_bytes(nbytes)} in {cfg.dtype} (and as much again for "
            f"each gradient and optimiser slot); the limit is {human_bytes(MAX_ARRAY_BYTES)}"
        )


def check_one_hot_size(steps: int, batch: int, vocab: int, dtype: str, advice: str) -> None:
    """Refuse a one-hot batch ``(steps, batch, vocab)`` larger than :data:`MAX_ARRAY_BYTES`."""
    nbytes = steps * batch * vocab * np.dtype(dtype).itemsize
    if nbytes > MAX_ARRAY_BYTES:
        raise ValueError(
            f"a one-hot batch of {steps:,} steps x {batch:,} sequences x {vocab:,} tokens would need "
            f"{human_bytes(nbytes)} in {dtype}; the limit is {human_bytes(MAX_ARRAY_BYTES)} ({advice})"
        )
