r"""Generation: continue a prime text token by token, carrying the LSTM state between steps.

The prime runs through the model once; after that each step feeds only the token just drawn,
with the state ``(h, c)`` the previous step left (the prefix is never re-run)::

    logits, state = step(prime_ids, None)            (T_prime, 1, V), ((L, 1, H_out), (L, 1, H))
    repeat length times:
        a      = logits[-1]                          (V,)   refused unless all finite
        a[j]   = -inf unless a[j] is in the top k    (V,)   with --top-k
        z      = (a - max(a)) / temperature          (V,)   <1 sharpens, >1 flattens; <= 0, no overflow
        p      = softmax(z)                          (V,)
        next   ~ p                                   one uniform draw from the seeded generator
        stop if next is EOS
        logits, state = step([[next]], state)        (1, 1, V)

The draw is made in NumPy from the logits whichever backend computed them, so the NumPy model
and its PyTorch twin, in float64 with the same seed, produce the same tokens.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from numpy_lstm_app.data import SPECIALS
from numpy_lstm_app.model import NextTokenModel, encode_inputs

# ``step(ids (T, 1) int64, state or None) -> (logits (T, 1, V) ndarray, state)``
Stepper = Callable[[np.ndarray, Any], tuple[np.ndarray, Any]]


class Generated(NamedTuple):
    ids: list[int]  # the drawn tokens, without the prime and without the EOS that stopped it
    stopped_at_eos: bool


def numpy_stepper(model: NextTokenModel) -> Stepper:
    """Steps of the NumPy model (inference mode, no caches)."""
    model.eval()
    return model.step


def torch_stepper(model: NextTokenModel) -> Stepper:
    """Steps of the model's PyTorch twin (a copy of its weights, on the CPU)."""
    import torch  # only when asked for

    from numpy_lstm_app.torch_model import net_from_numpy

    net = net_from_numpy(model).eval()

    def step(ids: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
        x = torch.from_numpy(encode_inputs(model.config, ids))  # (T, 1, V) one-hot, or (T, 1) ids
        logits, state = net.step(x, state)  # (T, 1, V)
        return logits.numpy(), state

    return step


def check_options(length: int, temperature: float, top_k: int | None) -> None:
    """``ValueError`` naming the first option that cannot be used."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise ValueError(f"length must be an integer >= 0, got {length!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be an integer >= 1 (or None for all tokens), got {top_k!r}")


def sample_next(logits: np.ndarray, temperature: float, top_k: int | None, rng: np.random.Generator) -> int:
    """One token id drawn from ``softmax(logits / temperature)`` restricted to the ``top_k`` largest.

    The largest logit is subtracted *before* dividing by the temperature, so every scaled logit is
    ``<= 0`` and the largest is exactly 0: any finite ``temperature > 0`` works, and a tiny one
    (``1e-310``, where ``logits / temperature`` would overflow to inf and inf - inf to NaN) is greedy.
    """
    a = np.asarray(logits, dtype=np.float64)  # (V,)
    if a.ndim != 1:
        raise ValueError(f"sample_next: expected the logits of one step, shape (V,), got {a.shape}")
    bad = np.flatnonzero(~np.isfinite(a))
    if bad.size:
        raise ValueError(f"sample_next: the logits must be finite, got {a[bad[0]]} for token id {int(bad[0])}"
                         f"{f' (and {bad.size - 1} more)' if bad.size > 1 else ''}")
    if top_k is not None and top_k < a.size:
        kth = np.partition(a, -top_k)[-top_k]  # the k-th largest
        a = np.where(a >= kth, a, -np.inf)  # (V,) ties with the k-th stay in
    with np.errstate(over="ignore"):  # a tiny temperature sends the others to -inf: probability 0
        z = (a - a.max()) / temperature  # (V,) <= 0, the largest exactly 0
    p = np.exp(z)  # (V,) unnormalised softmax, the largest 1
    cdf = np.cumsum(p)  # (V,)
    return int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), a.size - 1))


def generate(
    step: Stepper,
    prime_ids: Sequence[int],
    length: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    eos_id: int | None = None,
) -> Generated:
    """Up to ``length`` token ids after ``prime_ids``, stopping early when ``eos_id`` is drawn."""
    check_options(length, temperature, top_k)
    prime = np.asarray(prime_ids, dtype=np.int64)
    if prime.ndim != 1 or prime.size == 0:
        raise ValueError(f"the prime must be a non-empty sequence of token ids, got shape {prime.shape}")
    rng = np.random.default_rng(seed)
    logits, state = step(prime[:, None], None)  # (T_prime, 1, V): the prime, once
    out: list[int] = []
    for _ in range(length):
        if np.ndim(logits) != 3 or np.shape(logits)[1] != 1:
            raise ValueError(f"step must return logits of shape (T, 1, V), got {np.shape(logits)}")
        nxt = sample_next(logits[-1, 0], temperature, top_k, rng)
        if nxt == eos_id:
            return Generated(out, True)
        out.append(nxt)
        logits, state = step(np.array([[nxt]], dtype=np.int64), state)  # (1, 1, V): one new token
    return Generated(out, False)


# --- text <-> tokens, as the checkpoint's data was split ----------------------------------------------
def token_level(meta: dict[str, Any]) -> str:
    """``"char"`` or ``"word"``: how the checkpoint's training text was split into tokens."""
    data = meta.get("data") or {}
    return data.get("level", "word") if data.get("task") == "text" else "word"


def split_prime(text: str, level: str) -> list[str]:
    return list(text) if level == "char" else text.split()


def join_tokens(tokens: Sequence[str], level: str) -> str:
    """Characters side by side (``UNK`` shown as ``<UNK>``), or words with spaces between."""
    if level == "char":
        return "".join(f"<{t}>" if t in SPECIALS else t for t in tokens)
    return " ".join(tokens)
