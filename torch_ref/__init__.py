"""torch_ref: the PyTorch twin of numpy_lstm.

The only package that imports both worlds: the weight bridge (:func:`to_torch`,
:func:`from_torch`), the parity helper (:func:`compare_with_torch`), and torch references that
numpy_lstm's behaviour is tested against (:class:`MaskedDropoutLSTM`).
"""

from torch_ref.bridge import from_torch, to_torch, torch_dtype
from torch_ref.compare import ComparisonReport, compare_with_torch
from torch_ref.masked_lstm import MaskedDropoutLSTM, run_lstm

__all__ = [
    "ComparisonReport",
    "MaskedDropoutLSTM",
    "compare_with_torch",
    "from_torch",
    "run_lstm",
    "to_torch",
    "torch_dtype",
]
