"""Atomic file writes: readers see the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; when the block succeeds, move it over ``path``.

    ``os.replace`` within one folder is atomic, so an interrupted write (an error, Ctrl-C,
    a full disk) leaves ``path`` as it was and removes the temporary file.

    Parameters
    ----------
    path
        The file to (re)write; its folder must exist.
    mode
        ``open`` mode: ``"wb"`` or ``"w"``; ``"w+b"`` for writers that also read and seek (h5py).
    """
    path = Path(path)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes owner-only files; these are for everyone to read
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
