"""Writing published files so that a reader never sees half of one."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from collections.abc import Sequence

STALE_TEMP_SECONDS = 600  # a temporary file this old belongs to a write that was killed


def write_atomic(path: Path, data: bytes | Sequence[bytes]) -> bool:
    """Write ``data`` (bytes, or a sequence of chunks written one after the other) to
    ``path`` atomically; return whether the file changed.

    The bytes go to a temporary file in the same folder, are flushed to disk
    and then renamed over ``path`` (``os.replace``), so a web server or a
    subscriber's client reads either the old or the new file, never a mix.
    When ``path`` already holds exactly ``data`` nothing is written and its
    mtime stays as it was (HTTP ``Last-Modified`` and ETags stay valid);
    the result is then ``False``. Missing parent folders are created; the
    temporary files of earlier writes that were killed are removed. Chunks are
    compared and written as they are, never joined: a country's calendar is
    hundreds of megabytes, and neither it nor the old file is held twice.
    """
    path = Path(path)
    chunks = [data] if isinstance(data, (bytes, bytearray, memoryview)) else data
    mode = 0o644
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        pass
    else:
        mode = st.st_mode & 0o777
        if st.st_size == sum(len(c) for c in chunks) and _holds(path, chunks):
            return False
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path.parent, f".{path.name}.")
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600; published files are meant to be read by others
        # (the web server, a reverse proxy): keep the old mode, else 0644.
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return True


def _holds(path: Path, chunks: Sequence[bytes]) -> bool:
    """Whether the file at ``path`` starts with exactly these chunks (read piece by piece)."""
    try:
        with open(path, "rb") as fh:
            return all(fh.read(len(chunk)) == chunk for chunk in chunks)
    except OSError:
        return False


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (where the platform allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temps(folder: Path, prefix: str, suffix: str = ".tmp", older_than: float = STALE_TEMP_SECONDS) -> int:
    """Remove ``prefix…suffix`` files in ``folder`` older than ``older_than`` seconds: what a
    write killed between creating its temporary file and renaming it left behind (a live
    write's file is younger). Returns how many were removed; errors are ignored."""
    removed = 0
    limit = time.time() - older_than
    try:
        candidates = [p for p in folder.iterdir() if p.name.startswith(prefix) and p.name.endswith(suffix)]
    except OSError:
        return 0
    for p in candidates:
        try:
            if p.stat().st_mtime < limit:
                p.unlink()
                removed += 1
        except OSError:
            pass
    return removed
