"""``no_grad``: run forward passes without keeping what backward would need (like ``torch.no_grad``)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

_state = threading.local()


def is_grad_enabled() -> bool:
    """True unless the calling thread is inside a :func:`no_grad` block."""
    return getattr(_state, "enabled", True)


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Context manager (and decorator) for inference.

    Inside it a module's forward keeps no cache: it uses less memory and time, and a ``backward``
    after it raises ``RuntimeError``.  Blocks nest; the previous mode comes back on exit.
    """
    previous = is_grad_enabled()
    _state.enabled = False
    try:
        yield
    finally:
        _state.enabled = previous
