r"""The FLOP model: matrix-multiply FLOPs only, ``2 * m * n * k`` per GEMM.

Per layer ``k`` and direction, with ``I_k`` the layer's input width (``I`` for the first layer,
``D * H`` after) and gates ``4H`` wide::

    forward  = 2*T*N*I_k*4H   (input projection)  +  2*T*N*H*4H   (recurrent term)
    backward = 2 * forward    (dx and dW_ih for the input term; dh_prev and dW_hh for the recurrent)
    training step = forward + backward = 3 * forward

The elementwise gate work (about 20 flops per gate value) is left out: it is memory-bound and
under 1% of the FLOPs at every size of the grid but the smallest.  GFLOP/s are these FLOPs divided by
the measured time, so elementwise time counts against the GFLOP/s.
"""

from __future__ import annotations

from benchmarks.configs import BenchConfig


def forward_flops(cfg: BenchConfig) -> int:
    """Matmul FLOPs of one forward pass (inference)."""
    total = 0
    for k in range(cfg.layers):
        I_k = cfg.I if k == 0 else cfg.D * cfg.H
        per_dir = 2 * cfg.T * cfg.N * 4 * cfg.H * (I_k + cfg.H)
        total += cfg.D * per_dir
    return total


def flops(cfg: BenchConfig, mode: str) -> int:
    """Matmul FLOPs of ``mode`` = ``"inference"`` (forward) or ``"train"`` (forward + backward)."""
    return forward_flops(cfg) * (3 if mode == "train" else 1)
