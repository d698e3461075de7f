"""Pure LSTM math: no state, no classes beyond the NamedTuple caches.

- :mod:`.cell`       one time step, readable, with the backward derivation in its docstring
- :mod:`.textbook`   the per-step loop of cells that tutorials show (reference and benchmark baseline)
- :mod:`.layer`      one direction of one layer over a sequence, fused for speed (training)
- :mod:`.feature_major` the same in a feature-major layout: inference, and training where rows are not split
- :mod:`.single`     one sequence (N = 1): one row per step, the fewest NumPy calls (training, inference)
- :mod:`.gate_order` the private gate order of the fast paths and the helper that prepares weights
- :mod:`.activation` the tanh or exp form of the gate activations, chosen per machine
- :mod:`.rows`       the batch split across threads (optional: needs threadpoolctl)
- :mod:`.local_derivatives` backward's factors that do not depend on the incoming gradient, many steps at once
- :mod:`.chunks`     how many steps the fast layer's projection, derivatives and gradient GEMMs take at a time
- :mod:`.buffers`    the fast layer's large buffers, kept and handed out again once nothing refers to them
- :mod:`.lengths`    variable lengths: last steps, zeroed padding, time reversed per sequence
"""

from numpy_lstm.functional.cell import (
    GATE_ORDER,
    CellCache,
    CellGrads,
    cell_backward,
    cell_forward,
    sigmoid,
    split_gates,
)
from numpy_lstm.functional.layer import (
    LayerCache,
    LayerGrads,
    layer_backward,
    layer_forward,
    reverse_time,
)
from numpy_lstm.functional.textbook import textbook_backward, textbook_forward

__all__ = [
    "GATE_ORDER",
    "CellCache",
    "CellGrads",
    "LayerCache",
    "LayerGrads",
    "cell_backward",
    "cell_forward",
    "layer_backward",
    "layer_forward",
    "reverse_time",
    "sigmoid",
    "split_gates",
    "textbook_backward",
    "textbook_forward",
]
