r"""Data for the next-token predictor: vocabulary, sequences, splits, one-hot minibatches.

A sequence is a list of tokens ending with ``EOS``.  Its model input is ``sequence[:-1]`` and its
target is ``sequence[1:]``: the target at step ``t`` is the token after input step ``t``.

Shapes (``T`` steps of the longest sequence in a batch, ``N`` sequences, ``V`` vocabulary size)::

    Batch.inputs   (T, N) int64     token ids, 0 past a sequence's length
    Batch.targets  (T, N) int64     next-token ids, IGNORE_INDEX (-100) past a sequence's length
    Batch.lengths  (N,)   int64     real steps of each sequence, in [1, T]
    one_hot(...)   (T, N, V) float  1 at the token id, an all-zero row past a sequence's length

The built-in task is the classic ``a a ... a b b ... b EOS`` language: ``k`` a's then ``k`` b's,
``k`` uniform in ``[k_min, k_max]``.  Where the a's end cannot be known in advance, so no model is
always right; :func:`accuracy_ceiling` gives the best expected token accuracy exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from numpy_lstm.losses import IGNORE_INDEX

UNK, EOS = "UNK", "EOS"
SPECIALS = (UNK, EOS)  # ids 0 and 1 in every vocabulary


class Vocabulary:
    """Token <-> id.  Ids 0 and 1 are ``UNK`` and ``EOS``; the other tokens follow in sorted order.

    Tokens never seen when the vocabulary was built encode as ``UNK``.
    """

    def __init__(self, tokens: Sequence[str]) -> None:
        tokens = list(tokens)
        if tokens[: len(SPECIALS)] != list(SPECIALS):
            raise ValueError(f"a vocabulary starts with {list(SPECIALS)}, got {tokens[:2]}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("vocabulary tokens must be unique")
        self.tokens = tokens
        self.index = {tok: i for i, tok in enumerate(tokens)}

    @classmethod
    def build(cls, sequences: Iterable[Sequence[str]]) -> Vocabulary:
        """The vocabulary of every token in ``sequences`` (use the training split only)."""
        seen = {tok for seq in sequences for tok in seq} - set(SPECIALS)
        return cls([*SPECIALS, *sorted(seen)])

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.tokens == other.tokens

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """``(L,)`` int64 ids; unknown tokens become ``UNK`` (id 0)."""
        return np.array([self.index.get(t, 0) for t in tokens], dtype=np.int64)  # (L,)

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[int(i)] for i in ids]


# --- sequences ------------------------------------------------------------------------------------
def synthetic_sequences(num_sequences: int, k_min: int, k_max: int, seed: int) -> list[list[str]]:
    """``num_sequences`` sequences ``a^k b^k EOS`` with ``k`` uniform in ``[k_min, k_max]``."""
    if not 1 <= k_min <= k_max:
        raise ValueError(f"expected 1 <= k_min <= k_max, got k_min={k_min}, k_max={k_max}")
    if num_sequences < 3:
        raise ValueError(f"need at least 3 sequences (train, validation, test), got {num_sequences}")
    rng = np.random.default_rng([seed, 0])
    ks = rng.integers(k_min, k_max + 1, size=num_sequences)  # (S,)
    return [["a"] * int(k) + ["b"] * int(k) + [EOS] for k in ks]


def text_sequences(path: str | Path, level: str = "word", max_len: int = 50) -> list[list[str]]:
    """Sequences from a text file: one per non-empty line (``EOS`` appended), split into windows
    of at most ``max_len`` input steps that overlap by one token (so no target is lost).

    ``level`` is ``"word"`` (whitespace-separated) or ``"char"``.  A word-level text may not use the
    markers ``UNK`` and ``EOS`` as words: they would be read as the markers (an ``EOS`` word would end
    every sampled text there), so such a file is refused, naming the line.  A UTF-8 byte-order mark
    at the start of the file is not part of the first token.
    """
    if level not in ("word", "char"):
        raise ValueError(f"level must be 'word' or 'char', got {level!r}")
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"text file not found: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a text file")
    if not path.is_file():
        raise ValueError(f"{path} is not a regular file (a device, a pipe, ...), so not a text file to train on")
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: a leading byte-order mark is dropped
    except UnicodeDecodeError as err:
        raise ValueError(f"text file {path} is not UTF-8 text ({err.reason} at byte {err.start})") from err
    sequences = []
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = line.split() if level == "word" else list(line.strip())
        if not tokens:
            continue
        markers = sorted(set(SPECIALS).intersection(tokens))  # a character is never 3 long: words only
        if markers:
            words = " and ".join(markers)
            what = f"the word {words} is one of" if len(markers) == 1 else f"the words {words} are"
            raise ValueError(
                f"text file {path} line {number}: {what} the vocabulary's markers ({UNK}: an unknown "
                f"token, {EOS}: the end of a sequence), which a text cannot use as words; rename "
                f"{'it' if len(markers) == 1 else 'them'} in the file (for example to {words.lower()})"
            )
        tokens.append(EOS)
        for start in range(0, len(tokens) - 1, max_len):
            sequences.append(tokens[start : start + max_len + 1])  # max_len inputs + 1 target
    if not sequences:
        raise ValueError(f"text file {path} is empty: it has no {level}s")
    return sequences


class Splits(NamedTuple):
    train: list[list[str]]
    val: list[list[str]]
    test: list[list[str]]


def split_sizes(S: int, val_fraction: float = 0.1, test_fraction: float = 0.1) -> tuple[int, int, int]:
    """``(n_train, n_val, n_test)`` of ``S`` sequences (see :func:`split_sequences`)."""
    n_val = max(1, math.floor(S * val_fraction))
    n_test = max(1, math.floor(S * test_fraction))
    if S - n_val - n_test < 1:
        raise ValueError(f"need at least 3 sequences to split into train/validation/test, got {S}")
    return S - n_val - n_test, n_val, n_test


def split_sequences(
    sequences: Sequence[Sequence[str]], seed: int, val_fraction: float = 0.1, test_fraction: float = 0.1
) -> Splits:
    """Shuffle with ``seed`` and cut into train / validation / test (each at least one sequence).

    Sizes: ``n_val = max(1, floor(S * val_fraction))``, the same for test, the rest for training.
    """
    S = len(sequences)
    n_train, n_val, n_test = split_sizes(S, val_fraction, test_fraction)
    order = np.random.default_rng([seed, 1]).permutation(S)  # (S,)
    picked = [list(sequences[i]) for i in order]
    return Splits(picked[n_val + n_test :], picked[:n_val], picked[n_val : n_val + n_test])


# --- batches --------------------------------------------------------------------------------------
class Batch(NamedTuple):
    """One padded minibatch (see the module docstring for shapes)."""

    inputs: np.ndarray  # (T, N) int64
    targets: np.ndarray  # (T, N) int64, IGNORE_INDEX past each length
    lengths: np.ndarray  # (N,) int64
    rows: np.ndarray  # (N,) int64, which sequences of the split these are

    @property
    def num_tokens(self) -> int:
        return int(self.lengths.sum())


def encode_split(sequences: Sequence[Sequence[str]], vocab: Vocabulary) -> list[np.ndarray]:
    """Each sequence as ``(L,)`` int64 ids; sequences need ``L >= 2`` (an input and a target)."""
    out = []
    for n, seq in enumerate(sequences):
        if len(seq) < 2:
            raise ValueError(f"sequence {n} has {len(seq)} token(s); need >= 2 (an input and its target)")
        out.append(vocab.encode(seq))
    return out


def make_batch(encoded: Sequence[np.ndarray], rows: np.ndarray) -> Batch:
    """Pad the sequences ``rows`` of ``encoded`` into one :class:`Batch`."""
    lengths = np.array([len(encoded[r]) - 1 for r in rows], dtype=np.int64)  # (N,)
    T, N = int(lengths.max()), len(rows)
    inputs = np.zeros((T, N), dtype=np.int64)  # (T, N)
    targets = np.full((T, N), IGNORE_INDEX, dtype=np.int64)  # (T, N)
    for n, r in enumerate(rows):
        seq = encoded[r]
        inputs[: lengths[n], n] = seq[:-1]  # inputs = sequence[:-1]
        targets[: lengths[n], n] = seq[1:]  # targets = sequence[1:], the next tokens
    return Batch(inputs, targets, lengths, np.asarray(rows, dtype=np.int64))


def make_batches(
    encoded: Sequence[np.ndarray], batch_size: int, shuffle_seed: Sequence[int] | None = None
) -> list[Batch]:
    """Minibatches of ``batch_size`` sequences (the last may be smaller).

    With ``shuffle_seed`` the order is a permutation drawn from it (training uses ``[seed, epoch]``,
    so a resumed run draws the same batches as an uninterrupted one); without, the split's order.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    S = len(encoded)
    order = np.arange(S) if shuffle_seed is None else np.random.default_rng(list(shuffle_seed)).permutation(S)
    return [make_batch(encoded, order[i : i + batch_size]) for i in range(0, S, batch_size)]


def one_hot(ids: np.ndarray, vocab_size: int, lengths: np.ndarray | None = None, dtype: Any = np.float32) -> np.ndarray:
    """``ids (T, N)`` -> ``(T, N, V)`` one-hot; rows past ``lengths`` are all zero."""
    ids = np.asarray(ids)
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(f"one_hot: expected integer ids of shape (T, N), got {ids.dtype} {ids.shape}")
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"one_hot: ids must be in [0, {vocab_size}), got [{ids.min()}, {ids.max()}]")
    T, N = ids.shape
    x = np.zeros((T, N, vocab_size), dtype=dtype)  # (T, N, V)
    np.put_along_axis(x, ids[..., None], 1, axis=-1)
    if lengths is not None:
        x[np.arange(T)[:, None] >= np.asarray(lengths)[None, :]] = 0  # padding rows
    assert x.shape == (T, N, vocab_size), f"one-hot shape {x.shape} != (T, N, V) = {(T, N, vocab_size)}"
    return x


# --- the accuracy ceiling of the a^k b^k task -----------------------------------------------------
def optimal_next(prefix: Sequence[str], k_min: int, k_max: int) -> str:
    """The Bayes-optimal next token after ``prefix`` of an ``a^k b^k EOS`` sequence, k ~ U[k_min, k_max].

    While only a's have been seen (``m`` of them), ``k`` is uniform on ``[max(m, k_min), k_max]``:
    the next token is ``b`` when ``k == m`` and ``a`` when ``k > m``; ``b`` is the better guess only
    when ``k == m`` is the more likely (``m == k_max``); a tie goes to ``a``.  After the first b,
    ``k`` is known and everything is determined.
    """
    m = prefix.count("a")
    n_b = prefix.count("b")
    if n_b == 0:
        return "b" if _p_end(m, k_min, k_max) > 0.5 else "a"
    return "b" if n_b < m else EOS


def _correct_tokens_by_rule(k: int, k_min: int, k_max: int) -> int:
    """Correct predictions of :func:`optimal_next` on ``a^k b^k EOS``, step by step (``O(k^2)``);
    :func:`_correct_tokens` is the same count in closed form."""
    seq = ["a"] * k + ["b"] * k + [EOS]
    return sum(optimal_next(seq[: j + 1], k_min, k_max) == seq[j + 1] for j in range(2 * k))


def _correct_tokens(k: int, k_min: int, k_max: int) -> int:
    """Correct optimal predictions on ``a^k b^k EOS`` (``2k`` targets), in ``O(1)``.

    The optimal predictor says ``b`` after ``m`` a's only when ``m == k_max`` (:func:`optimal_next`),
    so it misses exactly one target, the first ``b``, unless ``k == k_max``; every later target is
    determined.
    """
    return 2 * k if k == k_max else 2 * k - 1


def accuracy_ceiling(k_min: int, k_max: int) -> Fraction:
    """Best expected token accuracy of any model: E[correct tokens] / E[tokens], exactly.

    Token accuracy pools tokens over sequences, so sequences count by their ``2k`` targets.
    """
    ks = range(k_min, k_max + 1)
    return Fraction(sum(_correct_tokens(k, k_min, k_max) for k in ks), sum(2 * k for k in ks))


def best_accuracy_on(sequences: Sequence[Sequence[str]], k_min: int, k_max: int) -> float:
    """The accuracy of the Bayes-optimal predictor on these particular sequences."""
    correct = sum(_correct_tokens(list(s).count("a"), k_min, k_max) for s in sequences)
    return correct / sum(len(s) - 1 for s in sequences)


def _p_end(m: int, k_min: int, k_max: int) -> float:
    """P(k == m | the first m tokens are a's): the chance that the a's end here."""
    return 1 / (k_max - max(m, k_min) + 1) if m >= k_min else 0.0


def loss_floor(k_min: int, k_max: int) -> float:
    """The lowest expected cross-entropy per token of any model (nats): the task's own uncertainty.

    Only the all-a prefixes are uncertain; each target there costs ``-log P(target | prefix)`` under
    the true distribution.  Pooled over tokens like the reported loss: E[sum of costs] / E[tokens].
    A sequence with ``k`` a's pays ``-log(1 - p_m)`` for each ``m < k`` (another a) and ``-log p_k``
    (the first b); running sums over ``m`` make it ``O(k_max)``.
    """
    cost = 0.0
    more_a = 0.0  # sum over m < k of -log(1 - p_m)
    for k in range(1, k_max + 1):
        if k >= k_min:
            cost += more_a - math.log(_p_end(k, k_min, k_max))
        p = _p_end(k, k_min, k_max)
        more_a -= math.log(1 - p) if p < 1 else 0.0  # p == 1 only at k == k_max, never used after
    return cost / sum(2 * k for k in range(k_min, k_max + 1))
