"""Per-epoch progress: each epoch's time and an estimate of the time left.

On a terminal it is a live bar, redrawn after every batch (``\\r``), with the chosen epochs' lines
printed above it; elsewhere (a pipe, a file, a notebook log) plain lines, one per epoch::

    epoch  3/50  0.12 s, about 5.6 s left
    epoch  5/50  train loss 0.6931 acc 0.500  val loss 0.6925 acc 0.500  0.11 s, about 5.0 s left

The estimate is the mean epoch time of this run so far times the epochs still to go.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


def seconds(s: float) -> str:
    """``0.123`` -> ``"0.12 s"``, ``75`` -> ``"1 min 15 s"``, ``4000`` -> ``"1 h 07 min"``."""
    if s < 10:
        return f"{s:.2f} s"
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


class EpochProgress:
    """Call :meth:`batch` after each batch and :meth:`epoch_end` after each epoch.

    ``live``: draw a bar (default: when ``stream`` is a terminal).  ``plain_every``: without the
    bar, print a line every this many epochs (and at the last, and whenever there is text to show).
    """

    BAR = 20

    def __init__(
        self,
        first: int,
        last: int,
        stream: TextIO | None = None,
        live: bool | None = None,
        plain_every: int = 1,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.first, self.last = first, last
        self.stream = sys.stdout if stream is None else stream
        self.live = bool(getattr(self.stream, "isatty", lambda: False)()) if live is None else live
        self.plain_every = plain_every
        self.clock = clock
        self.width = len(str(last))
        self.started = self.mark = clock()
        self.times: list[float] = []
        self.bar_shown = False

    def _left(self, epoch: int) -> str:
        if not self.times:
            return "estimating the time left"
        return f"about {seconds(sum(self.times) / len(self.times) * (self.last - epoch))} left"

    def batch(self, epoch: int, done: int, total: int) -> None:
        if not self.live:
            return
        filled = round(self.BAR * done / max(total, 1))
        bar = "#" * filled + "-" * (self.BAR - filled)
        elapsed = self.clock() - self.mark
        self.stream.write(
            f"\r\033[Kepoch {epoch:>{self.width}}/{self.last} [{bar}] batch {done}/{total}  "
            f"{seconds(elapsed)} so far, {self._left(epoch - 1)}"
        )
        self.stream.flush()
        self.bar_shown = True

    def epoch_end(self, epoch: int, text: str = "") -> float:
        """Record the epoch's time and show its line; returns the epoch's seconds."""
        now = self.clock()
        took, self.mark = now - self.mark, now
        self.times.append(took)
        shown = text + "  " if text else ""
        line = f"epoch {epoch:>{self.width}}/{self.last}  {shown}{seconds(took)}, {self._left(epoch)}"
        if self.live:
            if self.bar_shown:
                self.stream.write("\r\033[K")
                self.bar_shown = False
            if text or epoch == self.last:
                self.stream.write(line + "\n")
        elif text or epoch == self.last or (epoch - self.first + 1) % self.plain_every == 0:
            self.stream.write(line + "\n")
        self.stream.flush()
        return took

    def close(self) -> None:
        """Clear a bar left on the terminal (after an interruption)."""
        if self.live and self.bar_shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.bar_shown = False
