"""The benchmark: ``numpy_lstm.LSTM`` against ``torch.nn.LSTM`` on the CPU, side by side.

One job per module:

- :mod:`.configs`   the grid of sizes (T steps, N batch, I input, H hidden, layers, directions)
- :mod:`.flops`     the FLOP model (matmul FLOPs only; stated in every report)
- :mod:`.timing`    thread control, interleaved timing, medians with spread, the matmul peak
- :mod:`.cases`     the callables timed on each side, and the check that their results are equal
- :mod:`.memory`    peak memory of one call, measured in a fresh subprocess per (config, side)
- :mod:`.report`    the table on stdout, JSON, CSV and the PNG plot
- :mod:`.grid`      the main benchmark; :mod:`.ablation` and :mod:`.scale` the two studies
- :mod:`.main`      the entry point shared by ``numpy-lstm bench`` and ``benchmarks/*.py``

This package imports torch; ``numpy_lstm`` never imports it (see DESIGN.md).
"""
