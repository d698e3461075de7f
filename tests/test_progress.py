"""Per-epoch progress: plain lines off a terminal, a live bar on one; the time left from the epochs so far."""

from __future__ import annotations

import io

from numpy_lstm_app.progress import EpochProgress, seconds


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_one_per_epoch_with_the_time_left() -> None:
    clock, stream = Clock(), io.StringIO()
    p = EpochProgress(1, 4, stream, clock=clock)
    assert not p.live
    for epoch, took in zip((1, 2, 3, 4), (1.0, 3.0, 2.0, 2.0), strict=True):
        p.batch(epoch, 1, 1)  # nothing to draw off a terminal
        clock.now += took
        p.epoch_end(epoch, "val loss 0.5" if epoch == 2 else "")
    assert stream.getvalue().splitlines() == [
        "epoch 1/4  1.00 s, about 3.00 s left",  # 1 s a epoch so far, 3 to go
        "epoch 2/4  val loss 0.5  3.00 s, about 4.00 s left",  # mean 2 s, 2 to go
        "epoch 3/4  2.00 s, about 2.00 s left",
        "epoch 4/4  2.00 s, about 0.00 s left",
    ]


def test_plain_every_skips_quiet_epochs_but_not_the_last() -> None:
    stream = io.StringIO()
    p = EpochProgress(1, 5, stream, plain_every=2, clock=Clock())
    for epoch in range(1, 6):
        p.epoch_end(epoch)
    assert [line.split("  ")[0] for line in stream.getvalue().splitlines()] == ["epoch 2/5", "epoch 4/5", "epoch 5/5"]


def test_a_live_bar_on_a_terminal() -> None:
    clock, stream = Clock(), Terminal()
    p = EpochProgress(3, 4, stream, clock=clock)  # a resumed run: epochs 3 and 4
    assert p.live
    p.batch(3, 1, 4)
    clock.now += 1.0
    p.batch(3, 2, 4)
    drawn = stream.getvalue()
    assert drawn.startswith("\r\033[Kepoch 3/4 [#####---------------] batch 1/4")
    assert "\r\033[Kepoch 3/4 [##########----------] batch 2/4  1.00 s so far" in drawn
    assert "\n" not in drawn, "the bar is redrawn in place"
    p.epoch_end(3)  # no losses to show: the bar is cleared, no line
    assert stream.getvalue().endswith("\r\033[K")
    p.batch(4, 4, 4)
    clock.now += 1.0
    p.epoch_end(4, "train loss 0.1")  # the last epoch keeps its line
    assert stream.getvalue().endswith("\r\033[Kepoch 4/4  train loss 0.1  1.00 s, about 0.00 s left\n")


def test_seconds_reads_well() -> None:
    assert [seconds(s) for s in (0.1234, 42.4, 75, 4000)] == ["0.12 s", "42 s", "1 min 15 s", "1 h 06 min"]
