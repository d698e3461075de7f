"""A torch LSTM that applies *given* dropout masks between layers.

``torch.nn.LSTM(dropout=p)`` draws its masks from torch's generator, which NumPy cannot share, so
training-mode dropout cannot be compared mask for mask.  :class:`MaskedDropoutLSTM` rebuilds the
same network as a stack of single-layer ``torch.nn.LSTM``s (same weights, renamed ``l{k}`` ->
``l0``) and multiplies layer ``k``'s output by ``masks[k]`` before layer ``k + 1``: exactly what the
NumPy LSTM does with the masks it drew.  Everything else (lengths, layouts, states) is torch's own.
"""

from __future__ import annotations

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def run_lstm(
    lstm: torch.nn.LSTM,
    x: torch.Tensor,
    hx: tuple[torch.Tensor, torch.Tensor] | None,
    lengths: torch.Tensor | None,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """``lstm(x, hx)``, through ``pack_padded_sequence`` / ``pad_packed_sequence`` when ``lengths``."""
    if lengths is None:
        return lstm(x, hx)
    T = x.shape[1] if lstm.batch_first else x.shape[0]
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=lstm.batch_first, enforce_sorted=False)
    out, state = lstm(packed, hx)
    padded, _ = pad_packed_sequence(out, batch_first=lstm.batch_first, total_length=T)
    return padded, state


class MaskedDropoutLSTM(torch.nn.Module):
    """``torch.nn.LSTM``'s computation with explicit inter-layer dropout masks (seq-first inside)."""

    def __init__(self, lstm: torch.nn.LSTM) -> None:
        super().__init__()
        self.batch_first = lstm.batch_first
        self.num_layers = lstm.num_layers
        self.num_directions = 2 if lstm.bidirectional else 1
        layers = []
        state = lstm.state_dict()
        for k in range(lstm.num_layers):
            D, H_out = self.num_directions, lstm.proj_size or lstm.hidden_size
            layer = torch.nn.LSTM(
                lstm.input_size if k == 0 else D * H_out,
                lstm.hidden_size,
                num_layers=1,
                bias=lstm.bias,
                bidirectional=lstm.bidirectional,
                proj_size=lstm.proj_size,
                dtype=next(lstm.parameters()).dtype,
            )
            layer.load_state_dict(
                {name.replace(f"_l{k}", "_l0"): v for name, v in state.items() if f"_l{k}" in name}
            )
            layers.append(layer)
        self.layers = torch.nn.ModuleList(layers)

    def forward(
        self,
        x: torch.Tensor,
        hx: tuple[torch.Tensor, torch.Tensor] | None,
        masks: list[torch.Tensor | None],
        lengths: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """``masks[k]`` is ``(T, N, D*H_out)`` (seq-first) or None for layer ``k``'s output."""
        unbatched = x.dim() == 2
        if unbatched:
            x = x.unsqueeze(1)
            hx = None if hx is None else (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
        elif self.batch_first:
            x = x.transpose(0, 1)
        D = self.num_directions
        hs, cs = [], []
        for k, layer in enumerate(self.layers):
            h0 = None if hx is None else (hx[0][k * D : (k + 1) * D], hx[1][k * D : (k + 1) * D])
            x, (h, c) = run_lstm(layer, x, h0, lengths)
            if masks[k] is not None:
                x = x * masks[k]
            hs.append(h)
            cs.append(c)
        h_n, c_n = torch.cat(hs), torch.cat(cs)
        if unbatched:
            return x[:, 0], (h_n[:, 0], c_n[:, 0])
        if self.batch_first:
            x = x.transpose(0, 1)
        return x, (h_n, c_n)
