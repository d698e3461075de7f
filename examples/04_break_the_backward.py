# %% [markdown]
# # Break the backward pass on purpose, and watch the parity tools find the term
#
# Each experiment below takes the *real* source of a backward function, changes one line of it
# (the kind of slip anyone makes when deriving BPTT by hand), and runs the parity tools on the
# broken version. The point is to learn to read their reports: which tensors differ, and which
# gate rows of a weight gradient differ, names the term that is wrong.
#
# Read beside `docs/derivation.md`, which derives every term changed here.

# %%
import inspect
from unittest import mock

import numpy as np
import torch

import numpy_lstm
import numpy_lstm.lstm_cell
from numpy_lstm.functional import GATE_ORDER, cell, split_gates, textbook
from torch_ref import compare_with_torch, to_torch


def broken_copy(func, old: str, new: str):
    """``func`` recompiled from its source with the line fragment ``old`` replaced by ``new``."""
    source = inspect.getsource(func)
    assert source.count(old) == 1, f"{old!r} should occur once in {func.__name__}"
    namespace = dict(inspect.getmodule(func).__dict__)
    exec(compile(source.replace(old, new), f"<broken {func.__name__}>", "exec"), namespace)
    return namespace[func.__name__]


def gates_that_differ(ours: np.ndarray, theirs: np.ndarray, tol: float = 1e-9) -> str:
    """Which gate blocks (rows i | f | g | o of a (4H, ...) gradient) differ."""
    blocks = zip(GATE_ORDER, split_gates(ours.T), split_gates(theirs.T), strict=True)
    return "".join(name for name, a, b in blocks if np.abs(a - b).max() > tol * max(np.abs(b).max(), 1e-30)) or "-"


rng = np.random.default_rng(0)
N, I, H = 3, 4, 5
cell_module = numpy_lstm.LSTMCell(I, H, dtype=np.float64, seed=0)
x = rng.standard_normal((N, I))
hx = (rng.standard_normal((N, H)), rng.standard_normal((N, H)))

# %% [markdown]
# ## The correct backward: every tensor agrees with torch to ~1e-16
#
# `compare_with_torch` runs the module and a torch twin with the same weights, sends the same
# random upstream gradients into `h` *and* `c`, and compares every output and gradient by name.

# %%
report = compare_with_torch(cell_module, x, hx)
print(report)
report.assert_close(rtol=1e-9)

# %% [markdown]
# ## Three one-line bugs in one step's backward
#
# Each bug replaces one line of `numpy_lstm.functional.cell.cell_backward`. For each, the table
# lists the tensors that differ from torch and, for the weight gradients, which gate rows.


# %%
BUGS = {
    "forgot the forget gate on the way back (dc_prev = dc)": ("dc_prev = dc * f", "dc_prev = dc"),
    "forgot tanh' in m = o * tanh(c)": ("dc = dc + dm * o * (1.0 - tanh_c**2)", "dc = dc + dm * o"),
    "sigmoid' of the forget gate without its f factor": ("df * f * (1.0 - f)", "df * (1.0 - f)"),
}


def diagnose(bug: str, old: str, new: str) -> dict:
    broken = broken_copy(cell.cell_backward, old, new)
    with mock.patch.object(numpy_lstm.lstm_cell, "cell_backward", broken):
        rep = compare_with_torch(cell_module, x, hx)
        ours = {k: g.copy() for k, g in cell_module.grads.items()}
    twin = to_torch(cell_module)  # torch's gradients of the weights, to split them by gate
    xt, h0, c0 = (torch.tensor(a, requires_grad=True) for a in (x, *hx))
    h, c = twin(xt, (h0, c0))
    dh, dc = np.random.default_rng(0).standard_normal((2, N, H))  # compare_with_torch's draws (seed 0)
    torch.autograd.backward([h, c], [torch.tensor(dh), torch.tensor(dc)])
    wrong = [r.name for r in rep.rows if r.max_rel > 1e-9]
    rows = {name: gates_that_differ(ours[name], p.grad.numpy()) for name, p in twin.named_parameters()}
    print(f"\n{bug}\n  {old}  ->  {new}")
    print(f"  tensors that differ: {', '.join(wrong)}")
    print(f"  gate rows that differ: {rows}")
    return {"wrong": wrong, "rows": rows}


results = {bug: diagnose(bug, *change) for bug, change in BUGS.items()}

# %% [markdown]
# Reading the three reports:
#
# * **`dc_prev = dc`**: only `dc_0` differs. Everything in this step is right; only what it
#   sends back through the cell state is wrong. Over many steps this bug would spread to every
#   earlier step, which is why a one-step test pins it down best.
# * **no `tanh'`**: `dc` is wrong from that line on, so `di`, `dg`, `df` and `dc_prev` are,
#   and rows i, f, g of every weight gradient; rows o are right, because `do = dm * tanh(c)`
#   is computed before the broken line.
# * **forget gate's sigmoid'**: only rows f differ, and `dx`, `dh_0` (which sum over all
#   gates); `dc_0` is right, because `dc_prev = dc * f` does not go through `da_f`.

# %%
assert results["forgot the forget gate on the way back (dc_prev = dc)"]["wrong"] == ["dc_0"]
assert results["forgot tanh' in m = o * tanh(c)"]["rows"]["weight_ih"] == "ifg"
assert results["sigmoid' of the forget gate without its f factor"]["rows"]["weight_hh"] == "f"
assert "dc_0" not in results["sigmoid' of the forget gate without its f factor"]["wrong"]

# %% [markdown]
# ## A bug through time: forgetting the recurrent gradient
#
# The classic BPTT slip: at step `t`, backpropagate only the gradient of the output `dy[t]` and
# forget `dh`, what step `t + 1` sent back through `h_prev`. Every single step is correct, so
# one-step tests pass. Comparing the input gradient *step by step* with torch shows the
# signature: the last step is right, every earlier step is wrong.

# %%
T = 6
lstm = numpy_lstm.LSTM(I, H, dtype=np.float64, seed=1)
W = [lstm.params[k] for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")]
xs = rng.standard_normal((T, N, I))
h0, c0 = np.zeros((N, H)), np.zeros((N, H))
dy = rng.standard_normal((T, N, H))

xt = torch.tensor(xs, requires_grad=True)
out_t, _ = to_torch(lstm)(xt)
out_t.backward(torch.tensor(dy))  # torch's dL/dx for L = sum(output * dy)

no_recurrence = broken_copy(
    textbook.textbook_backward,
    "cell_backward(dh + dy[t], dc, caches[t], W_ih, W_hh, W_hr)",
    "cell_backward(dy[t], dc, caches[t], W_ih, W_hh, W_hr)",
)
y, h_n, c_n, caches = textbook.textbook_forward(xs, h0, c0, *W)
for name, backward in [("correct", textbook.textbook_backward), ("no dh from t+1", no_recurrence)]:
    dx = backward(dy, np.zeros((N, H)), np.zeros((N, H)), caches, W[0], W[1])["dx"]
    per_step = np.abs(dx - xt.grad.numpy()).max(axis=(1, 2))  # (T,)
    print(f"{name:>15}: max |dx - torch| per step t = 0..{T - 1}: " + "  ".join(f"{e:.0e}" for e in per_step))
    if name == "correct":
        assert per_step.max() < 1e-12
    else:
        assert per_step[-1] < 1e-12 and np.all(per_step[:-1] > 1e-6)  # right only at the last step

# %% [markdown]
# ## Without torch: the finite-difference check finds the same bug
#
# `numpy_lstm.gradcheck` compares `backward` with central differences, tensor by tensor. With the
# forget-gate bug back in, the weight gradients and the input gradient fail; the cell's `dc_0`
# is not one of its rows (it checks parameters and the input), so for a state-only bug like
# `dc_prev = dc`, read `compare_with_torch`'s `dc_0` row, or check a sequence, where `dc_prev`
# feeds every earlier step.

# %%
broken = broken_copy(cell.cell_backward, "df * f * (1.0 - f)", "df * (1.0 - f)")
with mock.patch.object(numpy_lstm.lstm_cell, "cell_backward", broken):
    check = numpy_lstm.gradcheck(cell_module, x, hx)
print(check)
assert check.row("weight_ih").max_rel > 1e-3 and check.row("input").max_rel > 1e-3
assert numpy_lstm.gradcheck(cell_module, x, hx).max_rel < 1e-6  # the real backward passes
