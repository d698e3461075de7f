# %% [markdown]
# # Build an LSTM and check it against PyTorch
#
# `numpy_lstm.LSTM` takes the same arguments as `torch.nn.LSTM`, owns the same parameters under
# the same names and shapes, and computes the same numbers. This example builds one, looks at its
# parameters, runs it forward and backward, and checks every tensor against PyTorch: first with
# the comparison helper, then by hand, then with the torch-free finite-difference check.

# %%
import warnings

import numpy as np
import torch

import numpy_lstm
from torch_ref import compare_with_torch, from_torch, to_torch

lstm = numpy_lstm.LSTM(input_size=4, hidden_size=6, num_layers=2, bidirectional=True, dtype=np.float64, seed=0)
print(lstm)
for name, value in lstm.params.items():
    print(f"  {name:<24} {value.shape}")  # exactly torch.nn.LSTM(4, 6, 2, bidirectional=True).state_dict()

# %% [markdown]
# ## Forward and backward
#
# Input is seq-first `(T, N, I)` by default. `backward` takes the gradient of the loss with
# respect to the output (and optionally the final states) and returns the input's and the
# initial states'; parameter gradients are added into `lstm.grads`, like torch's `.grad`.

# %%
rng = np.random.default_rng(0)
T, N = 7, 3
x = rng.standard_normal((T, N, 4))
output, (h_n, c_n) = lstm(x)
print("output", output.shape, " h_n", h_n.shape, " c_n", c_n.shape)  # (7, 3, 12) (4, 3, 6) (4, 3, 6)

d_output = rng.standard_normal(output.shape)  # dLoss/d output, for L = sum(output * d_output)
lstm.zero_grad()
dx, (dh_0, dc_0) = lstm.backward(d_output)
print("dx", dx.shape, " grad weight_hh_l1_reverse", lstm.grads["weight_hh_l1_reverse"].shape)

# %% [markdown]
# ## The same, in torch, by hand
#
# `to_torch` builds the twin with the same weights. Autograd's gradients are compared with ours.

# %%
twin = to_torch(lstm)
xt = torch.tensor(x, requires_grad=True)
output_t, _ = twin(xt)
output_t.backward(torch.tensor(d_output))
print("max |output - torch|:", np.abs(output - output_t.detach().numpy()).max())
print("max |dx - torch|:    ", np.abs(dx - xt.grad.numpy()).max())
for name, p in twin.named_parameters():
    assert np.allclose(lstm.grads[name], p.grad.numpy(), rtol=1e-10, atol=1e-13), name
print("every parameter gradient matches, by name")

# %% [markdown]
# ## The comparison helper does all of that, for every tensor
#
# It also sends random gradients into `h_n` and `c_n` (a zero there would hide any bug in the
# final-state path). `assert_close` raises naming every tensor that differs.

# %%
report = compare_with_torch(lstm, x)
print(report)
report.assert_close(rtol=1e-9, atol=1e-15)

# %% [markdown]
# ## The other direction: a torch model into NumPy
#
# `from_torch` gives the NumPy twin of an existing `torch.nn.LSTM`, here a float32 batch-first
# one. float32 agrees to float32 precision (~1e-6), float64 to ~1e-15: see `docs/parity.md`.

# %%
warnings.filterwarnings("ignore", message="LSTM with projections is not supported with oneDNN")
torch.manual_seed(0)
t_lstm = torch.nn.LSTM(3, 8, batch_first=True, proj_size=2)
np_lstm = from_torch(t_lstm)
print(np_lstm)
r32 = compare_with_torch(np_lstm, rng.standard_normal((2, 5, 3)).astype(np.float32))
print(f"float32: largest relative difference {r32.max_rel:.1e} ({r32.worst().name})")
r32.assert_close(rtol=2e-5, atol=1e-6)

# %% [markdown]
# ## Without torch: finite differences
#
# `gradcheck` perturbs sampled entries of every parameter and of the input, and compares the
# change in the loss with what `backward` predicted.

# %%
check = numpy_lstm.gradcheck(lstm, x, max_entries=10)
print(check)
assert check.max_rel < 1e-6
