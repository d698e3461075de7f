"""The benchmark: ``numpy_lstm.LSTM`` against ``torch.nn.LSTM`` on the CPU, side by side.

One job per module:

- :mod:`.configs`   the grid of sizes (T steps, N batch, I input, H hidden, layers, directions)
- :mod:`.flops`     the FLOP model (matmul FLOPs only; stated in every report)
- :mod:`.timing`    thread control, interleaved timing, medians with spread, the matmul peak
- :mod:`.cases`     the callables timed on each side, and the check that their results are equal
- :mod:`.memory`    peak memory of one call, measured in a fresh subprocess per (config, side)
- :mod:`.report`    the table on stdout, JSON, CSV and the PNG plot
- :mod:`.grid`      the main benchmark; :mod:`.ablation` and :mod:`.scale` the two studies;
  :mod:`.variants` the ablation's variants of the layer (pure NumPy)
- :mod:`.main`      the run itself, shared by ``numpy-lstm bench`` and ``python -m benchmarks``;
  :mod:`.options` declares their options

This package imports numpy_lstm, torch_ref and torch; nothing below it imports it, and it never
imports the app (``tests/test_layers.py``).  Results of a committed run are in ``benchmarks/results/``.
"""
