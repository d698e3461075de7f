"""The backend interface the training loop drives, and its NumPy implementation.

A backend owns a model and an optimiser and does three things with a :class:`~numpy_lstm_app.data.Batch`:
a training step, an evaluation (no gradients, no dropout) and a prediction.  The loop
(:mod:`numpy_lstm_app.train`) never looks inside, so one loop drives NumPy, PyTorch, or both in
lockstep.  The PyTorch backend is :class:`numpy_lstm_app.torch_backend.TorchBackend`.

Checkpoint state is backend-neutral: ``{"model.<torch name>": array, "optim.<key>": array}`` with
the NumPy optimisers' keys (``steps``, ``exp_avg.<param>``, ...), so a checkpoint written by one
backend loads in the other.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np

from numpy_lstm.clip import clip_grad_norm
from numpy_lstm.grad_mode import no_grad
from numpy_lstm.losses import cross_entropy, cross_entropy_backward
from numpy_lstm.optim import SGD, Adam, Optimizer
from numpy_lstm_app.data import Batch
from numpy_lstm_app.model import ModelConfig, NextTokenModel


class OptimConfig(NamedTuple):
    name: str = "adam"  # "adam" or "sgd"
    lr: float = 0.01
    momentum: float = 0.0  # SGD only
    weight_decay: float = 0.0
    clip: float | None = None  # global gradient-norm limit, None for no clipping


class StepResult(NamedTuple):
    """One batch's numbers.  ``loss`` is the mean over its real tokens."""

    loss: float
    correct: int  # tokens whose argmax prediction equals the target
    tokens: int  # real (non-padded) tokens


class Backend(Protocol):
    name: str

    def train_step(self, batch: Batch) -> StepResult: ...
    def evaluate(self, batch: Batch) -> StepResult: ...
    def predict(self, batch: Batch) -> np.ndarray: ...  # (T, N) int64 argmax ids
    def begin_epoch(self, seed: int, epoch: int) -> None: ...  # reseed dropout for this epoch
    def state_arrays(self) -> dict[str, np.ndarray]: ...
    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None: ...


def make_optimizer(model: NextTokenModel, cfg: OptimConfig) -> Optimizer:
    if cfg.name == "adam":
        return Adam(model, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.name == "sgd":
        return SGD(model, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', got {cfg.name!r}")


def count_correct(logits: np.ndarray, targets: np.ndarray) -> int:
    """Real tokens (targets >= 0) whose argmax logit is the target."""
    return int(((logits.argmax(-1) == targets) & (targets >= 0)).sum())


class NumpyBackend:
    """The model and optimiser in NumPy."""

    name = "numpy"

    def __init__(self, model: NextTokenModel, optim: OptimConfig) -> None:
        self.model = model
        self.optim_config = optim
        self.optimizer = make_optimizer(model, optim)

    @property
    def config(self) -> ModelConfig:
        return self.model.config

    def _x(self, batch: Batch) -> np.ndarray:
        return self.model.encode(batch.inputs, batch.lengths)  # (T, N, V) one-hot, or (T, N) ids

    def train_step(self, batch: Batch) -> StepResult:
        self.model.train()
        self.model.zero_grad()
        # Overflow is not warned about here: a non-finite loss is checked and reported by the loop.
        with np.errstate(over="ignore", invalid="ignore"):
            logits = self.model(self._x(batch), batch.lengths)  # (T, N, V)
            loss, cache = cross_entropy(logits, batch.targets)
            if np.isfinite(loss):
                self.model.backward(cross_entropy_backward(cache))
                if self.optim_config.clip is not None:
                    clip_grad_norm(self.model, self.optim_config.clip)
                self.optimizer.step()
        return StepResult(loss, count_correct(logits, batch.targets), batch.num_tokens)

    def evaluate(self, batch: Batch) -> StepResult:
        self.model.eval()
        with no_grad(), np.errstate(over="ignore", invalid="ignore"):
            logits = self.model(self._x(batch), batch.lengths)  # (T, N, V)
            loss, _ = cross_entropy(logits, batch.targets)
        return StepResult(loss, count_correct(logits, batch.targets), batch.num_tokens)

    def predict(self, batch: Batch) -> np.ndarray:
        self.model.eval()
        with no_grad():
            return self.model(self._x(batch), batch.lengths).argmax(-1)  # (T, N)

    def dropout_masks(self) -> list[np.ndarray | None]:
        """The dropout masks of the last training forward, one per layer (None: no dropout there).

        A twin that cannot draw the same masks replays these (``numpy_lstm_app.torch_backend``).
        """
        return self.model.lstm.dropout_masks

    def begin_epoch(self, seed: int, epoch: int) -> None:
        self.model.lstm.rng = np.random.default_rng([seed, epoch, 2])

    def state_arrays(self) -> dict[str, np.ndarray]:
        out = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        out.update({f"optim.{k}": v for k, v in self.optimizer.state_dict().items()})
        return out

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.model.load_state_dict({k[6:]: v for k, v in arrays.items() if k.startswith("model.")})
        self.optimizer.load_state_dict({k[6:]: v for k, v in arrays.items() if k.startswith("optim.")})
