"""Hypothesis strategies shared by the tests: LSTM configurations and the arrays they take."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

import numpy_lstm


@dataclass(frozen=True)
class LSTMCase:
    """One randomly drawn LSTM, input, and call options."""

    input_size: int
    hidden_size: int
    num_layers: int
    bias: bool
    batch_first: bool
    bidirectional: bool
    proj_size: int
    T: int
    N: int | None  # None: unbatched input
    with_hx: bool
    state_grads: bool
    use_lengths: bool
    seed: int

    def build(self, dtype=np.float64, **overrides) -> numpy_lstm.LSTM:
        """The module, with random non-zero biases (PyTorch's init already makes them non-zero)."""
        kwargs = dict(
            num_layers=self.num_layers,
            bias=self.bias,
            batch_first=self.batch_first,
            bidirectional=self.bidirectional,
            proj_size=self.proj_size,
            dtype=dtype,
            seed=self.seed,
        )
        kwargs.update(overrides)
        return numpy_lstm.LSTM(self.input_size, self.hidden_size, **kwargs)

    def inputs(self, module: numpy_lstm.LSTM):
        """``x``, ``hx`` (or None) and ``lengths`` (or None), drawn from the case's seed."""
        rng = np.random.default_rng(self.seed + 1)
        dtype = module.dtype
        if self.N is None:
            x = rng.standard_normal((self.T, self.input_size))
        elif self.batch_first:
            x = rng.standard_normal((self.N, self.T, self.input_size))
        else:
            x = rng.standard_normal((self.T, self.N, self.input_size))
        hx = None
        if self.with_hx:
            LD = module.num_layers * module.num_directions
            batch = () if self.N is None else (self.N,)
            hx = (
                rng.standard_normal((LD, *batch, module.hidden_out)).astype(dtype),
                rng.standard_normal((LD, *batch, module.hidden_size)).astype(dtype),
            )
        lengths = None
        if self.use_lengths and self.N is not None:
            lengths = rng.integers(1, self.T + 1, size=self.N)
        return x.astype(dtype), hx, lengths


@st.composite
def lstm_cases(draw, max_layers: int = 3, allow_unbatched: bool = True, lengths: bool | None = None) -> LSTMCase:
    hidden = draw(st.integers(1, 6))
    unbatched = allow_unbatched and draw(st.booleans())
    use_lengths = (not unbatched) and (draw(st.booleans()) if lengths is None else lengths)
    return LSTMCase(
        input_size=draw(st.integers(1, 5)),
        hidden_size=hidden,
        num_layers=draw(st.integers(1, max_layers)),
        bias=draw(st.booleans()),
        batch_first=draw(st.booleans()),
        bidirectional=draw(st.booleans()),
        proj_size=draw(st.integers(0, hidden - 1)),
        T=draw(st.integers(1, 6)),
        N=None if unbatched else draw(st.integers(1, 4)),
        with_hx=draw(st.booleans()),
        state_grads=draw(st.booleans()),
        use_lengths=use_lengths,
        seed=draw(st.integers(0, 2**16)),
    )


def random_layer_weights(
    rng: np.random.Generator, I: int, H: int, P: int = 0, bias: bool = True, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """``W_ih (4H, I)``, ``W_hh (4H, P or H)``, ``b_ih``, ``b_hh`` (None without bias) and ``W_hr (P, H)``
    (None without projection), in PyTorch's layout, for the functional layer tests."""
    H_out = P or H
    W_ih = rng.standard_normal((4 * H, I)) * scale
    W_hh = rng.standard_normal((4 * H, H_out)) * scale
    b_ih = rng.standard_normal(4 * H) if bias else None
    b_hh = rng.standard_normal(4 * H) if bias else None
    W_hr = rng.standard_normal((P, H)) * scale if P else None
    return W_ih, W_hh, b_ih, b_hh, W_hr


@dataclass(frozen=True)
class EmbeddingCase:
    """One randomly drawn Embedding and a batch of ids for it (ids repeat: fewer rows than lookups)."""

    num_embeddings: int
    embedding_dim: int
    padding_idx: int | None  # may be negative, as torch allows
    ids: np.ndarray  # any shape, int64
    seed: int


@st.composite
def embedding_cases(draw) -> EmbeddingCase:
    V = draw(st.integers(1, 6))
    E = draw(st.integers(1, 5))
    padding_idx = draw(st.none() | st.integers(-V, V - 1))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    seed = draw(st.integers(0, 2**31 - 1))
    ids = np.random.default_rng(seed).integers(0, V, size=shape).astype(np.int64)
    return EmbeddingCase(V, E, padding_idx, ids, seed)
