r"""Look inside a trained :class:`~numpy_lstm.LSTM`: every gate at every step, and the gradient
that reaches every ``h_t`` and ``c_t``.

The fast layer (:mod:`numpy_lstm.functional.layer`) keeps only what its backward needs, in a private
gate order; it is not the place to watch the gates.  This module re-runs the same weights through
the readable cell step (:func:`~numpy_lstm.functional.cell.cell_forward`, PyTorch's gate order) and
its backward (:func:`~numpy_lstm.functional.cell.cell_backward`), keeping everything.  It is slower,
and it is only used for looking; the tests prove it gives the module's own outputs and gradients.

(Named ``introspect`` rather than ``inspect`` so that it can never shadow the standard library.)

Results are keyed by layer and direction, as the parameters are: ``"l0"``, ``"l0_reverse"``,
``"l1"`` ...  Arrays are seq-first ``(T, N, ·)`` in the input's time order whatever the module's
layout (``N = 1`` for unbatched input); the reverse direction is mapped back to that order too.
Dropout is not applied (as in eval mode) and variable lengths are not supported.

Shape legend: ``T`` steps, ``N`` batch, ``H`` hidden, ``H_out`` = proj_size or hidden_size.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from numpy_lstm import _checks
from numpy_lstm.functional.cell import CellCache, cell_backward, cell_forward, split_gates
from numpy_lstm.lstm import LSTM

GATE_NAMES = ("i", "f", "g", "o", "c", "h")
"""The arrays :func:`record_gates` returns for each layer and direction."""


class StateGrads(NamedTuple):
    """Gradients of the loss with respect to one layer-direction's states, per step."""

    dh: np.ndarray  # (T, N, H_out)  dL/dh_t: through the output at t AND through step t+1
    dc: np.ndarray  # (T, N, H)      dL/dc_t: through h_t AND through c_{t+1}


class _Run(NamedTuple):
    """One direction of one layer, run with the readable cell (in that direction's step order)."""

    caches: list[CellCache]  # one per step
    c: np.ndarray  # (T, N, H)
    h: np.ndarray  # (T, N, H_out)


def _keys(lstm: LSTM) -> list[str]:
    suffixes = ("", "_reverse") if lstm.bidirectional else ("",)
    return [f"l{k}{s}" for k in range(lstm.num_layers) for s in suffixes]


def _weights(lstm: LSTM, key: str) -> tuple[np.ndarray | None, ...]:
    k, _, direction = key[1:].partition("_")
    return tuple(lstm.layer_weights(int(k), reverse=direction == "reverse"))


def _forward(lstm: LSTM, x: Any, hx: Any) -> dict[str, _Run]:
    """Run every layer and direction step by step with the readable cell."""
    x, h0, c0, _ = lstm.prepare_input(x, hx)  # the module's own checks and layout
    runs: dict[str, _Run] = {}
    layer_in = x  # (T, N, I_k)
    keys = _keys(lstm)
    for idx, key in enumerate(keys):
        reverse = key.endswith("_reverse")
        xin = layer_in[::-1] if reverse else layer_in  # (T, N, I_k) in this direction's order
        W_ih, W_hh, b_ih, b_hh, W_hr = _weights(lstm, key)
        h, c = h0[idx], c0[idx]
        caches, cs, hs = [], [], []
        for t in range(xin.shape[0]):
            h, c, cache = cell_forward(xin[t], h, c, W_ih, W_hh, b_ih, b_hh, W_hr)  # (N, H_out), (N, H)
            caches.append(cache)
            cs.append(c)
            hs.append(h)
        runs[key] = _Run(caches, np.stack(cs), np.stack(hs))
        last_of_layer = not lstm.bidirectional or reverse
        if last_of_layer:
            k = key.split("_")[0]
            outs = [runs[k].h] + ([runs[k + "_reverse"].h[::-1]] if lstm.bidirectional else [])
            layer_in = np.concatenate(outs, axis=-1)  # (T, N, D*H_out) the next layer's input
    return runs


def record_gates(lstm: LSTM, x: Any, hx: Any = None) -> dict[str, dict[str, np.ndarray]]:
    """Every gate and state of every layer and direction at every step.

    ``x`` is in the module's layout (as for ``lstm(x, hx)``).  Returns
    ``{"l0": {"i", "f", "g", "o", "c", "h"}, ...}``; each array is ``(T, N, H)`` (``h`` is
    ``(T, N, H_out)``), seq-first, in the input's time order.  ``c`` and ``h`` at step ``t`` are the
    states *after* reading token ``t``.
    """
    runs = _forward(lstm, x, hx)
    out: dict[str, dict[str, np.ndarray]] = {}
    for key, run in runs.items():
        order = slice(None, None, -1) if key.endswith("_reverse") else slice(None)
        rec = {name: np.stack([getattr(cache, name) for cache in run.caches])[order] for name in "ifgo"}
        rec["c"] = run.c[order]  # (T, N, H)
        rec["h"] = run.h[order]  # (T, N, H_out)
        out[key] = rec
    return out


def state_gradients(
    lstm: LSTM, x: Any, d_output: Any, hx: Any = None, dhx: Any = None
) -> dict[str, StateGrads]:
    """``dL/dh_t`` and ``dL/dc_t`` of every layer and direction, for the upstream gradient
    ``d_output`` (the output's shape and layout) and ``dhx = (dh_n, dc_n)`` (or None for zeros).

    These are *total* gradients: ``dL/dh_t`` collects the output's gradient at ``t`` and what step
    ``t + 1`` sends back through ``h_{t-1} @ W_hh.T``; ``dL/dc_t`` collects what flows through
    ``h_t = o * tanh(c_t)`` and through ``c_{t+1} = f * c_t + ...``.  The same loss, the same
    numbers as ``lstm.backward`` (the tests check it against torch autograd).
    """
    runs = _forward(lstm, x, hx)
    first = next(iter(runs.values()))
    T, N = first.h.shape[:2]
    D, H_out = lstm.num_directions, lstm.hidden_out
    dout = _checks.as_float_array(d_output, "d_output", lstm.dtype)
    shape = (T, N, D * H_out)
    if N == 1 and dout.shape == (T, D * H_out):
        dout = dout[:, None, :]  # unbatched
    elif lstm.batch_first and dout.ndim == 3:
        dout = dout.transpose(1, 0, 2)  # (T, N, D*H_out)
    _checks.check_shape(dout, shape, "d_output (seq-first)", "(the shape of the output)")
    LD, H = lstm.num_layers * D, lstm.hidden_size
    if dhx is None:
        dh_n, dc_n = np.zeros((LD, N, H_out), lstm.dtype), np.zeros((LD, N, H), lstm.dtype)
    else:
        dh_n = _checks.as_float_array(dhx[0], "dh_n", lstm.dtype)
        dc_n = _checks.as_float_array(dhx[1], "dc_n", lstm.dtype)
        if N == 1 and dh_n.ndim == 2:  # unbatched states
            dh_n, dc_n = dh_n[:, None, :], dc_n[:, None, :]
        _checks.check_shape(dh_n, (LD, N, H_out), "dh_n", "(the shape of h_n)")
        _checks.check_shape(dc_n, (LD, N, H), "dc_n", "(the shape of c_n)")

    keys = _keys(lstm)
    out: dict[str, StateGrads] = {}
    for k in range(lstm.num_layers - 1, -1, -1):
        dx_layer = None
        for d in range(D):
            key = keys[k * D + d]
            dy = dout[..., d * H_out : (d + 1) * H_out]  # (T, N, H_out)
            dy = dy[::-1] if d == 1 else dy  # this direction's step order
            W_ih, W_hh, _, _, W_hr = _weights(lstm, key)
            dh, dc = dh_n[k * D + d], dc_n[k * D + d]  # (N, H_out), (N, H) arriving from "step T"
            dhs, dcs, dxs = [], [], []
            for t in range(T - 1, -1, -1):
                cache = runs[key].caches[t]
                dh_t = dh + dy[t]  # (N, H_out) dL/dh_t: output at t + recurrence into t+1
                dm = dh_t @ W_hr if W_hr is not None else dh_t  # (N, H)  h = m @ W_hr.T, or h = m
                dc_t = dc + dm * cache.o * (1.0 - cache.tanh_c**2)  # (N, H) m = o * tanh(c)
                g = cell_backward(dh_t, dc, cache, W_ih, W_hh, W_hr)
                dhs.append(dh_t)
                dcs.append(dc_t)
                dxs.append(g.dx)
                dh, dc = g.dh_prev, g.dc_prev
            order = slice(None) if d == 1 else slice(None, None, -1)  # back to input time order
            out[key] = StateGrads(np.stack(dhs)[order], np.stack(dcs)[order])  # (T, N, ·)
            dx = np.stack(dxs)[order]  # (T, N, I_k)
            dx_layer = dx if dx_layer is None else dx_layer + dx
        dout = dx_layer  # the gradient on layer k's input is the upstream gradient of layer k-1
    return {key: out[key] for key in keys}


def set_forget_bias(lstm: LSTM, value: float) -> None:
    """Make the forget gate's total bias ``value`` in every layer and direction, in place.

    The forget rows are ``H:2H`` (gate order i, f, g, o).  Both biases enter the same sum, so this
    sets ``bias_ih``'s forget rows to ``value`` and ``bias_hh``'s to 0.  A positive value (1.0 is
    the classic choice) starts the network with ``f = sigmoid(value)`` near 1: remembering.
    """
    if not lstm.bias:
        raise ValueError("set_forget_bias: this LSTM was built with bias=False and has no forget bias")
    for key in _keys(lstm):
        split_gates(lstm.params[f"bias_ih_{key}"])[1][...] = value  # (H,) view of rows H:2H
        split_gates(lstm.params[f"bias_hh_{key}"])[1][...] = 0.0
