"""numpy_lstm.Embedding against torch.nn.Embedding (value and gradient, repeated ids, padding_idx),
a check without torch, and its refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings

import numpy_lstm
from numpy_lstm import Embedding
from tests.strategies import embedding_cases
from torch_ref import from_torch, to_torch


@settings(max_examples=40, deadline=None)
@given(case=embedding_cases())
def test_embedding_matches_torch(case) -> None:
    emb = Embedding(
        case.num_embeddings, case.embedding_dim, padding_idx=case.padding_idx, dtype=np.float64, seed=case.seed
    )
    temb = to_torch(emb)
    assert isinstance(temb, torch.nn.Embedding) and temb.padding_idx == emb.padding_idx
    y = emb(case.ids)
    ty = temb(torch.from_numpy(case.ids))
    assert y.shape == tuple(ty.shape) == (*case.ids.shape, case.embedding_dim)
    np.testing.assert_array_equal(y, ty.detach().numpy(), err_msg="output")
    dy = np.random.default_rng(case.seed + 1).standard_normal(y.shape)
    emb.backward(dy)
    ty.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(
        emb.grads["weight"], temb.weight.grad.numpy(), rtol=1e-12, atol=1e-14, err_msg="grad weight"
    )
    if emb.padding_idx is not None:
        assert not emb.grads["weight"][emb.padding_idx].any(), "the padding row gets no gradient"


def test_repeated_ids_add_up_and_padding_row_starts_at_zero() -> None:
    """Without torch: the gradient is one_hot(ids).T @ dy, the padding row's excepted."""
    emb = Embedding(5, 3, padding_idx=-1, dtype=np.float64, seed=0)
    assert emb.padding_idx == 4 and not emb.params["weight"][4].any()
    ids = np.array([[1, 1, 4], [1, 2, 4]])
    dy = np.arange(18, dtype=np.float64).reshape(2, 3, 3) + 1
    emb(ids)
    emb.backward(dy)
    onehot = np.eye(5)[ids.ravel()]  # (6, 5)
    expected = onehot.T @ dy.reshape(6, 3)  # (5, 3)
    expected[4] = 0
    np.testing.assert_array_equal(emb.grads["weight"], expected)
    assert emb.grads["weight"][1].tolist() == (dy[0, 0] + dy[0, 1] + dy[1, 0]).tolist(), "three lookups of id 1"


def test_ids_are_copied_so_the_callers_array_cannot_change_backward() -> None:
    emb = Embedding(4, 2, dtype=np.float64, seed=1)
    ids = np.array([0, 1])
    emb(ids)
    ids[:] = 3  # after forward, the caller reuses its buffer
    emb.backward(np.ones((2, 2)))
    assert emb.grads["weight"][[0, 1]].tolist() == [[1, 1], [1, 1]] and not emb.grads["weight"][3].any()


def test_embedding_refusals() -> None:
    emb = Embedding(4, 2)
    with pytest.raises(ValueError, match="must be integer token ids, got dtype float64 \\(one-hot rows go to a Linear"):
        emb(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="got dtype bool"):
        emb(np.array([True]))
    with pytest.raises(IndexError, match=r"ids must be in \[0, 4\) \(num_embeddings\), got min -1, max 2"):
        emb(np.array([-1, 2]))
    with pytest.raises(IndexError, match="got min 0, max 4"):
        emb(np.array([0, 4]))
    with pytest.raises(RuntimeError, match="has not run"):
        Embedding(3, 2).backward(np.zeros((1, 2)))
    emb(np.array([[1, 2]]))
    with pytest.raises(ValueError, match=r"dy: expected shape \(1, 2, 2\)"):
        emb.backward(np.zeros((2, 2), np.float32))
    with numpy_lstm.no_grad():
        emb(np.array([1]))
    with pytest.raises(RuntimeError, match="no_grad"):
        emb.backward(np.zeros((1, 2), np.float32))
    for kwargs, what in [
        (dict(max_norm=1.0), "max_norm=1.0 is not implemented"),
        (dict(scale_grad_by_freq=True), "scale_grad_by_freq=True is not implemented"),
        (dict(sparse=True), "sparse=True is not implemented"),
        (dict(padding_idx=4), r"padding_idx must be within \[-4, 4\)"),
        (dict(padding_idx=1.0), "padding_idx must be an integer"),
    ]:
        with pytest.raises(ValueError, match=what):
            Embedding(4, 2, **kwargs)
    with pytest.raises(ValueError, match="max_norm=2.0 is not implemented"):
        from_torch(torch.nn.Embedding(4, 2, max_norm=2.0))


def test_embedding_from_torch_and_astype() -> None:
    t = torch.nn.Embedding(6, 3, padding_idx=2, dtype=torch.float64)
    emb = from_torch(t)
    assert isinstance(emb, Embedding) and emb.padding_idx == 2 and emb.dtype == np.float64
    np.testing.assert_array_equal(emb.params["weight"], t.weight.detach().numpy())
    emb(np.array([1, 2]))
    e32 = emb.astype(np.float32)
    assert e32.params["weight"].dtype == np.float32 and e32.dtype == np.float32
    with pytest.raises(RuntimeError, match="has not run"):
        e32.backward(np.zeros((2, 3), np.float32))  # astype drops the cache
