r"""``NextTokenModel``: one-hot tokens -> LSTM -> Linear -> vocabulary logits.

Equations (``T`` steps, ``N`` sequences, ``V`` vocabulary, ``H_out`` = proj_size or hidden_size)::

    x       = one_hot(inputs)          (T, N, V)        all-zero rows past each length
    y, _    = lstm(x, lengths)         (T, N, H_out)    zero past each length
    logits  = y @ W_fc.T + b_fc        (T, N, V)        no softmax: cross-entropy takes logits
    loss    = cross_entropy(logits, targets)            mean over real tokens only

The layout is seq-first, explicitly (``batch_first=False``).  Parameters are named as in the
``state_dict`` of the PyTorch twin (:class:`numpy_lstm_app.torch_model.Net`): ``lstm.weight_ih_l0``, ...,
``fc.weight``, ``fc.bias``; the arrays are those of the submodules (shared, not copied).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from numpy_lstm.linear import Linear
from numpy_lstm.lstm import LSTM
from numpy_lstm.module import Module


class ModelConfig(NamedTuple):
    """Everything that fixes the parameters' names and shapes (stored in checkpoints)."""

    vocab_size: int
    hidden_size: int = 50
    num_layers: int = 1
    proj_size: int = 0
    dropout: float = 0.0
    bias: bool = True  # LSTM biases; the output layer always has its bias
    dtype: str = "float32"


def check_config(cfg: ModelConfig, bidirectional: bool = False) -> None:
    """Reject what a next-token model cannot be, with the reason."""
    if bidirectional:
        raise ValueError(
            "a next-token model cannot be bidirectional: the backward direction reads the tokens "
            "it is asked to predict (got bidirectional=True)"
        )
    if cfg.vocab_size < 2:
        raise ValueError(f"vocab_size must be >= 2, got {cfg.vocab_size}")


def parameter_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """The names and shapes of ``NextTokenModel(cfg).state_dict()``, in order, by arithmetic alone.

    Nothing is allocated, so a checkpoint's description can be checked (and its size bounded)
    before any model is built.  ``H`` hidden, ``P`` projection (``H_out = P or H``), ``V`` vocabulary::

        lstm.weight_ih_l0  (4H, V)        lstm.weight_ih_lk  (4H, H_out)   k >= 1
        lstm.weight_hh_lk  (4H, H_out)    lstm.bias_ih_lk, lstm.bias_hh_lk  (4H,)   with bias
        lstm.weight_hr_lk  (P, H)         with a projection
        fc.weight          (V, H_out)     fc.bias  (V,)
    """
    V, H, P = cfg.vocab_size, cfg.hidden_size, cfg.proj_size
    H_out = P or H
    shapes: dict[str, tuple[int, ...]] = {}
    for k in range(cfg.num_layers):
        shapes[f"lstm.weight_ih_l{k}"] = (4 * H, V if k == 0 else H_out)
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
    """``logits = model(inputs, lengths)``; ``model.backward(dlogits)`` fills ``grads``."""

    def __init__(self, cfg: ModelConfig, *, seed: int | None = None, bidirectional: bool = False) -> None:
        super().__init__()
        check_config(cfg, bidirectional)
        self.config = cfg
        self.dtype = np.dtype(cfg.dtype)
        rng = np.random.default_rng(seed)
        lstm_seed, fc_seed = (int(s) for s in rng.integers(0, 2**63 - 1, size=2))
        self.lstm = LSTM(
            cfg.vocab_size,
            cfg.hidden_size,
            num_layers=cfg.num_layers,
            bias=cfg.bias,
            dropout=cfg.dropout,
            proj_size=cfg.proj_size,
            dtype=self.dtype,
            seed=lstm_seed,
        )
        self.fc = Linear(self.lstm.hidden_out, cfg.vocab_size, bias=True, dtype=self.dtype, seed=fc_seed)
        self._link()

    def _link(self) -> None:
        """Expose the submodules' arrays (the same objects) under prefixed, torch-style names."""
        self.params, self.grads = {}, {}
        for prefix, sub in (("lstm", self.lstm), ("fc", self.fc)):
            for name, value in sub.params.items():
                self.params[f"{prefix}.{name}"] = value
                self.grads[f"{prefix}.{name}"] = sub.grads[name]

    def __repr__(self) -> str:
        return f"NextTokenModel({self.lstm!r} -> {self.fc!r})"

    def train(self, mode: bool = True) -> NextTokenModel:
        super().train(mode)
        self.lstm.train(mode)
        self.fc.train(mode)
        return self

    def astype(self, dtype: Any) -> NextTokenModel:
        clone = NextTokenModel(self.config._replace(dtype=np.dtype(dtype).name))
        clone.lstm = self.lstm.astype(dtype)
        clone.fc = self.fc.astype(dtype)
        clone._link()
        return clone.train(self.training)

    def __call__(self, x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        return self.forward(x, lengths)

    def forward(self, x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """``x (T, N, V)`` one-hot, ``lengths (N,)`` -> ``logits (T, N, V)``."""
        V = self.config.vocab_size
        if x.ndim != 3 or x.shape[-1] != V:
            raise ValueError(f"NextTokenModel input: expected one-hot (seq_len, batch, {V}), got {x.shape}")
        y, _ = self.lstm(x, lengths=lengths)  # (T, N, H_out)
        return self.fc(y)  # (T, N, V)

    def backward(self, dlogits: np.ndarray) -> None:
        """Backpropagate ``dlogits (T, N, V)``; adds into ``grads`` (the input gets no gradient)."""
        dy = self.fc.backward(dlogits)  # (T, N, H_out)
        self.lstm.backward(dy)
