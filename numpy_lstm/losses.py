r"""Softmax and cross-entropy on logits, with padded positions ignored (like PyTorch's ``ignore_index``).

Classes are on the LAST axis (``logits (..., C)``, ``targets (...)``), which suits an LSTM's
``(T, N, C)`` output; PyTorch's ``F.cross_entropy`` wants them on axis 1, so its twin permutes.

Equations, over the ``M`` valid rows (targets != ``ignore_index``)::

    z        = logits - max(logits)                    shift: exp never overflows
    log p    = z - log(sum(exp(z)))                    log-softmax, (M, C)
    loss     = -(1/M) * sum_m log p[m, y_m]            mean over real (non-padded) tokens

    dlogits  = dloss * (softmax(logits) - onehot(y)) / M    on valid rows; 0 on ignored rows
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

IGNORE_INDEX = -100  # PyTorch's default ignore_index: padded target positions carry it


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax along ``axis``."""
    z = logits - logits.max(axis=axis, keepdims=True)  # (..., C) shifted
    e = np.exp(z)  # (..., C)
    return e / e.sum(axis=axis, keepdims=True)  # (..., C)


def log_softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable log-softmax along ``axis``."""
    z = logits - logits.max(axis=axis, keepdims=True)  # (..., C)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))  # (..., C)


class CrossEntropyCache(NamedTuple):
    """What :func:`cross_entropy_backward` needs."""

    probs: np.ndarray  # (..., C) softmax of the logits
    targets: np.ndarray  # (...) class ids, IGNORE_INDEX where padded
    valid: np.ndarray  # (...) bool, True on real tokens
    count: int  # number of real tokens M


def _check_targets(logits: np.ndarray, targets: np.ndarray, ignore_index: int) -> np.ndarray:
    if logits.dtype.kind != "f":
        raise ValueError(f"cross_entropy: logits must be floating point, got dtype {logits.dtype}")
    if logits.ndim == 0:
        raise ValueError("cross_entropy: expected logits of shape (..., C), got a scalar")
    if targets.dtype.kind not in "iu":
        raise ValueError(f"cross_entropy: targets must be integer class ids, got dtype {targets.dtype}")
    if targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"cross_entropy: expected targets of shape {logits.shape[:-1]} (logits' shape without "
            f"the class axis), got {targets.shape}"
        )
    valid = targets != ignore_index  # (...)
    C = logits.shape[-1]
    bad = valid & ((targets < 0) | (targets >= C))
    if bad.any():
        raise ValueError(
            f"cross_entropy: targets must be in [0, {C}) or ignore_index={ignore_index}, "
            f"got {targets[bad].ravel()[:5].tolist()}"
        )
    if not valid.any():
        raise ValueError("cross_entropy: every target is ignore_index; there is no token to average over")
    return valid


def cross_entropy(
    logits: np.ndarray, targets: np.ndarray, ignore_index: int = IGNORE_INDEX
) -> tuple[float, CrossEntropyCache]:
    """Mean cross-entropy over the real tokens; returns ``(loss, cache)``.

    ``logits (..., C)``, ``targets (...)`` integer ids with ``ignore_index`` at padded positions.
    Equals ``torch.nn.functional.cross_entropy(logits_as_(M, C), targets, ignore_index=...)``.
    """
    logits = np.asarray(logits)
    targets = np.array(targets)  # a copy: the backward reads it, and the caller may reuse its array
    valid = _check_targets(logits, targets, ignore_index)  # (...)
    logp = log_softmax(logits)  # (..., C)
    safe = np.where(valid, targets, 0)  # (...) any class id where ignored
    picked = np.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]  # (...) log p[y]
    count = int(valid.sum())
    loss = -float(picked[valid].sum()) / count
    return loss, CrossEntropyCache(np.exp(logp), targets, valid, count)


def cross_entropy_backward(cache: CrossEntropyCache, dloss: float = 1.0) -> np.ndarray:
    """``dlogits (..., C)`` of :func:`cross_entropy`, zero on ignored rows (NaN on an ignored row
    whose logits are not finite: a product with 0, as in torch)."""
    dlogits = cache.probs.copy()  # (..., C) softmax
    safe = np.where(cache.valid, cache.targets, 0)  # (...)
    np.put_along_axis(dlogits, safe[..., None], np.take_along_axis(dlogits, safe[..., None], -1) - 1, -1)
    dlogits *= (cache.valid[..., None] * (dloss / cache.count)).astype(dlogits.dtype)  # (..., C)
    return dlogits
