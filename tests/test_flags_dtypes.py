"""Flags are bools and arrays have the module's dtype: anything else raises, as in PyTorch, instead of
being read as something the caller did not mean (``bool("False")`` is True; a float64 array cast
to float32 loses what the caller computed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import numpy_lstm

NOT_BOOLS = ["False", "True", 1, 0, None, 1.0, float("nan")]


@pytest.mark.parametrize("flag", ["bias", "batch_first"])
@pytest.mark.parametrize("value", ["False", 1, None])
def test_lstm_flags_raise_what_torch_raises(flag, value):
    with pytest.raises(TypeError) as theirs:
        torch.nn.LSTM(3, 5, **{flag: value})
    with pytest.raises(TypeError) as ours:
        numpy_lstm.LSTM(3, 5, **{flag: value})
    assert str(ours.value) == str(theirs.value)  # "bias should be of type bool, got: str"


@pytest.mark.parametrize("value", NOT_BOOLS)
@pytest.mark.parametrize(
    "build, flag",
    [
        (lambda v: numpy_lstm.LSTM(3, 5, bias=v), "bias"),
        (lambda v: numpy_lstm.LSTM(3, 5, batch_first=v), "batch_first"),
        (lambda v: numpy_lstm.LSTM(3, 5, bidirectional=v), "bidirectional"),
        (lambda v: numpy_lstm.LSTMCell(3, 5, bias=v), "bias"),
        (lambda v: numpy_lstm.Linear(3, 5, bias=v), "bias"),
        (lambda v: numpy_lstm.SGD(numpy_lstm.Linear(3, 5), lr=0.1, momentum=0.9, nesterov=v), "nesterov"),
        (lambda v: numpy_lstm.pad_sequences([np.ones((2, 1))], batch_first=v), "batch_first"),
    ],
)
def test_every_flag_is_a_bool(build, flag, value):
    with pytest.raises(TypeError, match=rf"^{flag} should be of type bool, got: {type(value).__name__}$"):
        build(value)


def test_numpy_bools_are_bools():
    m = numpy_lstm.LSTM(3, 5, bias=np.bool_(False), batch_first=np.True_, bidirectional=np.False_)
    assert (m.bias, m.batch_first, m.bidirectional) == (False, True, False)
    assert all(type(v) is bool for v in (m.bias, m.batch_first, m.bidirectional))
    assert numpy_lstm.Linear(2, 2, bias=np.False_).bias is False
    assert numpy_lstm.LSTMCell(2, 2, bias=np.False_).bias is False
    assert numpy_lstm.SGD(numpy_lstm.Linear(2, 2), momentum=0.9, nesterov=np.True_).nesterov is True


def test_options_set_after_construction_are_checked():
    m = numpy_lstm.LSTM(3, 5, num_layers=2, seed=0)
    with pytest.raises(TypeError, match="batch_first should be of type bool, got: str"):
        m.batch_first = "False"
    assert m.batch_first is False
    m.batch_first = np.True_
    assert m.batch_first is True
    for bad in (1.5, -0.1, float("nan"), True, "0.5"):
        with pytest.raises(ValueError, match=r"dropout should be a number in range \[0, 1\]"):
            m.dropout = bad
    assert m.dropout == 0.0
    m.dropout = 1
    assert m.dropout == 1.0 and type(m.dropout) is float
    fixed = {  # the parameters were made for these; proj_size = 0 used to drop weight_hr's gradient
        m: ["bias", "bidirectional", "input_size", "hidden_size", "num_layers", "proj_size", "num_directions",
            "hidden_out"],
        numpy_lstm.LSTMCell(2, 2): ["bias", "input_size", "hidden_size"],
        numpy_lstm.Linear(2, 2): ["bias", "in_features", "out_features"],
    }
    for module, names in fixed.items():
        for name in names:
            before = getattr(module, name)
            message = rf"{type(module).__name__}.{name} is fixed when the module is built"
            with pytest.raises(AttributeError, match=message):
                setattr(module, name, 0)
            assert getattr(module, name) == before


def test_training_flag_set_by_hand_is_checked_before_dropout_uses_it():
    m = numpy_lstm.LSTM(3, 5, num_layers=2, dropout=0.5, seed=0)
    x = np.zeros((4, 2, 3), np.float32)
    with pytest.raises(TypeError, match="training should be of type bool, got: str"):
        m.training = "False"  # a truthy string: dropout would stay on in what the caller meant as eval
        m(x)


def _dtype_cases():
    """(call, name of the refused argument): each call passes one float64 array to a float32 module."""
    f32 = np.float32
    x, h, c = np.zeros((4, 2, 3), f32), np.zeros((1, 2, 5), f32), np.zeros((1, 2, 5), f32)

    def lstm_backward(which):
        m = numpy_lstm.LSTM(3, 5, seed=0)
        out, (h_n, c_n) = m(x)
        args = [np.zeros_like(out), (np.zeros_like(h_n), np.zeros_like(c_n))]
        if which == "d_output":
            args[0] = args[0].astype(np.float64)
        else:
            states = list(args[1])
            states[which == "dc_n"] = states[which == "dc_n"].astype(np.float64)
            args[1] = tuple(states)
        m.backward(*args)

    def cell_backward(which):
        cell = numpy_lstm.LSTMCell(3, 5, seed=0)
        hc, cc = cell(x[0])
        dh, dc = np.zeros_like(hc), np.zeros_like(cc)
        cell.backward(dh.astype(np.float64), dc) if which == "dh" else cell.backward(dh, dc.astype(np.float64))

    def linear_backward():
        lin = numpy_lstm.Linear(3, 2, seed=0)
        y = lin(x)
        lin.backward(np.zeros(y.shape))

    return [
        (lambda: numpy_lstm.LSTM(3, 5)(x.astype(np.float64)), "LSTM input"),
        (lambda: numpy_lstm.LSTM(3, 5)(x, (h.astype(np.float64), c)), "h_0"),
        (lambda: numpy_lstm.LSTM(3, 5)(x, (h, c.astype(np.float64))), "c_0"),
        (lambda: lstm_backward("d_output"), "d_output"),
        (lambda: lstm_backward("dh_n"), "dh_n"),
        (lambda: lstm_backward("dc_n"), "dc_n"),
        (lambda: numpy_lstm.LSTMCell(3, 5)(x[0].astype(np.float64)), "LSTMCell input"),
        (lambda: numpy_lstm.LSTMCell(3, 5)(x[0], (h[0].astype(np.float64), c[0])), "h"),
        (lambda: cell_backward("dh"), "dh"),
        (lambda: cell_backward("dc"), "dc"),
        (lambda: numpy_lstm.Linear(3, 2)(x.astype(np.float64)), "Linear input"),
        (linear_backward, "dy"),
    ]


@pytest.mark.parametrize("call, name", _dtype_cases(), ids=[name for _, name in _dtype_cases()])
def test_float64_into_float32_is_refused_naming_both_fixes(call, name):
    with pytest.raises(ValueError) as err:
        call()
    msg = str(err.value)
    assert msg.startswith(f"{name} has dtype float64 but the module's weights are float32"), msg
    assert "dtype=np.float64" in msg and "astype(np.float32)" in msg


def test_float32_into_float64_is_refused_too():
    m = numpy_lstm.LSTM(3, 5, dtype=np.float64)
    with pytest.raises(ValueError, match=r"LSTM input has dtype float32 .* weights are float64.*astype\(np.float64\)"):
        m(np.zeros((4, 2, 3), np.float32))
    with pytest.raises(ValueError, match="RNN input dtype .* does not match weight dtype"):
        torch.nn.LSTM(3, 5, dtype=torch.float64)(torch.zeros(4, 2, 3))  # the behaviour matched
    with pytest.raises(ValueError, match="RNN input dtype .* does not match weight dtype"):
        torch.nn.LSTM(3, 5)(torch.zeros(4, 2, 3, dtype=torch.float64))


def test_python_floats_take_the_modules_dtype():
    x = [[[0.5, -1.0, 2.0]], [[1.0, 0.0, -0.5]]]  # (T=2, N=1, I=3) nested lists of Python floats
    for dtype in (np.float32, np.float64):
        m = numpy_lstm.LSTM(3, 4, dtype=dtype, seed=0)
        out, (h_n, c_n) = m(x, ([[[0.0] * 4]], [[[0.0] * 4]]))
        assert out.dtype == h_n.dtype == c_n.dtype == dtype
        np.testing.assert_array_equal(out, m(np.array(x, dtype))[0])
        dx, _ = m.backward([[[1.0] * 4]] * 2)
        assert dx.dtype == dtype
    lin = numpy_lstm.Linear(3, 2, seed=0)
    assert lin([1.0, 2.0, 3.0]).dtype == np.float32


def test_lists_of_arrays_of_the_other_precision_are_refused_too():
    """A list (or tuple) of float64 arrays or scalars is float64 data: wrapping an array in a list
    must not turn the refusal into a silent cast.  Lists of Python floats are still converted."""
    rng = np.random.default_rng(0)
    x64 = rng.standard_normal((4, 2, 3))
    m = numpy_lstm.LSTM(3, 5, seed=0)
    cases = [
        ("LSTM input", lambda: m(list(x64))),
        ("LSTM input", lambda: m(tuple(list(step) for step in x64))),  # lists of np.float64 rows
        ("h_0", lambda: m(x64.astype(np.float32), ([np.zeros((2, 5))], np.zeros((1, 2, 5), np.float32)))),
        ("LSTMCell input", lambda: numpy_lstm.LSTMCell(3, 5)(list(x64[0]))),
        ("Linear input", lambda: numpy_lstm.Linear(3, 2)([x64[0, 0]])),
    ]
    for name, call in cases:
        with pytest.raises(ValueError, match=rf"^{name} has dtype float64 but the module's weights are float32"):
            call()
    out, _ = m(x64.astype(np.float32))
    with pytest.raises(ValueError, match=r"^d_output has dtype float64"):
        m.backward(list(np.ones(out.shape)))
    m64 = numpy_lstm.LSTM(3, 5, dtype=np.float64, seed=0)
    with pytest.raises(ValueError, match=r"^LSTM input has dtype float32 but the module's weights are float64"):
        m64([[[np.float32(0.5)] * 3] * 2] * 4)
    np.testing.assert_array_equal(m64(x64.tolist())[0], m64(x64)[0])  # Python floats: converted


@pytest.mark.parametrize(
    "build",
    [
        lambda: numpy_lstm.LSTM(3, 4, seed=0),
        lambda: numpy_lstm.LSTMCell(3, 4, seed=0),
        lambda: numpy_lstm.Linear(3, 4, seed=0),
        lambda: numpy_lstm.Embedding(5, 3, seed=0),
    ],
)
def test_the_dtype_is_float32_or_float64_for_good(build):
    """``astype`` takes what the constructor takes (an integer dtype truncated the weights, float16
    made a module the constructor refuses), and ``dtype`` cannot be set by hand: a float32 module
    told it was float64 took float64 input and refused float32."""
    m = build()
    for bad in (np.int32, np.int8, np.float16, "int64", np.complex128):
        with pytest.raises(ValueError, match="dtype must be float32 or float64"):
            m.astype(bad)
    with pytest.raises(AttributeError, match="dtype is fixed when the module is built"):
        m.dtype = np.float64
    assert m.dtype == np.float32
    m64 = m.astype(np.float64)
    assert m64.dtype == np.float64 and m.dtype == np.float32
    assert all(p.dtype == np.float64 for p in m64.params.values())


def test_gradcheck_of_a_float32_module_with_float32_states():
    """gradcheck moves the module to float64, and the arrays it passes on with it."""
    m = numpy_lstm.LSTM(2, 3, seed=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 2)).astype(np.float32)
    hx = tuple(rng.standard_normal((1, 2, 3)).astype(np.float32) for _ in range(2))
    report = numpy_lstm.gradcheck(m, x, hx)
    assert report.max_rel < 1e-6, str(report)


@pytest.mark.parametrize("lengths", [[2.5, 3, 1], [np.nan, 3, 1], [True, True, True]])
def test_lengths_that_are_not_whole_numbers_are_refused(lengths):
    m = numpy_lstm.LSTM(2, 3, dtype=np.float64)
    with pytest.raises(ValueError, match="lengths must be integers"):
        m(np.zeros((3, 3, 2)), lengths=lengths)
