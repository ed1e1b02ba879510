"""libtiff's own messages as notes of the file being read or written, not lines on stderr.

Pillow decodes and encodes compressed TIFFs with libtiff, whose error handler prints
straight to file descriptor 2 from C ("tempfile.tif: Using code not yet in table." for a
damaged LZW strip, "Write error" on a full disk): no Python warning, so
:func:`srup.notes.collect` never sees it, and redirecting fd 2 would silence every other
thread too. :func:`messages` installs, through ``ctypes``, an error and a warning handler
in each libtiff the process has loaded (Pillow's bundled one, OpenCV's), which append the
message to the list of the thread that is reading or writing, and print it as libtiff
would for any other thread. Where the libraries cannot be found (not Linux, a static
build), messages go where they went before: nothing breaks.
"""

from __future__ import annotations

import ctypes
import functools
import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from srup.notes import ThreadNotes

__all__ = ["messages"]

_installed: list[tuple[ctypes.CDLL, object, object]] = []  # (lib, old error, old warning)
_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)
_vsnprintf = None


@functools.cache
def _libraries() -> list[ctypes.CDLL]:
    """Each libtiff mapped into this process (Linux: from /proc/self/maps), found once:
    Pillow's is linked to PIL._imaging, loaded here; OpenCV's wheels link theirs in."""
    if not sys.platform.startswith("linux"):
        return []
    import PIL._imaging  # noqa: F401  (loads Pillow's libtiff, if it has one)

    paths: list[str] = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.rsplit(maxsplit=1)[-1]
                name = path.rsplit("/", 1)[-1]
                if name.startswith("libtiff") and ".so" in name and path not in paths:
                    paths.append(path)
    except OSError:
        return []
    libs = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
            lib.TIFFSetErrorHandler.restype = ctypes.c_void_p
            lib.TIFFSetErrorHandler.argtypes = [ctypes.c_void_p]
            lib.TIFFSetWarningHandler.restype = ctypes.c_void_p
            lib.TIFFSetWarningHandler.argtypes = [ctypes.c_void_p]
        except (OSError, AttributeError):
            continue
        libs.append(lib)
    return libs


def _text(fmt: bytes | None, args: int | None) -> str:
    """libtiff's printf-style message, formatted by the C library where the ``va_list``
    can be passed on as a pointer (x86-64 Linux), else its format string."""
    global _vsnprintf
    raw = fmt or b""
    if args and platform.machine() in {"x86_64", "AMD64"}:
        if _vsnprintf is None:
            libc = ctypes.CDLL(None)
            _vsnprintf = libc.vsnprintf
            _vsnprintf.argtypes = [
                ctypes.c_char_p,
                ctypes.c_size_t,
                ctypes.c_char_p,
                ctypes.c_void_p,
            ]
        buf = ctypes.create_string_buffer(512)
        _vsnprintf(buf, len(buf), raw, args)
        raw = buf.value
    return " ".join(raw.decode("utf-8", "replace").split())


def _report(kind: str, module: bytes | None, fmt: bytes | None, args: int | None) -> None:
    try:
        text = _text(fmt, args)
        notes = _hooks.current()
        if notes is None:
            where = (module or b"").decode("utf-8", "replace")
            print(f"{where}: {text}" if where else text, file=sys.stderr)
        else:
            note = f"libtiff {kind}: {text}"
            if note not in notes:
                notes.append(note)
    except Exception:  # never raise into C
        pass


_on_error = _HANDLER(lambda module, fmt, args: _report("error", module, fmt, args))
_on_warning = _HANDLER(lambda module, fmt, args: _report("warning", module, fmt, args))


def _install() -> None:
    for lib in _libraries():
        old_error = lib.TIFFSetErrorHandler(ctypes.cast(_on_error, ctypes.c_void_p))
        old_warning = lib.TIFFSetWarningHandler(ctypes.cast(_on_warning, ctypes.c_void_p))
        _installed.append((lib, old_error, old_warning))


def _uninstall() -> None:
    for lib, old_error, old_warning in _installed:
        lib.TIFFSetErrorHandler(old_error)
        lib.TIFFSetWarningHandler(old_warning)
    _installed.clear()


_hooks = ThreadNotes(_install, _uninstall)


@contextmanager
def messages(notes: list[str]) -> Iterator[list[str]]:
    """While the block runs, libtiff's errors and warnings raised in this thread are
    appended to ``notes`` once each, as ``"libtiff error: MESSAGE"``; other threads'
    are printed to stderr as before. Nests; yields ``notes``."""
    with _hooks.collecting(notes):
        yield notes
