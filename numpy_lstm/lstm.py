r"""``numpy_lstm.LSTM``: the NumPy twin of ``torch.nn.LSTM``.

Multi-layer, optionally bidirectional, optionally projected LSTM.  For every layer ``k`` and
direction (forward, and ``_reverse`` when bidirectional) it owns the parameters PyTorch owns, under
the same names, in the same order and shapes::

    weight_ih_l{k}  (4H, I_k)      I_0 = input_size, I_k = D * H_out for k > 0
    weight_hh_l{k}  (4H, H_out)    H_out = proj_size if proj_size > 0 else hidden_size
    bias_ih_l{k}    (4H,)          only with bias=True
    bias_hh_l{k}    (4H,)          only with bias=True
    weight_hr_l{k}  (P, H)         only with proj_size > 0

Gate rows are stacked i, f, g, o.  The equations, per step and direction, are in
:mod:`numpy_lstm.functional.cell`; this class only arranges layers, directions, layouts, lengths
and dropout around :func:`~numpy_lstm.functional.layer.layer_forward` and its backward.

Layouts: ``x`` is ``(T, N, I)`` (seq-first), ``(N, T, I)`` with ``batch_first=True``, or ``(T, I)``
unbatched.  The states ``h``/``c`` are always ``(D*L, N, ·)`` (or ``(D*L, ·)`` unbatched): a state
has no time axis, so "batch first" does not apply to it, exactly as in PyTorch.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np

from numpy_lstm import _checks, lstm_inputs
from numpy_lstm.functional.layer import LayerGrads, layer_backward, layer_forward
from numpy_lstm.grad_mode import is_grad_enabled
from numpy_lstm.module import Module
from numpy_lstm.stack import LayerWeights, empty_layer_backward, empty_layer_forward, stack_backward, stack_forward

State = tuple[np.ndarray, np.ndarray]


class _Record(NamedTuple):
    """What :meth:`LSTM.backward` needs from the last forward call (none of it reachable by the caller)."""

    caches: list[Any]  # one LayerCache per (layer, direction), index k * D + d
    masks: list[np.ndarray | None]  # dropout mask applied to each layer's output (scale included)
    lengths: np.ndarray | None  # (N,)
    T: int
    N: int
    unbatched: bool
    batch_first: bool  # the layout of that call, whatever the attribute says by backward time


class LSTM(Module):
    """Multi-layer LSTM with the constructor, parameters and behaviour of ``torch.nn.LSTM``.

    ``dropout`` applies to the output of every layer but the last, in training mode only.
    ``dtype`` is float32 (PyTorch's default) or float64.  ``seed`` seeds the module's own generator,
    which draws the initial weights (U(-1/sqrt(H), 1/sqrt(H)), as PyTorch) and the dropout masks.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        *,
        dtype: Any = np.float32,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self._input_size = _checks.check_positive_int(input_size, "input_size")
        self._hidden_size = _checks.check_positive_int(hidden_size, "hidden_size")
        self._num_layers = _checks.check_positive_int(num_layers, "num_layers")
        self._proj_size = _checks.check_positive_int(proj_size, "proj_size", allow_zero=True)
        if self.proj_size >= self.hidden_size:
            raise ValueError(
                f"proj_size must be smaller than hidden_size, got proj_size={proj_size} "
                f"and hidden_size={hidden_size}"
            )
        self._bias = _checks.check_bool(bias, "bias")
        self.batch_first = batch_first  # validated by the property
        self.dropout = dropout  # validated by the property
        self._bidirectional = _checks.check_bool(bidirectional, "bidirectional")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}",
                UserWarning,
                stacklevel=2,
            )
        self._dtype = _checks.check_dtype(dtype)
        self._num_directions = 2 if bidirectional else 1
        self._hidden_out = self.proj_size or self.hidden_size
        self.rng = np.random.default_rng(seed)
        self._record: _Record | None = None
        self._ran_forward = False

        H, D, bound = self.hidden_size, self.num_directions, 1.0 / np.sqrt(self.hidden_size)
        for k in range(self.num_layers):
            layer_in = self.input_size if k == 0 else D * self.hidden_out
            for suffix in self._suffixes():
                shapes = {
                    f"weight_ih_l{k}{suffix}": (4 * H, layer_in),
                    f"weight_hh_l{k}{suffix}": (4 * H, self.hidden_out),
                }
                if self.bias:
                    shapes[f"bias_ih_l{k}{suffix}"] = (4 * H,)
                    shapes[f"bias_hh_l{k}{suffix}"] = (4 * H,)
                if self.proj_size:
                    shapes[f"weight_hr_l{k}{suffix}"] = (self.proj_size, H)
                for name, shape in shapes.items():
                    value = self.rng.uniform(-bound, bound, size=shape).astype(self.dtype)
                    self._add_param(name, value)

    # --- options: checked when set, at construction and after ----------------------------------
    batch_first = _checks.checked_option(
        "batch_first", _checks.check_bool, "Whether ``x`` and the output are ``(N, T, ·)``; a bool."
    )
    dropout = _checks.checked_option(
        "dropout", _checks.check_probability, "Probability of zeroing a value between layers in training, in [0, 1]."
    )
    # The parameters were made for these: changing one later would make forward and backward disagree.
    input_size = _checks.fixed_option("input_size", "Features per step of the input, ``I``.")
    hidden_size = _checks.fixed_option("hidden_size", "Hidden units per layer and direction, ``H``.")
    num_layers = _checks.fixed_option("num_layers", "Stacked layers, ``L``.")
    proj_size = _checks.fixed_option("proj_size", "Projected size of ``h``, ``P`` (0: no projection).")
    bias = _checks.fixed_option("bias", "Whether the layers have ``bias_ih``/``bias_hh``.")
    bidirectional = _checks.fixed_option("bidirectional", "Whether each layer has a ``_reverse`` direction.")
    num_directions = _checks.fixed_option("num_directions", "``D``: 2 if bidirectional, else 1.")
    hidden_out = _checks.fixed_option("hidden_out", "``H_out``: the size of ``h``, proj_size or hidden_size.")
    dtype = _checks.fixed_option("dtype", "float32 or float64: parameters and arrays in and out (``astype`` copies).")

    def _drop_caches(self) -> None:
        self._record, self._ran_forward = None, False

    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse") if self.bidirectional else ("",)

    def _names(self, k: int, reverse: bool = False) -> LayerWeights:
        """The parameter names of layer ``k``, one direction (None where the option is off), made once:
        a call at one short sequence is a few hundred microseconds, and f-strings and the tree view
        of :attr:`params` were a measurable part of it."""
        cache = self.__dict__.get("_name_cache")
        if cache is None:
            cache = {}
            self._name_cache = cache
        names = cache.get((k, reverse))
        if names is None:
            sfx = f"l{k}_reverse" if reverse else f"l{k}"
            names = LayerWeights(
                f"weight_ih_{sfx}",
                f"weight_hh_{sfx}",
                f"bias_ih_{sfx}" if self.bias else None,
                f"bias_hh_{sfx}" if self.bias else None,
                f"weight_hr_{sfx}" if self.proj_size else None,
            )
            cache[(k, reverse)] = names
        return names

    def layer_weights(self, k: int, reverse: bool = False) -> LayerWeights:
        """The parameters of layer ``k``, one direction, in PyTorch's layout (the arrays, not copies)."""
        p = self._parameters  # this module's own parameters (what ``params`` shows without a prefix)
        return LayerWeights(*(None if name is None else p[name] for name in self._names(k, reverse)))

    def __repr__(self) -> str:
        extra = "".join(
            f", {name}={getattr(self, name)!r}"
            for name, default in [
                ("num_layers", 1), ("bias", True), ("batch_first", False), ("dropout", 0.0),
                ("bidirectional", False), ("proj_size", 0),
            ]
            if getattr(self, name) != default
        )
        return f"LSTM({self.input_size}, {self.hidden_size}{extra}, dtype={self.dtype.name})"

    def prepare_input(self, x: Any, hx: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """Check ``x`` and ``hx`` as ``forward`` does and bring them to the layout the layers run on.

        Returns ``x (T, N, I)`` seq-first, ``h0 (D*L, N, H_out)``, ``c0 (D*L, N, H)`` and whether the
        input was unbatched (then ``N = 1``).  Every error is the one ``forward`` raises.
        """
        x = _checks.as_float_array(x, "LSTM input", self.dtype)
        lstm_inputs.check_input(self, x)
        unbatched = x.ndim == 2
        if unbatched:
            x = x[:, None, :]  # (T, 1, I)
        elif self.batch_first:
            x = np.ascontiguousarray(x.transpose(1, 0, 2))  # (T, N, I)
        h0, c0 = lstm_inputs.initial_state(self, hx, x.shape[1], unbatched)  # (D*L, N, H_out), (D*L, N, H)
        return x, h0, c0, unbatched

    def prepare_grads(
        self, d_output: Any, dhx: Any, T: int, N: int, unbatched: bool, batch_first: bool | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Check the upstream gradients of a forward over ``T`` steps and ``N`` sequences, as
        ``backward`` does, and bring them seq-first.

        ``d_output`` has the output's shape in the caller's layout (``batch_first`` of that forward,
        the module's by default); ``dhx = (dh_n, dc_n)`` has the states' shapes, or is None for
        zeros.  Returns ``dout (T, N, D*H_out)``, ``dh_n (D*L, N, H_out)``, ``dc_n (D*L, N, H)``.
        """
        batch_first = self.batch_first if batch_first is None else batch_first
        H, H_out, D, LD = self.hidden_size, self.hidden_out, self.num_directions, self.num_layers * self.num_directions
        DH = D * H_out
        out_shape = (T, DH) if unbatched else (N, T, DH) if batch_first else (T, N, DH)
        dout = _checks.as_float_array(d_output, "d_output", self.dtype)
        _checks.check_shape(dout, out_shape, "d_output", "(the shape of the forward output)")
        if unbatched:
            dout = dout[:, None, :]  # (T, 1, D*H_out)
        elif batch_first:
            dout = dout.transpose(1, 0, 2)  # (T, N, D*H_out) view
        if dhx is None:  # N = 1 for unbatched input
            return dout, np.zeros((LD, N, H_out), self.dtype), np.zeros((LD, N, H), self.dtype)
        batch = () if unbatched else (N,)
        if not isinstance(dhx, (tuple, list)) or len(dhx) != 2:
            raise ValueError("dhx must be a tuple (dh_n, dc_n) or None")
        dh_n = _checks.as_float_array(dhx[0], "dh_n", self.dtype)
        dc_n = _checks.as_float_array(dhx[1], "dc_n", self.dtype)
        _checks.check_shape(dh_n, (LD, *batch, H_out), "dh_n", "(the shape of h_n)")
        _checks.check_shape(dc_n, (LD, *batch, H), "dc_n", "(the shape of c_n)")
        if unbatched:
            return dout, dh_n[:, None, :], dc_n[:, None, :]
        return dout, dh_n, dc_n

    @property
    def dropout_masks(self) -> list[np.ndarray | None]:
        """The dropout masks the last forward applied, one per layer: ``masks[k]`` multiplied layer
        ``k``'s output ``(T, N, D*H_out)`` (seq-first, the ``1 / (1 - p)`` scale included), or None
        where no dropout was applied (the last layer, eval mode, ``dropout=0``).

        This is what a twin needs to replay the same dropout (``torch_ref.MaskedDropoutLSTM``).
        ``RuntimeError`` before any forward, or after a forward under ``no_grad`` (it kept nothing).
        """
        if self._record is None:
            why = "ran under numpy_lstm.no_grad() and kept nothing" if self._ran_forward else "has not run yet"
            raise RuntimeError(f"LSTM.dropout_masks: the forward pass {why}, so there are no masks to read")
        return [None if mk is None else mk.copy() for mk in self._record.masks]  # backward reads its own

    # --- forward ---------------------------------------------------------------------------------
    def __call__(self, x: Any, hx: Any = None, lengths: Any = None) -> tuple[np.ndarray, State]:
        return self.forward(x, hx, lengths)

    def forward(self, x: Any, hx: Any = None, lengths: Any = None) -> tuple[np.ndarray, State]:
        """``output, (h_n, c_n) = lstm(x, hx=None, lengths=None)``.

        ``lengths`` (N integers in [1, T], any order) gives variable-length sequences, with the
        results of PyTorch's ``pack_padded_sequence`` -> LSTM -> ``pad_packed_sequence``.
        ``output`` is ``(T, N, D*H_out)`` in the input's layout; ``h_n`` is ``(D*L, N, H_out)`` and
        ``c_n`` is ``(D*L, N, H)``, without the ``N`` axis for unbatched input.

        Nothing returned shares memory with what ``backward`` reads, and nothing passed in is kept
        by reference: the caller may change ``x``, ``hx``, the results or the parameters (an
        optimiser step) before ``backward`` without changing the gradients of this call.
        """
        source = x
        x, h0, c0, unbatched = self.prepare_input(x, hx)  # (T, N, I), (D*L, N, H_out), (D*L, N, H)
        T, N, _ = x.shape
        lengths = lstm_inputs.check_lengths(lengths, N, T, unbatched)
        keep = is_grad_enabled()
        self._record = None  # free the previous call's caches before this call allocates its own
        if keep:
            x = _checks.private_copy(x, source)  # the first layer's cache keeps its input
        layer = self._layer_forward(keep) if N else empty_layer_forward
        run = stack_forward(x, h0, c0, self._run_weights(keep), self.num_directions, layer, lengths, self._dropout_mask)
        out = run.out  # (T, N, D*H_out)
        if keep and not out.flags.owndata:
            # A view of the fused layer's h: its backward reads h when projecting, and in either layout
            # h is a kept buffer (functional/buffers.py) that the caller should neither hold nor change.
            out = out.copy()
        h_n, c_n = run.h_n, run.c_n
        if unbatched:
            output, h_n, c_n = out[:, 0], h_n[:, 0], c_n[:, 0]
        elif self.batch_first:
            output = out.transpose(1, 0, 2)  # (N, T, D*H_out) view
        else:
            output = out
        self._ran_forward = True
        if keep:
            self._record = _Record(run.caches, run.masks, lengths, T, N, unbatched, self.batch_first)
        return output, (h_n, c_n)

    def _layer_forward(self, keep: bool) -> Any:
        def layer(x: np.ndarray, h0: np.ndarray, c0: np.ndarray, w: LayerWeights, lengths: Any) -> Any:
            return layer_forward(x, h0, c0, *w, lengths=lengths, keep_cache=keep)

        return layer

    def stack_weights(self) -> list[LayerWeights]:
        """Every layer's and direction's parameters (the arrays, not copies), index ``k * D + d``:
        what :func:`~numpy_lstm.stack.stack_forward` takes."""
        D = self.num_directions
        return [self.layer_weights(k, reverse=d == 1) for k in range(self.num_layers) for d in range(D)]

    def _run_weights(self, keep: bool) -> list[LayerWeights]:
        """:meth:`stack_weights`, with ``weight_hr`` copied when backward will run: the fused
        layer's cache holds it as given (``weight_ih``/``weight_hh`` it copies anyway, when it
        reorders their gate rows), and a parameter may change before backward."""
        weights = self.stack_weights()
        if keep and self.proj_size:
            weights = [w._replace(weight_hr=w.weight_hr.copy()) for w in weights]
        return weights

    def _dropout_mask(self, k: int, shape: tuple[int, ...]) -> np.ndarray | None:
        """Inverted dropout for layer ``k``'s output: kept values scaled by ``1 / (1 - p)``."""
        p = self.dropout
        if not _checks.check_bool(self.training, "training") or p == 0:  # m.training = "False" is not eval
            return None
        if p == 1:
            return np.zeros(shape, self.dtype)  # every value dropped, as PyTorch (no 0/0)
        keep_p = 1.0 - p
        return (self.rng.random(shape) < keep_p).astype(self.dtype) / self.dtype.type(keep_p)  # (T, N, D*H_out)

    # --- backward --------------------------------------------------------------------------------
    def backward(self, d_output: Any, dhx: Any = None) -> tuple[np.ndarray, State]:
        """Backpropagate through the last forward call; add parameter gradients into ``grads``.
        Once per forward: each layer's cache is freed as soon as its backward is done.

        ``d_output`` has the output's shape; ``dhx = (dh_n, dc_n)`` or None for zeros.  Returns
        ``dx`` in the input's layout and ``(dh_0, dc_0)`` in ``hx``'s shapes.
        """
        rec = self._record
        if rec is None:
            if self._ran_forward:
                raise RuntimeError(
                    "LSTM.backward: the last forward ran under numpy_lstm.no_grad() and kept no "
                    "cache; run forward outside no_grad to backpropagate"
                )
            raise RuntimeError("LSTM.backward called before forward: there is nothing to backpropagate")
        if any(cache is None for cache in rec.caches):
            raise RuntimeError(
                "LSTM.backward: a backward already ran through the last forward and freed its caches "
                "(each layer's as soon as its backward was done, as PyTorch frees its graph); run "
                "forward again to backpropagate again"
            )
        dout, dh_n, dc_n = self.prepare_grads(d_output, dhx, rec.T, rec.N, rec.unbatched, rec.batch_first)
        back = layer_backward if rec.N else empty_layer_backward
        dx, dh0, dc0 = stack_backward(
            dout, dh_n, dc_n, rec.caches, rec.masks, self.num_directions, back, self._accumulate, rec.lengths,
            free=True,
        )  # (T, N, I), (D*L, N, H_out), (D*L, N, H)
        if rec.unbatched:
            return dx[:, 0], (dh0[:, 0], dc0[:, 0])
        if rec.batch_first:
            dx = dx.transpose(1, 0, 2)  # (N, T, I) view
        return dx, (dh0, dc0)

    def _accumulate(self, idx: int, g: LayerGrads) -> None:
        k, d = divmod(idx, self.num_directions)
        names = self._names(k, d == 1)
        grads = self._grads  # this module's own gradients (what ``grads`` shows without a prefix)
        grads[names.weight_ih] += g.dW_ih
        grads[names.weight_hh] += g.dW_hh
        if names.bias_ih is not None:
            grads[names.bias_ih] += g.db
            grads[names.bias_hh] += g.db
        if names.weight_hr is not None:
            grads[names.weight_hr] += g.dW_hr

    def zero_grad(self) -> None:
        """Set every gradient to zero, in place (the tree walk of :meth:`Module.zero_grad` only when
        something was attached below this module)."""
        if self._modules:
            super().zero_grad()
            return
        for g in self._grads.values():
            g.fill(0)
