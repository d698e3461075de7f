r"""Look inside a trained :class:`~numpy_lstm.LSTM`: every gate at every step, and the gradient
that reaches every ``h_t`` and ``c_t``.

The fast layer (:mod:`numpy_lstm.functional.layer`) keeps only what its backward needs, in a private
gate order; it is not the place to watch the gates.  This module runs the same weights through the
same stack of layers and directions (:mod:`numpy_lstm.stack`, the loop ``LSTM.forward`` uses) with a
readable layer instead of the fused one: the textbook loop of cell steps
(:func:`~numpy_lstm.functional.textbook.textbook_forward`, PyTorch's gate order) and, backward, the
cell's backward (:func:`~numpy_lstm.functional.cell.cell_backward`) one step at a time, keeping
everything.  It is slower, and it is only used for looking; the tests prove it gives the module's own
outputs and gradients.

(Named ``introspect`` rather than ``inspect`` so that it can never shadow the standard library.)

Results are keyed by layer and direction, as the parameters are: ``"l0"``, ``"l0_reverse"``,
``"l1"`` ...  Arrays are seq-first ``(T, N, ·)`` in the input's time order whatever the module's
layout (``N = 1`` for unbatched input); the reverse direction is mapped back to that order too.
Dropout is not applied (as in eval mode) unless ``masks`` replays a forward's
(``lstm.dropout_masks``); variable lengths are not supported.

Shape legend: ``T`` steps, ``N`` batch, ``H`` hidden, ``H_out`` = proj_size or hidden_size.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from numpy_lstm.functional.cell import CellCache, cell_backward, split_gates
from numpy_lstm.functional.textbook import textbook_forward
from numpy_lstm.lstm import LSTM
from numpy_lstm.stack import LayerWeights, StackRun, stack_backward, stack_forward

GATE_NAMES = ("i", "f", "g", "o", "c", "h")
"""The arrays :func:`record_gates` returns for each layer and direction."""

Masks = list["np.ndarray | None"] | None  # dropout masks per layer, as LSTM.dropout_masks gives them


class StateGrads(NamedTuple):
    """Gradients of the loss with respect to one layer-direction's states, per step."""

    dh: np.ndarray  # (T, N, H_out)  dL/dh_t: through the output at t AND through step t+1
    dc: np.ndarray  # (T, N, H)      dL/dc_t: through h_t AND through c_{t+1}


class _Run(NamedTuple):
    """One direction of one layer, run with the readable cell (in that direction's step order)."""

    caches: list[CellCache]  # one per step
    c: np.ndarray  # (T, N, H)     cell state after each step
    h: np.ndarray  # (T, N, H_out) hidden state after each step
    weights: LayerWeights


class _StepGrads(NamedTuple):
    """What the readable backward of one layer-direction gives (in that direction's step order)."""

    dx: np.ndarray  # (T, N, I_k)
    dh0: np.ndarray  # (N, H_out)
    dc0: np.ndarray  # (N, H)
    dh: np.ndarray  # (T, N, H_out)
    dc: np.ndarray  # (T, N, H)


def _readable_layer(
    x: np.ndarray, h0: np.ndarray, c0: np.ndarray, w: LayerWeights, lengths: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, _Run]:
    """One direction of one layer as the textbook loop of cell steps, every step's cache kept."""
    y, h_n, c_n, caches = textbook_forward(x, h0, c0, *w)  # (T, N, H_out), (N, H_out), (N, H)
    c = np.stack([cache.c_prev for cache in caches[1:]] + [c_n])  # (T, N, H) c_t = next step's c_prev
    return y, h_n, c_n, _Run(caches, c, y, w)


def _readable_layer_backward(dy: np.ndarray, dh_n: np.ndarray, dc_n: np.ndarray, run: _Run) -> _StepGrads:
    """BPTT one cell step at a time, keeping the total ``dL/dh_t`` and ``dL/dc_t`` of every step."""
    W_ih, W_hh, _, _, W_hr = run.weights
    dh, dc = dh_n, dc_n  # (N, H_out), (N, H) arriving from "step T"
    dhs, dcs, dxs = [], [], []
    for t in range(len(run.caches) - 1, -1, -1):
        cache = run.caches[t]
        dh_t = dh + dy[t]  # (N, H_out) dL/dh_t: output at t + recurrence into t+1
        dm = dh_t @ W_hr if W_hr is not None else dh_t  # (N, H)  h = m @ W_hr.T, or h = m
        dc_t = dc + dm * cache.o * (1.0 - cache.tanh_c**2)  # (N, H) m = o * tanh(c)
        g = cell_backward(dh_t, dc, cache, W_ih, W_hh, W_hr)
        dhs.append(dh_t)
        dcs.append(dc_t)
        dxs.append(g.dx)
        dh, dc = g.dh_prev, g.dc_prev
    back = slice(None, None, -1)  # collected last step first
    return _StepGrads(np.stack(dxs[back]), dh, dc, np.stack(dhs[back]), np.stack(dcs[back]))


def _key(lstm: LSTM, idx: int) -> str:
    k, d = divmod(idx, lstm.num_directions)
    return f"l{k}_reverse" if d else f"l{k}"


def _time_order(lstm: LSTM, idx: int, a: np.ndarray) -> np.ndarray:
    """``a (T, ...)`` from its direction's step order to the input's time order."""
    return a[::-1] if idx % lstm.num_directions else a


def _forward(lstm: LSTM, x: Any, hx: Any, masks: Masks) -> tuple[StackRun, bool]:
    """Run every layer and direction step by step with the readable cell."""
    x, h0, c0, unbatched = lstm.prepare_input(x, hx)  # the module's own checks and layout
    dropout = None if masks is None else (lambda k, shape: masks[k])
    run = stack_forward(x, h0, c0, lstm.stack_weights(), lstm.num_directions, _readable_layer, None, dropout)
    return run, unbatched


def record_gates(lstm: LSTM, x: Any, hx: Any = None, *, masks: Masks = None) -> dict[str, dict[str, np.ndarray]]:
    """Every gate and state of every layer and direction at every step.

    ``x`` is in the module's layout (as for ``lstm(x, hx)``); ``masks`` replays dropout
    (``lstm.dropout_masks`` of a training-mode forward), None for none.  Returns
    ``{"l0": {"i", "f", "g", "o", "c", "h"}, ...}``; each array is ``(T, N, H)`` (``h`` is
    ``(T, N, H_out)``), seq-first, in the input's time order.  ``c`` and ``h`` at step ``t`` are the
    states *after* reading token ``t``.
    """
    run, _ = _forward(lstm, x, hx, masks)
    out: dict[str, dict[str, np.ndarray]] = {}
    for idx, r in enumerate(run.caches):
        rec = {name: np.stack([getattr(cache, name) for cache in r.caches]) for name in "ifgo"}  # (T, N, H)
        rec["c"] = r.c  # (T, N, H)
        rec["h"] = r.h  # (T, N, H_out)
        out[_key(lstm, idx)] = {name: _time_order(lstm, idx, a) for name, a in rec.items()}
    return out


def state_gradients(
    lstm: LSTM, x: Any, d_output: Any, *, hx: Any = None, dhx: Any = None, masks: Masks = None
) -> dict[str, StateGrads]:
    """``dL/dh_t`` and ``dL/dc_t`` of every layer and direction, for the upstream gradient
    ``d_output`` (the output's shape and layout) and ``dhx = (dh_n, dc_n)`` (or None for zeros);
    ``masks`` replays dropout as in :func:`record_gates`.  ``hx``, ``dhx`` and ``masks`` are
    keyword-only: ``hx`` and ``dhx`` have the same shapes, so one passed in the other's place
    would give wrong gradients without an error.

    These are *total* gradients: ``dL/dh_t`` collects the output's gradient at ``t`` and what step
    ``t + 1`` sends back through ``h_{t-1} @ W_hh.T``; ``dL/dc_t`` collects what flows through
    ``h_t = o * tanh(c_t)`` and through ``c_{t+1} = f * c_t + ...``.  The same loss, the same
    numbers as ``lstm.backward`` (the tests check it against torch autograd).
    """
    run, unbatched = _forward(lstm, x, hx, masks)
    T, N = run.out.shape[:2]
    dout, dh_n, dc_n = lstm.prepare_grads(d_output, dhx, T, N, unbatched)  # seq-first
    grads: dict[int, _StepGrads] = {}
    stack_backward(
        dout, dh_n, dc_n, run.caches, run.masks, lstm.num_directions, _readable_layer_backward, grads.__setitem__
    )
    return {
        _key(lstm, idx): StateGrads(_time_order(lstm, idx, grads[idx].dh), _time_order(lstm, idx, grads[idx].dc))
        for idx in range(len(run.caches))
    }


def set_forget_bias(lstm: LSTM, value: float) -> None:
    """Make the forget gate's total bias ``value`` in every layer and direction, in place.

    The forget rows are ``H:2H`` (gate order i, f, g, o).  Both biases enter the same sum, so this
    sets ``bias_ih``'s forget rows to ``value`` and ``bias_hh``'s to 0.  A positive value (1.0 is
    the classic choice) starts the network with ``f = sigmoid(value)`` near 1: remembering.
    """
    if not lstm.bias:
        raise ValueError("set_forget_bias: this LSTM was built with bias=False and has no forget bias")
    for idx in range(lstm.num_layers * lstm.num_directions):
        key = _key(lstm, idx)
        split_gates(lstm.params[f"bias_ih_{key}"])[1][...] = value  # (H,) view of rows H:2H
        split_gates(lstm.params[f"bias_hh_{key}"])[1][...] = 0.0
