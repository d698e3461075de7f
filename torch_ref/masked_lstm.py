"""A torch LSTM that applies *given* dropout masks between layers.

``torch.nn.LSTM(dropout=p)`` draws its masks from torch's generator, which NumPy cannot share, so
training-mode dropout cannot be compared mask for mask.  :func:`masked_lstm_forward` runs the
layers of a ``torch.nn.LSTM`` one at a time, with the LSTM's own parameters (so gradients land on
them), and multiplies layer ``k``'s output by ``masks[k]`` before layer ``k + 1``: exactly what the
NumPy LSTM does with the masks it drew.  Everything else (lengths, layouts, states) is torch's own.
:class:`MaskedDropoutLSTM` is the same as a module.

Layer ``k`` runs as a one-layer ``torch.nn.LSTM`` whose parameters are the big LSTM's layer-``k``
parameters renamed ``..._l{k}...`` -> ``..._l0...``: :func:`layer_parameters` is that renaming.
"""

from __future__ import annotations

import re

import torch
from torch.func import functional_call
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

_LAYER_NAME = re.compile(r"^(?P<base>\w+?)_l(?P<k>\d+)(?P<reverse>_reverse)?$")


def run_lstm(
    lstm: torch.nn.LSTM,
    x: torch.Tensor,
    hx: tuple[torch.Tensor, torch.Tensor] | None,
    lengths: torch.Tensor | None,
    params: dict[str, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """``lstm(x, hx)``, through ``pack_padded_sequence`` / ``pad_packed_sequence`` when ``lengths``;
    with ``params``, ``lstm`` runs with those tensors as its parameters (``torch.func.functional_call``)."""

    def call(
        inp: torch.Tensor | PackedSequence,
    ) -> tuple[torch.Tensor | PackedSequence, tuple[torch.Tensor, torch.Tensor]]:
        return lstm(inp, hx) if params is None else functional_call(lstm, params, (inp, hx), strict=True)

    if lengths is None:
        return call(x)
    T = x.shape[1] if lstm.batch_first else x.shape[0]
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=lstm.batch_first, enforce_sorted=False)
    out, state = call(packed)
    padded, _ = pad_packed_sequence(out, batch_first=lstm.batch_first, total_length=T)
    return padded, state


def layer_parameters(lstm: torch.nn.LSTM, k: int) -> dict[str, torch.Tensor]:
    """Layer ``k``'s parameters (the tensors themselves) under one-layer names (``weight_ih_l0``...)."""
    out = {}
    for name, p in lstm.named_parameters():
        m = _LAYER_NAME.match(name)
        if m is not None and int(m["k"]) == k:
            out[f"{m['base']}_l0{m['reverse'] or ''}"] = p
    return out


def _one_layer(lstm: torch.nn.LSTM, k: int) -> torch.nn.LSTM:
    """An empty (meta-device) one-layer LSTM shaped like layer ``k``: a frame for its parameters."""
    D, H_out = 2 if lstm.bidirectional else 1, lstm.proj_size or lstm.hidden_size
    return torch.nn.LSTM(
        lstm.input_size if k == 0 else D * H_out,
        lstm.hidden_size,
        num_layers=1,
        bias=lstm.bias,
        bidirectional=lstm.bidirectional,
        proj_size=lstm.proj_size,
        device="meta",
    )


def masked_lstm_forward(
    lstm: torch.nn.LSTM,
    x: torch.Tensor,
    hx: tuple[torch.Tensor, torch.Tensor] | None,
    masks: list[torch.Tensor | None],
    lengths: torch.Tensor | None = None,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """``lstm(x, hx)`` with ``masks[k]`` ``(T, N, D*H_out)`` (seq-first, scale included, or None)
    multiplying layer ``k``'s output instead of torch's own dropout.  Any layout ``lstm`` accepts."""
    if len(masks) != lstm.num_layers:
        raise ValueError(f"expected {lstm.num_layers} masks (one per layer, None for none), got {len(masks)}")
    unbatched = x.dim() == 2
    if unbatched:
        x = x.unsqueeze(1)  # (T, 1, I)
        hx = None if hx is None else (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
    elif lstm.batch_first:
        x = x.transpose(0, 1)  # (T, N, I)
    D = 2 if lstm.bidirectional else 1
    hs, cs = [], []
    for k in range(lstm.num_layers):
        h0 = None if hx is None else (hx[0][k * D : (k + 1) * D], hx[1][k * D : (k + 1) * D])
        x, (h, c) = run_lstm(_one_layer(lstm, k), x, h0, lengths, params=layer_parameters(lstm, k))
        if masks[k] is not None:
            x = x * masks[k]  # (T, N, D*H_out) the NumPy model's inverted-dropout mask
        hs.append(h)
        cs.append(c)
    h_n, c_n = torch.cat(hs), torch.cat(cs)
    if unbatched:
        return x[:, 0], (h_n[:, 0], c_n[:, 0])
    if lstm.batch_first:
        x = x.transpose(0, 1)
    return x, (h_n, c_n)


class MaskedDropoutLSTM(torch.nn.Module):
    """``torch.nn.LSTM``'s computation with explicit inter-layer dropout masks.

    It holds ``lstm`` itself (not a copy): its parameters are ``lstm``'s, and so are the gradients.
    """

    def __init__(self, lstm: torch.nn.LSTM) -> None:
        super().__init__()
        self.lstm = lstm

    def forward(
        self,
        x: torch.Tensor,
        hx: tuple[torch.Tensor, torch.Tensor] | None,
        masks: list[torch.Tensor | None],
        lengths: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """``masks[k]`` is ``(T, N, D*H_out)`` (seq-first) or None for layer ``k``'s output."""
        return masked_lstm_forward(self.lstm, x, hx, masks, lengths)
