"""Files written whole or not at all: the pictures of :mod:`numpy_lstm.pictures`, and the
checkpoints, metrics, plots and benchmark results of the app and the harness, which import this
module so that there is one way to write a file.

:func:`atomic_write` writes to a temporary file in the target's folder (``.<name>.<8 random
characters><suffix>.tmp``), flushes it to disk, then moves it onto the target with ``os.replace``:
a reader, an interrupt or a full disk leaves the old file or the new one, never half of one.  A process
killed while writing leaves its temporary file behind (the app clears its own such files:
``numpy_lstm_app.checkpoint.remove_stale_temporaries``).
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], object], suffix: str = "") -> Path:
    """Call ``write(file)`` on a temporary file next to ``path``, then move it onto ``path``; the
    folder is created if missing.  An ``OSError`` names ``path``, not the temporary file."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix + ".tmp")
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except OSError as err:
        raise OSError(err.errno, err.strerror, str(path)) from err  # the file meant, not the temporary one
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return path


def probe_writable(folder: str | Path) -> None:
    """Create ``folder`` and prove it writable with a file made and removed at once (``os.access``
    says yes to root even on a read-only file system); ``OSError`` if it is not, ``NotADirectoryError``
    if it is a file."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder))
    folder.mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(dir=folder, prefix=".numpy-lstm-write-test.")
    os.close(fd)
    os.unlink(probe)
