"""Checkpoints: arrays and a JSON description in one ``.npz``, written atomically, read without pickle.

Layout of the file::

    "meta"            0-d unicode array: JSON (format, model/optimiser/data config, the run's options,
                      vocabulary, epoch, history); its schema is in :mod:`numpy_lstm_app.checkpoint_schema`
    "model.<name>"    parameters, named as in the PyTorch twin's state_dict
    "optim.<key>"     optimiser state in numpy_lstm.optim's format (backend-neutral)

Writing goes (:func:`numpy_lstm.files.atomic_write`) to a temporary file in the same directory,
flushed to disk, then ``os.replace``d over the target: a reader sees the old checkpoint or the new
one, never half of one.  A process killed while writing leaves its temporary file
(``.checkpoint.npz.<random>.tmp``) behind; :func:`remove_stale_temporaries` clears those.

Reading (:func:`load_checkpoint`, the one entry point every command uses) checks everything before
it reads any array's data: the ``.npy`` headers (name, shape, dtype; an object array is refused, never
unpickled), then every field of the description, then the arrays against the model and optimiser it
describes, then their values.  Any failure is one :class:`CheckpointError` naming the field.
"""

from __future__ import annotations

import json
import re
import time
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from numpy_lstm.files import atomic_write
from numpy_lstm_app.checkpoint_schema import Description, SchemaError, check_values, describe, expected_arrays
from numpy_lstm_app.data import Vocabulary

FORMAT = "numpy-lstm-next-token-checkpoint"
VERSION = 2  # 2: the description records the run's options ("run") and is fully checked
MAX_META_CHARS = 1 << 24
STALE_AFTER_S = 600.0  # a temporary file untouched this long belongs to a process that died


class CheckpointError(ValueError):
    """A file that is not a usable checkpoint; the message names the file and what is wrong."""


class Checkpoint(NamedTuple):
    """A checkpoint whose every field and array has been checked (see :func:`load_checkpoint`)."""

    path: Path
    description: Description  # model, optim, seed, batch_size, run, data, vocab, epoch, history
    arrays: dict[str, np.ndarray]  # "model.<name>" and "optim.<key>"
    meta: dict[str, Any]  # the JSON description as stored

    @property
    def vocab(self) -> Vocabulary:
        return Vocabulary(self.description.vocab)

    def model_state(self) -> dict[str, np.ndarray]:
        """The parameters, named as in ``NextTokenModel.state_dict()``."""
        return {k.removeprefix("model."): v for k, v in self.arrays.items() if k.startswith("model.")}


# --- writing --------------------------------------------------------------------------------------
def remove_stale_temporaries(
    folder: str | Path, names: tuple[str, ...], older_than_s: float = STALE_AFTER_S
) -> list[Path]:
    """Delete :func:`numpy_lstm.files.atomic_write`'s leftovers for ``names`` in ``folder``: only
    files named as it names them (``.<name>.<8 random characters>.tmp``) and untouched for ``older_than_s`` seconds
    (a live writer keeps its file fresh).  Returns what was removed."""
    pattern = re.compile("|".join(rf"\.{re.escape(n)}\.[a-z0-9_]{{8}}\.tmp" for n in names))
    removed = []
    now = time.time()
    for entry in Path(folder).iterdir() if Path(folder).is_dir() else ():
        if pattern.fullmatch(entry.name) and entry.is_file() and not entry.is_symlink():
            if now - entry.stat().st_mtime > older_than_s:
                entry.unlink(missing_ok=True)
                removed.append(entry)
    return removed


def save_checkpoint(path: str | Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Write ``arrays`` and ``meta`` (JSON-serialisable) to ``path`` atomically."""
    meta = {"format": FORMAT, "version": VERSION, **meta}
    payload = {"meta": np.array(json.dumps(meta, allow_nan=False))}
    for key, value in arrays.items():
        if key == "meta":
            raise ValueError("the array name 'meta' is reserved")
        payload[key] = np.asarray(value)
    atomic_write(path, lambda f: np.savez(f, **payload))


# --- reading --------------------------------------------------------------------------------------
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _open(path: Path) -> zipfile.ZipFile:
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.is_dir():
        raise CheckpointError(f"{path} is a directory, not a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"{path} is not a regular file, so not a checkpoint")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise CheckpointError(f"{path} is not a readable .npz checkpoint: not a zip archive ({err})") from None


def _headers(zf: zipfile.ZipFile, path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Name -> (shape, dtype) of every ``.npy`` member, from its header only."""
    out: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    for info in zf.infolist():
        name = info.filename.removesuffix(".npy")
        if name == info.filename or name in out:
            what = "a second copy of" if name in out else "an entry that is not an .npy array:"
            raise CheckpointError(f"{path} is not a readable .npz checkpoint: it holds {what} {info.filename!r}")
        try:
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version not in _HEADER_READERS:
                    raise ValueError(f".npy format version {version}")
                shape, _, dtype = _HEADER_READERS[version](f)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError, RuntimeError) as err:
            raise CheckpointError(
                f"{path} is not a readable .npz checkpoint: the header of {name!r} is bad ({err})"
            ) from None
        if dtype.hasobject:
            raise CheckpointError(f"{path}: {name!r} holds Python objects (pickled data), never read: not a checkpoint")
        out[name] = (shape, dtype)
    return out


def _read(zf: zipfile.ZipFile, name: str, path: Path) -> np.ndarray:
    try:
        with zf.open(name + ".npy") as f:
            return np.lib.format.read_array(f, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError, RuntimeError) as err:
        raise CheckpointError(f"{path} is not a readable .npz checkpoint: {name!r} cannot be read ({err})") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"a key appears twice: {sorted(k for k in set(keys) if keys.count(k) > 1)}")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _meta(zf: zipfile.ZipFile, headers: dict[str, tuple[tuple[int, ...], np.dtype]], path: Path) -> dict[str, Any]:
    if "meta" not in headers:
        raise CheckpointError(f"{path} is an .npz file but not a numpy-lstm checkpoint (no 'meta' entry)")
    shape, dtype = headers["meta"]
    if shape != () or dtype.kind != "U" or dtype.itemsize // 4 > MAX_META_CHARS:
        raise CheckpointError(
            f"{path}: its 'meta' entry should be one string of at most {MAX_META_CHARS:,} characters, "
            f"got shape {shape} dtype {dtype}"
        )
    text = str(_read(zf, "meta", path))
    try:
        meta = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (ValueError, RecursionError) as err:
        reason = "nested too deeply" if isinstance(err, RecursionError) else str(err)
        raise CheckpointError(f"{path}: its 'meta' entry is not valid JSON ({reason})") from None
    fmt, version = (meta.get("format"), meta.get("version")) if isinstance(meta, dict) else (None, None)
    if fmt != FORMAT:
        raise CheckpointError(f"{path}: expected format {FORMAT!r}, got {fmt!r}: not a numpy-lstm checkpoint")
    if version != VERSION:
        older = " (version 1 did not record the run's options: train again)" if version == 1 else ""
        raise CheckpointError(f"{path}: expected checkpoint version {VERSION}, got {version!r}{older}")
    return meta


def read_checkpoint(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(arrays, meta)`` as stored, with only the format checked: for tools and tests that edit
    checkpoints.  Commands use :func:`load_checkpoint`."""
    path = Path(path)
    with _open(path) as zf:
        headers = _headers(zf, path)
        meta = _meta(zf, headers, path)
        return {k: _read(zf, k, path) for k in headers if k != "meta"}, meta


def read_meta(path: str | Path) -> dict[str, Any]:
    """The JSON description only (format checked, no array read)."""
    path = Path(path)
    with _open(path) as zf:
        return _meta(zf, _headers(zf, path), path)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and check a checkpoint completely; :class:`CheckpointError` (one line) for anything wrong.

    Order: file, ``.npy`` headers, description (every key, type and range; sizes bounded), the
    arrays' names/shapes/dtypes against the model and optimiser described, then their values.
    No array's data is read before its header has been matched, and nothing is unpickled.
    """
    path = Path(path)
    with _open(path) as zf:
        headers = _headers(zf, path)
        meta = _meta(zf, headers, path)
        try:
            d = describe(meta)
        except SchemaError as err:
            raise CheckpointError(f"{path}: {err}") from None
        expected = expected_arrays(d)
        stored = {k: v for k, v in headers.items() if k != "meta"}
        missing = [k for k in expected if k not in stored]
        extra = [k for k in stored if k not in expected]
        if missing or extra:
            raise CheckpointError(
                f"{path}: its arrays do not match the {d.model} and {d.optim.name} optimiser it describes: "
                + "; ".join(f"{what} {names[:6]}{' ...' if len(names) > 6 else ''}"
                            for what, names in (("missing", missing), ("unexpected", extra)) if names)
            )
        for name, (shape, dtype) in expected.items():
            if stored[name] != (shape, dtype):
                got_shape, got_dtype = stored[name]
                raise CheckpointError(
                    f"{path}: array {name!r} has shape {got_shape} dtype {got_dtype}, expected {shape} {dtype} "
                    f"(the model it describes: {d.model})"
                )
        arrays = {name: _read(zf, name, path) for name in expected}
    try:
        check_values(d, arrays)
    except SchemaError as err:
        raise CheckpointError(f"{path}: {err}") from None
    return Checkpoint(path, d, arrays, meta)


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
