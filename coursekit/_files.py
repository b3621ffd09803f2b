"""Atomic file writes: readers see the old file or the new one, never half of one.

A write goes to a hidden temporary file beside the target, named
``.<name>.pid<process id>.<random>.tmp``, and is moved over the target when it succeeds. A
process killed mid-write (``kill -9``, a crashed kernel) cannot remove its temporary file, so
every write first removes the stale ones of the same target: those whose process is no longer
running on this machine, and any older than :data:`STALE_AFTER_SECONDS` (temporary files of
other machines sharing the folder, and of coursekit versions that did not record the process).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

#: A temporary file older than this is stale whoever wrote it (no save takes an hour).
STALE_AFTER_SECONDS = 3600.0


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; when the block succeeds, move it over ``path``.

    ``os.replace`` within one folder is atomic, so an interrupted write (an error, Ctrl-C,
    a full disk) leaves ``path`` as it was and removes the temporary file. Stale temporary
    files of earlier, killed writes of ``path`` are removed first (see :func:`remove_stale_temporaries`).

    Parameters
    ----------
    path
        The file to (re)write; its folder must exist.
    mode
        ``open`` mode: ``"wb"`` or ``"w"``; ``"w+b"`` for writers that also read and seek (h5py).
    """
    path = Path(path)
    remove_stale_temporaries(path)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.pid{os.getpid()}.", suffix=".tmp")
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


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that killed writes of ``path`` left behind; return what was removed.

    A temporary file is stale when the process named in it is not running on this machine, or
    when it is older than :data:`STALE_AFTER_SECONDS`. Files that cannot be removed (a read-only
    folder) are left alone: cleaning up never makes a write fail.
    """
    path = Path(path)
    pattern = re.compile(re.escape(f".{path.name}.") + r"(?:pid(\d+)\.)?[^/]*\.tmp")
    removed = []
    try:
        candidates = list(path.parent.iterdir())
    except OSError:
        return removed
    now = time.time()
    for candidate in candidates:
        match = pattern.fullmatch(candidate.name)
        if match is None:
            continue
        try:
            age = now - candidate.stat().st_mtime
        except OSError:
            continue  # removed meanwhile by another writer
        pid = match.group(1)
        if age > STALE_AFTER_SECONDS or (pid is not None and not _running(int(pid))):
            with contextlib.suppress(OSError):
                candidate.unlink()
                removed.append(candidate)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # exists but belongs to someone else, or cannot tell: keep the file
    return True
