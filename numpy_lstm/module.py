"""``Module``: the base class that owns parameters, their gradients, and child modules.

As in ``torch.nn.Module``, assigning a ``Module`` to an attribute of a module registers it as a
child (``self.lstm = LSTM(...)``), so modules form a tree.  The tree is listed with dotted names in
PyTorch's order (a module's own parameters first, then each child's, depth first, in the order they
were assigned)::

    params       {"lstm.weight_ih_l0": array, ..., "l_out.weight": array, "l_out.bias": array}
    grads        the same names and shapes; ``backward`` adds into them, like torch's ``.grad``

``params`` and ``grads`` are read-only *views* computed from the tree, never copies: the arrays in
them are the modules' own, so an optimiser that updates them in place (``p -= lr * g``) updates the
modules, and a twin that shares memory sees it.  Rebinding a name (``m.params["x"] = other``) is
refused, because it would silently cut the array off from its gradient, its optimiser state and
every twin; write in place (``m.params["x"][...] = value``), load with :meth:`Module.load_state_dict`,
or rebind on purpose with :meth:`Module.set_parameter`.  Math lives in :mod:`numpy_lstm.functional`;
modules only arrange it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from numpy_lstm import _checks


class ArrayView(Mapping[str, np.ndarray]):
    """The parameters (or gradients) of a module tree under dotted names; read-only.

    ``view[name] op= value`` (``+=``, ``-=``, ...) works: it changes the array in place and hands
    the same array back, which the view accepts.  Putting another array under a name raises.
    """

    def __init__(self, module: Module, kind: str) -> None:
        self._module = module
        self._kind = kind  # "_parameters" or "_grads"

    def _owner(self, name: str) -> tuple[Module, str]:
        *path, leaf = name.split(".")
        module = self._module
        for part in path:
            child = module._modules.get(part)
            if child is None:
                raise KeyError(name)
            module = child
        return module, leaf

    def __getitem__(self, name: str) -> np.ndarray:
        if "." not in name:  # the module's own (the common case inside a layer: no walk)
            return getattr(self._module, self._kind)[name]
        module, leaf = self._owner(name)
        return getattr(module, self._kind)[leaf]

    def __contains__(self, name: object) -> bool:
        try:
            self[name]  # type: ignore[index]
        except (KeyError, TypeError, AttributeError):
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        for name, _ in self.items():
            yield name

    def __len__(self) -> int:
        return sum(len(getattr(m, self._kind)) for _, m in self._module.named_modules())

    def items(self) -> list[tuple[str, np.ndarray]]:  # type: ignore[override]
        """``[(dotted name, array), ...]`` in PyTorch's order (a snapshot of the names)."""
        out = []
        for prefix, module in self._module.named_modules():
            for leaf, value in getattr(module, self._kind).items():
                out.append((f"{prefix}.{leaf}" if prefix else leaf, value))
        return out

    def keys(self) -> list[str]:  # type: ignore[override]
        return [name for name, _ in self.items()]

    def values(self) -> list[np.ndarray]:  # type: ignore[override]
        return [value for _, value in self.items()]

    def __setitem__(self, name: str, value: Any) -> None:
        try:
            if self[name] is value:  # the end of ``view[name] += x``: already changed in place
                return
        except (KeyError, AttributeError):
            pass
        what = "params" if self._kind == "_parameters" else "grads"
        raise TypeError(
            f"{type(self._module).__name__}.{what} is a read-only view of the module tree, so "
            f"'{name}' cannot be rebound: write in place ({what}['{name}'][...] = value), use "
            f"load_state_dict, or rebind on purpose with set_parameter('{name}', array)"
        )

    def __delitem__(self, name: str) -> None:
        self.__setitem__(name, None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({ {k: v.shape for k, v in self.items()} })"


class Module:
    """Base class: parameters, gradients, child modules, train/eval mode and state dicts."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})  # own parameters: name -> array
        object.__setattr__(self, "_grads", {})  # own gradients: name -> array of the same shape
        object.__setattr__(self, "_modules", {})  # children: attribute name -> Module
        self.training = True

    # --- the tree ----------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        modules = self.__dict__.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError(
                    f"cannot assign the submodule '{name}' before Module.__init__() has run "
                    f"(call super().__init__() first in {type(self).__name__}.__init__)"
                )
            if name in self._parameters:
                raise AttributeError(f"'{name}' is a parameter of {type(self).__name__}; it cannot become a submodule")
            self.__dict__.pop(name, None)
            modules[name] = value
            return
        if modules is not None and name in modules:
            del modules[name]  # a submodule replaced by a plain value (None, ...) leaves the tree
        object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:  # only called when normal lookup fails
        modules = self.__dict__.get("_modules")
        if modules is not None and name in modules:
            return modules[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        modules = self.__dict__.get("_modules")
        if modules is not None and name in modules:
            del modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._modules))

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """``(name, child)`` for each direct child, in the order they were assigned."""
        yield from self._modules.items()

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """``(dotted name, module)`` for this module (name ``""``) and every descendant, depth first."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def _add_param(self, name: str, value: np.ndarray) -> None:
        if "." in name or name in self._modules:
            raise ValueError(f"parameter name '{name}' must not contain '.' or be a submodule's name")
        self._parameters[name] = value
        self._grads[name] = np.zeros_like(value)

    @property
    def params(self) -> ArrayView:
        """Every parameter of the tree by dotted name, in PyTorch's order (the arrays, not copies)."""
        return ArrayView(self, "_parameters")

    @params.setter
    def params(self, value: Any) -> None:
        raise AttributeError("params is computed from the module tree; assign submodules or use set_parameter")

    @property
    def grads(self) -> ArrayView:
        """Every gradient of the tree, with the names and shapes of :attr:`params`."""
        return ArrayView(self, "_grads")

    @grads.setter
    def grads(self, value: Any) -> None:
        raise AttributeError("grads is computed from the module tree; it cannot be replaced")

    def set_parameter(self, name: str, value: np.ndarray) -> None:
        """Rebind parameter ``name`` (dotted) to the array ``value`` itself, not a copy.

        For sharing memory with another owner (``torch_ref.from_torch(..., share_memory=True)``):
        later writes through either side show on both.  Shape and dtype must equal the current
        parameter's; its gradient is kept.  To copy values instead, use :meth:`load_state_dict`.

        An array that shares memory with another parameter of the tree is refused: tied weights would
        have two gradients, and the optimisers and :func:`~numpy_lstm.clip.clip_grad_norm` would
        treat them as two parameters where torch sums them into one.
        """
        owner, leaf = self.params._owner(name)
        if leaf not in owner._parameters:
            raise KeyError(f"set_parameter: no parameter '{name}'; expected one of {list(self.params)}")
        old = owner._parameters[leaf]
        if not isinstance(value, np.ndarray) or value.shape != old.shape or value.dtype != old.dtype:
            got = f"{value.shape} {value.dtype}" if isinstance(value, np.ndarray) else type(value).__name__
            raise ValueError(f"set_parameter: '{name}' must be an ndarray {old.shape} {old.dtype}, got {got}")
        for other, array in self.params.items():
            if array is not old and np.may_share_memory(value, array) and np.shares_memory(value, array):
                raise ValueError(
                    f"set_parameter: the array for '{name}' shares memory with parameter '{other}'; tied "
                    f"weights are not supported (each name keeps its own gradient, so an optimiser would "
                    f"step them as two parameters): give '{name}' an array of its own"
                )
        owner._parameters[leaf] = value

    # --- calling -----------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    # --- gradients -------------------------------------------------------------------------
    def zero_grad(self) -> None:
        """Set every gradient of the tree to zero (in place, so references stay valid)."""
        for g in self.grads.values():
            g.fill(0)

    def named_parameters(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """Yield ``(dotted name, value, gradient)`` for the whole tree, in PyTorch's order, each array
        once: a submodule assigned under two names is listed under the first, as torch's
        ``named_parameters()`` does, so that an optimiser steps it once (``params`` and
        ``state_dict`` keep both names, as torch's ``state_dict`` does)."""
        seen: set[int] = set()
        for prefix, module in self.named_modules():
            for leaf, value in module._parameters.items():
                if id(value) in seen:
                    continue
                seen.add(id(value))
                yield f"{prefix}{'.' if prefix else ''}{leaf}", value, module._grads[leaf]

    def num_parameters(self) -> int:
        """Total number of scalar parameters in the tree (each array once, as in torch)."""
        return sum(p.size for _, p, _ in self.named_parameters())

    # --- copies ------------------------------------------------------------------------------
    def _drop_caches(self) -> None:
        """Forget what the last forward kept for backward.  Modules with caches override this."""

    def astype(self, dtype: Any) -> Module:
        """A deep copy of the tree with parameters (and gradients) in ``dtype``, and no caches.

        ``dtype`` is float32 or float64, as a module's constructor takes (``torch.nn.Module.to``
        refuses an integer dtype too): anything else raises ``ValueError`` before anything is copied.
        """
        dt = _checks.check_dtype(dtype)
        clone = copy.deepcopy(self)
        for _, module in clone.named_modules():
            for store in (module._parameters, module._grads):
                for name, value in store.items():
                    store[name] = value.astype(dt)
            if "_dtype" in module.__dict__:  # a library module's read-only dtype (_checks.fixed_option)
                module._dtype = dt
            elif "dtype" in module.__dict__:  # a module of the user's own that keeps one
                module.dtype = dt
            module._drop_caches()
        return clone

    # --- modes -------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (the default) for the whole tree: dropout is active.  Returns ``self``."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be boolean, got {mode!r}")
        for _, module in self.named_modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode for the whole tree: dropout is off.  Returns ``self``."""
        return self.train(False)

    # --- state dicts -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """A snapshot (copies) of the tree's parameters, keyed and ordered as in PyTorch."""
        return {name: value.copy() for name, value in self.params.items()}

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Copy ``state`` into the tree's parameters, in place (shared memory stays shared).

        Every entry is checked before anything is written, so a bad state dict changes nothing:
        missing or unexpected names, a wrong shape, or a wrong dtype raise ``ValueError`` naming it.
        """
        cls = type(self).__name__
        params = dict(self.params)
        missing = [k for k in params if k not in state]
        unexpected = [k for k in state if k not in params]
        if missing or unexpected:
            raise ValueError(
                f"{cls}.load_state_dict: names do not match: missing {missing}, "
                f"unexpected {unexpected}; expected exactly {list(params)}"
            )
        arrays = {}
        for name, target in params.items():
            value = np.asarray(state[name])
            if value.shape != target.shape:
                raise ValueError(f"{cls}.load_state_dict: '{name}' has shape {value.shape}, expected {target.shape}")
            if value.dtype != target.dtype:
                raise ValueError(
                    f"{cls}.load_state_dict: '{name}' has dtype {value.dtype}, expected "
                    f"{target.dtype} (convert with .astype or build the module with that dtype)"
                )
            arrays[name] = value
        for name, value in arrays.items():
            params[name][...] = value
