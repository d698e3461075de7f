"""numpy-lstm: an LSTM in pure NumPy with hand-written backpropagation through time,
matching ``torch.nn.LSTM`` option for option.

Where things live:

- :mod:`numpy_lstm.functional`  the math (cell step, fused layer, textbook loop)
- :class:`numpy_lstm.Module`  the base class: assign modules to attributes to build a tree (as
  ``torch.nn.Module``); ``params``/``grads``/``state_dict`` list the tree by dotted name
- :class:`numpy_lstm.LSTM`, :class:`numpy_lstm.LSTMCell`, :class:`numpy_lstm.Embedding`  modules
  owning parameters and gradients
- :mod:`numpy_lstm.gradcheck`   finite-difference gradient check for any module
- :func:`numpy_lstm.no_grad`    inference without caches
- :class:`numpy_lstm.Linear`, :func:`numpy_lstm.cross_entropy`, :func:`numpy_lstm.softmax`,
  :class:`numpy_lstm.SGD`, :class:`numpy_lstm.Adam`, :func:`numpy_lstm.clip_grad_norm`
  the rest of a model and its training, matching ``torch.nn`` / ``torch.optim``
- :mod:`numpy_lstm.introspect`  every gate and every state gradient of a model, step by step;
  :mod:`numpy_lstm.pictures` draws them (``numpy-lstm gates``, ``numpy-lstm gradflow``)

This package imports NumPy only (matplotlib lazily, inside the picture code).  The PyTorch twin is
the package ``torch_ref``; the next-token app and the ``numpy-lstm`` command line are
``numpy_lstm_app``; the benchmark harness is ``benchmarks``.
"""

from numpy_lstm.clip import clip_grad_norm
from numpy_lstm.embedding import Embedding
from numpy_lstm.grad_mode import is_grad_enabled, no_grad
from numpy_lstm.gradcheck import GradCheckReport, gradcheck
from numpy_lstm.linear import Linear
from numpy_lstm.losses import cross_entropy, cross_entropy_backward, log_softmax, softmax
from numpy_lstm.lstm import LSTM
from numpy_lstm.lstm_cell import LSTMCell
from numpy_lstm.module import ArrayView, Module
from numpy_lstm.optim import SGD, Adam
from numpy_lstm.padding import pad_sequences

__version__ = "0.1.0"

__all__ = [
    "LSTM",
    "SGD",
    "Adam",
    "Embedding",
    "ArrayView",
    "GradCheckReport",
    "LSTMCell",
    "Linear",
    "Module",
    "clip_grad_norm",
    "cross_entropy",
    "cross_entropy_backward",
    "gradcheck",
    "log_softmax",
    "is_grad_enabled",
    "no_grad",
    "pad_sequences",
    "softmax",
    "__version__",
]
