"""From a data description to encoded train / validation / test splits and their vocabulary."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from numpy_lstm_app.data import (
    Splits,
    Vocabulary,
    encode_split,
    split_sequences,
    synthetic_sequences,
    text_sequences,
)


class DataConfig(NamedTuple):
    """Where the sequences come from.  ``text`` None means the built-in a^k b^k task."""

    text: str | None = None
    level: str = "word"  # text only: "word" or "char"
    max_len: int = 50  # text only: longest input window
    sequences: int = 200  # built-in task only: how many sequences
    k_min: int = 1  # built-in task only: k ~ U[k_min, k_max]
    k_max: int = 9
    seed: int = 0


class Dataset(NamedTuple):
    splits: Splits  # token lists
    encoded: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]  # train, val, test ids
    vocab: Vocabulary  # built from the training split only
    description: dict[str, Any]  # JSON-friendly; stored in checkpoints to recognise the data

    @property
    def is_synthetic(self) -> bool:
        return self.description["task"] == "anbn"


def build_dataset(cfg: DataConfig) -> Dataset:
    """Read or generate the sequences, split them with ``cfg.seed``, build the vocabulary, encode.

    Raises ``FileNotFoundError`` / ``ValueError`` with a message for people.
    """
    if cfg.text is None:
        sequences = synthetic_sequences(cfg.sequences, cfg.k_min, cfg.k_max, cfg.seed)
        desc: dict[str, Any] = {
            "task": "anbn",
            "sequences": cfg.sequences,
            "k_min": cfg.k_min,
            "k_max": cfg.k_max,
            "seed": cfg.seed,
        }
    else:
        sequences = text_sequences(cfg.text, cfg.level, cfg.max_len)
        digest = hashlib.sha256(Path(cfg.text).read_bytes()).hexdigest()
        desc = {
            "task": "text",
            "file": Path(cfg.text).name,
            "sha256": digest,
            "level": cfg.level,
            "max_len": cfg.max_len,
            "seed": cfg.seed,
        }
    splits = split_sequences(sequences, cfg.seed)
    vocab = Vocabulary.build(splits.train)
    encoded = (encode_split(splits.train, vocab), encode_split(splits.val, vocab), encode_split(splits.test, vocab))
    return Dataset(splits, encoded, vocab, desc)
