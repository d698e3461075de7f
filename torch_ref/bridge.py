"""Move module trees between numpy_lstm and torch: ``to_torch``, ``from_torch``, ``load_into_torch``,
``load_from_torch``.

Layers map one to one (``LSTM``, ``LSTMCell``, ``Linear``, ``Embedding`` and their ``torch.nn``
namesakes).  Any other module is a *container*: it maps to a container with the same child names
(a :class:`TorchTree` in torch, a plain :class:`numpy_lstm.Module` in NumPy) and its own
parameters, if it has any.  A container carries no ``forward``: the computation of a model you
wrote is yours, so to run it in torch, write the torch module (as you would anyway) and load the
weights into it by name with :func:`load_into_torch`; every mismatch (missing or unexpected
names, shapes, dtypes) is named before anything is written.

Weights can be copied (the default) or shared.  Sharing (``share_memory=True``) uses
``torch.from_numpy`` / ``Tensor.numpy()``, which view the same buffer from both sides, so an
in-place update on one side (an optimizer step, ``load_state_dict``) shows on the other.  It works
for CPU tensors of float32 or float64 (the dtypes numpy_lstm supports); a CUDA module, or a
conversion that changes dtype, can only copy, and asking to share then raises ``ValueError``.
"""

from __future__ import annotations

import numpy as np
import torch

import numpy_lstm

_TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
_NUMPY_DTYPES = {v: k for k, v in _TORCH_DTYPES.items()}
_LAYERS = "LSTM, LSTMCell, Linear, Embedding"
_TORCH_CONTAINERS = (torch.nn.Module, torch.nn.Sequential, torch.nn.ModuleList, torch.nn.ModuleDict)


def torch_dtype(dtype: np.dtype) -> torch.dtype:
    """The torch dtype of a NumPy float32/float64 dtype."""
    return _TORCH_DTYPES[np.dtype(dtype)]


def _numpy_dtype(module: torch.nn.Module) -> np.dtype:
    dtypes = {p.dtype for p in module.parameters()}
    if len(dtypes) != 1 or next(iter(dtypes)) not in _NUMPY_DTYPES:
        raise ValueError(f"expected all parameters float32 or all float64, got {sorted(map(str, dtypes))}")
    return _NUMPY_DTYPES[dtypes.pop()]


class TorchTree(torch.nn.Module):
    """The torch twin of a NumPy container: the same child names, the same own parameters.

    It has no ``forward`` of its own; write the torch module of your model and use
    :func:`load_into_torch`, or read the children (``tree.lstm``) and call them yourself.
    """

    def forward(self, *args: object, **kwargs: object) -> object:
        raise NotImplementedError(
            "TorchTree mirrors a NumPy module's children and parameters, not its forward(); write "
            "the torch module of your model and copy the weights with torch_ref.load_into_torch"
        )


# --- one layer ------------------------------------------------------------------------------------
def _layer_to_torch(module: numpy_lstm.Module) -> torch.nn.Module | None:
    dtype = torch_dtype(module.dtype) if hasattr(module, "dtype") else None
    if isinstance(module, numpy_lstm.LSTM):
        return torch.nn.LSTM(
            module.input_size,
            module.hidden_size,
            num_layers=module.num_layers,
            bias=module.bias,
            batch_first=module.batch_first,
            dropout=module.dropout,
            bidirectional=module.bidirectional,
            proj_size=module.proj_size,
            dtype=dtype,
        )
    if isinstance(module, numpy_lstm.LSTMCell):
        return torch.nn.LSTMCell(module.input_size, module.hidden_size, bias=module.bias, dtype=dtype)
    if isinstance(module, numpy_lstm.Linear):
        return torch.nn.Linear(module.in_features, module.out_features, bias=module.bias, dtype=dtype)
    if isinstance(module, numpy_lstm.Embedding):
        return torch.nn.Embedding(
            module.num_embeddings, module.embedding_dim, padding_idx=module.padding_idx, dtype=dtype
        )
    return None


def _layer_from_torch(module: torch.nn.Module, seed: int | None) -> numpy_lstm.Module | None:
    if isinstance(module, torch.nn.LSTM):
        return numpy_lstm.LSTM(
            module.input_size,
            module.hidden_size,
            num_layers=module.num_layers,
            bias=module.bias,
            batch_first=module.batch_first,
            dropout=float(module.dropout),
            bidirectional=module.bidirectional,
            proj_size=module.proj_size,
            dtype=_numpy_dtype(module),
            seed=seed,
        )
    if isinstance(module, torch.nn.LSTMCell):
        dtype = _numpy_dtype(module)
        return numpy_lstm.LSTMCell(module.input_size, module.hidden_size, bias=module.bias, dtype=dtype, seed=seed)
    if isinstance(module, torch.nn.Linear):
        bias = module.bias is not None
        return numpy_lstm.Linear(module.in_features, module.out_features, bias, dtype=_numpy_dtype(module), seed=seed)
    if isinstance(module, torch.nn.Embedding):
        return numpy_lstm.Embedding(
            module.num_embeddings,
            module.embedding_dim,
            padding_idx=module.padding_idx,
            max_norm=module.max_norm,
            scale_grad_by_freq=module.scale_grad_by_freq,
            sparse=module.sparse,
            dtype=_numpy_dtype(module),
            seed=seed,
        )
    return None


# --- whole trees ------------------------------------------------------------------------------------
def _mirror_to_torch(module: numpy_lstm.Module, path: str) -> torch.nn.Module:
    twin = _layer_to_torch(module)
    if twin is None:
        if type(module).__module__.startswith("numpy_lstm.") and type(module) is not numpy_lstm.Module:
            raise ValueError(
                f"to_torch: '{path or 'the module'}' is a {type(module).__name__}, which has no torch twin"
            )
        twin = TorchTree()
        for name, value in module._parameters.items():
            twin.register_parameter(name, torch.nn.Parameter(torch.from_numpy(value.copy())))
        for name, child in module.named_children():
            twin.add_module(name, _mirror_to_torch(child, f"{path}.{name}" if path else name))
    twin.training = module.training
    return twin


def to_torch(module: numpy_lstm.Module, *, share_memory: bool = False) -> torch.nn.Module:
    """The torch twin of a NumPy module tree: same configuration, dtype, names and weights.

    ``LSTM``, ``LSTMCell``, ``Linear`` and ``Embedding`` become their ``torch.nn`` namesakes; any
    other module becomes a :class:`TorchTree` with the same children.  With ``share_memory=True``
    the torch parameters view the NumPy arrays (CPU only).
    """
    if not isinstance(module, numpy_lstm.Module):
        raise ValueError(
            f"to_torch: expected a numpy_lstm Module ({_LAYERS} or a tree of them), got {type(module).__name__}"
        )
    if not dict(module.params):
        raise ValueError(f"to_torch: {type(module).__name__} has no parameters; expected {_LAYERS} or a tree of them")
    twin = _mirror_to_torch(module, "")
    load_into_torch(twin, module, share_memory=share_memory)
    return twin


def _mirror_from_torch(module: torch.nn.Module, path: str, seed: int | None) -> numpy_lstm.Module:
    twin = _layer_from_torch(module, seed)
    if twin is None:
        if type(module) not in _TORCH_CONTAINERS and type(module).__module__.startswith("torch."):
            raise ValueError(
                f"from_torch: '{path or 'the module'}' is a torch.nn.{type(module).__name__}, which has no "
                f"NumPy twin; expected {_LAYERS}, or containers of them"
            )
        twin = numpy_lstm.Module()
        for name, p in module.named_parameters(recurse=False):
            twin._add_param(name, p.detach().cpu().numpy().copy())
        for name, child in module.named_children():
            setattr(twin, name, _mirror_from_torch(child, f"{path}.{name}" if path else name, seed))
    twin.training = module.training
    return twin


def from_torch(module: torch.nn.Module, *, share_memory: bool = False, seed: int | None = None) -> numpy_lstm.Module:
    """The NumPy twin of a torch module tree, with its weights.

    ``torch.nn.LSTM``, ``LSTMCell``, ``Linear`` and ``Embedding`` become their numpy_lstm
    namesakes; any other module becomes a :class:`numpy_lstm.Module` holding the same children.
    With ``share_memory=True`` the NumPy arrays view the torch parameters (CPU tensors only).
    ``seed`` seeds each layer's generator (dropout masks).
    """
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"from_torch: expected a torch.nn.Module, got {type(module).__name__}")
    twin = _mirror_from_torch(module, "", seed)
    load_from_torch(twin, module, share_memory=share_memory)
    return twin


# --- weights by name ----------------------------------------------------------------------------
def _check_pairs(tree: numpy_lstm.Module, state: dict[str, torch.Tensor], share_memory: bool, what: str) -> None:
    """Raise ``ValueError`` naming every mismatch between ``tree``'s parameters and ``state``."""
    params = dict(tree.params)
    problems = []
    missing = [k for k in params if k not in state]
    unexpected = [k for k in state if k not in params]
    if missing:
        problems.append(f"missing in torch: {missing}")
    if unexpected:
        problems.append(f"not in the NumPy tree: {unexpected}")
    for name in (n for n in params if n in state):  # in the tree's order
        ours, theirs = params[name], state[name]
        if tuple(theirs.shape) != ours.shape:
            problems.append(f"'{name}' is {tuple(theirs.shape)} in torch, {ours.shape} in NumPy")
        elif _NUMPY_DTYPES.get(theirs.dtype) != ours.dtype:
            problems.append(f"'{name}' is {theirs.dtype} in torch, {ours.dtype} in NumPy")
        elif share_memory and theirs.device.type != "cpu":
            problems.append(f"'{name}' is on {theirs.device}; share_memory=True needs CPU tensors")
    if problems:
        raise ValueError(f"{what}: nothing was written, the two trees differ: " + "; ".join(problems))


def load_into_torch(torch_module: torch.nn.Module, tree: numpy_lstm.Module, *, share_memory: bool = False) -> None:
    """Write the NumPy tree's parameters into ``torch_module``, matched by ``state_dict`` name.

    Every mismatch is named before anything is written.  With ``share_memory=True`` each torch
    parameter is replaced by one viewing the NumPy array (CPU only).
    """
    state = torch_module.state_dict()
    _check_pairs(tree, state, share_memory, "load_into_torch")
    if not share_memory:
        with torch.no_grad():
            for name, value in tree.params.items():
                state[name].copy_(torch.from_numpy(value))
        return
    for name, value in tree.params.items():
        owner_name, _, leaf = name.rpartition(".")
        owner = torch_module.get_submodule(owner_name)
        setattr(owner, leaf, torch.nn.Parameter(torch.from_numpy(value)))
    for owner in torch_module.modules():
        if isinstance(owner, torch.nn.RNNBase):
            owner._init_flat_weights()  # the LSTM keeps a list of its weights; point it at the new ones


def load_from_torch(tree: numpy_lstm.Module, torch_module: torch.nn.Module, *, share_memory: bool = False) -> None:
    """Write ``torch_module``'s parameters into the NumPy tree, matched by name (all checked first).

    With ``share_memory=True`` the tree's arrays become views of the torch tensors (CPU only).
    """
    state = {k: v.detach() for k, v in torch_module.state_dict().items()}
    _check_pairs(tree, state, share_memory, "load_from_torch")
    for name, tensor in state.items():
        if share_memory:
            tree.set_parameter(name, tensor.numpy())  # a view of the same storage
        else:
            tree.params[name][...] = tensor.cpu().numpy()
