r"""The fast layer's large buffers, kept between calls and handed out again once nothing uses them.

Every training step allocates the same caches again (gates, cell states, ``tanh(c)``: hundreds of
MiB at the large sizes).  Fresh memory is not free: the first write to each page is a page fault,
and on Linux NumPy asks for huge pages on every array of 4 MiB or more, whose faults cost more
still on some virtual machines.  On a 2-vCPU Xeon this was 13-15% of the float64 training step at
the small and large benchmark sizes (``docs/benchmark.md``, "Fresh memory").  So :mod:`.layer` takes
its large buffers from here, and a buffer that nothing uses any more is handed out again, already
in memory.

When is a buffer unused?  A buffer handed out is a view of an *owner* array kept here, and every
NumPy view keeps a reference to the array that owns its memory (``view.base`` is the owner, however
the view was made: slices, ``reshape``, ``.T``, the rows of ``list(array)``...); a ``memoryview`` or
a ``torch.from_numpy`` tensor holds the array it was made from, and so the owner too.  So while
anything at all can still reach a buffer, whether a cache, an output the caller kept or a tensor
sharing its memory, its owner has more references than the owners nobody uses.  :func:`empty`
counts the references of every owner together with those of a sentinel object held only by the
same list (the sentinel's count is exactly that of an unused owner, whatever the interpreter counts
for the call itself) and reuses an owner only when its count equals the sentinel's, under a lock
(threads never get the same buffer).  A buffer somebody still sees is never handed out twice; the
worst case of a reference it cannot see through (a raw address) is the same as for freed memory.

Only buffers of :data:`MIN_BYTES` or more come from here: 128 KiB, glibc's default threshold for
serving an allocation from freshly mapped memory (smaller ones come from its heap, reused without
faults).  With the threshold at 1 MiB, the 0.4-0.8 MiB caches of the small benchmark size were fresh
pages every step, and its float32 and float64 training steps took 9-16% longer.

At most :data:`MAX_IDLE_BYTES` of unused buffers are kept; :func:`release` frees them all now.
``NUMPY_LSTM_BUFFERS=0`` in the environment, or :func:`set_reuse(False) <set_reuse>` /
``with reuse(False):``, turns reuse off (every buffer is then a fresh ``np.empty``).  It is off,
too, where reference counts cannot be trusted for this (not CPython, or a build without the GIL).
Results are identical either way: every buffer is written before it is read.
"""

from __future__ import annotations

import os
import platform
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

ENV_VAR = "NUMPY_LSTM_BUFFERS"
MIN_BYTES = 128 << 10  # buffers of at least this size are kept and reused
MAX_IDLE_BYTES = 1 << 30  # unused buffers kept, at most (the large float64 step needs ~0.4 GiB)

# [sentinel, owner arrays (uint8, 1-d)...].  The sentinel is referenced by this list alone (never
# bind it to a name: one more reference to it would make an owner with one user look unused).
_owners: list[Any] = [object()]
_lock = threading.Lock()
_setting: dict[str, bool | None] = {"on": None}  # None: follow the environment
_SAFE = platform.python_implementation() == "CPython" and getattr(sys, "_is_gil_enabled", lambda: True)()


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # a fork while another thread held it would leave it held forever


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def set_reuse(on: bool | None) -> None:
    """``False``: every buffer fresh (and the kept ones released); ``True``: reuse; ``None``: back
    to the default (on, unless ``NUMPY_LSTM_BUFFERS=0``)."""
    if on is not None and not isinstance(on, bool):
        raise TypeError(f"set_reuse: expected True, False or None, got {on!r}")
    _setting["on"] = on
    if on is False:
        release()


@contextmanager
def reuse(on: bool | None) -> Iterator[None]:
    """``with reuse(False): ...``: the setting of :func:`set_reuse` for a block only."""
    before = _setting["on"]
    set_reuse(on)
    try:
        yield
    finally:
        _setting["on"] = before


def enabled() -> bool:
    """Whether :func:`empty` reuses buffers now."""
    on = _setting["on"]
    if on is None:
        env = os.environ.get(ENV_VAR, "").strip()
        if env not in ("", "0", "1"):
            raise ValueError(f"{ENV_VAR}: expected 0 or 1, got {env!r}")
        on = env != "0"
    return on and _SAFE


def empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised C-contiguous array, as ``np.empty(shape, dtype)``: for :data:`MIN_BYTES`
    or more, a view of an owner that nothing else uses (the smallest that fits), or of a new one."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes < MIN_BYTES or not enabled():
        return np.empty(shape, dtype)
    with _lock:
        unused = _unused()
        fitting = [o for o in unused if o.nbytes >= nbytes]
        if fitting:
            owner = min(fitting, key=lambda o: o.nbytes)
        else:
            try:
                owner = np.empty(nbytes, np.uint8)  # (nbytes,)
            except MemoryError:  # let go of what nothing uses, and try once more
                _trim(unused, 0)
                owner = np.empty(nbytes, np.uint8)
            _owners.append(owner)
            _trim(unused, MAX_IDLE_BYTES)
        return owner[:nbytes].view(dtype).reshape(shape)  # a view: it refers to the owner


def _unused() -> list[np.ndarray]:
    """The owners that nothing but this module refers to.  Called with the lock held."""
    counts = list(map(sys.getrefcount, _owners))  # the sentinel and every owner counted alike
    return [o for o, n in zip(_owners[1:], counts[1:], strict=True) if n == counts[0]]


def _trim(unused: list[np.ndarray], limit: int) -> int:
    """Forget unused owners, largest first, until at most ``limit`` bytes of them are kept; return
    the bytes let go.  Called with the lock held."""
    total = sum(o.nbytes for o in unused)
    freed = 0
    for o in sorted(unused, key=lambda o: -o.nbytes):
        if total - freed <= limit:
            break
        _owners[:] = [x for x in _owners if x is not o]  # by identity: == on arrays is elementwise
        freed += o.nbytes
    return freed


def release() -> int:
    """Free every kept buffer that nothing uses; return how many bytes that lets go."""
    with _lock:
        return _trim(_unused(), 0)


def held() -> tuple[int, int]:
    """``(bytes kept, bytes of them that nothing uses now)``."""
    with _lock:
        return sum(o.nbytes for o in _owners[1:]), sum(o.nbytes for o in _unused())
