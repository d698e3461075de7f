"""The PyTorch backend of the training loop: :class:`numpy_lstm_app.torch_model.Net`, ``torch.optim`` and
``clip_grad_norm_``, behind the same interface as :class:`numpy_lstm_app.backend.NumpyBackend`.

It uses CUDA when available (``device="auto"``), CPU otherwise.  Its checkpoint state is written
in the NumPy optimisers' format (``optim.steps``, ``optim.exp_avg.<param>``, ...) and read back
from it, so checkpoints move freely between the two backends.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from numpy_lstm.losses import IGNORE_INDEX
from numpy_lstm_app.backend import OptimConfig, StepResult
from numpy_lstm_app.data import Batch
from numpy_lstm_app.model import NextTokenModel, encode_inputs
from numpy_lstm_app.torch_model import net_from_numpy

MaskSource = Callable[[], list[np.ndarray | None]]

_SLOTS = {"adam": ("exp_avg", "exp_avg_sq"), "sgd": ("momentum_buffer",)}


def pick_device(device: str = "auto") -> torch.device:
    """``"auto"``: CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for, but torch.cuda.is_available() is False")
    return torch.device(device)


class TorchBackend:
    """The model (a copy of ``model``'s initial weights) and optimiser in PyTorch."""

    name = "torch"

    def __init__(
        self,
        model: NextTokenModel,
        optim: OptimConfig,
        device: str = "auto",
        seed: int = 0,
        cpu_threads: int | None = None,
        mask_source: MaskSource | None = None,
    ) -> None:
        """``cpu_threads``: if given and the device is the CPU, set torch's (process-wide) thread count.

        ``mask_source``: with dropout, a function giving the dropout masks of the NumPy model's last
        training forward (one per layer); the twin then replays them
        (:func:`torch_ref.masked_lstm_forward`) instead of drawing its own, so that the two can train in lockstep.
        """
        torch.manual_seed(seed)
        self.device = pick_device(device)
        if cpu_threads is not None and self.device.type == "cpu":
            torch.set_num_threads(cpu_threads)
        self.config = model.config
        self.optim_config = optim
        self.mask_source = mask_source if model.config.dropout > 0 else None
        self.net = net_from_numpy(model).to(self.device)  # same names as the NumPy model's parameters
        self.names = [name for name, _ in self.net.named_parameters()]  # in the torch optimiser's order
        params = list(self.net.parameters())
        if optim.name == "adam":
            self.optimizer: torch.optim.Optimizer = torch.optim.Adam(
                params, lr=optim.lr, weight_decay=optim.weight_decay
            )
        elif optim.name == "sgd":
            self.optimizer = torch.optim.SGD(
                params, lr=optim.lr, momentum=optim.momentum, weight_decay=optim.weight_decay
            )
        else:
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optim.name!r}")
        self.steps = 0

    def _inputs(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = encode_inputs(self.config, batch.inputs, batch.lengths)  # (T, N, V) one-hot, or (T, N) ids
        return (
            torch.from_numpy(x).to(self.device),
            torch.from_numpy(batch.lengths),  # stays on the CPU, as pack_padded_sequence wants
            torch.from_numpy(batch.targets).to(self.device),  # (T, N)
        )

    def _result(self, loss: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor, batch: Batch) -> StepResult:
        correct = ((logits.argmax(-1) == targets) & (targets != IGNORE_INDEX)).sum()
        return StepResult(loss.item(), int(correct.item()), batch.num_tokens)

    def _loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        V = self.config.vocab_size
        return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=IGNORE_INDEX)

    def train_step(self, batch: Batch) -> StepResult:
        x, lengths, targets = self._inputs(batch)
        self.net.train()
        self.optimizer.zero_grad()
        if self.mask_source is not None:
            masks = [None if m is None else torch.from_numpy(m).to(self.device) for m in self.mask_source()]
            logits = self.net(x, lengths, masks)  # (T, N, V)
        else:
            logits = self.net(x, lengths)  # (T, N, V)
        loss = self._loss(logits, targets)
        if torch.isfinite(loss):
            loss.backward()
            if self.optim_config.clip is not None:
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.optim_config.clip)
            self.optimizer.step()
            self.steps += 1
        return self._result(loss.detach(), logits.detach(), targets, batch)

    def evaluate(self, batch: Batch) -> StepResult:
        x, lengths, targets = self._inputs(batch)
        self.net.eval()
        with torch.no_grad():
            logits = self.net(x, lengths)
            return self._result(self._loss(logits, targets), logits, targets, batch)

    def predict(self, batch: Batch) -> np.ndarray:
        x, lengths, _ = self._inputs(batch)
        self.net.eval()
        with torch.no_grad():
            return self.net(x, lengths).argmax(-1).cpu().numpy()  # (T, N)

    def begin_epoch(self, seed: int, epoch: int) -> None:
        torch.manual_seed(int(np.random.SeedSequence([seed, epoch, 3]).generate_state(1)[0]))

    # --- checkpoint state in the backend-neutral format ------------------------------------------
    def state_arrays(self) -> dict[str, np.ndarray]:
        out = {f"model.{k}": v.detach().cpu().numpy().copy() for k, v in self.net.state_dict().items()}
        out["optim.steps"] = np.array(self.steps, dtype=np.int64)
        state = self.optimizer.state_dict()["state"]
        for i, name in enumerate(self.names):
            for slot in _SLOTS[self.optim_config.name]:
                value = state.get(i, {}).get(slot)
                if value is not None:
                    out[f"optim.{slot}.{name}"] = value.detach().cpu().numpy().copy()
        return out

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        model = {k[6:]: torch.from_numpy(np.array(v)) for k, v in arrays.items() if k.startswith("model.")}
        self.net.load_state_dict(model)  # checks names and shapes
        steps = int(arrays["optim.steps"])
        state: dict[int, dict[str, torch.Tensor]] = {}
        for i, name in enumerate(self.names):
            entry = {}
            for slot in _SLOTS[self.optim_config.name]:
                key = f"optim.{slot}.{name}"
                if key in arrays:
                    entry[slot] = torch.from_numpy(np.array(arrays[key])).to(self.device)
            if entry:
                if self.optim_config.name == "adam":
                    entry["step"] = torch.tensor(float(steps), dtype=torch.float32)
                state[i] = entry
        groups = self.optimizer.state_dict()["param_groups"]
        self.optimizer.load_state_dict({"state": state, "param_groups": groups})
        self.steps = steps
