"""Library warnings as notes of the file being processed, never as stray lines on stderr.

Pillow, NumPy and the codecs under them report odd input with Python warnings ("Corrupt
EXIF data", "Truncated File Read", overflow in a conversion). Printed, they break srup's
one-line-per-problem output and name no file; as notes, they land in that file's text and
``--json`` record. :func:`collect` routes the warnings raised *in the calling thread* to a
list, so a batch that reads one file in a thread while it writes another in a second one
gives each file its own notes. (``warnings.catch_warnings`` cannot: it swaps process-wide
state, and two threads using it at once can leave the wrong handler installed.)

Pillow also reports through :mod:`logging` ("More samples per pixel than can be decoded"
from its TIFF reader, at ERROR): with no handler configured, Python's last-resort handler
prints such records on stderr. While :func:`collect` runs, the records of Pillow's loggers
(warning and above) logged in the calling thread become notes the same way, as
``"PIL said: MESSAGE"``; other threads' records go where they went before.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import PurePath
from typing import Any

__all__ = ["CAUGHT", "ThreadNotes", "collect"]

# What libraries warn about the data (Pillow's UserWarnings, NumPy's RuntimeWarnings, PIL's
# DecompressionBombWarning). Deprecation and import warnings are about code, not about a
# file: they keep going wherever the program's filters send them.
CAUGHT: tuple[type[Warning], ...] = (UserWarning, RuntimeWarning)


class ThreadNotes:
    """Hooks that are process-wide (``warnings.showwarning``, a C library's error handler)
    but report per thread: ``install`` runs when the first thread starts collecting and
    ``uninstall`` when the last one stops; meanwhile :meth:`current` is the calling
    thread's list of notes (None when it collects nothing). Used by :func:`collect` and by
    :func:`srup.media.libtiff.messages`."""

    def __init__(self, install: Callable[[], None], uninstall: Callable[[], None]) -> None:
        self._install, self._uninstall = install, uninstall
        self._local = threading.local()
        self._lock = threading.Lock()
        self._active = 0

    def current(self) -> list[str] | None:
        return getattr(self._local, "notes", None)

    @contextmanager
    def collecting(self, notes: list[str]) -> Iterator[list[str]]:
        with self._lock:
            if self._active == 0:
                self._install()
            self._active += 1
        previous = self.current()
        self._local.notes = notes
        try:
            yield notes
        finally:
            self._local.notes = previous
            with self._lock:
                self._active -= 1
                if self._active == 0:
                    self._uninstall()


_saved_show: Any = None
_ours: list[tuple] = []  # the filters collect() added, removed again when the last one ends
_ORIGINAL_SHOW = warnings.showwarning
LOGGERS = ("PIL",)  # the loggers whose records become notes


class _Notes(logging.Handler):
    """Pillow's log records (warning and above) in the current thread's notes; a record
    from a thread without notes is printed as Python would have without this handler."""

    def emit(self, record: logging.LogRecord) -> None:
        notes = _hooks.current()
        if notes is None:
            self._as_before(record)
            return
        try:
            text = " ".join(record.getMessage().split())
        except Exception:  # a malformed record: its bare format string
            text = " ".join(str(record.msg).split())
        note = f"{record.name.split('.')[0]} said: {text}"
        if note not in notes:
            notes.append(note)

    def _as_before(self, record: logging.LogRecord) -> None:
        """Python's last resort, where no other handler up the chain takes the record."""
        logger: logging.Logger | None = logging.getLogger(record.name)
        while logger is not None:
            if any(h is not self for h in logger.handlers):
                return
            logger = logger.parent if logger.propagate else None  # type: ignore[assignment]
        last = logging.lastResort
        if last is not None and record.levelno >= last.level:
            last.handle(record)


_HANDLER = _Notes(logging.WARNING)


def _origin(filename: str) -> str:
    """The library a warning comes from, by its file: ``.../PIL/TiffImagePlugin.py`` →
    ``PIL``."""
    parts = PurePath(filename).parts
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            i = parts.index(marker)
            if i + 1 < len(parts):
                return parts[i + 1].removesuffix(".py")
    return PurePath(filename).stem


def _show(message, category, filename, lineno, file=None, line=None) -> None:
    notes = _hooks.current()
    if notes is None or not issubclass(category, CAUGHT):
        show = _saved_show if _saved_show not in (None, _show) else _ORIGINAL_SHOW
        show(message, category, filename, lineno, file, line)
        return
    text = " ".join(str(message).split())
    note = f"{_origin(filename)} warned: {text}"
    if note not in notes:
        notes.append(note)


def _install() -> None:
    global _saved_show
    # A catch_warnings() that ended in another thread may have put _show back after we
    # took it away: never save _show as what it replaced.
    if warnings.showwarning is not _show:
        _saved_show = warnings.showwarning
    warnings.showwarning = _show
    # "always": the same warning for the next file is that file's note too (the default
    # action shows a message once per code location, for all files).
    for category in CAUGHT:
        warnings.filterwarnings("always", category=category)
        _ours.append(warnings.filters[0])
    for name in LOGGERS:
        logging.getLogger(name).addHandler(_HANDLER)


def _uninstall() -> None:
    if warnings.showwarning is _show:  # unless someone replaced it meanwhile
        warnings.showwarning = _saved_show
    for f in _ours:
        if f in warnings.filters:
            warnings.filters.remove(f)
    _ours.clear()
    for name in LOGGERS:
        logging.getLogger(name).removeHandler(_HANDLER)
    # The filters changed: cached "already shown" verdicts must be recomputed.
    mutated = getattr(warnings, "_filters_mutated", None)
    if mutated is not None:
        mutated()


_hooks = ThreadNotes(_install, _uninstall)


@contextmanager
def collect(notes: list[str]) -> Iterator[list[str]]:
    """While the block runs, each warning raised in this thread whose category is in
    :data:`CAUGHT` is appended to ``notes`` once, as ``"LIBRARY warned: MESSAGE"`` (one
    line), instead of being printed; so is each record of :data:`LOGGERS` at warning or
    above, as ``"PIL said: MESSAGE"``. Other threads' warnings, and other categories, go
    where they went before. Nests; yields ``notes``."""
    with _hooks.collecting(notes):
        yield notes
