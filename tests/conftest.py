"""Shared test setup: hypothesis profiles and a non-interactive matplotlib backend.

Profiles (choose with ``NUMPY_LSTM_HYPOTHESIS_PROFILE``):

- ``dev`` (default): a quick run for development and CI.
- ``thorough``: hundreds of examples per property, for a change to the math.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

settings.register_profile(
    "dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("NUMPY_LSTM_HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def small_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint of a small next-token model (3 epochs, hidden 12) made once by ``numpy-lstm
    train``, shared read-only by the tests of the commands that load checkpoints."""
    from numpy_lstm_app.cli import main

    out = tmp_path_factory.mktemp("train")
    assert main(["train", "--out", str(out), "--epochs", "3", "--hidden-size", "12", "--samples", "0"]) == 0
    return out / "checkpoint.npz"
