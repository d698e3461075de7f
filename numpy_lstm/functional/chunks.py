"""How much of a sequence the fast layer (:mod:`.layer`) works on at a time.

Three kinds of its work run over a chunk of steps, neither one step (too many small calls) nor all
``T`` (too much memory, and out of cache by the time the loop reads it):

- the **input projection**, one GEMM per chunk of about :data:`PROJECTION_CHUNK_BYTES` of gates:
  GEMMs of about a thousand rows or more, made just before the loop reaches the chunk, so that it
  is still in the last-level cache;
- the **local derivatives** of backward, about :data:`DERIVATIVE_CHUNK_BYTES` of gates at a time:
  a chunk that, with the ``dA`` it writes, stays within the L2 cache for the backward loop to read
  (512 KiB: a 2 MiB L2 holds both; against 256 KiB, the medium float64 training step was 3-5%
  faster in alternating runs and the other benchmark sizes level);
- the **gradient GEMMs** of backward (:func:`gradient_chunk_rows`): ``dA`` is held one chunk at a
  time, at least about 2 MiB and 512 rows (GEMMs of a good size), and up to a quarter of the steps
  within 32 MiB where that is more: fewer, larger GEMMs (the medium float32 training step 3.4%
  faster in alternating runs) for a bounded amount of memory.

Tests set these module attributes to force many small chunks at small sizes.
"""

from __future__ import annotations

PROJECTION_CHUNK_BYTES = 8 << 20  # input projection: GEMMs of >= ~1000 rows, chunk within L3
DERIVATIVE_CHUNK_BYTES = 512 << 10  # local derivatives: a chunk and its dA within L2
GRADIENT_CHUNK_BYTES = 2 << 20  # dA held for at least about this many bytes of steps at a time ...
GRADIENT_CHUNK_ROWS = 512  # ... and at least this many rows (steps * N): GEMMs of a good size ...
GRADIENT_CHUNKS = 4  # ... and up to 1 / this of the steps ...
GRADIENT_CHUNK_MAX_BYTES = 32 << 20  # ... within this many bytes


def chunk_steps(N: int, H: int, itemsize: int, nbytes: int) -> int:
    """Steps per chunk of work done for many steps at once: about ``nbytes`` of gates (``N * 4H``
    values a step), so that a chunk is still in cache when the loop reaches it, yet small sizes need
    few calls."""
    return max(1, nbytes // (N * 4 * H * itemsize))


def gradient_chunk_rows(T: int, N: int, row_bytes: int) -> int:
    """Rows (steps * N) of ``dA`` that backward holds at a time, ``row_bytes`` each: the most of
    about 2 MiB, 512 rows, and a quarter of all ``T * N`` rows up to 32 MiB."""
    quarter = min(T * N // GRADIENT_CHUNKS, GRADIENT_CHUNK_MAX_BYTES // row_bytes)
    return max(GRADIENT_CHUNK_ROWS, GRADIENT_CHUNK_BYTES // row_bytes, quarter)
