"""One picture from start to end, in the three stages a batch overlaps
(:func:`srup.batch.run_jobs`): :func:`prepare` (the output checked, a video's too; the
memory estimate; the input decoded), :func:`compute` (the network) and :func:`finish`
(written, then scored against ``--reference``). Each stage is one failure boundary
(:mod:`srup.batch.boundary`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from srup.batch.boundary import boundary
from srup.batch.job import AnyUpscaler, Job
from srup.batch.memory import check_memory, final_size
from srup.batch.options import Options
from srup.batch.result import Result, Status
from srup.errors import OutputError
from srup.files import OutputExistsError
from srup.media import pictures as imageio
from srup.runtime.auto import Engine

__all__ = ["Prepared", "Progress", "compute", "finish", "prepare"]

# Told (done, total) as tiles of a picture or frames of a video are done.
Progress = Callable[[int, int], None] | None


@dataclass
class Prepared:
    """A job after :func:`prepare`: its result so far and, for a picture, the decoded
    input (None for a video, decoded frame by frame, and for a file already finished:
    skipped or failed)."""

    result: Result
    picture: imageio.Picture | None = None

    @property
    def ready(self) -> bool:
        """Checked (and a picture decoded): the network's turn."""
        return self.result.status is Status.RUNNING


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or os.path.samefile(a, b)
    except OSError:
        return False


def _check_output(res: Result, job: Job, o: Options) -> None:
    """An existing output: skipped with ``--skip-existing``, else refused unless
    ``--overwrite`` (never the input itself)."""
    frames_only = job.is_video and o.video.frames_to is not None  # job.dst is not written
    with boundary(res, job, "output"):
        if not frames_only and _exists(job.dst):
            if o.skip_existing:
                res.status = Status.SKIPPED
            elif _same_file(job.dst, job.src):
                raise OutputError(f"{job.dst}: output is the input file; choose another -o")
            elif not o.overwrite:
                raise OutputError(
                    f"{job.dst}: exists; use --overwrite to replace it or --skip-existing"
                )


def prepare(up: AnyUpscaler, job: Job, o: Options) -> Prepared:
    """Checks on the output, the memory estimate, then the decoded input."""
    res = Result(str(job.src), str(job.dst), Status.RUNNING, notes=job.notes)
    _check_output(res, job, o)
    if res.status is not Status.RUNNING or job.is_video:  # a video: srup.batch.video
        return Prepared(res)
    if o.max_memory:
        with boundary(res, job, "probe"):
            probe = check_memory(up, job, o.max_memory, o.max_pixels)
            res.size = probe.width, probe.height
        if res.status is Status.FAILED:
            return Prepared(res)
    picture = None
    with boundary(res, job, "read"):
        picture = imageio.read(job.src, max_pixels=o.max_pixels)
        res.size = picture.size
        res.note(*picture.notes)
    if res.status is Status.RUNNING:
        # An output the format cannot hold (a JPEG over 65,500 pixels a side) fails now,
        # not after the upscale: its size is known from the input's (turned upright).
        with boundary(res, job, "output"):
            imageio.check_size(job.dst, job.fmt, final_size(up, *picture.size)[0])
    return Prepared(res, picture if res.status is Status.RUNNING else None)


def compute(
    up: AnyUpscaler, res: Result, job: Job, picture: imageio.Picture, progress: Progress
) -> imageio.Picture | None:
    """The network's stage: ``picture`` upscaled (None when it failed)."""
    out = None
    with boundary(res, job, "upscale"):
        if isinstance(up, Engine):
            # Which weights, from what the file says (--denoise auto): said in its record.
            choice = up.choose(picture)
            res.denoise, res.denoise_asked = choice.denoise, choice.asked
            res.estimate = None if choice.estimate is None else choice.estimate.to_json()
            if choice.note:
                res.note(choice.note)
            out, res.model = up.process(picture, progress, choice)
        else:
            out, res.model = up.process(picture, progress)
        res.note(*out.notes)
    return out if res.status is Status.RUNNING else None


def _write_picture(out: imageio.Picture, job: Job, o: Options) -> list[str]:
    """Write ``out``; the notes the writer made (alpha flattened onto the background, EXIF
    dropped, ...)."""
    return imageio.write(
        out,
        job.dst,
        fmt=job.fmt,
        quality=o.quality,
        background=o.background,
        overwrite=o.overwrite,
    )


def finish(res: Result, job: Job, out: imageio.Picture, o: Options) -> Result:
    """Write ``out``, then score it against the reference if one was given."""
    with boundary(res, job, "write"):
        job.dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            res.note(*_write_picture(out, job, o))
        except OutputExistsError:
            if not o.skip_existing:
                raise
            res.status = Status.SKIPPED  # another run finished it meanwhile
        else:
            res.out_size, res.status = out.size, Status.DONE
    if res.status is Status.DONE:
        _score(res, job, o)
    return res


def _score(res: Result, job: Job, o: Options) -> None:
    if o.reference is None or o.reference_scale is None:
        return
    from srup.evaluation.compare import reference_scores

    with boundary(res, job, "reference"):
        rows = reference_scores(job.dst, job.src, o.reference, o.reference_scale)
        by = {r["method"]: {k: r[k] for k in ("psnr", "ssim", "mse")} for r in rows}
        res.scores = {"reference": rows[0]["reference"], **by}
