"""Every ablation variant (textbook -> shipped layer) gives the shipped layer's numbers."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.variants import VARIANTS
from tests.strategies import random_layer_weights


@pytest.mark.parametrize("N", [1, 3])  # N = 1: one_sequence and shipped take single.py, the others not
@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_equals_shipped_layer(name: str, N: int) -> None:
    rng = np.random.default_rng(3)
    T, I, H = 5, 4, 6
    x = rng.standard_normal((T, N, I))  # (T, N, I)
    h0 = rng.standard_normal((N, H))
    c0 = rng.standard_normal((N, H))
    w = random_layer_weights(rng, I, H)[:4]  # W_ih, W_hh, b_ih, b_hh
    dy = rng.standard_normal((T, N, H))
    ref = VARIANTS["shipped"](x, h0, c0, w, dy)
    out = VARIANTS[name](x, h0, c0, w, dy)
    assert set(out) == set(ref)
    for key in ref:
        assert out[key].shape == ref[key].shape, key
        np.testing.assert_allclose(out[key], ref[key], rtol=1e-12, atol=1e-12, err_msg=key)
