"""Shards: which jobs of a batch shard ``K`` of ``N`` does (``srup upscale --shard K/N``),
the same on every machine."""

from __future__ import annotations

import hashlib
import os

from srup.batch.job import Job
from srup.errors import InvalidArgument

__all__ = ["shard", "shard_of"]


def shard_of(key: str, n: int) -> int:
    """The shard (1 to ``n``) of a job whose :attr:`Job.key` is ``key``: the BLAKE2b digest
    (8 bytes) of the key's bytes (``os.fsencode``, so undecodable names have theirs), as a
    big-endian integer, modulo ``n``, plus 1. The same on every machine, Python and run
    (never :func:`hash`, which is salted per process)."""
    digest = hashlib.blake2b(os.fsencode(key), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n + 1


def shard(jobs: list[Job], k: int, n: int) -> list[Job]:
    """The jobs of shard ``k`` of ``n`` (``1 <= k <= n``), in plan order.

    The rule: a job belongs to shard :func:`shard_of` ``(job.key, n)``, where ``job.key`` is
    its input's path relative to the input root as the output folder mirrors it (the file's
    name for a file given itself). So the ``n`` shards of one command are disjoint and
    together hold every job exactly once; a file's shard depends on its own relative path
    only, not on the other files, the input folder's name or the working directory: files
    added or renamed between runs leave the others where they were, and a restart with
    ``--skip-existing`` resumes the same files. A job made by hand (no ``key``) is hashed
    by ``src`` as given. Raises :class:`~srup.errors.InvalidArgument` (a ValueError) for
    ``k``/``n`` out of range.
    """
    if n < 1 or not 1 <= k <= n:
        raise InvalidArgument(f"shard {k}/{n}: needs 1 <= K <= N")
    return [job for job in jobs if shard_of(job.key or job.src.as_posix(), n) == k]
