"""Data of the next-token predictor: shifting, one-hot, vocabulary, splits, seeding, the accuracy ceiling."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numpy_lstm.losses import IGNORE_INDEX
from numpy_lstm_app.data import (
    EOS,
    UNK,
    Vocabulary,
    accuracy_ceiling,
    best_accuracy_on,
    encode_split,
    loss_floor,
    make_batches,
    one_hot,
    split_sequences,
    synthetic_sequences,
    text_sequences,
)
from numpy_lstm_app.dataset import DataConfig, build_dataset


@settings(deadline=None)
@given(
    n=st.integers(3, 60),
    k_min=st.integers(1, 4),
    span=st.integers(0, 5),
    seed=st.integers(0, 10**6),
    batch=st.integers(1, 9),
)
def test_batches_targets_are_inputs_shifted_by_one(n: int, k_min: int, span: int, seed: int, batch: int) -> None:
    seqs = synthetic_sequences(n, k_min, k_min + span, seed)
    vocab = Vocabulary.build(seqs)
    enc = encode_split(seqs, vocab)
    seen = []
    for b in make_batches(enc, batch, shuffle_seed=(seed, 1)):
        T, N = b.inputs.shape
        assert b.targets.shape == (T, N) and b.lengths.shape == (N,) and T == b.lengths.max()
        for j, r in enumerate(b.rows):
            L = b.lengths[j]
            assert L == len(enc[r]) - 1
            np.testing.assert_array_equal(b.inputs[:L, j], enc[r][:-1])
            np.testing.assert_array_equal(b.targets[:L, j], enc[r][1:])
            np.testing.assert_array_equal(b.inputs[1:L, j], b.targets[: L - 1, j], err_msg="shift by one")
            assert np.all(b.targets[L:, j] == IGNORE_INDEX)
        seen.extend(b.rows.tolist())
    assert sorted(seen) == list(range(n)), "every sequence exactly once per epoch"


def test_synthetic_sequences_have_the_language() -> None:
    for seq in synthetic_sequences(50, 2, 6, 3):
        k = seq.count("a")
        assert 2 <= k <= 6 and seq == ["a"] * k + ["b"] * k + [EOS]


def test_one_hot_shape_and_padding() -> None:
    ids = np.array([[1, 2], [3, 0], [2, 0]])  # (T=3, N=2)
    x = one_hot(ids, 5, lengths=np.array([3, 1]), dtype=np.float64)
    assert x.shape == (3, 2, 5) and x.dtype == np.float64
    np.testing.assert_array_equal(x.argmax(-1)[:, 0], ids[:, 0])
    np.testing.assert_array_equal(x.sum(-1), [[1, 1], [1, 0], [1, 0]])  # zero rows past length 1
    with pytest.raises(ValueError, match=r"ids must be in \[0, 3\)"):
        one_hot(ids, 3)
    with pytest.raises(ValueError, match=r"shape \(T, N\)"):
        one_hot(ids[0], 5)


def test_vocabulary_unk_and_specials() -> None:
    vocab = Vocabulary.build([["the", "cat", EOS], ["a", "cat", EOS]])
    assert vocab.tokens[:2] == [UNK, EOS] and len(vocab) == 5
    ids = vocab.encode(["cat", "dog", EOS])
    assert vocab.decode(ids) == ["cat", UNK, EOS]
    assert ids[1] == vocab.index[UNK] == 0


def test_text_vocabulary_comes_from_training_split_only(tmp_path) -> None:
    words = [f"w{i}" for i in range(40)]
    (tmp_path / "t.txt").write_text("\n".join(f"{w} common" for w in words) + "\n")
    data = build_dataset(DataConfig(text=str(tmp_path / "t.txt"), level="word", seed=4))
    train_words = {t for s in data.splits.train for t in s}
    assert set(data.vocab.tokens) == train_words | {UNK}
    held_out = [s[0] for s in data.splits.test + data.splits.val]
    assert held_out and all(w not in train_words for w in held_out)
    for e in data.encoded[2]:
        assert e[0] == 0 and e[1] == data.vocab.index["common"], "unseen word -> UNK, known word kept"


def test_text_sequences_windows_and_levels(tmp_path) -> None:
    f = tmp_path / "t.txt"
    f.write_text("abcdef\n\n  \nxy\n")
    seqs = text_sequences(f, "char", max_len=4)
    assert seqs == [list("abcde"), ["e", "f", EOS], ["x", "y", EOS]]  # windows overlap by one token
    assert text_sequences(f, "word") == [["abcdef", EOS], ["xy", EOS]]
    (tmp_path / "e.txt").write_text(" \n\n")
    with pytest.raises(ValueError, match="is empty"):
        text_sequences(tmp_path / "e.txt")
    with pytest.raises(FileNotFoundError, match="not found"):
        text_sequences(tmp_path / "missing.txt")


def test_text_sequences_refuse_the_markers_as_words_and_drop_a_bom(tmp_path) -> None:
    """A word ``EOS`` or ``UNK`` in a text would be read as the marker (an ``EOS`` word would end
    every sampled text there): the file is refused, naming the line and the word.  A character-level
    text cannot hold them (a character is one long).  A UTF-8 byte-order mark is not a token."""
    f = tmp_path / "t.txt"
    f.write_text("press the key\npress EOS then go\n")
    with pytest.raises(ValueError, match=r"t\.txt line 2: the word EOS is one of the vocabulary's markers"):
        text_sequences(f, "word")
    assert text_sequences(f, "char")[1][:7] == list("press E")
    f.write_text("UNK a EOS\n")
    with pytest.raises(ValueError, match=r"line 1: the words EOS and UNK are .* rename them .* eos and unk"):
        text_sequences(f, "word")
    f.write_text("eos and unk are fine\n")
    assert text_sequences(f, "word") == [["eos", "and", "unk", "are", "fine", EOS]]
    f.write_bytes("\ufeffhello world\n".encode("utf-8"))
    assert text_sequences(f, "word") == [["hello", "world", EOS]]
    assert text_sequences(f, "char")[0][:2] == ["h", "e"]


@pytest.mark.parametrize("S", [3, 10, 47, 200])
def test_split_sizes_and_seeding(S: int) -> None:
    seqs = [[str(i), EOS] for i in range(S)]
    a = split_sequences(seqs, seed=1)
    assert len(a.val) == max(1, S // 10) and len(a.test) == max(1, S // 10)
    assert len(a.train) + len(a.val) + len(a.test) == S
    assert sorted(map(tuple, a.train + a.val + a.test)) == sorted(map(tuple, seqs)), "a partition"
    assert split_sequences(seqs, seed=1) == a, "same seed, same split"
    if S >= 10:
        assert split_sequences(seqs, seed=2) != a
    with pytest.raises(ValueError, match="at least 3 sequences"):
        split_sequences(seqs[:2], seed=0)


def test_seeded_data_and_batches_repeat() -> None:
    assert synthetic_sequences(30, 1, 9, 5) == synthetic_sequences(30, 1, 9, 5)
    assert synthetic_sequences(30, 1, 9, 5) != synthetic_sequences(30, 1, 9, 6)
    enc = encode_split(synthetic_sequences(30, 1, 9, 5), Vocabulary.build([["a", "b"]]))
    b1 = make_batches(enc, 4, shuffle_seed=(0, 3))
    b2 = make_batches(enc, 4, shuffle_seed=(0, 3))
    b3 = make_batches(enc, 4, shuffle_seed=(0, 4))
    assert all(np.array_equal(x.rows, y.rows) for x, y in zip(b1, b2, strict=True))
    assert not all(np.array_equal(x.rows, y.rows) for x, y in zip(b1, b3, strict=True))


def test_accuracy_ceiling_matches_brute_force() -> None:
    for k_min, k_max in itertools.product(range(1, 5), range(1, 8)):
        if k_max < k_min:
            continue
        seqs = [["a"] * k + ["b"] * k + [EOS] for k in range(k_min, k_max + 1)]
        total = sum(len(s) - 1 for s in seqs)
        # brute force: at each distinct prefix the best guess scores the count of its most frequent
        # next token among the sequences sharing that prefix
        # and the lowest loss is the entropy of the next token within each group, summed over members
        prefixes = {tuple(s[:j]) for s in seqs for j in range(1, len(s))}
        correct, cost = 0, 0.0
        for p in prefixes:
            nxt = [s[len(p)] for s in seqs if tuple(s[: len(p)]) == p and len(s) > len(p)]
            correct += max(nxt.count(t) for t in set(nxt))
            cost -= sum(math.log(nxt.count(t) / len(nxt)) for t in nxt)
        assert accuracy_ceiling(k_min, k_max) == Fraction(correct, total), (k_min, k_max)
        assert loss_floor(k_min, k_max) == pytest.approx(cost / total, rel=1e-12, abs=1e-15)
        assert best_accuracy_on(seqs, k_min, k_max) == pytest.approx(correct / total)
    assert accuracy_ceiling(3, 3) == 1


def test_ceiling_and_floor_in_closed_form_equal_the_step_by_step_rule() -> None:
    """The optimal predictor misses only the first b (unless k == k_max): the O(1) count equals the
    O(k^2) rule, so --k-max in the thousands costs nothing."""
    from numpy_lstm_app.data import _correct_tokens, _correct_tokens_by_rule

    for k_min, k_max in itertools.product(range(1, 6), range(1, 12)):
        for k in range(k_min, k_max + 1):
            assert _correct_tokens(k, k_min, k_max) == _correct_tokens_by_rule(k, k_min, k_max), (k, k_min, k_max)
    K = 100_000  # each of the K sequences misses one target but the longest
    total = sum(2 * k for k in range(1, K + 1))
    assert accuracy_ceiling(1, K) == Fraction(total - (K - 1), total)
    assert 0 < loss_floor(1, K) < loss_floor(1, 9)
