"""Shared test setup: hypothesis profiles and a non-interactive matplotlib backend.

Profiles (choose with ``NUMPY_LSTM_HYPOTHESIS_PROFILE``):

- ``dev`` (default): a quick run for development and CI.
- ``thorough``: hundreds of examples per property, for a change to the math.
"""

from __future__ import annotations

import os

import matplotlib
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

settings.register_profile(
    "dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("NUMPY_LSTM_HYPOTHESIS_PROFILE", "dev"))
