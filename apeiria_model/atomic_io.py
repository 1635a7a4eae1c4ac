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


BACKUP_SUFFIX = ".bak"


def backup_path(path: str | os.PathLike) -> Path:
    """Where :func:`write_bytes_atomic` keeps the previous version of ``path``."""
    path = Path(path)
    return path.with_name(path.name + BACKUP_SUFFIX)


def _keep_previous(path: Path) -> None:
    """Atomically make ``path.bak`` the current ``path`` (a hard link, renamed over the
    old backup), so at every instant both a whole ``path`` and a whole backup exist."""
    if not path.is_file():
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".bak.tmp")
    os.close(fd)
    os.unlink(tmp)
    try:
        try:
            os.link(path, tmp)
        except OSError:  # a file system without hard links: copy
            import shutil

            shutil.copy2(path, tmp)
        os.replace(tmp, backup_path(path))
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fsync_dir(folder: Path) -> None:
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


def write_bytes_atomic(path: str | os.PathLike, data: bytes, backup: bool = False) -> None:
    """Replace ``path`` by ``data`` atomically; with ``backup`` the previous file is kept
    as ``path.bak`` (see :func:`backup_path`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if backup:
            _keep_previous(path)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str, backup: bool = False) -> None:
    write_bytes_atomic(path, text.encode("utf-8"), backup=backup)


def write_json_atomic(path: str | os.PathLike, obj: Any, indent: int | None = None, backup: bool = False) -> None:
    text = json.dumps(obj, indent=indent, ensure_ascii=False)
    write_text_atomic(path, text + ("\n" if indent is not None else ""), backup=backup)


def move_aside(path: str | os.PathLike, tag: str = "corrupt") -> Path:
    """Rename ``path`` to ``path.<tag>-<UTC time>`` (never over an existing file) and
    return the new name: a bad file is kept for inspection, never overwritten."""
    import time

    path = Path(path)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for i in range(1000):
        target = path.with_name(f"{path.name}.{tag}-{stamp}" + (f"-{i}" if i else ""))
        if not target.exists():
            os.replace(path, target)
            return target
    raise FileExistsError(errno.EEXIST, "no free name to move the file aside", str(path))


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
