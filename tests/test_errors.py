"""Bad input gets a ValueError (or RuntimeError) that names what was expected and what arrived."""

from __future__ import annotations

import numpy as np
import pytest

import numpy_lstm


@pytest.fixture
def lstm():
    return numpy_lstm.LSTM(4, 20, num_layers=2, dtype=np.float64, seed=0)


@pytest.mark.parametrize(
    "shape, pattern",
    [
        ((3,), r"expected a 3-D array \(seq_len, batch, 4\).*got 1-D shape \(3,\)"),
        ((2, 3, 4, 4), r"got 4-D shape \(2, 3, 4, 4\)"),
        ((5, 2, 3), r"expected \(seq_len, batch, 4\) for batch_first=False, got \(5, 2, 3\)"),
        ((5, 3), r"expected \(seq_len, 4\), got \(5, 3\)"),
        ((0, 2, 4), r"got \(0, 2, 4\): seq_len must be at least 1"),
    ],
)
def test_wrong_input_shape(lstm, shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        lstm(np.zeros(shape))


@pytest.mark.parametrize("shape", [(1, 4, 20), (20, 4, 1)])  # (batch, vocab, seq), (seq, vocab, 1)
def test_the_classic_layout_mistake_is_explained(lstm, shape):
    with pytest.raises(ValueError) as err:
        lstm(np.zeros(shape))
    msg = str(err.value)
    assert f"got {shape}" in msg and "Axis 1 has size 4 = input_size" in msg
    assert "batch_first=True" in msg and "permute(0, 2, 1)" in msg


def test_batch_first_layout_is_named():
    m = numpy_lstm.LSTM(4, 5, batch_first=True)
    with pytest.raises(ValueError, match=r"expected \(batch, seq_len, 4\) for batch_first=True, got \(2, 3, 5\)"):
        m(np.zeros((2, 3, 5), np.float32))


@pytest.mark.parametrize(
    "data", [np.zeros((3, 2, 4), dtype=np.int64), np.zeros((3, 2, 4), dtype=bool),
             np.zeros((3, 2, 4), dtype=np.complex128), np.full((3, 2, 4), None, dtype=object)],
)
def test_non_float_input_is_refused(lstm, data):
    with pytest.raises(ValueError, match=rf"floating-point array .* got dtype {data.dtype}"):
        lstm(data)


def test_hx_shapes(lstm):
    x = np.zeros((5, 3, 4))
    good_h, good_c = np.zeros((2, 3, 20)), np.zeros((2, 3, 20))
    with pytest.raises(ValueError, match=r"h_0: expected shape \(2, 3, 20\).*got \(1, 3, 20\)"):
        lstm(x, (np.zeros((1, 3, 20)), good_c))
    with pytest.raises(ValueError, match=r"c_0: expected shape \(2, 3, 20\).*got \(2, 5, 20\).*batch_first"):
        lstm(x, (good_h, np.zeros((2, 5, 20))))
    with pytest.raises(ValueError, match=r"hx must be a tuple \(h_0, c_0\)"):
        lstm(x, good_h)
    with pytest.raises(ValueError, match=r"h_0: expected shape \(2, 20\)"):
        lstm(np.zeros((5, 4)), (good_h, good_c))  # unbatched input takes unbatched states


def test_backward_errors(lstm):
    with pytest.raises(RuntimeError, match="before forward"):
        lstm.backward(np.zeros((5, 3, 20)))
    out, (h, c) = lstm(np.zeros((5, 3, 4)))
    with pytest.raises(ValueError, match=r"d_output: expected shape \(5, 3, 20\).*got \(3, 5, 20\)"):
        lstm.backward(np.zeros((3, 5, 20)))
    with pytest.raises(ValueError, match=r"dc_n: expected shape \(2, 3, 20\).*got \(2, 3\)"):
        lstm.backward(np.zeros_like(out), (np.zeros_like(h), np.zeros((2, 3))))
    with pytest.raises(ValueError, match="d_output must be a floating-point array"):
        lstm.backward(np.zeros((5, 3, 20), dtype=int))


@pytest.mark.parametrize(
    "lengths, pattern",
    [
        ([5, 5], r"expected 3 integers \(one per sequence\), got shape \(2,\)"),
        ([5, 0, 1], r"lengths must be in \[1, seq_len=5\], got min 0"),
        ([5, 6, 1], r"lengths must be in \[1, seq_len=5\].*max 6"),
        ([1.5, 2, 3], r"lengths must be integers"),
        (["a", "b", "c"], r"lengths must be integers"),
    ],
)
def test_bad_lengths(lstm, lengths, pattern):
    with pytest.raises(ValueError, match=pattern):
        lstm(np.zeros((5, 3, 4)), lengths=lengths)


def test_lengths_with_unbatched_input(lstm):
    with pytest.raises(ValueError, match="lengths cannot be given with unbatched"):
        lstm(np.zeros((5, 4)), lengths=[5])


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(input_size=0, hidden_size=3), "input_size must be >= 1, got 0"),
        (dict(input_size=2, hidden_size=2.5), "hidden_size must be an integer, got 2.5"),
        (dict(input_size=2, hidden_size=3, proj_size=3), "proj_size must be smaller than hidden_size"),
        (dict(input_size=2, hidden_size=3, num_layers=True), "num_layers must be an integer"),
        (dict(input_size=2, hidden_size=3, dtype=np.float16), "dtype must be float32 or float64, got float16"),
        (dict(input_size=2, hidden_size=3, dtype="int32"), "dtype must be float32 or float64"),
    ],
)
def test_constructor_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        numpy_lstm.LSTM(**kwargs)


def test_state_dict_mismatches_name_the_entry_and_change_nothing(lstm):
    before = lstm.state_dict()
    bad = dict(before)
    del bad["bias_hh_l1"]
    with pytest.raises(ValueError, match=r"missing \['bias_hh_l1'\]"):
        lstm.load_state_dict(bad)
    bad = dict(before, extra=np.zeros(3))
    with pytest.raises(ValueError, match=r"unexpected \['extra'\]"):
        lstm.load_state_dict(bad)
    bad = dict(before)
    bad["weight_ih_l0"] = np.ones((80, 5))
    bad["bias_ih_l0"] = np.full(80, 7.0)  # earlier in the dict than nothing, but must not be written
    with pytest.raises(ValueError, match=r"'weight_ih_l0' has shape \(80, 5\), expected \(80, 4\)"):
        lstm.load_state_dict(bad)
    bad = dict(before, weight_hh_l1=before["weight_hh_l1"].astype(np.float32))
    with pytest.raises(ValueError, match=r"'weight_hh_l1' has dtype float32, expected float64"):
        lstm.load_state_dict(bad)
    for k, v in lstm.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=f"{k} changed by a failed load")


def test_state_dict_round_trip_in_place():
    a = numpy_lstm.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2, seed=1)
    b = numpy_lstm.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2, seed=2)
    ref = b.params["weight_ih_l0"]
    b.load_state_dict(a.state_dict())
    assert b.params["weight_ih_l0"] is ref  # written in place: shared views stay valid
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    snapshot = a.state_dict()
    a.params["weight_ih_l0"] += 1
    assert not np.array_equal(snapshot["weight_ih_l0"], a.params["weight_ih_l0"])  # a copy


def test_lstm_cell_errors():
    cell = numpy_lstm.LSTMCell(3, 4, dtype=np.float64)
    with pytest.raises(ValueError, match=r"expected \(batch, 3\) or unbatched \(3,\), got \(2, 4\)"):
        cell(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"h: expected shape \(2, 4\).*got \(3, 4\)"):
        cell(np.zeros((2, 3)), (np.zeros((3, 4)), np.zeros((2, 4))))
    with pytest.raises(RuntimeError, match="before forward"):
        cell.backward(np.zeros((2, 4)))
    h, c = cell(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"dh: expected shape \(2, 4\)"):
        cell.backward(np.zeros((4,)))


def test_pad_sequences():
    seqs = [np.ones((3, 2)), 2 * np.ones((1, 2)), 3 * np.ones((2, 2))]
    x, lengths = numpy_lstm.pad_sequences(seqs)
    assert x.shape == (3, 3, 2) and lengths.tolist() == [3, 1, 2]
    np.testing.assert_array_equal(x[:, 1, 0], [2, 0, 0])
    xb, _ = numpy_lstm.pad_sequences(seqs, batch_first=True, padding_value=-1)
    assert xb.shape == (3, 3, 2)
    np.testing.assert_array_equal(xb[1, :, 0], [2, -1, -1])
    with pytest.raises(ValueError, match="sequence 1 is empty"):
        numpy_lstm.pad_sequences([np.ones((2, 2)), np.ones((0, 2))])
    with pytest.raises(ValueError, match=r"sequence 1 has trailing shape \(3,\), expected \(2,\)"):
        numpy_lstm.pad_sequences([np.ones((2, 2)), np.ones((2, 3))])
    with pytest.raises(ValueError, match="at least one sequence"):
        numpy_lstm.pad_sequences([])
