"""torch_ref: the PyTorch twin of numpy_lstm.

The only package that imports both worlds: the weight bridge for whole module trees
(:func:`to_torch`, :func:`from_torch`, :func:`load_into_torch`, :func:`load_from_torch`), the
parity helper (:func:`compare_with_torch`, for layers and for models you write), and the torch
LSTM that replays given dropout masks (:func:`masked_lstm_forward`, :class:`MaskedDropoutLSTM`).
"""

from torch_ref.bridge import TorchTree, from_torch, load_from_torch, load_into_torch, to_torch, torch_dtype
from torch_ref.compare import ComparisonReport, compare_trees, compare_with_torch
from torch_ref.masked_lstm import MaskedDropoutLSTM, layer_parameters, masked_lstm_forward, run_lstm

__all__ = [
    "ComparisonReport",
    "MaskedDropoutLSTM",
    "TorchTree",
    "compare_trees",
    "compare_with_torch",
    "from_torch",
    "layer_parameters",
    "load_from_torch",
    "load_into_torch",
    "masked_lstm_forward",
    "run_lstm",
    "to_torch",
    "torch_dtype",
]
