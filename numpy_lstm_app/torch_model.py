"""``Net``: the PyTorch twin of :class:`numpy_lstm_app.model.NextTokenModel` (the corrected classic).

The classic next-token ``Net`` had an LSTM, a Linear without bias, and a softmax before the loss;
it fed batch-first tensors to a seq-first LSTM.  This one says its layout (``batch_first=False``:
``(T, N, V)`` in, ``(T, N, V)`` out), keeps the output layer's bias, returns logits (the loss applies
log-softmax itself), and packs variable-length batches so padding changes nothing.

Its layers are made from the NumPy model's tree by the bridge (:func:`torch_ref.to_torch`), so the
names are the same (``embedding.weight``, ``lstm.weight_ih_l0``, ..., ``fc.weight``, ``fc.bias``);
only the forward is written here.  Given dropout masks (the NumPy model's), the LSTM replays them
(:func:`torch_ref.masked_lstm_forward`) instead of drawing its own, so both can train in lockstep.
"""

from __future__ import annotations

import torch
from torch import nn

from numpy_lstm_app.model import ModelConfig, NextTokenModel
from torch_ref.bridge import load_from_torch, to_torch
from torch_ref.masked_lstm import masked_lstm_forward, run_lstm

State = tuple[torch.Tensor, torch.Tensor]


class Net(nn.Module):
    """``x (T, N, V)`` one-hot (or ids ``(T, N)`` with an embedding) and ``lengths (N,)`` -> logits
    ``(T, N, V)``.

    ``layers``: the torch twin of a NumPy model's tree (``to_torch(model)``); by default, that of a
    fresh ``NextTokenModel(cfg)``.
    """

    def __init__(self, cfg: ModelConfig, layers: nn.Module | None = None) -> None:
        super().__init__()
        self.config = cfg
        tree = to_torch(NextTokenModel(cfg)) if layers is None else layers
        expected = (["embedding"] if cfg.embedding_dim else []) + ["lstm", "fc"]
        names = [name for name, _ in tree.named_children()]
        if names != expected:
            raise ValueError(f"Net: expected the layers {expected} for {cfg}, got {names}")
        for name, child in tree.named_children():
            self.add_module(name, child)
        self.train(tree.training)

    def forward(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor | None = None,
        masks: list[torch.Tensor | None] | None = None,
    ) -> torch.Tensor:
        """``masks[k]`` ``(T, N, H_out)`` (scale included, or None) multiplies LSTM layer ``k``'s
        output in place of torch's own dropout."""
        if self.config.embedding_dim:
            x = self.embedding(x)  # (T, N, E)
        if masks is not None and any(m is not None for m in masks):
            y, _ = masked_lstm_forward(self.lstm, x, None, masks, lengths)  # (T, N, H_out)
        else:
            y, _ = run_lstm(self.lstm, x, None, lengths)  # (T, N, H_out), zero past each length
        return self.fc(y)  # (T, N, V) logits

    @torch.no_grad()
    def step(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Inference continuing from ``state``: logits ``(T, N, V)`` and the state after the last step."""
        if self.config.embedding_dim:
            x = self.embedding(x)  # (T, N, E)
        y, state = self.lstm(x, state)  # (T, N, H_out)
        return self.fc(y), state


def net_from_numpy(model: NextTokenModel, *, share_memory: bool = False) -> Net:
    """A ``Net`` with the NumPy model's weights: copied, or shared (``torch.from_numpy``, CPU)."""
    return Net(model.config, to_torch(model, share_memory=share_memory))


def numpy_from_net(net: Net) -> NextTokenModel:
    """The NumPy model with a copy of ``net``'s weights."""
    model = NextTokenModel(net.config)
    load_from_torch(model, net)
    return model.train(net.training)
