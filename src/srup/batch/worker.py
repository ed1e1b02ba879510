"""One worker of a cluster run (:mod:`srup.batch.cluster`): a process that builds the engine
once and upscales the files it is handed, one at a time, with the very
:func:`srup.batch.run_job` of a local run, so its outputs and records are the local run's.

Nothing here imports Ray: the driver makes :class:`Worker` a Ray actor, and the tests run it
as a plain object too.
"""

from __future__ import annotations

import os
import socket
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from srup import __version__, files
from srup.batch.job import Job
from srup.batch.loop import run_job
from srup.batch.memory import default_max_memory
from srup.batch.options import Options
from srup.batch.result import Result
from srup.errors import SrupError
from srup.imaging.sizing import Sizing
from srup.runtime.tilers.tiler import TileSize

if TYPE_CHECKING:
    from srup.runtime.auto import Engine

__all__ = [
    "CLOCK_SLACK",
    "Described",
    "EngineSpec",
    "RemoteError",
    "Worker",
    "retry_options",
    "settle_process",
]

# Seconds by which a node's or a file server's clock may lag the driver's (NTP keeps them
# within milliseconds): an output stamped this long before its file was first handed out
# still counts as written by that attempt (retry_options).
CLOCK_SLACK = 2.0


@dataclass(frozen=True)
class EngineSpec:
    """What every worker builds its own :class:`srup.runtime.auto.Engine` from (the
    engine's arguments travel, never its loaded weights): ``sizing``, ``model`` (a shipped
    name or ``auto``), ``weights`` (a weights file's path, as every node sees it),
    ``denoise`` (``auto`` or 0–1), ``device`` (``auto`` resolves on each worker's own
    machine), ``tile`` and ``precision``, as :func:`srup.load` takes them."""

    sizing: Sizing
    model: str = "auto"
    weights: str | None = None
    denoise: str | float = "auto"
    device: str = "auto"
    tile: TileSize | int | str = "auto"
    precision: str = "auto"

    def build(self) -> Engine:
        """The engine, loaded (its first weight set; the others on first use). Raises what
        :class:`~srup.runtime.auto.Engine` raises: an unknown model or scale, an absent
        device, a bad weights file."""
        from srup.runtime.auto import Engine

        return Engine(
            self.sizing,
            self.model,
            self.weights,
            self.denoise,
            device=self.device,
            tile=self.tile,
            precision=self.precision,
        )


@dataclass(frozen=True)
class Described:
    """A started worker: its engine's ``name``, ``device`` (``cpu``, ``cuda:0``; what a
    local run's records say) and ``device_type`` (``cpu``, ``cuda``: what its banner says),
    ``precision``, srup's ``version``, and where it runs: ``host`` name, ``pid``, and
    ``owner`` (:func:`srup.files.owner`), which its temporary files' names carry."""

    name: str
    device: str
    device_type: str
    precision: str
    version: str
    host: str
    pid: int
    owner: str


class RemoteError(Exception):
    """A file's failure on a worker, as the text of its traceback: what ``--debug`` prints
    (the exception itself may not survive the trip to the driver)."""


def settle_process() -> None:
    """The process-wide settings of a program that runs srup's batches (the command line,
    and every worker of a cluster run): srup applies its own ``--max-pixels`` (Pillow's
    bomb check off), and freed memory is kept for the next tile
    (:mod:`srup.runtime.allocator`)."""
    from PIL import Image

    from srup.runtime.allocator import keep_freed_memory

    Image.MAX_IMAGE_PIXELS = None
    keep_freed_memory()


def _written_since(path: Path, since: float) -> bool:
    try:
        return os.lstat(path).st_mtime >= since - CLOCK_SLACK
    except OSError:
        return False


def retry_options(job: Job, options: Options, since: float) -> Options:
    """The options of a file's next attempt after the worker of an earlier one died.
    ``since``: when the first attempt was handed out (``time.time()``, seconds, the
    driver's clock). An output (or, with ``--frames-to``, the frames folder) that appeared
    since then was published by the dead worker just before it died (publishing is atomic,
    so it is whole): it is written again, to the same bytes, over it, and the file's record
    is the one a local run makes. Anything older belongs to someone else and is treated as a
    local run treats it (``--skip-existing``, ``--overwrite`` or ``exists``)."""
    if options.overwrite:
        return options
    frames = options.video.frames_to
    target = Path(frames) / job.src.stem if job.is_video and frames is not None else job.dst
    if not _written_since(target, since):
        return options
    return replace(options, overwrite=True, skip_existing=False)


def _traceback_text(e: BaseException) -> str:
    return "".join(traceback.format_exception(type(e), e, e.__traceback__)).rstrip()


class Worker:
    """A process of a cluster run: :meth:`start` builds the engine once, :meth:`run` upscales
    one file with it. ``spec``: the engine's arguments; ``cwd``: the driver's working
    directory, entered first, so that relative paths name the same files and every message
    says them as a local run does; ``threads``: the network's threads (None: torch's
    default); ``memory_share``: with ``--max-memory`` at its default, the share (0–1) of
    three quarters of this machine's memory that each picture may need (None: the
    options' own limit)."""

    def __init__(
        self,
        spec: EngineSpec,
        cwd: str,
        threads: int | None = None,
        memory_share: float | None = None,
    ) -> None:
        self.spec, self.cwd, self.threads, self.memory_share = spec, cwd, threads, memory_share
        self.engine: Engine | None = None
        self.memory_limit: int | None = None

    def start(self) -> Described:
        """Enter the driver's directory, set the threads, build the engine. Raises
        :class:`~srup.errors.SrupError` when the directory is not on this node (one line
        saying what a cluster run needs), and what :meth:`EngineSpec.build` raises."""
        try:
            os.chdir(self.cwd)
        except OSError as e:
            raise SrupError(
                f"{socket.gethostname()}: cannot enter {self.cwd} ({e.strerror or e}); a "
                "cluster run needs its inputs and outputs on a file system that every node "
                "mounts at the same path"
            ) from None
        import torch

        if self.threads:
            torch.set_num_threads(self.threads)
        settle_process()
        self.engine = engine = self.spec.build()
        if self.memory_share is not None:
            self.memory_limit = max(1, int(default_max_memory() * self.memory_share))
        device = engine.device
        return Described(
            engine.name,
            str(device),
            device.type,
            engine.precision,
            __version__,
            socket.gethostname(),
            os.getpid(),
            files.owner(),
        )

    def run(
        self, job: Job, options: Options, since: float | None = None
    ) -> tuple[Result, list[str]]:
        """``job`` through :func:`srup.batch.run_job`, and the run's notes that arose
        meanwhile (``Engine.new_notes``). ``since``: for a retry, when the first attempt was
        handed out (:func:`retry_options`). A file's failure is its result (its exception
        as :class:`RemoteError`); an error of the run (:data:`srup.batch.FATAL_ERRORS`)
        is raised, as in a local run."""
        if self.engine is None:
            raise RuntimeError("Worker.run before Worker.start")
        o = options if self.memory_limit is None else replace(options, max_memory=self.memory_limit)
        if since is not None:
            o = retry_options(job, o, since)
        res = run_job(self.engine, job, o)
        if res.exception is not None:
            res.exception = RemoteError(_traceback_text(res.exception))
        return res, self.engine.new_notes()
