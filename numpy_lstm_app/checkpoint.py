"""Checkpoints: arrays and a JSON description in one ``.npz``, written atomically, read without pickle.

Layout of the file::

    "meta"            0-d unicode array: JSON (format, model/optimiser/data config, vocabulary,
                      epoch, history)
    "model.<name>"    parameters, named as in the PyTorch twin's state_dict
    "optim.<key>"     optimiser state in numpy_lstm.optim's format (backend-neutral)

Writing goes to a temporary file in the same directory, flushed to disk, then ``os.replace``d over
the target: a reader sees the old checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "numpy-lstm-next-token-checkpoint"
VERSION = 1


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Any, suffix: str = "") -> None:
    """Call ``write(file_object)`` on a temporary file next to ``path``, then move it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix + ".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_checkpoint(path: str | Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Write ``arrays`` and ``meta`` (JSON-serialisable) to ``path`` atomically."""
    meta = {"format": FORMAT, "version": VERSION, **meta}
    payload = {"meta": np.array(json.dumps(meta))}
    for key, value in arrays.items():
        if key == "meta":
            raise ValueError("the array name 'meta' is reserved")
        payload[key] = np.asarray(value)
    atomic_write(path, lambda f: np.savez(f, **payload))


def load_checkpoint(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(arrays, meta)`` from a checkpoint; ``ValueError`` when it is not one of ours."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        raise ValueError(f"{path} is not a readable .npz checkpoint ({err})") from err
    if "meta" not in arrays:
        raise ValueError(f"{path} is an .npz file but not a numpy-lstm checkpoint (no 'meta' entry)")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: its 'meta' entry is not JSON ({err})") from err
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise ValueError(
            f"{path}: expected format {FORMAT!r} version {VERSION}, got {meta.get('format')!r} "
            f"version {meta.get('version')!r}"
        )
    return arrays, meta


def mismatches(saved: dict[str, Any], wanted: dict[str, Any], prefix: str = "") -> list[str]:
    """Human-readable differences ``"key: checkpoint has A, this run has B"`` between two dicts."""
    out = []
    for key in sorted(set(saved) | set(wanted)):
        a, b = saved.get(key), wanted.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += mismatches(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: checkpoint has {a!r}, this run has {b!r}")
    return out
