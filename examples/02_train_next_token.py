# %% [markdown]
# # Train the next-token model and look at its predictions, and inside it
#
# The model of this project's motivating example: one-hot tokens -> LSTM(hidden 50) -> Linear ->
# cross-entropy, trained to predict each token of a sequence from the tokens before it. The data
# is the built-in `a a ... a b b ... b EOS` language (`k` a's then `k` b's, `k` from 1 to 9):
# after the first `b` the model must *count* to know when to say `EOS`.
#
# Everything here is the app's own code (`numpy_lstm_app`), the same that `numpy-lstm train`
# runs; this script just calls it step by step so you can look at each piece.

# %%
import numpy as np

from numpy_lstm.introspect import record_gates
from numpy_lstm.pictures import plot_gates
from numpy_lstm_app.backend import NumpyBackend, OptimConfig
from numpy_lstm_app.data import accuracy_ceiling, best_accuracy_on, make_batch, make_batches, one_hot
from numpy_lstm_app.dataset import DataConfig, build_dataset
from numpy_lstm_app.model import ModelConfig, NextTokenModel
from numpy_lstm_app.train import TrainConfig, evaluate, fit, new_history, sample_predictions

data = build_dataset(DataConfig(seed=0))  # 200 sequences, split train / validation / test
train, val, test = data.encoded
print("vocabulary:", data.vocab.tokens)
for seq in data.splits.train[:3]:
    print("a training sequence:", " ".join(seq))

# %% [markdown]
# ## Inputs and targets: the target at step t is the token *after* input t
#
# `inputs = sequence[:-1]`, `targets = sequence[1:]`. Batches are seq-first `(T, N)` ids, padded,
# with targets `-100` (ignored by the loss) past each sequence's end; the model sees them one-hot,
# `(T, N, V)`.

# %%
batch = make_batch(train, np.array([0, 1]))
for t in range(int(batch.lengths[0])):
    i, j = batch.inputs[t, 0], batch.targets[t, 0]
    print(f"  step {t}: input {data.vocab.tokens[i]:>3}  ->  target {data.vocab.tokens[j]}")
print("inputs", batch.inputs.shape, "(T, N);  one-hot", one_hot(batch.inputs, len(data.vocab), batch.lengths).shape)

# %% [markdown]
# ## Train
#
# `fit` is the app's training loop: shuffled minibatches, Adam, a validation pass after every
# epoch (under `no_grad`, in eval mode). Seeded: run it twice and you get the same numbers.

# %%
model = NextTokenModel(ModelConfig(vocab_size=len(data.vocab), hidden_size=50), seed=0)
print(model)
backend = NumpyBackend(model, OptimConfig(name="adam", lr=0.01))


def report(epoch, history):
    h = history["backends"]["numpy"]
    if epoch % 10 == 0:
        print(f"epoch {epoch:>2}  train loss {h['train_loss'][-1]:.3f}  val loss {h['val_loss'][-1]:.3f}"
              f"  val accuracy {h['val_accuracy'][-1]:.3f}")


history = fit([backend], train, val, TrainConfig(epochs=30, batch_size=16, seed=0), new_history(["numpy"]), report)

# %% [markdown]
# ## How good is it? Against the best any model could do
#
# Where the a's end cannot be known in advance, so no model is always right: the best possible
# token accuracy is computable exactly, over the task and on this particular test set. The test
# accuracy should be close to the second (above it would mean a leak, see `docs/pitfalls.md`).

# %%
results, _ = evaluate([backend], make_batches(test, 16))
ceiling, best_here = float(accuracy_ceiling(1, 9)), best_accuracy_on(data.splits.test, 1, 9)
print(f"test loss {results['numpy'].loss:.3f}, accuracy {results['numpy'].accuracy:.3f} "
      f"(best possible: {ceiling:.3f} over the task, {best_here:.3f} on this test set)")
assert results["numpy"].accuracy > 0.8

# %% [markdown]
# ## Its predictions
#
# The a's it cannot predict (it guesses `a` until it sees the first `b`); after that, everything,
# including where `EOS` goes: it has counted the a's.

# %%
for s in sample_predictions(backend, test, data.vocab, 3):
    print(f"  input     {' '.join(s.inputs)}\n  target    {' '.join(s.targets)}\n  predicted {' '.join(s.predicted)}\n")

# %% [markdown]
# ## Inside: the gates while it counts
#
# `record_gates` re-runs the trained LSTM's weights through the readable cell step and keeps
# every gate and state. Some cell-state units count: they move one way with each `a` and back
# the other way with each `b`, so they cross zero when the b's have caught up with the a's, which
# is exactly when `EOS` is due. Their forget gate stays near 1: the count is *kept*, step after
# step. The strongest such counter is printed, and every unit is drawn in `gates.png` (the same
# picture as `numpy-lstm gates`).

# %%
tokens = ["a"] * 6 + ["b"] * 6
x = one_hot(data.vocab.encode(tokens)[:, None], len(data.vocab))  # (T, 1, V)
gates = {name: a[:, 0] for name, a in record_gates(model.lstm, x)["l0"].items()}  # (T, H) each
c = gates["c"]
up, down = c[5] - c[0], c[11] - c[5]  # (H,) change over the a's, and over the b's
counting = np.where(up * down < 0, np.minimum(abs(up), abs(down)), 0.0)  # opposite directions
unit = int(np.argmax(counting))
print("input:                 ", "    ".join(tokens))
print(f"cell state c of unit {unit}:", " ".join(f"{v:+.1f}" for v in c[:, unit]))
print("its forget gate f:     ", " ".join(f"{v:.2f}" for v in gates["f"][:, unit]))
assert counting[unit] > 1.0, "a trained model should have a counting unit"
plot_gates(gates, tokens, "gates.png", title="Trained next-token LSTM reading a^6 b^6")
print("wrote gates.png")
