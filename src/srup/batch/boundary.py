"""One failure boundary per file: whatever one stage of one input raises becomes that
file's ``failed`` :class:`~srup.batch.result.Result` with a one-line error, its warnings its
notes (:func:`boundary`); only the errors of the run (:data:`FATAL_ERRORS`) and Ctrl-C or
SIGTERM go through."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from srup import notes
from srup.batch.job import Job
from srup.batch.result import Result, Status
from srup.errors import (
    BadWeightsError,
    DeviceError,
    DeviceMemoryError,
    SrupError,
    UnsupportedPrecision,
)

__all__ = ["FATAL_ERRORS", "boundary"]

# What each stage was doing, for the message of an unexpected error.
_DOING = {
    "output": "checking the output",
    "probe": "reading the header",
    "read": "reading",
    "upscale": "upscaling",
    "write": "writing",
    "reference": "scoring against --reference",
    "video": "upscaling the video",
}

# Errors of the run, not of one file: weights that cannot be loaded (damaged, of another
# model) or a device that cannot run them. They stop the batch (exit 1 for weights), where
# reporting them file by file would fail every file alike and exit 3. A device out of
# memory is one file's failure (a smaller picture may fit), whatever its class derives from.
# A weight set that cannot run in the asked precision fails every file alike: a limit of
# the run, as a device error is.
FATAL_ERRORS = (BadWeightsError, DeviceError, UnsupportedPrecision)


def _type_name(e: BaseException) -> str:
    """``TypeError``, ``struct.error``, ``PIL.UnidentifiedImageError``: enough to search for."""
    kind = type(e)
    module = kind.__module__.removeprefix("_")  # struct.error lives in _struct
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def _message(e: BaseException, job: Job, stage: str) -> str:
    if isinstance(e, (MemoryError, DeviceMemoryError)):  # NumPy's, or a device's (named)
        where = str(e) if isinstance(e, DeviceMemoryError) else "out of memory"
        text = f"{job.src}: {where}; use a smaller --tile, --max-pixels or --max-memory"
    elif isinstance(e, SrupError):  # BadImageError, OutputError and the rest: they say it
        text = str(e)
    elif isinstance(e, OSError):
        where = e.filename or (job.dst if stage == "write" else job.src)
        text = f"{os.fsdecode(where) if isinstance(where, bytes) else where}: {e.strerror or e}"
    else:  # a library's own exception (struct.error, TypeError, ...): still this file's
        detail = str(e) or "no message"
        text = f"{job.src}: failed while {_DOING[stage]} ({_type_name(e)}: {detail})"
    if str(job.src) not in text and str(job.dst) not in text:
        text = f"{job.src}: {text}"
    if stage == "reference":
        text += " (the output was written)"
    return " ".join(text.split())  # one line, whatever the exception held


def _fatal(e: Exception) -> bool:
    return isinstance(e, FATAL_ERRORS) and not isinstance(e, DeviceMemoryError)


@contextmanager
def boundary(res: Result, job: Job, stage: str) -> Iterator[None]:
    """Run one stage of one file: its time is counted, its warnings become notes, and any
    ``Exception`` it raises becomes the file's failure (``res.status`` failed)."""
    start = time.perf_counter()
    caught: list[str] = []
    try:
        with notes.collect(caught):
            yield
    except Exception as e:
        if _fatal(e):
            raise  # the model cannot run: every file after this one would fail the same way
        res.status, res.error, res.exception = Status.FAILED, _message(e, job, stage), e
    finally:
        res.seconds += time.perf_counter() - start
        res.note(*caught)
