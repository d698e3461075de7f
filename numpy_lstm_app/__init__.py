"""numpy_lstm_app: the next-token predictor and the ``numpy-lstm`` command line, above both libraries.

One-hot tokens -> LSTM -> Linear -> cross-entropy, trained to predict each sequence's next token:
data (:mod:`.data`, :mod:`.dataset`), the model (:mod:`.model`), one training loop for every backend
(:mod:`.train`, :mod:`.backend`; the PyTorch backend in :mod:`.torch_backend`), checkpoints
(:mod:`.checkpoint`, checked field by field against :mod:`.checkpoint_schema`), size bounds
(:mod:`.limits`), progress lines (:mod:`.progress`) and plots (:mod:`.plots`).  Every ``numpy-lstm``
command is in :mod:`.cli`.

Layers (imports point down only; ``tests/test_layers.py`` keeps it so)::

    numpy_lstm_app   this package: the app and the CLI       may import all below (torch lazily)
    benchmarks       the benchmark harness, beside the app   numpy_lstm, torch_ref, torch
    torch_ref        the PyTorch twin                        numpy_lstm, torch
    numpy_lstm       the library                             numpy (matplotlib lazily, for pictures)
"""
