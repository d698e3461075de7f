r"""Optimisers that update a module's parameters in place: ``SGD`` and ``Adam``, as ``torch.optim``.

Each step reads ``module.grads`` and writes into ``module.params`` in place (``p -= ...``), for every
parameter of the module tree (dotted names: ``lstm.weight_ih_l0``, ``l_out.bias``), so arrays shared
with another object (a submodule, a torch tensor made with ``torch.from_numpy``) stay shared.
The update rules are PyTorch's, operation for operation (``g`` gradient, ``p`` parameter)::

    SGD   g <- g + weight_decay * p
          b <- g                              first step (momentum buffer)
          b <- momentum * b + (1 - dampening) * g    later steps
          g <- g + momentum * b  (nesterov)   or   g <- b
          p <- p - lr * g

    Adam  t <- t + 1;  g <- g + weight_decay * p
          m <- m + (1 - beta1) * (g - m)      (torch: m.lerp_(g, 1 - beta1))
          v <- beta2 * v + (1 - beta2) * g * g
          p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

``state_dict()`` is a flat ``{name: ndarray}`` (npz-friendly; keys ``"<slot>.<param name>"``).

A gradient here is always an array: ``zero_grad()`` fills it with zeros, as torch's
``zero_grad(set_to_none=False)`` does, and a step updates every parameter.  torch's default,
``set_to_none=True``, leaves ``.grad`` as ``None`` for a parameter no backward reached, and its step
skips it; here that parameter is stepped with a zero gradient, so momentum, weight decay and Adam's
moments still move it.  Where every parameter takes part in every backward (the LSTM models of this
project), the two are the same; compare a model whose parts sit out some steps with torch's
optimiser after ``zero_grad(set_to_none=False)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from numpy_lstm import _checks
from numpy_lstm.module import Module


def _check_number(value: float, name: str, low: float, high: float | None = None, open_low: bool = False) -> float:
    is_number = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool)
    if not is_number or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    bad_low = value <= low if open_low else value < low
    if bad_low or (high is not None and value >= high):
        interval = f"{'(' if open_low else '['}{low}, {high if high is not None else 'inf'})"
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return float(value)


class Optimizer:
    """Base class: holds the module, the per-parameter state and ``zero_grad``."""

    _slots: tuple[str, ...] = ()

    def __init__(self, module: Module, lr: float) -> None:
        if not isinstance(module, Module):
            raise ValueError(f"expected a numpy_lstm Module to optimise, got {type(module).__name__}")
        self.module = module
        self.lr = _check_number(lr, "lr", 0.0)
        self.state: dict[str, dict[str, np.ndarray]] = {slot: {} for slot in self._slots}
        self.steps = 0

    def zero_grad(self) -> None:
        self.module.zero_grad()

    def step(self) -> None:
        self.steps += 1
        for name, p, g in self.module.named_parameters():  # the whole tree, dotted names
            self._update(name, p, g)

    def _update(self, name: str, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the state: ``{"steps": int64 scalar, "<slot>.<param>": array, ...}``."""
        out: dict[str, np.ndarray] = {"steps": np.array(self.steps, dtype=np.int64)}
        for slot, arrays in self.state.items():
            for name, value in arrays.items():
                out[f"{slot}.{name}"] = value.copy()
        return out

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Replace the state with ``state`` (as made by :meth:`state_dict`), after checking it all."""
        cls = type(self).__name__
        if "steps" not in state:
            raise ValueError(f"{cls}.load_state_dict: missing 'steps'")
        new: dict[str, dict[str, np.ndarray]] = {slot: {} for slot in self._slots}
        for key, value in state.items():
            if key == "steps":
                continue
            slot, _, name = key.partition(".")
            if slot not in new or name not in self.module.params:
                raise ValueError(
                    f"{cls}.load_state_dict: unexpected entry '{key}'; expected 'steps' and "
                    f"'<slot>.<param>' with slot in {list(self._slots)} and param in "
                    f"{list(self.module.params)}"
                )
            target = self.module.params[name]
            arr = np.asarray(value)
            if arr.shape != target.shape or arr.dtype != target.dtype:
                raise ValueError(
                    f"{cls}.load_state_dict: '{key}' has shape {arr.shape} dtype {arr.dtype}, "
                    f"expected {target.shape} {target.dtype}"
                )
            new[slot][name] = arr.copy()
        self.steps = int(state["steps"])
        self.state = new


class SGD(Optimizer):
    """SGD with momentum, dampening, Nesterov and weight decay (``torch.optim.SGD``)."""

    _slots = ("momentum_buffer",)

    def __init__(
        self,
        module: Module,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(module, lr)
        self.momentum = _check_number(momentum, "momentum", 0.0)
        self.dampening = _check_number(dampening, "dampening", 0.0)
        self.weight_decay = _check_number(weight_decay, "weight_decay", 0.0)
        self.nesterov = _checks.check_bool(nesterov, "nesterov")
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(
                f"Nesterov momentum needs momentum > 0 and dampening = 0, got momentum={momentum}, "
                f"dampening={dampening}"
            )

    def _update(self, name: str, p: np.ndarray, g: np.ndarray) -> None:
        if self.weight_decay:
            g = g + self.weight_decay * p  # (shape of p)
        if self.momentum:
            buffers = self.state["momentum_buffer"]
            b = buffers.get(name)
            if b is None:
                b = buffers[name] = g.copy()
            else:
                b *= self.momentum
                b += (1 - self.dampening) * g
            g = g + self.momentum * b if self.nesterov else b
        p -= self.lr * g


class Adam(Optimizer):
    """Adam (``torch.optim.Adam`` with ``amsgrad=False``); L2 ``weight_decay`` added to the gradient."""

    _slots = ("exp_avg", "exp_avg_sq")

    def __init__(
        self,
        module: Module,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(module, lr)
        self.beta1 = _check_number(betas[0], "betas[0]", 0.0, 1.0)
        self.beta2 = _check_number(betas[1], "betas[1]", 0.0, 1.0)
        self.eps = _check_number(eps, "eps", 0.0)
        self.weight_decay = _check_number(weight_decay, "weight_decay", 0.0)

    def _update(self, name: str, p: np.ndarray, g: np.ndarray) -> None:
        if self.weight_decay:
            g = g + self.weight_decay * p
        m = self.state["exp_avg"].setdefault(name, np.zeros_like(p))
        v = self.state["exp_avg_sq"].setdefault(name, np.zeros_like(p))
        m += (1 - self.beta1) * (g - m)  # torch: lerp
        v *= self.beta2
        v += (1 - self.beta2) * (g * g)
        t = self.steps
        step_size = self.lr / (1 - self.beta1**t)
        denom = np.sqrt(v) / math.sqrt(1 - self.beta2**t) + self.eps
        p -= step_size * (m / denom)
