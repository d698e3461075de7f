"""Move modules between numpy_lstm and torch: ``to_torch`` and ``from_torch``.

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


def torch_dtype(dtype: np.dtype) -> torch.dtype:
    """The torch dtype of a NumPy float32/float64 dtype."""
    return _TORCH_DTYPES[np.dtype(dtype)]


def _numpy_dtype(module: torch.nn.Module) -> np.dtype:
    dtypes = {p.dtype for p in module.parameters()}
    if len(dtypes) != 1 or next(iter(dtypes)) not in _NUMPY_DTYPES:
        raise ValueError(f"expected all parameters float32 or all float64, got {sorted(map(str, dtypes))}")
    return _NUMPY_DTYPES[dtypes.pop()]


def _share_into_torch(np_module: numpy_lstm.Module, t_module: torch.nn.Module) -> None:
    for name, value in np_module.params.items():
        setattr(t_module, name, torch.nn.Parameter(torch.from_numpy(value)))
    if isinstance(t_module, torch.nn.LSTM):
        t_module._init_flat_weights()  # the LSTM keeps a list of its weights; point it at the new ones


def to_torch(module: numpy_lstm.Module, *, share_memory: bool = False) -> torch.nn.Module:
    """A ``torch.nn.LSTM`` / ``torch.nn.LSTMCell`` with the same configuration, dtype and weights.

    With ``share_memory=True`` the torch parameters view the NumPy arrays (CPU only).
    """
    if not isinstance(module, (numpy_lstm.LSTM, numpy_lstm.LSTMCell)):
        raise ValueError(f"to_torch: expected numpy_lstm.LSTM or LSTMCell, got {type(module).__name__}")
    dtype = torch_dtype(module.dtype)
    if isinstance(module, numpy_lstm.LSTM):
        t: torch.nn.Module = torch.nn.LSTM(
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
    else:
        t = torch.nn.LSTMCell(module.input_size, module.hidden_size, bias=module.bias, dtype=dtype)
    t.train(module.training)
    if share_memory:
        _share_into_torch(module, t)
    else:
        t.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in module.params.items()})
    return t


def from_torch(module: torch.nn.Module, *, share_memory: bool = False, seed: int | None = None) -> numpy_lstm.Module:
    """The NumPy twin of a ``torch.nn.LSTM`` / ``torch.nn.LSTMCell``, with its weights.

    With ``share_memory=True`` the NumPy arrays view the torch parameters (CPU tensors only).
    ``seed`` seeds the twin's generator (dropout masks).
    """
    if not isinstance(module, (torch.nn.LSTM, torch.nn.LSTMCell)):
        raise ValueError(f"from_torch: expected torch.nn.LSTM or LSTMCell, got {type(module).__name__}")
    dtype = _numpy_dtype(module)
    if isinstance(module, torch.nn.LSTM):
        twin: numpy_lstm.Module = numpy_lstm.LSTM(
            module.input_size,
            module.hidden_size,
            num_layers=module.num_layers,
            bias=module.bias,
            batch_first=module.batch_first,
            dropout=float(module.dropout),
            bidirectional=module.bidirectional,
            proj_size=module.proj_size,
            dtype=dtype,
            seed=seed,
        )
    else:
        twin = numpy_lstm.LSTMCell(module.input_size, module.hidden_size, bias=module.bias, dtype=dtype, seed=seed)
    twin.train(module.training)
    state = module.state_dict()
    if share_memory:
        for name, tensor in state.items():
            if tensor.device.type != "cpu":
                raise ValueError(f"share_memory=True needs CPU tensors; '{name}' is on {tensor.device}")
            twin.params[name] = tensor.detach().numpy()  # a view of the same storage
    else:
        twin.load_state_dict({k: v.detach().cpu().numpy().copy() for k, v in state.items()})
    return twin
