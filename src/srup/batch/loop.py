"""Running jobs: one file in the calling thread (:func:`run_job`), or a batch in order
(:func:`run_jobs`), the next input decoded and the last output encoded beside the network
when asked to overlap."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, nullcontext
from typing import Any

from srup.batch.job import AnyUpscaler, Job
from srup.batch.options import Options, options_with
from srup.batch.picture import Prepared, Progress, compute, finish, prepare
from srup.batch.result import Result
from srup.batch.video import run_video
from srup.media import pictures as imageio

__all__ = ["OVERLAP_MAX_PIXELS", "run_job", "run_jobs"]

# Above this output size the next file is not decoded, nor the last one encoded, beside the
# network: three big pictures at once would cost more memory than the overlap saves time.
OVERLAP_MAX_PIXELS = 50_000_000


def _network(
    up: AnyUpscaler, job: Job, prepared: Prepared, o: Options, progress: Progress
) -> imageio.Picture | None:
    """The network's stage of a job :func:`prepare` left ready, by its kind: a video from
    start to end (None: nothing left to write), a picture upscaled (None if that failed)."""
    if job.is_video:
        run_video(up, prepared.result, job, o, progress)
        return None
    return compute(up, prepared.result, job, prepared.picture, progress)


def run_job(
    up: AnyUpscaler,
    job: Job,
    options: Options | None = None,
    progress: Progress = None,
    **changes: Any,
) -> Result:
    """Upscale one file in the calling thread; every failure becomes a ``failed`` result
    rather than an exception (:mod:`srup.batch`). ``options``: :class:`Options` (default:
    its defaults); ``changes``: fields of it by name (``run_job(up, job,
    skip_existing=True)``)."""
    o = options_with(options, changes)
    prepared = prepare(up, job, o)
    res = prepared.result
    out = _network(up, job, prepared, o, progress) if prepared.ready else None
    del prepared  # the input is not needed while the output is encoded
    return res if out is None else finish(res, job, out, o)


class _Now:
    """A stage run when its result is asked for, as :meth:`Future.result` returns one: the
    read-ahead of a batch that does not overlap, which reads nothing ahead."""

    def __init__(self, fn: Callable[..., Prepared], *args: Any) -> None:
        self.fn, self.args = fn, args

    def result(self) -> Prepared:
        return self.fn(*self.args)


def run_jobs(
    up: AnyUpscaler,
    jobs: list[Job],
    options: Options | None = None,
    progress_for: Callable[[Job], AbstractContextManager] | None = None,
    overlap: bool = True,
    **changes: Any,
) -> Iterator[Result]:
    """:func:`run_job` over ``jobs``, results in order. With ``overlap``, the next input is
    decoded and the previous output encoded (unless PNG, which encodes on every core itself)
    in two threads while the network runs: Pillow and zlib release the GIL, so on a CPU they
    fill the gaps between the network's steps. ``progress_for(job)``: a context that gives
    the progress callback of the job's network stage. ``options`` and ``changes`` as
    :func:`run_job`."""
    o = options_with(options, changes)
    if not jobs:
        return
    with ExitStack() as threads:
        read: Callable[..., Future[Prepared] | _Now] = _Now
        if overlap:
            read = threads.enter_context(ThreadPoolExecutor(1, "srup-read")).submit
            writer = threads.enter_context(ThreadPoolExecutor(1, "srup-write"))
        reading = read(prepare, up, jobs[0], o)
        writing: Future[Result] | None = None
        for i, job in enumerate(jobs):
            prepared = reading.result()
            if i + 1 < len(jobs):
                reading = read(prepare, up, jobs[i + 1], o)
            res, out = prepared.result, None
            if prepared.ready:
                with progress_for(job) if progress_for else nullcontext() as progress:
                    out = _network(up, job, prepared, o, progress)
            del prepared  # the input is not needed while the output is encoded
            if writing is not None:
                yield writing.result()
                writing = None
            if out is None:
                yield res
            elif not overlap or job.fmt == "PNG" or out.size[0] * out.size[1] > OVERLAP_MAX_PIXELS:
                # srup's PNG encoder already runs on every core: beside the network it
                # only contends (2 cores: ×0.96 overlapped against ×1.02 in the foreground).
                yield finish(res, job, out, o)
            else:
                writing = writer.submit(finish, res, job, out, o)
        if writing is not None:
            yield writing.result()
