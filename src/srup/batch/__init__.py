"""Batch planning and running: which file goes where, and one file's upscale from start to end.

Kept apart from the CLI so scripts get the same rules: outputs never escape the output
folder, never overwrite without being asked (not even another run's, written meanwhile),
and are written atomically (:mod:`srup.files`).

**One failure boundary per file.** Whatever one input raises at any stage (the output
check, the memory estimate, reading with its EXIF and ICC, the output size the format can
hold, the upscale, writing, scoring against ``--reference``), srup's own errors and
unexpected ones alike, becomes that file's ``failed`` :class:`Result` with a one-line
``error``; the batch goes on. Library warnings raised meanwhile become the file's notes
(:mod:`srup.notes`). Only Ctrl-C and SIGTERM (``BaseException``) go through, to stop the
batch, and errors of the run rather than of the file (:data:`FATAL_ERRORS`: weights that
cannot be loaded, a device that cannot run).

Where things are: :mod:`~srup.batch.plan` (which file goes where, from
:mod:`~srup.batch.inputs`, what the inputs hold, and :mod:`~srup.batch.naming`, the
outputs' names), :mod:`~srup.batch.shard`, :mod:`~srup.batch.memory` (what a picture
needs), :mod:`~srup.batch.picture` (one picture's stages: prepare, compute, finish),
:mod:`~srup.batch.video` (one video), :mod:`~srup.batch.boundary` (the failure boundary),
:mod:`~srup.batch.loop` (:func:`run_job`, :func:`run_jobs`), :mod:`~srup.batch.options`
and :mod:`~srup.batch.result` (:class:`Status`, :class:`Result`); the same jobs on a Ray
cluster: :mod:`~srup.batch.cluster` (:class:`Cluster`, the driver; Ray imported only when one
starts) and :mod:`~srup.batch.worker` (:class:`EngineSpec`, what each worker runs). This
module is their public face.
"""

from __future__ import annotations

from srup.batch.boundary import FATAL_ERRORS
from srup.batch.cluster import Cluster
from srup.batch.inputs import left_out_reason
from srup.batch.job import VIDEO, AnyUpscaler, Job
from srup.batch.loop import OVERLAP_MAX_PIXELS, run_job, run_jobs
from srup.batch.memory import (
    ESTIMATE_COPY_BYTES_PER_PIXEL,
    FLATTEN_BYTES_PER_SAMPLE,
    FLATTENED_FORMATS,
    RESIZE_BYTES_PER_SAMPLE,
    WORKING_BYTES,
    MemoryEstimate,
    default_max_memory,
    estimate_memory,
)
from srup.batch.options import NO_VIDEO_OPTIONS, WHITE, Options
from srup.batch.plan import Plan, plan
from srup.batch.result import Result, Status
from srup.batch.shard import shard, shard_of
from srup.batch.worker import EngineSpec

__all__ = [
    "ESTIMATE_COPY_BYTES_PER_PIXEL",
    "FATAL_ERRORS",
    "FLATTENED_FORMATS",
    "FLATTEN_BYTES_PER_SAMPLE",
    "NO_VIDEO_OPTIONS",
    "OVERLAP_MAX_PIXELS",
    "RESIZE_BYTES_PER_SAMPLE",
    "VIDEO",
    "WHITE",
    "WORKING_BYTES",
    "AnyUpscaler",
    "Cluster",
    "EngineSpec",
    "Job",
    "MemoryEstimate",
    "Options",
    "Plan",
    "Result",
    "Status",
    "default_max_memory",
    "estimate_memory",
    "left_out_reason",
    "plan",
    "run_job",
    "run_jobs",
    "shard",
    "shard_of",
]
