"""One unit of a batch's work: an input file, its output and the output's format."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from srup.runtime.auto import Engine
from srup.runtime.upscaler import Upscaler

__all__ = ["VIDEO", "AnyUpscaler", "Job"]

VIDEO = "VIDEO"  # a job's format when its input is a video
# What upscales a batch's files: one weight set (Upscaler), or the Engine that chooses the
# weights per picture (``-m auto``, ``--denoise auto``) and resizes to any size.
AnyUpscaler = Upscaler | Engine


@dataclass(frozen=True)
class Job:
    """One input file ``src``, its output ``dst`` in format ``fmt`` (a Pillow format name or
    :data:`VIDEO`), and what planning it found worth saying (``notes``). ``key``: ``src``'s
    path relative to its input root as the output mirrors it (``sub/a.png`` for
    ``in/sub/a.png`` of input folder ``in``; a file given itself: its name), in POSIX form;
    what :func:`srup.batch.shard` hashes. Empty for a job made by hand: ``src`` as given is
    used."""

    src: Path
    dst: Path
    fmt: str
    notes: tuple[str, ...] = ()
    key: str = field(default="", compare=False)

    @property
    def is_video(self) -> bool:
        """The input is a video: upscaled frame by frame into a video (or PNG frames)."""
        return self.fmt == VIDEO
