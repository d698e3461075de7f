r"""``NextTokenModel``: tokens -> (one-hot or embedding) -> LSTM -> Linear -> vocabulary logits.

Equations (``T`` steps, ``N`` sequences, ``V`` vocabulary, ``E`` embedding size, ``H_out`` =
proj_size or hidden_size)::

    x       = one_hot(inputs)          (T, N, V)        embedding_dim = 0 (the default, as the seed)
    x       = embedding(inputs)        (T, N, E)        embedding_dim = E > 0: a learned table W[ids]
    y, _    = lstm(x, lengths)         (T, N, H_out)    zero past each length
    logits  = y @ W_fc.T + b_fc        (T, N, V)        no softmax: cross-entropy takes logits
    loss    = cross_entropy(logits, targets)            mean over real tokens only

The model is an ordinary module tree (children ``embedding`` when E > 0, ``lstm``, ``fc``), so its
parameters are named as in the ``state_dict`` of the PyTorch twin
(:class:`numpy_lstm_app.torch_model.Net`): ``embedding.weight``, ``lstm.weight_ih_l0``, ...,
``fc.weight``, ``fc.bias``.  The layout is seq-first, explicitly (``batch_first=False``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from numpy_lstm.embedding import Embedding
from numpy_lstm.grad_mode import no_grad
from numpy_lstm.linear import Linear
from numpy_lstm.lstm import LSTM, State
from numpy_lstm.module import Module
from numpy_lstm_app.data import one_hot


class ModelConfig(NamedTuple):
    """Everything that fixes the parameters' names and shapes (stored in checkpoints)."""

    vocab_size: int
    hidden_size: int = 50
    num_layers: int = 1
    proj_size: int = 0
    dropout: float = 0.0
    bias: bool = True  # LSTM biases; the output layer always has its bias
    dtype: str = "float32"
    embedding_dim: int = 0  # 0: one-hot input (V features); E > 0: Embedding(V, E) before the LSTM


def check_config(cfg: ModelConfig, bidirectional: bool = False) -> None:
    """Reject what a next-token model cannot be, with the reason."""
    if bidirectional:
        raise ValueError(
            "a next-token model cannot be bidirectional: the backward direction reads the tokens "
            "it is asked to predict (got bidirectional=True)"
        )
    if cfg.vocab_size < 2:
        raise ValueError(f"vocab_size must be >= 2, got {cfg.vocab_size}")
    if isinstance(cfg.embedding_dim, bool) or not isinstance(cfg.embedding_dim, (int, np.integer)):
        raise ValueError(f"embedding_dim must be an integer (0 for one-hot input), got {cfg.embedding_dim!r}")
    if cfg.embedding_dim < 0:
        raise ValueError(f"embedding_dim must be >= 0 (0 for one-hot input), got {cfg.embedding_dim}")


def encode_inputs(cfg: ModelConfig, ids: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """Token ids ``(T, N)`` as the model's input: one-hot ``(T, N, V)`` in ``cfg.dtype`` (all-zero
    rows past each length), or the ids themselves (int64) when the model has an embedding."""
    ids = np.asarray(ids)
    if cfg.embedding_dim:
        if ids.ndim != 2 or ids.dtype.kind not in "iu":
            raise ValueError(f"expected integer token ids of shape (T, N), got {ids.dtype} {ids.shape}")
        return ids.astype(np.int64)  # (T, N)
    return one_hot(ids, cfg.vocab_size, lengths, np.dtype(cfg.dtype))  # (T, N, V)


def parameter_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """The names and shapes of ``NextTokenModel(cfg).state_dict()``, in order, by arithmetic alone.

    Nothing is allocated, so a checkpoint's description can be checked (and its size bounded)
    before any model is built.  ``H`` hidden, ``P`` projection (``H_out = P or H``), ``V`` vocabulary::

        embedding.weight   (V, E)         only with embedding_dim = E > 0
        lstm.weight_ih_l0  (4H, V or E)   lstm.weight_ih_lk  (4H, H_out)   k >= 1
        lstm.weight_hh_lk  (4H, H_out)    lstm.bias_ih_lk, lstm.bias_hh_lk  (4H,)   with bias
        lstm.weight_hr_lk  (P, H)         with a projection
        fc.weight          (V, H_out)     fc.bias  (V,)
    """
    V, H, P, E = cfg.vocab_size, cfg.hidden_size, cfg.proj_size, cfg.embedding_dim
    H_out = P or H
    shapes: dict[str, tuple[int, ...]] = {}
    if E:
        shapes["embedding.weight"] = (V, E)
    for k in range(cfg.num_layers):
        shapes[f"lstm.weight_ih_l{k}"] = (4 * H, (E or V) if k == 0 else H_out)
        shapes[f"lstm.weight_hh_l{k}"] = (4 * H, H_out)
        if cfg.bias:
            shapes[f"lstm.bias_ih_l{k}"] = (4 * H,)
            shapes[f"lstm.bias_hh_l{k}"] = (4 * H,)
        if P:
            shapes[f"lstm.weight_hr_l{k}"] = (P, H)
    shapes["fc.weight"] = (V, H_out)
    shapes["fc.bias"] = (V,)
    return shapes


class NextTokenModel(Module):
    """``logits = model(x, lengths)``; ``model.backward(dlogits)`` fills ``grads``.

    ``x`` is what :meth:`encode` makes of token ids: one-hot ``(T, N, V)``, or the ids ``(T, N)``
    themselves when the model has an embedding.
    """

    def __init__(self, cfg: ModelConfig, *, seed: int | None = None, bidirectional: bool = False) -> None:
        super().__init__()
        check_config(cfg, bidirectional)
        self.config = cfg
        self.dtype = np.dtype(cfg.dtype)
        rng = np.random.default_rng(seed)
        lstm_seed, fc_seed = (int(s) for s in rng.integers(0, 2**63 - 1, size=2))
        V, E = cfg.vocab_size, cfg.embedding_dim
        if E:  # assigned first, so that its parameters come first, as in the twin's state_dict
            self.embedding = Embedding(V, E, dtype=self.dtype, seed=int(rng.integers(0, 2**63 - 1)))
        self.lstm = LSTM(
            E or V,
            cfg.hidden_size,
            num_layers=cfg.num_layers,
            bias=cfg.bias,
            dropout=cfg.dropout,
            proj_size=cfg.proj_size,
            dtype=self.dtype,
            seed=lstm_seed,
        )
        self.fc = Linear(self.lstm.hidden_out, V, bias=True, dtype=self.dtype, seed=fc_seed)

    def __repr__(self) -> str:
        first = f"{self.embedding!r} -> " if self.config.embedding_dim else ""
        return f"NextTokenModel({first}{self.lstm!r} -> {self.fc!r})"

    def astype(self, dtype: Any) -> NextTokenModel:
        clone = super().astype(dtype)
        clone.config = self.config._replace(dtype=np.dtype(dtype).name)
        return clone

    def encode(self, ids: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """Token ids ``(T, N)`` as this model's input (see :func:`encode_inputs`)."""
        return encode_inputs(self.config, ids, lengths)

    def lstm_input(self, x: np.ndarray) -> np.ndarray:
        """What the LSTM reads for model input ``x``: ``x`` itself (one-hot) or ``embedding(x)``."""
        if self.config.embedding_dim:
            x = np.asarray(x)
            if x.ndim != 2:
                raise ValueError(f"NextTokenModel input: expected token ids (seq_len, batch), got {x.shape}")
            return self.embedding(x)  # (T, N, E)
        V = self.config.vocab_size
        if x.ndim != 3 or x.shape[-1] != V:
            raise ValueError(f"NextTokenModel input: expected one-hot (seq_len, batch, {V}), got {x.shape}")
        return x  # (T, N, V)

    def __call__(self, x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        return self.forward(x, lengths)

    def forward(self, x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """``x`` (from :meth:`encode`), ``lengths (N,)`` -> ``logits (T, N, V)``."""
        y, _ = self.lstm(self.lstm_input(x), lengths=lengths)  # (T, N, H_out)
        return self.fc(y)  # (T, N, V)

    def backward(self, dlogits: np.ndarray) -> None:
        """Backpropagate ``dlogits (T, N, V)``; adds into ``grads`` (token ids get no gradient)."""
        dy = self.fc.backward(dlogits)  # (T, N, H_out)
        dx, _ = self.lstm.backward(dy)  # (T, N, E or V)
        if self.config.embedding_dim:
            self.embedding.backward(dx)

    def step(self, ids: np.ndarray, state: State | None = None) -> tuple[np.ndarray, State]:
        """Inference on token ids ``(T, N)`` continuing from ``state`` (``(h, c)`` of the previous
        call, None at the start): ``logits (T, N, V)`` and the state after the last step.

        Generation feeds one token at a time and carries the state, so no prefix runs twice.
        """
        with no_grad():
            y, state = self.lstm(self.lstm_input(self.encode(ids)), state)  # (T, N, H_out)
            return self.fc(y), state  # (T, N, V)
