"""Linear, cross-entropy, softmax, SGD, Adam and gradient clipping against PyTorch (float64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import numpy_lstm
from numpy_lstm.losses import IGNORE_INDEX, cross_entropy, cross_entropy_backward, log_softmax, softmax

TOL = dict(rtol=1e-12, atol=1e-12)


def _t(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


@settings(deadline=None)
@given(
    lead=st.lists(st.integers(1, 4), min_size=0, max_size=2),
    I=st.integers(1, 6),
    O=st.integers(1, 6),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_linear_matches_torch(lead: list[int], I: int, O: int, bias: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    lin = numpy_lstm.Linear(I, O, bias=bias, dtype=np.float64, seed=seed)
    ref = torch.nn.Linear(I, O, bias=bias, dtype=torch.float64)
    ref.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in lin.params.items()})
    x = rng.standard_normal((*lead, I))
    dy = rng.standard_normal((*lead, O))  # random upstream gradient
    y = lin(x)
    dx = lin.backward(dy)
    xt = _t(x, grad=True)
    yt = ref(xt)
    yt.backward(_t(dy))
    assert y.shape == tuple(yt.shape), "output shape"
    np.testing.assert_allclose(y, yt.detach().numpy(), **TOL, err_msg="output")
    np.testing.assert_allclose(dx, xt.grad.numpy(), **TOL, err_msg="dx")
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(lin.grads[name], p.grad.numpy(), **TOL, err_msg=f"grad {name}")


def test_linear_init_range_and_errors() -> None:
    lin = numpy_lstm.Linear(16, 3, seed=0)
    assert lin.params["weight"].dtype == np.float32
    assert np.abs(lin.params["weight"]).max() <= 0.25 and np.abs(lin.params["bias"]).max() <= 0.25
    assert np.abs(lin.params["bias"]).min() > 0, "bias starts non-zero, as in torch"
    with pytest.raises(ValueError, match=r"expected shape \(\.\.\., 16\).*got \(2, 15\)"):
        lin(np.zeros((2, 15), np.float32))
    with pytest.raises(RuntimeError, match="no_grad"):
        with numpy_lstm.no_grad():
            lin(np.zeros((2, 16), np.float32))
        lin.backward(np.zeros((2, 3), np.float32))


@settings(deadline=None)
@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=2),
    C=st.integers(2, 7),
    seed=st.integers(0, 2**16),
    scale=st.sampled_from([1.0, 30.0, 1000.0]),
)
def test_cross_entropy_matches_torch(shape: list[int], C: int, seed: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((*shape, C)) * scale  # large scales test the max-shift
    targets = rng.integers(0, C, size=shape)
    targets[rng.random(shape) < 0.3] = IGNORE_INDEX  # padded positions
    targets.flat[0] = 1  # at least one real token
    dloss = float(rng.uniform(0.5, 2.0))
    loss, cache = cross_entropy(logits, targets)
    dlogits = cross_entropy_backward(cache, dloss)
    lt = _t(logits, grad=True)
    ref = torch.nn.functional.cross_entropy(lt.reshape(-1, C), torch.from_numpy(targets).reshape(-1))
    (ref * dloss).backward()
    assert np.isfinite(loss)
    np.testing.assert_allclose(loss, ref.item(), rtol=1e-12, atol=1e-12, err_msg="loss")
    np.testing.assert_allclose(dlogits, lt.grad.numpy(), **TOL, err_msg="dlogits")
    assert np.all(dlogits[targets == IGNORE_INDEX] == 0), "ignored rows get no gradient"


def test_softmax_properties_and_torch() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5)) * 500
    p = softmax(x)
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(p, torch.softmax(_t(x), -1).numpy(), **TOL)
    np.testing.assert_allclose(log_softmax(x), torch.log_softmax(_t(x), -1).numpy(), **TOL)


def test_cross_entropy_errors() -> None:
    with pytest.raises(ValueError, match=r"expected targets of shape \(2, 3\).*got \(3, 2\)"):
        cross_entropy(np.zeros((2, 3, 4)), np.zeros((3, 2), np.int64))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        cross_entropy(np.zeros((2, 4)), np.array([0, 4]))
    with pytest.raises(ValueError, match="every target is ignore_index"):
        cross_entropy(np.zeros((2, 4)), np.array([IGNORE_INDEX, IGNORE_INDEX]))
    with pytest.raises(ValueError, match="integer class ids"):
        cross_entropy(np.zeros((2, 4)), np.array([0.0, 1.0]))


class _Leaf(numpy_lstm.Module):
    def __init__(self, rng: np.random.Generator, shapes: dict[str, tuple[int, ...]]) -> None:
        super().__init__()
        for name, shape in shapes.items():
            self._add_param(name, rng.standard_normal(shape))


class _Params(numpy_lstm.Module):
    """A tree of parameters to optimise (``a.weight``, ``a.bias``, ``b.weight``), random values."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.a = _Leaf(rng, {"weight": (3, 4), "bias": (3,)})
        self.b = _Leaf(rng, {"weight": (2, 3)})


def _run_both(make_np, make_torch, seed: int, steps: int, clip: float | None):
    """Apply the same random gradients for ``steps`` steps to both; compare every tensor by name."""
    rng = np.random.default_rng(seed + 7)
    mod = _Params(seed)
    tparams = {k: torch.nn.Parameter(torch.from_numpy(v.copy())) for k, v in mod.params.items()}
    opt, topt = make_np(mod), make_torch(list(tparams.values()))
    for step in range(steps):
        for name, tp in tparams.items():
            g = rng.standard_normal(tp.shape) * 3
            mod.grads[name][...] = g
            tp.grad = torch.from_numpy(g.copy())
        if clip is not None:
            n1 = numpy_lstm.clip_grad_norm(mod, clip)
            n2 = torch.nn.utils.clip_grad_norm_(list(tparams.values()), clip)
            np.testing.assert_allclose(n1, n2.item(), rtol=1e-13, err_msg=f"total norm, step {step}")
        opt.step()
        topt.step()
        for name, tp in tparams.items():
            np.testing.assert_allclose(
                mod.params[name], tp.detach().numpy(), rtol=1e-12, atol=1e-13, err_msg=f"param {name} after step {step}"
            )
    return mod, opt, tparams, topt


@settings(max_examples=15, deadline=None)
@given(
    lr=st.floats(1e-3, 0.5),
    momentum=st.sampled_from([0.0, 0.5, 0.9]),
    dampening=st.sampled_from([0.0, 0.3]),
    weight_decay=st.sampled_from([0.0, 0.01]),
    nesterov=st.booleans(),
    clip=st.sampled_from([None, 0.5, 100.0]),
    seed=st.integers(0, 1000),
)
def test_sgd_matches_torch(lr, momentum, dampening, weight_decay, nesterov, clip, seed) -> None:
    if nesterov and (momentum == 0 or dampening != 0):
        nesterov = False
    kw = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
    _run_both(lambda m: numpy_lstm.SGD(m, **kw), lambda p: torch.optim.SGD(p, **kw), seed, 6, clip)


@settings(max_examples=15, deadline=None)
@given(
    lr=st.floats(1e-4, 0.1),
    beta1=st.sampled_from([0.0, 0.9]),
    beta2=st.sampled_from([0.9, 0.999]),
    eps=st.sampled_from([1e-8, 1e-3]),
    weight_decay=st.sampled_from([0.0, 0.05]),
    clip=st.sampled_from([None, 1.0]),
    seed=st.integers(0, 1000),
)
def test_adam_matches_torch(lr, beta1, beta2, eps, weight_decay, clip, seed) -> None:
    kw = dict(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)
    mod, opt, tparams, topt = _run_both(
        lambda m: numpy_lstm.Adam(m, **kw), lambda p: torch.optim.Adam(p, **kw), seed, 6, clip
    )
    for i, name in enumerate(tparams):
        for slot in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_allclose(
                opt.state[slot][name],
                topt.state_dict()["state"][i][slot].numpy(),
                rtol=1e-12,
                atol=1e-14,
                err_msg=f"{slot} {name}",
            )


@pytest.mark.parametrize(
    "make", [lambda m: numpy_lstm.Adam(m, lr=0.01), lambda m: numpy_lstm.SGD(m, lr=0.1, momentum=0.9)]
)
def test_optimizer_state_round_trip_continues_identically(make) -> None:
    rng = np.random.default_rng(5)
    grads = [{k: rng.standard_normal(v.shape) for k, v in _Params(0).params.items()} for _ in range(6)]

    def steps(mod: _Params, opt, gs) -> None:
        for g in gs:
            for name, value in g.items():
                mod.grads[name][...] = value
            opt.step()

    mod = _Params(3)
    opt = make(mod)
    steps(mod, opt, grads)  # uninterrupted
    half = _Params(3)
    half_opt = make(half)
    steps(half, half_opt, grads[:3])
    resumed = _Params(99)  # different values: everything must come from the state dicts
    resumed.load_state_dict(half.state_dict())
    resumed_opt = make(resumed)
    resumed_opt.load_state_dict(half_opt.state_dict())
    steps(resumed, resumed_opt, grads[3:])
    for name in mod.params:
        np.testing.assert_array_equal(resumed.params[name], mod.params[name], err_msg=name)


def test_optimizer_errors() -> None:
    mod = _Params(0)
    with pytest.raises(ValueError, match=r"lr must be in \[0.0, inf\), got -0.1"):
        numpy_lstm.SGD(mod, lr=-0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        numpy_lstm.SGD(mod, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"betas\[1\]"):
        numpy_lstm.Adam(mod, betas=(0.9, 1.0))
    opt = numpy_lstm.Adam(mod)
    with pytest.raises(ValueError, match="unexpected entry 'exp_avg.nope'"):
        opt.load_state_dict({"steps": np.array(1), "exp_avg.nope": np.zeros(3)})
    with pytest.raises(ValueError, match="max_norm must be a positive number"):
        numpy_lstm.clip_grad_norm(mod, 0.0)


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, float("inf")])
def test_clip_norm_types_match_torch(norm_type: float) -> None:
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(s) for s in [(3, 4), (5,), (2, 2)]]
    tgrads = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in grads]
    for tp, g in zip(tgrads, grads, strict=True):
        tp.grad = torch.from_numpy(g.copy())
    total = numpy_lstm.clip_grad_norm(grads, 0.7, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tgrads, 0.7, norm_type)
    np.testing.assert_allclose(total, ttotal.item(), rtol=1e-13)
    for g, tp in zip(grads, tgrads, strict=True):
        np.testing.assert_allclose(g, tp.grad.numpy(), rtol=1e-13, atol=1e-15)
