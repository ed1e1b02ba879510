"""What became of one input: its :class:`Status` and its :class:`Result`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["Result", "Status"]


class Status(StrEnum):
    """Where one input stands. A ``str``: its value is what ``--json`` prints in ``status``
    and compares equal to it (``Status.DONE == "done"``)."""

    RUNNING = "running"  # between its checks and its end: never a finished result's
    DONE = "done"
    PARTIAL = "partial"  # written, from less than the input holds (a video cut short)
    SKIPPED = "skipped"  # the output exists and --skip-existing was given
    FAILED = "failed"
    LEFT_OUT = "left_out"  # a file a folder scan passed over

    @property
    def written(self) -> bool:
        """An output was written (done or partial)."""
        return self in (Status.DONE, Status.PARTIAL)


@dataclass
class Result:
    """What became of one input. ``status``: done, partial (written, but from less than the
    input holds: a video that ends before its container says it should; ``notes`` say
    what is missing), skipped (the output exists and ``--skip-existing`` was given), failed
    (``error`` says why, in one line) or left_out (a file a folder scan passed over); a
    plain string is taken as the :class:`Status` of that value.
    ``size``/``out_size``: (width, height) in pixels; ``seconds``: wall time spent on this
    file; ``scores``: PSNR/SSIM against ``--reference``; ``denoise``: the ``--denoise``
    strength that ran (None where none applies: a named model or --weights file under
    --denoise auto, a plain resize); for a video, what every frame got; ``denoise_asked``:
    the strength asked for (given, or chosen by --denoise auto) when it is not the one that
    ran (used to the nearest 0.05, or beyond the family's last member shipped: the run's
    notes say why), else None; ``estimate``: what ``--denoise auto`` estimated of the file
    (:meth:`srup.imaging.estimate.Estimate.to_json`; None when nothing was estimated: lossless
    files, videos, other models); ``exception``: what was raised, for ``--debug`` (never
    printed otherwise)."""

    input: str
    output: str | None
    status: Status
    error: str | None = None
    seconds: float = 0.0
    size: tuple[int, int] | None = None
    out_size: tuple[int, int] | None = None
    notes: tuple[str, ...] = ()
    model: str | None = None
    frames: int | None = None  # videos: frames upscaled
    fps: float | None = None
    scores: dict[str, Any] | None = None
    denoise: float | None = None
    estimate: dict[str, Any] | None = None
    denoise_asked: float | None = None
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.status = Status(self.status)

    @property
    def megapixels(self) -> float:
        """Output megapixels, every frame of a video counted."""
        if not self.out_size or not self.status.written:
            return 0.0
        return self.out_size[0] * self.out_size[1] / 1e6 * (self.frames or 1)

    def note(self, *texts: str) -> None:
        """Add notes not already there, in order."""
        self.notes += tuple(t for t in dict.fromkeys(texts) if t not in self.notes)
