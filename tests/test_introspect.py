"""numpy_lstm.introspect: the recorded gates are the module's own, and the state gradients are
torch autograd's ``h_t.grad`` / ``c_t.grad``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import numpy_lstm
from numpy_lstm.functional import sigmoid, split_gates
from numpy_lstm.introspect import GATE_NAMES, record_gates, set_forget_bias, state_gradients


@pytest.mark.parametrize(
    "kwargs, shape",
    [
        (dict(num_layers=2, bidirectional=True), (6, 3, 4)),
        (dict(num_layers=2, batch_first=True, proj_size=3), (3, 6, 4)),
        (dict(), (6, 4)),  # unbatched
    ],
)
def test_recorded_states_are_the_modules_outputs(kwargs, shape):
    rng = np.random.default_rng(0)
    lstm = numpy_lstm.LSTM(4, 5, dtype=np.float64, seed=1, **kwargs)
    x = rng.standard_normal(shape)
    out, (h_n, c_n) = lstm(x)
    rec = record_gates(lstm, x)
    D = lstm.num_directions
    assert list(rec) == [f"l{k}{s}" for k in range(lstm.num_layers) for s in ("", "_reverse")[:D]]
    last = [rec[k]["h"] for k in list(rec)[-D:]]
    top = np.concatenate(last, axis=-1)  # (T, N, D*H_out) seq-first
    expect = out[:, None, :] if out.ndim == 2 else out.transpose(1, 0, 2) if lstm.batch_first else out
    np.testing.assert_allclose(top, expect, rtol=1e-12, atol=1e-14)
    assert top.shape[0] == 6  # T, whatever the layout
    for idx, key in enumerate(rec):
        r = rec[key]
        assert set(r) == set(GATE_NAMES)
        end = 0 if key.endswith("_reverse") else -1  # the reverse direction ends at step 0
        np.testing.assert_allclose(r["c"][end], c_n[idx].reshape(r["c"][end].shape), rtol=1e-12, atol=1e-14)
        assert r["i"].shape == r["c"].shape == (6, top.shape[1], 5)  # (T, N, H) seq-first


def test_gates_follow_the_equations_at_one_step():
    rng = np.random.default_rng(2)
    lstm = numpy_lstm.LSTM(3, 4, dtype=np.float64, seed=2)
    x = rng.standard_normal((5, 2, 3))
    rec = record_gates(lstm, x)["l0"]
    p = lstm.params
    t = 3
    a = x[t] @ p["weight_ih_l0"].T + p["bias_ih_l0"] + rec["h"][t - 1] @ p["weight_hh_l0"].T + p["bias_hh_l0"]
    a_i, a_f, a_g, a_o = split_gates(a)
    np.testing.assert_allclose(rec["i"][t], sigmoid(a_i), rtol=1e-12)
    np.testing.assert_allclose(rec["f"][t], sigmoid(a_f), rtol=1e-12)
    np.testing.assert_allclose(rec["g"][t], np.tanh(a_g), rtol=1e-12)
    np.testing.assert_allclose(rec["o"][t], sigmoid(a_o), rtol=1e-12)
    np.testing.assert_allclose(rec["c"][t], rec["f"][t] * rec["c"][t - 1] + rec["i"][t] * rec["g"][t], rtol=1e-12)


def torch_state_grads(lstm, x, dout, dh_n, dc_n):
    """dL/dh_t and dL/dc_t from torch autograd: LSTMCells looped by hand, every state retained."""
    T, N, _ = x.shape
    D, H = lstm.num_directions, lstm.hidden_size
    layer_in = torch.tensor(x)
    states = {}
    for k in range(lstm.num_layers):
        outs = []
        for d, suffix in enumerate(("", "_reverse")[:D]):
            key = f"l{k}{suffix}"
            cell = torch.nn.LSTMCell(layer_in.shape[-1], H, dtype=torch.float64)
            cell.load_state_dict({n: torch.tensor(lstm.params[f"{n}_{key}"]) for n in
                                  ("weight_ih", "weight_hh", "bias_ih", "bias_hh")})
            h = torch.zeros(N, H, dtype=torch.float64)
            c = torch.zeros(N, H, dtype=torch.float64)
            hs, cs = [None] * T, [None] * T
            for t in (range(T - 1, -1, -1) if d else range(T)):
                h, c = cell(layer_in[t], (h, c))
                h.retain_grad()
                c.retain_grad()
                hs[t], cs[t] = h, c
            states[key] = (hs, cs, k * D + d)
            outs.append(torch.stack(hs))
        layer_in = torch.cat(outs, dim=-1)
    loss = (layer_in * torch.tensor(dout)).sum()
    for hs, cs, idx in states.values():  # the final states: last step of forward, step 0 of reverse
        end = 0 if idx % D else -1
        loss = loss + (hs[end] * torch.tensor(dh_n[idx])).sum() + (cs[end] * torch.tensor(dc_n[idx])).sum()
    loss.backward()
    return {key: (torch.stack([h.grad for h in hs]).numpy(), torch.stack([c.grad for c in cs]).numpy())
            for key, (hs, cs, _) in states.items()}


@pytest.mark.parametrize("bidirectional", [False, True])
def test_state_gradients_equal_torch_autograd(bidirectional):
    rng = np.random.default_rng(4)
    lstm = numpy_lstm.LSTM(3, 4, num_layers=2, bidirectional=bidirectional, dtype=np.float64, seed=4)
    x = rng.standard_normal((7, 2, 3))
    out, (h_n, c_n) = lstm(x)
    dout, dh_n, dc_n = (rng.standard_normal(a.shape) for a in (out, h_n, c_n))
    ours = state_gradients(lstm, x, dout, dhx=(dh_n, dc_n))
    ref = torch_state_grads(lstm, x, dout, dh_n, dc_n)
    assert list(ours) == list(ref)
    for key, (dh, dc) in ref.items():
        np.testing.assert_allclose(ours[key].dh, dh, rtol=1e-10, atol=1e-13, err_msg=f"dh {key}")
        np.testing.assert_allclose(ours[key].dc, dc, rtol=1e-10, atol=1e-13, err_msg=f"dc {key}")


def test_state_gradients_with_projection_reach_the_modules_dh0():
    """torch's LSTMCell has no projection; the chain is checked against lstm.backward instead:
    the gradient on h_0 is dL/dh_1 carried one step back, which only agrees if every step did."""
    rng = np.random.default_rng(5)
    lstm = numpy_lstm.LSTM(3, 5, proj_size=2, batch_first=True, dtype=np.float64, seed=5)
    x = rng.standard_normal((2, 6, 3))
    out, _ = lstm(x)
    dout = rng.standard_normal(out.shape)
    _, (dh0, dc0) = lstm.backward(dout)
    g = state_gradients(lstm, x, dout)["l0"]
    assert g.dh.shape == (6, 2, 2) and g.dc.shape == (6, 2, 5)
    rec = record_gates(lstm, x)["l0"]
    dc_back = g.dc[0] * rec["f"][0]  # dc_prev = dc * f, at the first step
    np.testing.assert_allclose(dc_back, dc0[0], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(g.dh[-1], dout[:, -1], rtol=1e-12)  # nothing comes after the last step


def test_forget_bias_sets_the_sum_of_both_biases():
    lstm = numpy_lstm.LSTM(2, 3, num_layers=2, bidirectional=True, seed=0)
    set_forget_bias(lstm, 1.0)
    for key in ("l0", "l0_reverse", "l1", "l1_reverse"):
        total = lstm.params[f"bias_ih_{key}"] + lstm.params[f"bias_hh_{key}"]
        np.testing.assert_array_equal(split_gates(total)[1], 1.0)
        assert not np.all(split_gates(total)[0] == 1.0)  # the other gates are untouched
    with pytest.raises(ValueError, match="bias=False"):
        set_forget_bias(numpy_lstm.LSTM(2, 3, bias=False), 1.0)


def test_errors_name_the_expected_shape():
    lstm = numpy_lstm.LSTM(4, 5, dtype=np.float64)
    with pytest.raises(ValueError, match=r"Axis 1 has size 4 = input_size"):
        record_gates(lstm, np.zeros((1, 4, 20)))
    with pytest.raises(ValueError, match=r"d_output: expected shape \(6, 2, 5\).*got \(6, 2, 4\)"):
        state_gradients(lstm, np.zeros((6, 2, 4)), np.zeros((6, 2, 4)))


def test_dropout_masks_of_a_training_forward_are_replayed():
    """With the module's own masks, the recorded states and the state gradients are those of the
    training-mode forward and backward that drew them."""
    rng = np.random.default_rng(6)
    lstm = numpy_lstm.LSTM(3, 4, num_layers=2, dropout=0.5, bidirectional=True, dtype=np.float64, seed=6)
    x = rng.standard_normal((5, 2, 3))
    out, (h_n, c_n) = lstm(x)
    masks = lstm.dropout_masks
    assert masks[0] is not None and not np.all(masks[0] == 1)
    dout = rng.standard_normal(out.shape)
    _, (dh0, dc0) = lstm.backward(dout)
    rec = record_gates(lstm, x, masks=masks)
    np.testing.assert_allclose(np.concatenate([rec["l1"]["h"], rec["l1_reverse"]["h"]], axis=-1), out,
                               rtol=1e-12, atol=1e-14)
    g = state_gradients(lstm, x, dout, masks=masks)
    for idx, key in enumerate(rec):  # dc_prev = dc * f at each direction's first step
        first = -1 if key.endswith("_reverse") else 0
        np.testing.assert_allclose(g[key].dc[first] * rec[key]["f"][first], dc0[idx], rtol=1e-10, atol=1e-13,
                                   err_msg=key)
    no_dropout = record_gates(lstm, x)["l1"]["h"]
    assert not np.allclose(no_dropout, rec["l1"]["h"])  # the masks did change the upper layer


def test_states_and_their_gradients_are_keyword_only():
    """``hx`` and ``dhx`` have the same shapes: a ``(dh_n, dc_n)`` passed fourth was taken as the
    initial state, and the gradients were wrong without an error.  Now it is a TypeError."""
    lstm = numpy_lstm.LSTM(3, 4, dtype=np.float64, seed=0)
    x, dout = np.zeros((5, 2, 3)), np.ones((5, 2, 4))
    dhx = (np.ones((1, 2, 4)), np.ones((1, 2, 4)))
    with pytest.raises(TypeError):
        state_gradients(lstm, x, dout, dhx)
    with pytest.raises(TypeError):
        record_gates(lstm, x, None, None)  # masks: keyword-only too
    assert state_gradients(lstm, x, dout, dhx=dhx)["l0"].dc.shape == (5, 2, 4)
