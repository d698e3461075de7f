"""The two forms of the gate activations (numpy_lstm.functional.activation): each gives the readable
cell's numbers, neither overflows with a warning, and the choice per dtype can be fixed or measured."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from numpy_lstm.functional import activation, layer_backward, layer_forward, textbook_backward, textbook_forward
from numpy_lstm.functional.feature_major import fm_forward
from tests.strategies import random_layer_weights


@pytest.fixture
def forget_form() -> Iterator[None]:
    """Each test starts and ends with no form chosen (the next use calibrates or reads the env)."""
    activation.set_gate_form(None)
    yield
    activation.set_gate_form(None)


@pytest.mark.parametrize("form", activation.FORMS)
@pytest.mark.parametrize("proj", [False, True])
def test_each_form_equals_the_textbook_loop(forget_form: None, form: str, proj: bool) -> None:
    activation.set_gate_form(form)
    rng = np.random.default_rng(3)
    T, N, I, H = 6, 3, 4, 5
    P = 2 if proj else 0
    W_ih, W_hh, b_ih, b_hh, W_hr = random_layer_weights(rng, I, H, P)
    x = rng.standard_normal((T, N, I))  # (T, N, I)
    h0, c0 = rng.standard_normal((N, P or H)), rng.standard_normal((N, H))
    y, h_n, c_n, cache = layer_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh, W_hr)
    y_ref, h_ref, c_ref, caches = textbook_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh, W_hr)
    for name, a, b in [("y", y, y_ref), ("h_n", h_n, h_ref), ("c_n", c_n, c_ref)]:
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13, err_msg=f"{form}: {name}")
    dy = rng.standard_normal(y.shape)
    g = layer_backward(dy, h_n * 0, c_n * 0, cache)
    ref = textbook_backward(dy, h_n * 0, c_n * 0, caches, W_ih, W_hh, W_hr)
    for name in ("dx", "dh0", "dc0", "dW_ih", "dW_hh", "db"):
        np.testing.assert_allclose(getattr(g, name), ref[name], rtol=1e-11, atol=1e-12, err_msg=f"{form}: {name}")
    if not proj:
        yi, hi, ci, _ = fm_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh, keep_cache=False)
        for name, a, b in [("y", yi, y_ref), ("h_n", hi, h_ref), ("c_n", ci, c_ref)]:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13, err_msg=f"{form} inference: {name}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_form_saturates_exactly_without_warnings(forget_form: None, dtype: type) -> None:
    """exp overflows to inf for huge pre-activations; the gates are then exactly 0 or 1 (or -1 for g),
    with no RuntimeWarning (pytest turns it into an error), in training and inference."""
    activation.set_gate_form("exp")
    H = 3
    W_ih = np.zeros((4 * H, 1), dtype)
    W_ih[:, 0] = np.tile(np.array([1.0, -1.0, 1.0]), 4)[: 4 * H]  # rows of both signs in every gate
    W_hh = np.zeros((4 * H, H), dtype)
    x = np.full((2, 2, 1), 1e4, dtype)  # (T, N, I); N = 2: one sequence would take single.py (tanh form)
    z = np.zeros((2, H), dtype)
    y, h_n, c_n, cache = layer_forward(x, z, z, W_ih, W_hh)
    gates = cache.acts  # (T, N, 4H) private order o | i | f | g, activated
    pre = (W_ih[:, 0] * 1e4)[np.r_[3 * H : 4 * H, 0 : 3 * H]]  # (4H,) private order o, i, f, g
    is_sigmoid = np.arange(4 * H) < 3 * H
    expected = np.where(is_sigmoid, (pre > 0).astype(float), np.sign(pre))  # sigmoid 0 or 1; tanh -1 or 1
    np.testing.assert_array_equal(gates[0, 0], expected.astype(dtype))
    yi, _, _, _ = fm_forward(x, z, z, W_ih, W_hh, keep_cache=False)
    np.testing.assert_array_equal(yi, y)
    assert np.all(np.isfinite(y))


def test_form_is_fixed_by_the_environment(forget_form: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(activation.ENV_VAR, "exp")
    assert activation.gate_form(np.float32) == "exp"
    activation.set_gate_form(None)
    monkeypatch.setenv(activation.ENV_VAR, "sigmoid")
    with pytest.raises(ValueError, match="NUMPY_LSTM_GATES: expected one of tanh, exp, got 'sigmoid'"):
        activation.gate_form(np.float32)


def test_calibration_picks_the_faster_form(forget_form: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(activation.ENV_VAR, raising=False)
    monkeypatch.setattr(activation, "calibrate", lambda dtype: {"tanh": 3.0, "exp": 1.0})
    assert activation.gate_form(np.float64) == "exp"
    monkeypatch.setattr(activation, "calibrate", lambda dtype: {"tanh": 1.0, "exp": 3.0})
    assert activation.gate_form(np.float64) == "exp", "the choice is cached for the process"
    activation.set_gate_form(None, np.float64)
    assert activation.gate_form(np.float64) == "tanh"


def test_calibrate_times_both_forms() -> None:
    ns = activation.calibrate(np.dtype(np.float32), rows=4, H=8, repeats=2)
    assert set(ns) == set(activation.FORMS) and all(0 < v < 1e6 for v in ns.values())
    assert activation.calibration(np.float32) == ns


def test_unknown_form_is_refused() -> None:
    with pytest.raises(ValueError, match="expected one of tanh, exp or None, got 'relu'"):
        activation.set_gate_form("relu")
