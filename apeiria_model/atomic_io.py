"""Safe file I/O: atomic writes, and reads that cannot hang or run out of memory.

Writes go to a temporary file in the same folder, fsync, then ``os.replace`` over the
target (atomic on POSIX); the previous file stays intact until the new one is whole.

:func:`read_regular_file` reads untrusted input files: regular files only (a FIFO,
device or socket given as input is refused without blocking), at most ``max_bytes``.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, obj: Any, indent: int | None = None) -> None:
    text = json.dumps(obj, indent=indent, ensure_ascii=False)
    write_text_atomic(path, text + ("\n" if indent is not None else ""))


class NotARegularFileError(OSError):
    """An input path is a FIFO, device or socket (reading it could block forever)."""


class FileTooLargeError(OSError):
    """An input file is over its size cap."""


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _check_regular(st: os.stat_result, path: str) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", path)
    if not stat.S_ISREG(st.st_mode):
        raise NotARegularFileError(errno.EINVAL, f"not a regular file ({_kind(st.st_mode)})", path)


def read_regular_file(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``, else ``OSError``.

    ``stat`` first (it never blocks), then open non-blocking and check again on the
    descriptor, so a path swapped for a FIFO in between is still refused. Raises
    FileNotFoundError, IsADirectoryError, PermissionError, :class:`NotARegularFileError`
    or :class:`FileTooLargeError` (all ``OSError``, with ``strerror`` set).
    """
    path = os.fspath(path)
    _check_regular(os.stat(path), path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        _check_regular(st, path)
        if st.st_size > max_bytes:
            raise FileTooLargeError(errno.EFBIG, f"file too large: {st.st_size} bytes (the limit is {max_bytes})", path)
        chunks, total = [], 0
        while True:  # the file may grow while it is read: never take more than the cap
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise FileTooLargeError(errno.EFBIG, f"file too large: over {max_bytes} bytes", path)
        return b"".join(chunks)
    finally:
        os.close(fd)
