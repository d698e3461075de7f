"""The next-token predictor: data, model, training loop, checkpoints, plots and the ``train`` command.

One-hot tokens -> LSTM -> Linear -> cross-entropy, trained to predict each sequence's next token.
Everything here runs on NumPy; the PyTorch twin of the model and of the training backend lives in
:mod:`torch_ref` and is driven by the same loop (:mod:`numpy_lstm.app.train`).
"""
