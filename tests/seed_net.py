"""The seed's model written twice, line for line: in PyTorch and as a numpy_lstm module tree.

``nn.LSTM(V, H)`` + ``nn.Linear(H, V)``, seq-first, batch of one; logits ``(T, V)`` for
``CrossEntropyLoss``.  Shared by the tests that train and compare the two.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

import numpy_lstm


class TorchNet(nn.Module):
    def __init__(self, vocab_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.lstm = nn.LSTM(vocab_size, hidden_size, dtype=torch.float64)
        self.l_out = nn.Linear(hidden_size, vocab_size, dtype=torch.float64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)  # (T, 1, H)
        out = out.view(-1, self.hidden_size)  # (T, H)
        return self.l_out(out)  # (T, V)


class Net(numpy_lstm.Module):
    def __init__(self, vocab_size: int, hidden_size: int, seed: int = 0) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.lstm = numpy_lstm.LSTM(vocab_size, hidden_size, dtype=np.float64, seed=seed)
        self.l_out = numpy_lstm.Linear(hidden_size, vocab_size, dtype=np.float64, seed=seed + 1)

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, _ = self.lstm(x)  # (T, 1, H)
        out = out.reshape(-1, self.hidden_size)  # (T, H)
        return self.l_out(out)  # (T, V)

    def backward(self, dlogits: np.ndarray) -> np.ndarray:
        dout = self.l_out.backward(dlogits)  # (T, H)
        dx, _ = self.lstm.backward(dout.reshape(-1, 1, self.hidden_size))  # (T, 1, V)
        return dx
