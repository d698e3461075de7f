# %% [markdown]
# # The layout mistake, and its fix
#
# A next-token dataset is naturally built batch-first: `(batch, seq_len, vocab)` one-hot. The
# default LSTM (in torch and here) reads seq-first: `(seq_len, batch, vocab)`. The classic bug is
# to "fix" the layout with `permute(0, 2, 1)` (which swaps the last two axes) instead of
# `permute(1, 0, 2)` (which swaps batch and time). `docs/layouts.md` explains every layout.

# %%
import numpy as np
import torch

import numpy_lstm

vocab, seq_len, batch = 4, 20, 2
rng = np.random.default_rng(0)
tokens = rng.integers(0, vocab, size=(batch, seq_len))  # (N, T) token ids
x = np.eye(vocab)[tokens]  # (N, T, V) one-hot, batch-first
lstm = numpy_lstm.LSTM(vocab, 8, dtype=np.float64, seed=0)  # batch_first=False: expects (T, N, V)
print("data:", x.shape, "(batch, seq_len, vocab)")

# %% [markdown]
# ## The mistake: `permute(0, 2, 1)`
#
# NumPy's `transpose(axes)` is torch's `permute(axes)`: the new order of the old axes.
# `(0, 2, 1)` gives `(batch, vocab, seq_len)`. Both libraries refuse it; this one says why.

# %%
wrong = x.transpose(0, 2, 1)  # permute(0, 2, 1)
print("after permute(0, 2, 1):", wrong.shape)
try:
    lstm(wrong)
except ValueError as err:
    print("numpy_lstm:", err)
    ours = str(err)
try:
    torch.nn.LSTM(vocab, 8)(torch.tensor(wrong, dtype=torch.float32))
except RuntimeError as err:
    print("torch:     ", err)
assert "Axis 1 has size 4 = input_size" in ours and "permute(1, 0, 2)" in ours

# %% [markdown]
# ## The fix: `permute(1, 0, 2)`, or `batch_first=True`

# %%
right = x.transpose(1, 0, 2)  # permute(1, 0, 2): (T, N, V)
out, (h_n, c_n) = lstm(right)
print("after permute(1, 0, 2):", right.shape, "-> output", out.shape, "h_n", h_n.shape)
lstm_bf = numpy_lstm.LSTM(vocab, 8, batch_first=True, dtype=np.float64, seed=0)  # same weights
out_bf, (h_bf, _) = lstm_bf(x)
print("batch_first=True on (N, T, V):", x.shape, "-> output", out_bf.shape, "h_n", h_bf.shape)
print("(the states are never batch-first)")
assert np.allclose(out_bf.transpose(1, 0, 2), out) and np.allclose(h_bf, h_n)

# %% [markdown]
# ## The silent version
#
# Feeding batch-first data straight into a seq-first LSTM raises nothing: the features are on the
# last axis, so the shape is valid. The LSTM reads the batch as time. The symptom: one
# sequence's output depends on another sequence's tokens. Test for it by changing sequence 0
# and watching sequence 1. (Misread, sequence 0 is "time step 0", which every later "step" sees.)

# %%
def leaks(model, data, batch_axis):
    """Does changing sequence 0 change the output of sequence 1?"""
    changed = data.copy()
    index = [slice(None)] * 3
    index[batch_axis] = 0
    changed[tuple(index)] = np.roll(changed[tuple(index)], 1, axis=-1)  # other tokens for sequence 0
    index[batch_axis] = 1
    a, _ = model(data)
    b, _ = model(changed)
    return not np.allclose(a[tuple(index)], b[tuple(index)])


silent, _ = lstm(x)  # (N, T, V) read as (T'=N, N'=T, V): no error
print("batch-first data into a seq-first LSTM: output", silent.shape, "- no error raised")
print("  sequence 1 sees sequence 0?", leaks(lstm, x, batch_axis=0))
print("after the fix:  sequence 1 sees sequence 0?", leaks(lstm, right, batch_axis=1))
assert leaks(lstm, x, batch_axis=0) and not leaks(lstm, right, batch_axis=1)
