"""Atomic writes, one rule for every file srup makes (pictures, videos, weights, reports).

A file is written under a temporary name in its target folder, flushed to disk, and only
then given its final name, so that no reader ever sees half a file, even after Ctrl-C, a
SIGKILL or a full disk. The rule:

- **Short temporary names.** ``.srup-<host>-<pid>-<random>.part``: at most 40 bytes
  whatever the final name, so an output name of up to 255 bytes (the usual file system
  limit) can be written; the final name's suffix is added only where a writer needs it to
  pick a format (video containers, :func:`temporary`).
- **Create or fail.** Unless asked to overwrite, the final name is claimed atomically at the
  end: a hard link of the finished temporary file (which fails if the name exists), then the
  temporary name is removed. Where hard links are not supported (FAT, some network file
  systems) Linux's ``renameat2(RENAME_NOREPLACE)`` does the same, and where that is missing
  too, an exclusively created placeholder is replaced. So two runs writing into one folder
  never replace each other's finished outputs; the second one gets
  :class:`OutputExistsError`.
- **Stale temporary files are removed.** A run killed by SIGKILL leaves its temporary file;
  the next write into that folder removes the temporary files of every srup process on this
  host that is no longer alive (its pid is in the name). Files of live processes, and of
  other hosts sharing the folder, are left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import hashlib
import os
import re
import secrets
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from srup.errors import OutputError

__all__ = [
    "TEMP_PREFIX",
    "OutputExistsError",
    "atomic_write",
    "is_temporary",
    "owner",
    "publish",
    "remove_stale",
    "remove_temporaries",
    "temporary",
    "write_file",
]

TEMP_PREFIX = ".srup-"
TEMP_MARK = ".part"
# 8 hex digits of the host name's hash: pids are only meaningful on the host that made them.
_HOST = hashlib.sha1(socket.gethostname().encode("utf-8", "surrogateescape")).hexdigest()[:8]
_NAME = re.compile(r"^\.srup-([0-9a-f]{8})-(\d+)-[0-9a-f]+\.part(\.[^/]*)?$")
_cleaned: set[Path] = set()  # folders whose stale files this process has removed
_cleaned_lock = threading.Lock()
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


class OutputExistsError(OutputError):
    """The final name was taken (by another run, or a file made meanwhile) and overwriting
    was not asked for."""


def is_temporary(name: str) -> bool:
    """Whether ``name`` is a temporary file name of srup's (see :func:`temporary`)."""
    return _NAME.match(name) is not None


def _alive(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":  # Windows' os.kill(pid, 0) would kill it
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    except OSError:  # cannot tell (e.g. no kill(2) on this platform): assume alive
        return True
    return True


def _remove_temporaries_where(
    folder: str | os.PathLike[str], whose: Callable[[str, int], bool]
) -> list[Path]:
    """Remove the temporary files in ``folder`` whose (host hash, pid) ``whose`` accepts;
    returns what was removed. Errors (a read-only folder, a file removed meanwhile by
    another run) are ignored: cleaning is a courtesy, never a failure."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _NAME.match(entry.name)
        if m is None or not whose(m.group(1), int(m.group(2))):
            continue
        with suppress(OSError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


def remove_stale(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files in ``folder`` left by srup processes of this host that are
    no longer alive; returns what was removed (errors ignored)."""
    return _remove_temporaries_where(folder, lambda host, pid: host == _HOST and not _alive(pid))


def owner() -> str:
    """What this process's temporary names carry after :data:`TEMP_PREFIX`: ``HOST-PID``,
    the host's 8-hex-digit hash and the process id (``3f2a9c01-4242``). Another process
    that knows it (a cluster run's driver, told by its workers) can remove them once this
    one is known to have ended (:func:`remove_temporaries`)."""
    return f"{_HOST}-{os.getpid()}"


def remove_temporaries(folder: str | os.PathLike[str], of: str) -> list[Path]:
    """Remove the temporary files in ``folder`` that the process ``of`` (its
    :func:`owner`, on any host) left; returns what was removed. Only for a process known to
    have ended (a killed cluster worker): its files are never finished. Errors are ignored,
    as in :func:`remove_stale`."""
    return _remove_temporaries_where(folder, lambda host, pid: f"{host}-{pid}" == of)


def _clean_once(folder: Path) -> None:
    key = folder.resolve()
    with _cleaned_lock:
        if key in _cleaned:
            return
        _cleaned.add(key)
    remove_stale(folder)


def _open_temporary(folder: Path, suffix: str) -> tuple[int, Path]:
    """A new, empty temporary file in ``folder``, created exclusively (0600 until published)."""
    _clean_once(folder)
    while True:
        name = f"{TEMP_PREFIX}{_HOST}-{os.getpid()}-{secrets.token_hex(6)}{TEMP_MARK}{suffix}"
        path = folder / name
        try:
            fd = os.open(path, _CREATE, 0o600)
        except FileExistsError:  # 48 random bits collided: draw again
            continue
        return fd, path


def _umask_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _renameat2_noreplace() -> Callable[[Path, Path], None] | None:
    """Linux's ``renameat2(..., RENAME_NOREPLACE)`` through libc, or None where absent."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, noreplace = -100, 1

    def rename(src: Path, dst: Path) -> None:
        if fn(at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), noreplace) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(dst))

    return rename


# errnos that mean "this file system cannot do that", not "the name is taken"
_UNSUPPORTED = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EINVAL}
_UNSUPPORTED |= {errno.EMLINK, errno.EXDEV, errno.EACCES}


def publish(tmp: Path, path: Path, overwrite: bool = True) -> None:
    """Give the finished temporary file ``tmp`` its final name ``path`` (same folder).

    ``overwrite``: replace what is there (an atomic rename). Otherwise create or fail:
    :class:`OutputExistsError` if ``path`` exists, and ``tmp`` is removed either way.
    """
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        _discard(tmp)
        raise OutputExistsError(
            f"{path}: exists (made meanwhile by another run?); use --overwrite to replace it "
            "or --skip-existing"
        ) from None
    except OSError as e:
        if e.errno not in _UNSUPPORTED:
            raise
        _publish_without_links(tmp, path)
        return
    _discard(tmp)


def _publish_without_links(tmp: Path, path: Path) -> None:
    rename = _renameat2_noreplace()
    if rename is not None:
        try:
            rename(tmp, path)
            return
        except FileExistsError:
            _discard(tmp)
            raise OutputExistsError(f"{path}: exists; use --overwrite to replace it") from None
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
                raise
    # Last resort: claim the name with an exclusively created empty file, then replace it.
    # Another run can no longer take the name; a reader may see it empty for an instant.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _discard(tmp)
        raise OutputExistsError(f"{path}: exists; use --overwrite to replace it") from None
    os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        _discard(path)
        raise


def _discard(path: Path) -> None:
    with suppress(FileNotFoundError):
        os.unlink(path)


@contextmanager
def temporary(path: str | os.PathLike[str], overwrite: bool = True) -> Iterator[Path]:
    """A temporary file's path beside ``path``, ending in ``path``'s suffix (for writers such
    as FFmpeg that choose the format by it); when the block ends without an exception the
    file is published as ``path`` (see :func:`publish`), otherwise removed."""
    path = Path(path)
    fd, tmp = _open_temporary(path.parent, path.suffix if len(path.suffix) <= 16 else "")
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _umask_mode())
        publish(tmp, path, overwrite)
    except BaseException:
        _discard(tmp)
        raise


@contextmanager
def atomic_write(path: str | os.PathLike[str], overwrite: bool = True) -> Iterator[IO[bytes]]:
    """A binary file that appears at ``path`` only once it is complete and on disk.

    ``overwrite``: replace an existing ``path``; otherwise :class:`OutputExistsError` at the
    end if the name exists by then (nothing is replaced). Any exception in the block removes
    the temporary file and propagates.
    """
    path = Path(path)
    fd, tmp = _open_temporary(path.parent, "")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _umask_mode())
        publish(tmp, path, overwrite)
    except BaseException:
        _discard(tmp)
        raise


def write_file(
    path: str | os.PathLike[str], fill: Callable[[IO[bytes]], object], overwrite: bool = True
) -> None:
    """Write a file atomically with ``fill(f)`` (see :func:`atomic_write`); an OS failure
    (full disk, permissions, a name too long) becomes an :class:`OutputError` naming the
    file, and an existing file without ``overwrite`` an :class:`OutputExistsError`."""
    path = Path(path)
    try:
        with atomic_write(path, overwrite) as f:
            fill(f)
    except OSError as e:
        raise OutputError(f"{path}: cannot write ({e.strerror or e})") from None
