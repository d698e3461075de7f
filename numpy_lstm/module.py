"""``Module``: the small base class that owns parameters and their gradients.

A module keeps two dicts keyed by PyTorch's parameter names: ``params`` (the values) and ``grads``
(same keys and shapes; ``backward`` adds into them, like torch's ``.grad``).  Math lives in
:mod:`numpy_lstm.functional`; modules only arrange it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np


class Module:
    """Base class: parameters, gradients, train/eval mode and state dicts."""

    params: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]
    training: bool

    def __init__(self) -> None:
        self.params = {}
        self.grads = {}
        self.training = True

    def _add_param(self, name: str, value: np.ndarray) -> None:
        self.params[name] = value
        self.grads[name] = np.zeros_like(value)

    # --- gradients -------------------------------------------------------------------------
    def zero_grad(self) -> None:
        """Set every gradient to zero (in place, so references to ``grads[name]`` stay valid)."""
        for g in self.grads.values():
            g.fill(0)

    def named_parameters(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """Yield ``(name, value, gradient)`` in PyTorch's order."""
        for name, value in self.params.items():
            yield name, value, self.grads[name]

    def num_parameters(self) -> int:
        """Total number of scalar parameters."""
        return sum(p.size for p in self.params.values())

    def astype(self, dtype: Any) -> Module:
        """A deep copy of this module with parameters (and gradients) in ``dtype``; no cache."""
        clone = copy.deepcopy(self)
        dt = np.dtype(dtype)
        clone.params = {k: v.astype(dt) for k, v in self.params.items()}
        clone.grads = {k: v.astype(dt) for k, v in self.grads.items()}
        if hasattr(clone, "dtype"):
            clone.dtype = dt
        for attr in ("_record", "_cache"):
            if hasattr(clone, attr):
                setattr(clone, attr, None)
        if hasattr(clone, "_ran_forward"):
            clone._ran_forward = False
        return clone

    # --- modes -------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (the default): dropout is active.  Returns ``self``."""
        self.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: dropout is off.  Returns ``self``."""
        return self.train(False)

    # --- state dicts -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """A snapshot (copies) of the parameters, keyed and ordered as in PyTorch."""
        return {name: value.copy() for name, value in self.params.items()}

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Copy ``state`` into the parameters, in place (shared memory stays shared).

        Every entry is checked before anything is written, so a bad state dict changes nothing:
        missing or unexpected names, a wrong shape, or a wrong dtype raise ``ValueError`` naming it.
        """
        cls = type(self).__name__
        missing = [k for k in self.params if k not in state]
        unexpected = [k for k in state if k not in self.params]
        if missing or unexpected:
            raise ValueError(
                f"{cls}.load_state_dict: names do not match: missing {missing}, "
                f"unexpected {unexpected}; expected exactly {list(self.params)}"
            )
        arrays = {}
        for name, target in self.params.items():
            value = np.asarray(state[name])
            if value.shape != target.shape:
                raise ValueError(
                    f"{cls}.load_state_dict: '{name}' has shape {value.shape}, "
                    f"expected {target.shape}"
                )
            if value.dtype != target.dtype:
                raise ValueError(
                    f"{cls}.load_state_dict: '{name}' has dtype {value.dtype}, expected "
                    f"{target.dtype} (convert with .astype or build the module with that dtype)"
                )
            arrays[name] = value
        for name, value in arrays.items():
            self.params[name][...] = value
