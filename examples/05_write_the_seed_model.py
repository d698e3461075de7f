# %% [markdown]
# # Write the seed's model as one object, as in PyTorch
#
# The classic next-token script is `nn.LSTM(V, 50)` + `nn.Linear(50, V)` inside a `Net`, trained
# with `CrossEntropyLoss` and Adam on one sequence at a time (seq-first, batch of one). Here the
# same `Net` is written twice, line for line: once in PyTorch, once with `numpy_lstm`. Assigning a
# module to an attribute makes it a child, so `net.params` lists the whole tree under torch's names
# (`lstm.weight_ih_l0`, ..., `l_out.bias`). Then one call checks the NumPy `Net` against the torch
# `Net` (output, loss, every gradient by name), both train side by side, and the NumPy `Net` writes.

# %%
import numpy as np
import torch
from torch import nn

import numpy_lstm
from numpy_lstm_app.generate import generate
from torch_ref import compare_with_torch, load_into_torch

torch.set_num_threads(1)  # a tiny model: more threads only spin, fighting NumPy for the cores
text = "the cat sat on the mat. the dog sat on the log. the cat saw the dog."
chars = sorted(set(text))
V, H = len(chars), 50
ids = np.array([chars.index(c) for c in text])  # (L,) the whole text as token ids
print(f"{len(text)} characters, vocabulary of {V}: {''.join(chars)!r}")

# %% [markdown]
# ## The two models, side by side
#
# The only differences: NumPy has no autograd, so the NumPy `Net` also writes `backward`, which
# runs the layers' `backward` in reverse order (the chain rule, one line per layer); and `view`
# is `reshape`.


# %%
class TorchNet(nn.Module):
    def __init__(self, V: int, H: int) -> None:
        super().__init__()
        self.H = H
        self.lstm = nn.LSTM(V, H, dtype=torch.float64)  # seq-first: (T, N, V)
        self.l_out = nn.Linear(H, V, dtype=torch.float64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)  # (T, 1, H)
        out = out.view(-1, self.H)  # (T, H)
        return self.l_out(out)  # (T, V) logits


class Net(numpy_lstm.Module):
    def __init__(self, V: int, H: int) -> None:
        super().__init__()
        self.H = H
        self.lstm = numpy_lstm.LSTM(V, H, dtype=np.float64, seed=0)  # a child, like nn.Module
        self.l_out = numpy_lstm.Linear(H, V, dtype=np.float64, seed=1)

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, _ = self.lstm(x)  # (T, 1, H)
        out = out.reshape(-1, self.H)  # (T, H)
        return self.l_out(out)  # (T, V) logits

    def backward(self, dlogits: np.ndarray) -> np.ndarray:
        dout = self.l_out.backward(dlogits)  # (T, H)
        dx, _ = self.lstm.backward(dout.reshape(-1, 1, self.H))  # (T, 1, V)
        return dx


net, tnet = Net(V, H), TorchNet(V, H)
load_into_torch(tnet, net)  # the same starting weights, matched by name
for name, value in net.params.items():
    print(f"  {name:<20} {value.shape}")
assert list(net.params) == list(tnet.state_dict())

# %% [markdown]
# ## One call checks everything
#
# `compare_with_torch` copies the NumPy weights into a copy of the torch model by name, runs both
# on the same input and loss, and reports every tensor: the logits, the loss, the input gradient
# and the gradient of each parameter.


# %%
def one_hot(token_ids: np.ndarray) -> np.ndarray:
    return np.eye(V)[token_ids][:, None, :]  # (T, 1, V) seq-first, batch of one


x, y = one_hot(ids[:-1]), ids[1:]  # input, and the next token of each step
report = compare_with_torch(net, x, torch_module=tnet, target=y, loss="cross_entropy")
print(report)
report.assert_close(rtol=1e-10, atol=1e-13)

# %% [markdown]
# ## Train both, step for step
#
# The seed's loop: a window of the text at a time, batch of one, Adam. `numpy_lstm.Adam` takes the
# whole tree, as `torch.optim.Adam(net.parameters())` does.

# %%
opt = numpy_lstm.Adam(net, lr=0.03)
topt = torch.optim.Adam(tnet.parameters(), lr=0.03)
criterion = nn.CrossEntropyLoss()
window = 16
largest = 0.0
for epoch in range(1, 13):
    losses = []
    for start in range(0, len(ids) - 1, window):
        chunk = ids[start : start + window + 1]
        x, y = one_hot(chunk[:-1]), chunk[1:]
        net.zero_grad()
        loss, cache = numpy_lstm.cross_entropy(net(x), y)
        net.backward(numpy_lstm.cross_entropy_backward(cache))
        opt.step()
        topt.zero_grad()
        tloss = criterion(tnet(torch.from_numpy(x)), torch.from_numpy(y))
        tloss.backward()
        topt.step()
        largest = max(largest, abs(loss - tloss.item()))
        losses.append(loss)
    if epoch % 4 == 0:
        print(f"epoch {epoch:>2}  mean loss {np.mean(losses):.4f}")
print(f"largest |loss difference| numpy vs torch over {epoch} epochs: {largest:.1e}")
assert largest < 1e-9
print("the NumPy Net trained identically to the torch Net")

# %% [markdown]
# ## Write with it
#
# Generation feeds the prime once, then one token at a time, carrying `(h, c)` so the prefix is
# never re-run. `numpy_lstm_app.generate.generate` takes any `step(ids, state) -> (logits, state)`.


# %%
def step(token_ids: np.ndarray, state):
    with numpy_lstm.no_grad():
        out, state = net.lstm(one_hot(token_ids[:, 0]), state)  # (T, 1, H)
        return net.l_out(out), state  # (T, 1, V)


prime = "the "
drawn = generate(step, [chars.index(c) for c in prime], 40, temperature=0.5, seed=0)
print("sampled:", prime + "".join(chars[i] for i in drawn.ids))
