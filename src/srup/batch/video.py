"""One video from start to end (:func:`run_video`), through :mod:`srup.media.video`: its
frames are decoded, upscaled and encoded as they come, or written as PNG frames
(``--frames-to``)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from srup.batch.boundary import boundary
from srup.batch.job import AnyUpscaler, Job
from srup.batch.options import Options
from srup.batch.picture import Progress
from srup.batch.result import Result, Status
from srup.files import OutputExistsError
from srup.imaging.sizing import Sizing
from srup.media import pictures as imageio
from srup.media.video import Resizing, upscale_video
from srup.runtime.auto import Choice, Engine

__all__ = ["run_video"]


def run_video(up: AnyUpscaler, res: Result, job: Job, o: Options, progress: Progress) -> Result:
    """One video whose output :func:`srup.batch.picture.prepare` checked (``res``); its
    frames go to ``options.frames_to/NAME`` instead when that is set."""
    options = o.video
    with boundary(res, job, "video"):
        if options.frames_to is not None:
            options = replace(options, frames_to=Path(options.frames_to) / job.src.stem)
            res.output = str(options.frames_to)
        else:
            job.dst.parent.mkdir(parents=True, exist_ok=True)
        sizing = getattr(up, "sizing", None)
        chosen: list[Choice] = []  # the first frame's Choice: what every frame got
        process = _choosing(up, chosen) if isinstance(up, Engine) else up.process
        try:
            done = upscale_video(
                job.src,
                job.dst,
                process,
                options,
                progress,
                o.overwrite,
                skip_existing=o.skip_existing,
                resizing=Resizing(sizing, _process_at(up, chosen)) if sizing is not None else None,
            )
        except OutputExistsError:
            if not o.skip_existing:
                raise
            res.status = Status.SKIPPED
            return res
        _record(res, done, chosen)
    return res


def _record(res: Result, done, chosen: list[Choice]) -> None:
    """What :func:`srup.media.video.upscale_video` did (``done``), into ``res``."""
    if done.frames == 0 and done.skipped:  # --frames-to: every frame's PNG was there
        res.status = Status.SKIPPED
    else:
        res.status = Status.PARTIAL if done.partial else Status.DONE
    res.model, res.frames = done.model, done.frames
    if chosen:
        res.denoise, res.denoise_asked = chosen[0].denoise, chosen[0].asked
    res.size, res.out_size = done.size, done.out_size
    res.note(*done.notes)
    res.fps = round(done.fps, 2)


def _choosing(up: Engine, chosen: list[Choice]) -> Callable:
    """``up``'s process, which also keeps in ``chosen`` the :class:`srup.runtime.auto.Choice`
    of the first frame it is given (every frame of a clip gets the same: no per-frame
    estimate), for the clip's record."""

    def process(picture: imageio.Picture, progress: Progress = None):
        choice = up.choose(picture)
        if not chosen:
            chosen.append(choice)
        return up.process(picture, progress, choice)

    return process


def _process_at(up: Engine, chosen: list[Choice] | None = None) -> Callable[[Sizing], Callable]:
    """``sizing →`` ``up``'s process with that Sizing instead of its own, the same models
    (a video whose encoder needs even sizes, a turned clip: srup.media.video); ``chosen`` as
    :func:`_choosing`."""

    def at(sizing: Sizing) -> Callable:
        other = copy.copy(up)  # shares the loaded models
        other.sizing = sizing
        return other.process if chosen is None else _choosing(other, chosen)

    return at
