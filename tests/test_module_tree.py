"""Module trees: children by attribute, dotted names in PyTorch's order, views that refuse rebinding,
state dicts, modes, astype, optimisers and clipping over a tree; the seed's Net trains as in torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import numpy_lstm
from tests.seed_net import Net, TorchNet
from torch_ref import compare_with_torch, load_from_torch, load_into_torch, to_torch


def _one_hot_sequences(V: int, count: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        ids = rng.integers(0, V, size=rng.integers(3, 8))
        out.append((np.eye(V)[ids[:-1]][:, None, :], ids[1:]))  # x (T, 1, V), targets (T,)
    return out


def test_children_and_names_in_torch_order() -> None:
    net, tnet = Net(5, 4), TorchNet(5, 4)
    assert [n for n, _ in net.named_children()] == ["lstm", "l_out"]
    assert list(net.params) == [n for n, _ in tnet.named_parameters()] == list(tnet.state_dict())
    assert list(net.grads) == list(net.params)
    assert [n for n, _, _ in net.named_parameters()] == list(net.params)
    assert net.params["lstm.weight_ih_l0"] is net.lstm.params["weight_ih_l0"], "the child's array, not a copy"
    assert net.grads["l_out.bias"] is net.l_out.grads["bias"]
    assert net.num_parameters() == sum(p.numel() for p in tnet.parameters())
    assert [name for name, _ in net.named_modules()] == ["", "lstm", "l_out"]


def test_params_view_refuses_rebinding_and_allows_in_place_updates() -> None:
    net = Net(3, 2)
    w = net.params["l_out.weight"]
    with pytest.raises(TypeError, match=r"read-only view .* 'l_out.weight' cannot be rebound.*set_parameter"):
        net.params["l_out.weight"] = np.zeros((3, 2))
    with pytest.raises(TypeError, match="grads is a read-only view"):
        net.grads["lstm.bias_ih_l0"] = np.zeros(8)
    with pytest.raises(AttributeError, match="computed from the module tree"):
        net.params = {}
    net.params["l_out.weight"] += 1.0  # in place, then the same array handed back: accepted
    assert net.params["l_out.weight"] is w and net.l_out.params["weight"] is w
    with pytest.raises(KeyError):
        net.params["l_out.nothing"]
    other = np.ones((3, 2))
    net.set_parameter("l_out.weight", other)  # rebinding, on purpose
    assert net.l_out.params["weight"] is other
    with pytest.raises(ValueError, match=r"must be an ndarray \(3, 2\) float64, got \(2, 3\) float64"):
        net.set_parameter("l_out.weight", np.ones((2, 3)))
    with pytest.raises(KeyError, match="no parameter 'lstm.nope'"):
        net.set_parameter("lstm.nope", other)


def test_assigning_replacing_and_removing_children() -> None:
    class Holder(numpy_lstm.Module):
        def __init__(self) -> None:
            self.fc = numpy_lstm.Linear(2, 2)  # before super().__init__(): refused

    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\) first in Holder.__init__"):
        Holder()
    net = Net(3, 2)
    net.l_out = numpy_lstm.Linear(2, 3, bias=False, dtype=np.float64)  # the classic omission
    assert list(net.params)[-1] == "l_out.weight" and "l_out.bias" not in net.params
    net.extra = numpy_lstm.Linear(1, 1, dtype=np.float64)
    assert list(net.params)[-1] == "extra.bias"
    del net.extra
    net.l_out = None  # a plain value replaces a child: it leaves the tree
    assert [n for n, _ in net.named_children()] == ["lstm"] and net.l_out is None


def test_state_dict_round_trip_is_all_or_nothing_over_the_tree() -> None:
    net, other = Net(4, 3, seed=0), Net(4, 3, seed=5)
    state = net.state_dict()
    assert list(state) == list(net.params) and state["lstm.weight_hh_l0"] is not net.params["lstm.weight_hh_l0"]
    keep = other.state_dict()
    bad = dict(state, **{"l_out.bias": np.zeros(5)})
    with pytest.raises(ValueError, match=r"'l_out.bias' has shape \(5,\), expected \(4,\)"):
        other.load_state_dict(bad)
    for name in keep:
        np.testing.assert_array_equal(other.params[name], keep[name], err_msg=f"{name} changed by a refused load")
    with pytest.raises(ValueError, match=r"missing \['l_out.bias'\]"):
        other.load_state_dict({k: v for k, v in state.items() if k != "l_out.bias"})
    other.load_state_dict(state)
    for name in state:
        np.testing.assert_array_equal(other.params[name], state[name], err_msg=name)


def test_modes_zero_grad_and_astype_recurse() -> None:
    net = Net(3, 2)
    net.eval()
    assert not net.training and not net.lstm.training and not net.l_out.training
    net.train()
    assert net.lstm.training
    for bad in (0, 1, "False", None):
        with pytest.raises(ValueError, match="training mode is expected to be boolean"):
            net.train(bad)
    x, y = _one_hot_sequences(3, 1, 0)[0]
    loss, cache = numpy_lstm.cross_entropy(net(x), y)
    net.backward(numpy_lstm.cross_entropy_backward(cache))
    assert all(g.any() for g in net.grads.values())
    net.zero_grad()
    assert not any(g.any() for g in net.grads.values())
    net(x)
    n32 = net.astype(np.float32)
    assert n32.lstm.dtype == np.float32 and n32.l_out.dtype == np.float32
    assert all(v.dtype == np.float32 for v in n32.params.values())
    assert all(v.dtype == np.float64 for v in net.params.values()), "the original is left alone"
    assert n32.params["lstm.weight_ih_l0"] is n32.lstm.params["weight_ih_l0"]
    with pytest.raises(RuntimeError, match="has not run"):
        n32.l_out.backward(np.zeros((x.shape[0], 3), np.float32))  # caches dropped by each module's hook
    net.backward(numpy_lstm.cross_entropy_backward(cache))  # the original's caches are intact


def test_optimisers_and_clipping_take_the_tree_and_a_shared_twin_sees_the_updates() -> None:
    net = Net(4, 3)
    tnet = to_torch(net, share_memory=True)  # a TorchTree viewing the same arrays
    assert [n for n, _ in tnet.named_parameters()] == list(net.params)
    opt = numpy_lstm.Adam(net, lr=0.1)
    x, y = _one_hot_sequences(4, 1, 1)[0]
    before = {k: v.copy() for k, v in net.params.items()}
    _, cache = numpy_lstm.cross_entropy(net(x), y)
    net.backward(numpy_lstm.cross_entropy_backward(cache))
    norm = numpy_lstm.clip_grad_norm(net, 0.01)
    assert norm > 0.01
    total = np.sqrt(sum(float((g**2).sum()) for g in net.grads.values()))
    np.testing.assert_allclose(total, 0.01, rtol=1e-4)
    opt.step()
    for name, p in tnet.named_parameters():
        assert not np.array_equal(net.params[name], before[name]), f"{name} was not updated"
        np.testing.assert_array_equal(p.detach().numpy(), net.params[name], err_msg=f"twin sees {name}")
    assert set(opt.state_dict()) == {"steps"} | {f"{s}.{n}" for s in ("exp_avg", "exp_avg_sq") for n in net.params}


def test_a_submodule_under_two_names_is_stepped_once_as_in_torch() -> None:
    """torch lists a shared submodule's parameters once (``named_parameters``, ``parameters``), so
    its optimisers step them once and clipping counts them once; its ``state_dict`` keeps both
    names.  The tree here did the same: each array was stepped twice before."""

    class Shared(numpy_lstm.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = numpy_lstm.Linear(3, 2, dtype=np.float64, seed=0)
            self.b = self.a

    class TorchShared(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = torch.nn.Linear(3, 2, dtype=torch.float64)
            self.b = self.a

    net, tnet = Shared(), TorchShared()
    assert list(net.params) == list(tnet.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]
    assert [n for n, _, _ in net.named_parameters()] == [n for n, _ in tnet.named_parameters()]
    assert net.num_parameters() == sum(p.numel() for p in tnet.parameters()) == 8
    with torch.no_grad():
        for name, p in tnet.a.named_parameters():
            p.copy_(torch.from_numpy(net.a.params[name]))
    rng = np.random.default_rng(0)
    grads = {name: rng.standard_normal(g.shape) for name, g in net.a.grads.items()}
    for make, tmake in [
        (lambda m: numpy_lstm.SGD(m, lr=0.1, momentum=0.9, weight_decay=0.01),
         lambda m: torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)),
        (lambda m: numpy_lstm.Adam(m, lr=0.1), lambda m: torch.optim.Adam(m.parameters(), lr=0.1)),
    ]:
        opt, topt = make(net), tmake(tnet)
        for _ in range(3):
            for name, g in grads.items():
                net.a.grads[name][...] = g
                getattr(tnet.a, name).grad = torch.from_numpy(g.copy())
            total = numpy_lstm.clip_grad_norm(net, 1.0)
            ttotal = torch.nn.utils.clip_grad_norm_(tnet.parameters(), 1.0)
            np.testing.assert_allclose(total, float(ttotal), rtol=1e-12)
            opt.step()
            topt.step()
        for name, p in tnet.a.named_parameters():
            np.testing.assert_allclose(net.a.params[name], p.detach().numpy(), rtol=1e-12, atol=1e-15, err_msg=name)


@pytest.mark.parametrize("optimiser", ["sgd", "adam"])
def test_a_part_that_sits_out_steps_moves_as_with_torchs_set_to_none_false(optimiser) -> None:
    """The documented semantics: gradients are arrays, zeroed in place, so the optimisers match
    torch's after ``zero_grad(set_to_none=False)``, also for a part that no backward reaches."""

    class Two(numpy_lstm.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = numpy_lstm.Linear(3, 2, dtype=np.float64, seed=0)
            self.b = numpy_lstm.Linear(3, 2, dtype=np.float64, seed=1)

    net = Two()
    tnet = torch.nn.ModuleDict({k: torch.nn.Linear(3, 2, dtype=torch.float64) for k in "ab"})
    with torch.no_grad():
        for part in "ab":
            for name, p in tnet[part].named_parameters():
                p.copy_(torch.from_numpy(getattr(net, part).params[name]))
                p.grad = torch.zeros_like(p)
    if optimiser == "sgd":
        opt = numpy_lstm.SGD(net, lr=0.1, momentum=0.9, weight_decay=0.01)
        topt = torch.optim.SGD(tnet.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
    else:
        opt = numpy_lstm.Adam(net, lr=0.1, weight_decay=0.01)
        topt = torch.optim.Adam(tnet.parameters(), lr=0.1, weight_decay=0.01)
    rng = np.random.default_rng(0)
    for step in range(4):
        net.zero_grad()
        topt.zero_grad(set_to_none=False)
        for part in ("ab" if step == 0 else "a"):  # b sits out every step after the first
            for name, p in tnet[part].named_parameters():
                g = rng.standard_normal(p.shape)
                getattr(net, part).grads[name][...] += g
                p.grad += torch.from_numpy(g)
        opt.step()
        topt.step()
    for part in "ab":
        for name, p in tnet[part].named_parameters():
            np.testing.assert_allclose(
                getattr(net, part).params[name], p.detach().numpy(), rtol=1e-12, atol=1e-15, err_msg=f"{part}.{name}"
            )


def test_tied_weights_are_refused() -> None:
    """One array under two names with two gradients (tied weights) would be stepped as two
    parameters, where torch sums the gradients into one: refused, naming both."""
    net = Net(4, 3)
    shared = np.zeros_like(net.params["l_out.weight"])
    net.set_parameter("l_out.weight", shared)  # an array of its own: fine
    with pytest.raises(ValueError, match=r"'l_out\.bias' shares memory with parameter 'lstm\.bias_ih_l0'"):
        net.set_parameter("l_out.bias", net.params["lstm.bias_ih_l0"][:4])
    with pytest.raises(ValueError, match="tied weights are not supported"):
        net.set_parameter("lstm.bias_hh_l0", net.params["lstm.bias_ih_l0"])
    assert net.params["l_out.weight"] is shared
    net.set_parameter("l_out.weight", net.params["l_out.weight"])  # itself again: fine


def test_seed_net_compares_by_name_with_the_torch_net() -> None:
    net, tnet = Net(5, 6, seed=2), TorchNet(5, 6)
    x, y = _one_hot_sequences(5, 1, 3)[0]
    report = compare_with_torch(net, x, torch_module=tnet, target=y, loss="cross_entropy")
    assert report.names == ["output", "loss", "dx"] + [f"grad {n}" for n in net.params]
    report.assert_close(rtol=1e-10, atol=1e-13)
    bad = Net(5, 6, seed=2)
    bad.l_out = numpy_lstm.Linear(6, 5, bias=False, dtype=np.float64)
    with pytest.raises(
        ValueError, match=r"nothing was written, the two trees differ: not in the NumPy tree: \['l_out.bias'\]$"
    ):
        compare_with_torch(bad, x, torch_module=tnet, target=y, loss="cross_entropy")
    with pytest.raises(ValueError, match="pass its torch version as torch_module="):
        compare_with_torch(net, x)


def test_seed_net_trains_identically_to_the_torch_net() -> None:
    """float64, Adam, batch of one, 3 epochs: every loss within 1e-9 of torch's."""
    V, H = 6, 8
    net, tnet = Net(V, H, seed=0), TorchNet(V, H)
    load_into_torch(tnet, net)  # same starting weights, by name
    opt, topt = numpy_lstm.Adam(net, lr=0.01), torch.optim.Adam(tnet.parameters(), lr=0.01)
    criterion = torch.nn.CrossEntropyLoss()
    data = _one_hot_sequences(V, 8, 4)
    losses = []
    for _epoch in range(3):
        for x, y in data:
            net.zero_grad()
            loss, cache = numpy_lstm.cross_entropy(net(x), y)
            net.backward(numpy_lstm.cross_entropy_backward(cache))
            opt.step()
            topt.zero_grad()
            tloss = criterion(tnet(torch.from_numpy(x)), torch.from_numpy(y))
            tloss.backward()
            topt.step()
            losses.append((loss, tloss.item()))
    ours, theirs = np.array(losses).T
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9, err_msg="loss per step")
    assert ours[-8:].mean() < ours[:8].mean(), "and it learns"
    for name, p in tnet.named_parameters():
        np.testing.assert_allclose(net.params[name], p.detach().numpy(), rtol=0, atol=1e-9, err_msg=name)
    back = Net(V, H, seed=9)
    load_from_torch(back, tnet)
    for name, p in tnet.named_parameters():
        np.testing.assert_array_equal(back.params[name], p.detach().numpy(), err_msg=f"back {name}")


class _Tagger(numpy_lstm.Module):
    """Embedding -> 2-layer LSTM -> Linear, on integer ids (no input gradient to compare)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = numpy_lstm.Embedding(7, 3, padding_idx=0, dtype=np.float64, seed=0)
        self.lstm = numpy_lstm.LSTM(3, 4, num_layers=2, dropout=0.5, dtype=np.float64, seed=1)
        self.head = numpy_lstm.Linear(4, 2, dtype=np.float64, seed=2)

    def forward(self, ids: np.ndarray) -> np.ndarray:
        out, _ = self.lstm(self.embed(ids))  # (T, N, 4)
        return self.head(out)  # (T, N, 2)

    def backward(self, dy: np.ndarray) -> None:
        dx, _ = self.lstm.backward(self.head.backward(dy))
        self.embed.backward(dx)


class _TorchTagger(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(7, 3, padding_idx=0, dtype=torch.float64)
        self.lstm = torch.nn.LSTM(3, 4, num_layers=2, dropout=0.5, dtype=torch.float64)
        self.head = torch.nn.Linear(4, 2, dtype=torch.float64)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(self.embed(ids))[0])


def test_a_tree_on_token_ids_compares_with_a_random_upstream_gradient() -> None:
    tagger, ids = _Tagger(), np.random.default_rng(0).integers(0, 7, size=(5, 3))
    with pytest.raises(ValueError, match=r"LSTM with dropout in training mode.*module.eval\(\)"):
        compare_with_torch(tagger, ids, torch_module=_TorchTagger())
    tagger.eval()
    report = compare_with_torch(tagger, ids, torch_module=_TorchTagger(), seed=3)
    assert report.names == ["output"] + [f"grad {n}" for n in tagger.params], "integer input: no dx"
    assert report["grad embed.weight"].scale > 0
    report.assert_close(rtol=1e-10, atol=1e-13)


def test_lstm_zero_grad_reaches_what_is_attached_below_it() -> None:
    """``LSTM.zero_grad`` zeroes its own gradients without the tree walk, and still walks the tree
    when a module was attached below the LSTM."""
    lstm = numpy_lstm.LSTM(2, 3, dtype=np.float64, seed=0)
    for g in lstm.grads.values():
        g.fill(1.0)
    lstm.zero_grad()
    assert not any(g.any() for g in lstm.grads.values())
    lstm.head = numpy_lstm.Linear(3, 2, dtype=np.float64, seed=1)
    for g in lstm.grads.values():
        g.fill(1.0)
    lstm.zero_grad()
    assert "head.weight" in lstm.grads
    assert not any(g.any() for g in lstm.grads.values())
