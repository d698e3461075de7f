r"""Layers and directions of a multi-layer LSTM, around any per-layer function.

This is the one place that arranges a stack (shape legend: ``T`` steps, ``N`` batch, ``L`` layers,
``D`` directions, ``H_out`` = proj_size or hidden_size)::

    forward, layer k = 0 .. L-1, direction d (index k * D + d):
        y_fwd = layer(x_k)                         (T, N, H_out)   step order t = 0 .. T-1
        y_rev = rev(layer(rev(x_k)))               (T, N, H_out)   reads each sequence backwards
        x_{k+1} = [y_fwd | y_rev] * mask_k         (T, N, D*H_out) dropout on all but the last layer

    backward, layer k = L-1 .. 0: the same in reverse; the upstream gradient of layer k-1 is
        dx_k = dx_fwd + rev(dx_rev)                (T, N, I_k)     both directions read x_k

``rev`` reverses each sequence within its own length (:func:`~numpy_lstm.functional.layer.reverse_time`).
:class:`~numpy_lstm.LSTM` runs it with the fast fused layer; :mod:`numpy_lstm.introspect` with the
readable step-by-step cell, keeping every gate.  Layouts (batch-first, unbatched) are the module's
business: here everything is seq-first ``(T, N, ·)``.  For a batch of zero sequences ``LSTM`` runs
:func:`empty_layer_forward` in place of the fused layer: empty outputs, zero gradients.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from numpy_lstm.functional.layer import LayerGrads, reverse_time


class LayerWeights(NamedTuple):
    """One direction of one layer's parameters, PyTorch's names without the ``_l{k}`` suffix."""

    weight_ih: np.ndarray  # (4H, I_k)
    weight_hh: np.ndarray  # (4H, H_out)
    bias_ih: np.ndarray | None  # (4H,)
    bias_hh: np.ndarray | None  # (4H,)
    weight_hr: np.ndarray | None  # (P, H)


# layer(x (T, N, I_k), h0 (N, H_out), c0 (N, H), weights, lengths) -> y (T, N, H_out), h_n, c_n, cache
LayerForward = Callable[[np.ndarray, np.ndarray, np.ndarray, Any, Any], tuple[np.ndarray, np.ndarray, np.ndarray, Any]]
# layer_back(dy (T, N, H_out), dh_n (N, H_out), dc_n (N, H), cache) -> grads with .dx, .dh0, .dc0
LayerBackward = Callable[[np.ndarray, np.ndarray, np.ndarray, Any], Any]
# dropout(k, shape of layer k's output) -> mask (scale included) or None
Dropout = Callable[[int, tuple[int, ...]], "np.ndarray | None"]


class StackRun(NamedTuple):
    """What :func:`stack_forward` produced."""

    out: np.ndarray  # (T, N, D*H_out) the last layer's output
    h_n: np.ndarray  # (L*D, N, H_out)
    c_n: np.ndarray  # (L*D, N, H)
    caches: list[Any]  # one per (layer, direction), index k * D + d
    masks: list[np.ndarray | None]  # the dropout mask applied to each layer's output


def stack_forward(
    x: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    weights: Sequence[Any],
    num_directions: int,
    layer: LayerForward,
    lengths: np.ndarray | None = None,
    dropout: Dropout | None = None,
) -> StackRun:
    """Run ``layer`` over every layer and direction: ``x (T, N, I)``, ``h0 (L*D, N, H_out)``,
    ``c0 (L*D, N, H)``, ``weights[k * D + d]`` for each layer ``k`` and direction ``d``."""
    D = num_directions
    L = len(weights) // D
    h_n = np.empty_like(h0)  # (L*D, N, H_out)
    c_n = np.empty_like(c0)  # (L*D, N, H)
    caches: list[Any] = []
    masks: list[np.ndarray | None] = []
    layer_in = x  # (T, N, I_k)
    for k in range(L):
        outs = []
        for d in range(D):
            idx = k * D + d
            xin = layer_in if d == 0 else reverse_time(layer_in, lengths)  # (T, N, I_k) this direction's order
            y, h_n[idx], c_n[idx], cache = layer(xin, h0[idx], c0[idx], weights[idx], lengths)
            outs.append(y if d == 0 else reverse_time(y, lengths))  # (T, N, H_out) input time order
            caches.append(cache)
        out = outs[0] if D == 1 else np.concatenate(outs, axis=-1)  # (T, N, D*H_out)
        mask = dropout(k, out.shape) if dropout is not None and k < L - 1 else None
        if mask is not None:
            out = out * mask  # (T, N, D*H_out) inverted dropout
        masks.append(mask)
        layer_in = out
    return StackRun(layer_in, h_n, c_n, caches, masks)


def stack_backward(
    dout: np.ndarray,
    dh_n: np.ndarray,
    dc_n: np.ndarray,
    caches: Sequence[Any],
    masks: Sequence[np.ndarray | None],
    num_directions: int,
    layer_back: LayerBackward,
    collect: Callable[[int, Any], None],
    lengths: np.ndarray | None = None,
    free: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward of :func:`stack_forward` for ``dout (T, N, D*H_out)`` and ``dh_n``/``dc_n``.

    Calls ``collect(k * D + d, grads)`` with each layer-direction's result (in that direction's step
    order) as soon as it is made, and returns ``dx (T, N, I)``, ``dh0``, ``dc0``.  With ``free``,
    ``caches`` (a list) gives up each cache (its entry set to None) as soon as its backward is
    done, so that the lower layers' backward runs without the upper layers' caches in memory.
    """
    D = num_directions
    L = len(caches) // D
    H_out = dout.shape[-1] // D
    dh0 = np.empty_like(dh_n)  # (L*D, N, H_out)
    dc0 = np.empty_like(dc_n)  # (L*D, N, H)
    for k in range(L - 1, -1, -1):
        if masks[k] is not None:  # dout is then layer k+1's dx, made here: scaled in place
            dout *= masks[k]  # (T, N, D*H_out) through the dropout of layer k's output
        dx = None
        for d in range(D):
            idx = k * D + d
            dy = dout[..., d * H_out : (d + 1) * H_out]  # (T, N, H_out)
            if d == 1:
                dy = reverse_time(dy, lengths)  # this direction's step order
            g = layer_back(dy, dh_n[idx], dc_n[idx], caches[idx])
            if free:
                caches[idx] = None  # type: ignore[index]
            dxd = g.dx if d == 0 else reverse_time(g.dx, lengths)  # (T, N, I_k)
            if dx is None:
                dx = dxd
            else:
                dx += dxd  # direction 0's dx, made by its backward: added to in place
            dh0[idx], dc0[idx] = g.dh0, g.dc0
            collect(idx, g)
            del g, dxd  # this direction's weight gradients are not held through the next backward
        dout = dx  # the gradient on layer k's input is the upstream gradient of layer k-1
    return dout, dh0, dc0


# --- a layer over a batch of zero sequences (PyTorch accepts N = 0; the fused layer needs N > 0) ---
class _EmptyBatch(NamedTuple):
    """The "cache" of a layer run on zero sequences: only shapes, for zero gradients."""

    x_shape: tuple[int, ...]  # (T, 0, I_k)
    weights: LayerWeights


def empty_layer_forward(
    x: np.ndarray, h0: np.ndarray, c0: np.ndarray, w: LayerWeights, lengths: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, _EmptyBatch]:
    """A layer over a batch of zero sequences (``N = 0``): empty outputs, as PyTorch returns."""
    y = np.zeros((x.shape[0], 0, w.weight_hh.shape[1]), x.dtype)  # (T, 0, H_out)
    return y, h0.copy(), c0.copy(), _EmptyBatch(x.shape, w)


def empty_layer_backward(dy: np.ndarray, dh_n: np.ndarray, dc_n: np.ndarray, cache: _EmptyBatch) -> LayerGrads:
    """Zero sequences contribute zero to every gradient."""
    w = cache.weights
    zero = np.zeros_like
    return LayerGrads(
        np.zeros(cache.x_shape, dy.dtype),  # (T, 0, I_k)
        zero(dh_n),
        zero(dc_n),
        zero(w.weight_ih),
        zero(w.weight_hh),
        None if w.bias_ih is None else zero(w.bias_ih),
        None if w.weight_hr is None else zero(w.weight_hr),
    )
