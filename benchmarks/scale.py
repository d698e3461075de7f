"""Benchmark script: ``python benchmarks/scale.py [options]``,
the same as ``numpy-lstm bench --what scale [options]``.

Settings are the command-line options (see ``--help``); defaults: 2 threads on each side,
float32 and float64, results in ./bench-results.  For NumPy's fastest BLAS kernel, run it with
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`` (see the README's benchmark section).
"""

import sys

from _script import main

if __name__ == "__main__":
    sys.exit(main("scale", __doc__))
