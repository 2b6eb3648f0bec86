"""Writing published files so that a reader never sees half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` atomically; return whether the file changed.

    The bytes go to a temporary file in the same folder, are flushed to disk
    and then renamed over ``path`` (``os.replace``), so a web server or a
    subscriber's client reads either the old or the new file, never a mix.
    When ``path`` already holds exactly ``data`` nothing is written and its
    mtime stays as it was (HTTP ``Last-Modified`` and ETags stay valid);
    the result is then ``False``. Missing parent folders are created.
    """
    path = Path(path)
    mode = 0o644
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        pass
    else:
        mode = st.st_mode & 0o777
        if st.st_size == len(data) and path.read_bytes() == data:
            return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
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
