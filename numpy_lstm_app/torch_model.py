"""``Net``: the PyTorch twin of :class:`numpy_lstm_app.model.NextTokenModel` (the corrected classic).

The classic next-token ``Net`` had an LSTM, a Linear without bias, and a softmax before the loss;
it fed batch-first tensors to a seq-first LSTM.  This one says its layout (``batch_first=False``:
``(T, N, V)`` in, ``(T, N, V)`` out), keeps the output layer's bias, returns logits (the loss applies
log-softmax itself), and packs variable-length batches so padding changes nothing.

Parameter names equal the NumPy model's (``lstm.weight_ih_l0``, ..., ``fc.weight``, ``fc.bias``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from numpy_lstm_app.model import ModelConfig, NextTokenModel
from torch_ref.bridge import torch_dtype
from torch_ref.masked_lstm import run_lstm


class Net(nn.Module):
    """One-hot ``x (T, N, V)`` and ``lengths (N,)`` -> logits ``(T, N, V)``."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        dtype = torch_dtype(cfg.dtype)
        self.lstm = nn.LSTM(
            cfg.vocab_size,
            cfg.hidden_size,
            num_layers=cfg.num_layers,
            bias=cfg.bias,
            batch_first=False,
            dropout=cfg.dropout,
            proj_size=cfg.proj_size,
            dtype=dtype,
        )
        self.fc = nn.Linear(cfg.proj_size or cfg.hidden_size, cfg.vocab_size, bias=True, dtype=dtype)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if lengths is None:
            y, _ = self.lstm(x)  # (T, N, H_out)
        else:
            packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
            y, _ = self.lstm(packed)
            y, _ = pad_packed_sequence(y, total_length=x.shape[0])  # (T, N, H_out), zero past ends
        return self.fc(y)  # (T, N, V) logits


def net_from_numpy(model: NextTokenModel, *, share_memory: bool = False) -> Net:
    """A ``Net`` with the NumPy model's weights: copied, or shared (``torch.from_numpy``, CPU)."""
    net = Net(model.config)
    net.train(model.training)
    if share_memory:
        for full, value in model.params.items():
            sub, name = full.split(".", 1)
            setattr(getattr(net, sub), name, nn.Parameter(torch.from_numpy(value)))
        net.lstm._init_flat_weights()  # the LSTM keeps a list of its weights; point it at the new ones
    else:
        net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.params.items()})
    return net


def numpy_from_net(net: Net) -> NextTokenModel:
    """The NumPy model with a copy of ``net``'s weights."""
    model = NextTokenModel(net.config)
    model.load_state_dict({k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()})
    return model.train(net.training)


class StackedNet(nn.Module):
    """``Net`` with its LSTM as one single-layer ``nn.LSTM`` per layer, so that *given* dropout masks
    go between the layers: the NumPy model's masks, replayed (``torch.nn.LSTM`` would draw its own).

    ``forward(x, lengths, masks)``: ``masks[k]`` ``(T, N, H_out)`` (scale included) multiplies
    layer ``k``'s output, or None.  Parameters ``layers.{k}.weight_ih_l0`` ... are the NumPy model's
    ``lstm.weight_ih_l{k}`` ...; :meth:`numpy_name` translates.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        dtype = torch_dtype(cfg.dtype)
        H_out = cfg.proj_size or cfg.hidden_size
        self.layers = nn.ModuleList(
            nn.LSTM(
                cfg.vocab_size if k == 0 else H_out,
                cfg.hidden_size,
                bias=cfg.bias,
                proj_size=cfg.proj_size,
                dtype=dtype,
            )
            for k in range(cfg.num_layers)
        )
        self.fc = nn.Linear(H_out, cfg.vocab_size, bias=True, dtype=dtype)

    @staticmethod
    def numpy_name(name: str) -> str:
        """``layers.1.weight_ih_l0`` -> ``lstm.weight_ih_l1``; ``fc.*`` unchanged."""
        if not name.startswith("layers."):
            return name
        _, k, param = name.split(".")
        return f"lstm.{param.removesuffix('_l0')}_l{k}"

    def forward(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor | None = None,
        masks: list[torch.Tensor | None] | None = None,
    ) -> torch.Tensor:
        for k, layer in enumerate(self.layers):
            x, _ = run_lstm(layer, x, None, lengths)  # (T, N, H_out), zero past each length
            if masks is not None and masks[k] is not None:
                x = x * masks[k]  # the NumPy model's inverted-dropout mask for this layer
        return self.fc(x)  # (T, N, V)


def stacked_net_from_numpy(model: NextTokenModel) -> StackedNet:
    """A ``StackedNet`` with a copy of the NumPy model's weights."""
    net = StackedNet(model.config)
    net.load_state_dict({k: torch.from_numpy(model.params[net.numpy_name(k)].copy()) for k in net.state_dict()})
    return net
