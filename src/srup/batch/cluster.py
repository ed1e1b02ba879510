"""A batch on a Ray cluster (``srup upscale ... --ray [ADDRESS]``; :class:`Cluster` in
Python): another executor of the jobs :func:`srup.batch.plan` made, with the same per-file
function as a local run (:func:`srup.batch.run_job`, through :class:`srup.batch.worker.Worker`),
so the outputs are the local run's byte for byte and the records are its records.

- **Workers.** One Ray actor per GPU (when the cluster has GPUs and ``device`` is not
  ``cpu``) or per ``worker_cpus`` CPUs of each node, pinned to its node. Each builds the
  engine once, from the engine's arguments (:class:`~srup.batch.worker.EngineSpec`), and
  keeps every weight set it loads for the run.
- **Bounded work in flight.** Files are handed out in plan order, at most
  :data:`IN_FLIGHT` per worker (one running, one waiting so that it never idles for the
  round trip); results come back as each file ends, in that order, not the plan's.
- **Outputs.** Workers write them with srup's atomic rule (:mod:`srup.files`) on a file
  system that every node and the driver mount at the same path; each worker enters the
  driver's working directory, so relative paths mean the same files.
- **A worker that dies** (killed, out of memory, its node lost) loses nothing: the files it
  held go to other workers, its temporary files are removed (their names carry its host
  and pid), and a dead worker is replaced. An output it had published just before dying
  is written again over itself (:func:`srup.batch.worker.retry_options`). A file whose
  worker dies :data:`ATTEMPTS` times is that file's failure. A file that fails for its own
  reasons is reported as in a local run; an error of the run (a bad weights file) ends it.

Ray is imported only here, and only when a cluster run starts (:func:`ray_module`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from srup import __version__, files
from srup.batch.job import Job
from srup.batch.options import Options
from srup.batch.result import Result, Status
from srup.batch.worker import Described, EngineSpec, Worker
from srup.errors import InvalidArgument, MissingExtraError, SrupError

__all__ = [
    "ATTEMPTS",
    "DEFAULT_WORKER_CPUS",
    "INSTALL",
    "IN_FLIGHT",
    "Cluster",
    "EngineSpec",
    "ray_module",
]

INSTALL = "pip install 'ray>=2.60,<3'"  # srup's ray extra, by its one package
# Files handed to one worker at a time: one running, one waiting, so that a worker never
# idles for the driver's round trip, while the rest stay on the driver (bounded in flight).
IN_FLIGHT = 2
# A file whose worker dies this many times (a file that kills whatever reads it) fails.
ATTEMPTS = 3
# CPUs per worker by default: one process per core upscaled twice the files per second of
# the local run on 2 cores (benchmarks/cluster.py, docs/cluster.md), where a worker of both
# cores did not beat it; --worker-cpus gives a big picture more threads and more memory.
DEFAULT_WORKER_CPUS = 1
# Seconds between the driver's looks at its workers: how soon Ctrl-C is seen.
POLL_SECONDS = 0.5
# Seconds that workers may take to start (be scheduled, import torch, load the model).
START_SECONDS = 600.0


def ray_module() -> ModuleType:
    """The ``ray`` module; :class:`~srup.errors.MissingExtraError` (one line, what to install)
    without it."""
    try:
        import ray
    except ImportError:
        raise MissingExtraError(f"a cluster run needs Ray: {INSTALL}") from None
    return ray


@dataclass
class _Slot:
    """A worker actor: how it was placed (for a replacement), what it said when it started
    (None until then), and the object refs of the files it holds, in hand-out order."""

    actor: Any
    placement: dict[str, Any]
    share: float | None
    info: Described | None = None
    flights: list[Any] = field(default_factory=list)


@dataclass
class _Ticket:
    """A file of the run: its job, the attempts its workers died in, and when it was first
    handed out (``time.time()``, the driver's clock)."""

    job: Job
    tries: int = 0
    since: float | None = None


def _folders(job: Job, options: Options) -> set[Path]:
    """Where a job's temporary files may be: beside its output, and with ``--frames-to`` in
    its frames folder."""
    found = {job.dst.parent}
    if job.is_video and options.video.frames_to is not None:
        found.add(Path(options.video.frames_to) / job.src.stem)
    return found


def _layout(ray: ModuleType, worker_cpus: int | None, device: str) -> list[tuple[dict, float]]:
    """The workers to start: each one's Ray options (its resources, pinned to its node) and
    its share of its node's memory. One per GPU when the cluster has GPUs and ``device``
    allows one; else one per ``worker_cpus`` CPUs of each node. Raises
    :class:`~srup.errors.InvalidArgument` when no node has ``worker_cpus`` CPUs."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [n for n in ray.nodes() if n.get("Alive")]
    gpu = device not in ("cpu", "mps") and any(n["Resources"].get("GPU", 0) >= 1 for n in nodes)
    largest = max((int(n["Resources"].get("CPU", 0)) for n in nodes), default=0)
    per = worker_cpus or max(1, min(DEFAULT_WORKER_CPUS, largest))
    layout = []
    for node in nodes:
        have = node["Resources"]
        count = int(have.get("GPU", 0)) if gpu else int(have.get("CPU", 0)) // per
        pin = NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
        need = {"num_gpus": 1, "num_cpus": 1} if gpu else {"num_cpus": per}
        share = 1 / count if gpu else per / have["CPU"]
        layout += [({**need, "scheduling_strategy": pin}, share)] * count
    if not layout:
        raise InvalidArgument(
            f"--worker-cpus {per}: no node of the Ray cluster has that many CPUs (the "
            f"largest has {largest})"
        )
    return layout


@contextlib.contextmanager
def _signals_through() -> Iterator[None]:
    """Around Ray's calls: an exception that a signal handler raised inside Ray's compiled
    code (SIGTERM's, which srup raises like Ctrl-C's) comes out as a ``SystemError`` caused
    by it; it is raised as itself, so the run stops as it would locally."""
    try:
        yield
    except SystemError as e:
        if isinstance(e.__cause__, BaseException) and not isinstance(e.__cause__, Exception):
            raise e.__cause__ from None
        raise


def _cause(e: Exception) -> Exception:
    """What a worker raised, from the RayTaskError that wraps it (itself if none)."""
    cause = getattr(e, "cause", None)
    return cause if isinstance(cause, Exception) else e


class Cluster:
    """A batch's workers on a Ray cluster, as a context manager: ``with Cluster(spec) as
    cluster: for res in cluster.run(jobs, options): ...``.

    ``spec``: what each worker builds (:class:`~srup.batch.worker.EngineSpec`);
    ``address``: the cluster (None: Ray's own rule, ``RAY_ADDRESS``, else the cluster
    ``ray start`` made on this machine, else a new local one; ``auto``, ``local``,
    ``HOST:PORT``, ``ray://HOST:PORT``); a Ray session this process already holds is used as
    it is. ``worker_cpus``: CPUs per worker (default :data:`DEFAULT_WORKER_CPUS`);
    ``node_memory``: each worker limits a picture to its share of three quarters of its
    node's memory (``--max-memory``'s default, divided between the workers of a node)
    instead of ``options.max_memory``; ``ray_messages``: Ray's own messages (a worker died,
    its logs) go to stderr, else nowhere (never to stdout, which holds results).

    Entering connects and starts the workers: raises :class:`~srup.errors.MissingExtraError`
    without Ray, :class:`~srup.errors.InvalidArgument` for a ``worker_cpus`` no node has,
    :class:`~srup.errors.SrupError` when no worker starts within :data:`START_SECONDS` or one
    runs another srup version, and what building the engine raises (an unknown model, a bad
    weights file) as a local run would. Leaving stops the workers (removing the temporary
    files of any still writing) and the cluster if it started one.
    """

    def __init__(
        self,
        spec: EngineSpec,
        address: str | None = None,
        worker_cpus: int | None = None,
        *,
        node_memory: bool = False,
        ray_messages: bool = False,
    ) -> None:
        if worker_cpus is not None and worker_cpus < 1:
            raise InvalidArgument(f"worker_cpus {worker_cpus}: at least 1")
        self.spec, self.address, self.worker_cpus = spec, address, worker_cpus
        self.node_memory, self.ray_messages = node_memory, ray_messages
        self.workers: list[Described] = []  # every worker that started, in order
        self.planned = 0  # workers the layout asked for
        self.cpus_per_worker = 0  # the CPUs each holds (a GPU worker: 1, with its GPU)
        self._ray: Any = None
        self._owns = False  # this Cluster started the Ray session: it ends it
        self._printer: tuple[Any, Any] | None = None
        self._slots: list[_Slot] = []
        self._starting: dict[Any, _Slot] = {}
        self._flights: dict[Any, tuple[_Slot, _Ticket]] = {}
        self._notes: dict[str, None] = {}
        self._said = 0
        self._options = Options()
        self._actor_class: Any = None

    # The engine as the first worker has it: what the banner and the records say.
    @property
    def name(self) -> str:
        return self.workers[0].name

    @property
    def device(self) -> str:
        return self.workers[0].device

    @property
    def device_type(self) -> str:
        return self.workers[0].device_type

    @property
    def precision(self) -> str:
        return self.workers[0].precision

    def new_notes(self) -> list[str]:
        """Notes on the run (the workers' engines' notes, once each; workers that died)
        that arose since this was last called."""
        fresh = list(self._notes)[self._said :]
        self._said = len(self._notes)
        return fresh

    def __enter__(self) -> Cluster:
        try:
            self._connect()
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> None:
        """Join (or start) the Ray session, keeping Ray's messages off stdout."""
        import logging

        ray = self._ray = ray_module()
        # Ray prints a dead worker's obituary to the driver's stdout, which holds srup's
        # results (--json): sent to stderr, or dropped (srup says it in one line). A private
        # name of Ray's: where it has moved, the messages stay where Ray puts them.
        try:
            import ray._private.worker as ray_worker
        except ImportError:
            ray_worker = None
        printer = getattr(ray_worker, "print_to_stdstream", None)
        if printer is not None:
            self._printer = (ray_worker, printer)
            ray_worker.print_to_stdstream = self._print_ray_message
        if not ray.is_initialized():
            level = logging.WARNING if self.ray_messages else logging.ERROR
            # ray.init makes SIGTERM exit at once (status 15); the program's own handler
            # (srup's: stop like Ctrl-C, clean up, exit 143) is put back.
            sigterm = signal.getsignal(signal.SIGTERM)
            try:
                ray.init(self.address, logging_level=level, log_to_driver=self.ray_messages)
            except Exception as e:  # ConnectionError, ValueError, Ray's AuthenticationError…
                where = self.address or os.environ.get("RAY_ADDRESS") or "a local cluster"
                why = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
                raise SrupError(f"cannot reach the Ray cluster at {where} ({why})") from None
            finally:
                if sigterm is not None and threading.current_thread() is threading.main_thread():
                    signal.signal(signal.SIGTERM, sigterm)
            self._owns = True

    def _print_ray_message(self, data: dict[str, Any], ignore_prefix: bool) -> None:
        if self.ray_messages and self._printer is not None:
            self._printer[1]({**data, "is_err": True}, ignore_prefix)

    def _start(self) -> None:
        """Start the workers of the layout. Return once all have started, or once the first
        has and the others have had as long again (those join the run as they start:
        resources another job holds, a node still coming up)."""
        ray = self._ray
        layout = _layout(ray, self.worker_cpus, self.spec.device)
        self.planned = len(layout)
        self.cpus_per_worker = int(layout[0][0]["num_cpus"])
        for placement, share in layout:
            self._spawn(placement, share)
        began = time.monotonic()
        deadline = began + START_SECONDS
        while self._starting and time.monotonic() < deadline:
            left = min(POLL_SECONDS, deadline - time.monotonic())
            with _signals_through():
                ready, _ = ray.wait(list(self._starting), num_returns=1, timeout=max(0.0, left))
            for ref in ready:
                self._started(ref)
                if len(self.workers) == 1:  # the others get as long again as it took
                    deadline = time.monotonic() + (time.monotonic() - began)
        if not self.workers:
            raise SrupError(
                f"no Ray worker started within {START_SECONDS:.0f} s (the cluster has no "
                "free resources for them?)"
            )

    def _spawn(self, placement: dict[str, Any], share: float | None) -> None:
        ray = self._ray
        threads = placement.get("num_cpus") if "num_gpus" not in placement else None
        if self._actor_class is None:  # Ray retries nothing itself: _lost does, knowing how
            self._actor_class = ray.remote(max_restarts=0, max_task_retries=0)(Worker)
        actor = self._actor_class.options(**placement).remote(
            self.spec, os.getcwd(), threads, share if self.node_memory else None
        )
        slot = _Slot(actor, placement, share)
        self._slots.append(slot)
        self._starting[actor.start.remote()] = slot

    def _started(self, ref: Any) -> None:
        """A worker's start ended: it joins, or its error ends the run."""
        slot = self._starting.pop(ref)
        try:
            info = self._ray.get(ref)
        except self._ray.exceptions.RayTaskError as e:
            raise _cause(e) from None
        except self._ray.exceptions.RayError as e:  # died while starting: srup missing?
            self._slots.remove(slot)
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            if self.workers or self._starting:
                self._notes.setdefault(f"a Ray worker did not start ({first})")
                return
            raise SrupError(
                f"no Ray worker started ({first}); every node needs srup {__version__} "
                "installed and the inputs at the same path"
            ) from None
        if info.version != __version__:
            raise SrupError(
                f"the Ray worker on {info.host} runs srup {info.version}, this driver "
                f"{__version__}: install the same srup on every node"
            )
        slot.info = info
        self.workers.append(info)

    # shape: the run's loop in one place: hand out, wait, collect, requeue, give up
    def run(self, jobs: list[Job], options: Options | None = None) -> Iterator[Result]:
        """Run ``jobs`` on the workers; each file's :class:`~srup.batch.Result` as it ends
        (every job once, in the order they end). ``options``: :class:`~srup.batch.Options`
        as for :func:`srup.batch.run_jobs`. Raises what a local run raises for an error of
        the run (:data:`srup.batch.FATAL_ERRORS`, an internal error)."""
        o = self._options = options if options is not None else Options()
        queue = deque(_Ticket(job) for job in jobs)
        idle_since = time.monotonic()
        while queue or self._flights:
            self._hand_out(queue, o)
            pending = [*self._flights, *self._starting]
            if not pending or (not self._flights and time.monotonic() - idle_since > START_SECONDS):
                yield from self._give_up(queue)
                return
            with _signals_through():
                ready, _ = self._ray.wait(pending, num_returns=1, timeout=POLL_SECONDS)
                if ready:  # and whatever else is done by now: one wait for them all
                    ready, _ = self._ray.wait(pending, num_returns=len(pending), timeout=0)
            for ref in ready:
                if ref in self._starting:
                    self._started(ref)
                elif ref in self._flights:  # not dropped with its dead worker meanwhile
                    yield from self._collect(ref, queue)
            if self._flights:
                idle_since = time.monotonic()

    def _hand_out(self, queue: deque[_Ticket], o: Options) -> None:
        """Give each started worker files until it holds :data:`IN_FLIGHT`."""
        for slot in self._slots:
            while slot.info is not None and len(slot.flights) < IN_FLIGHT and queue:
                ticket = queue.popleft()
                if ticket.since is None:
                    ticket.since = time.time()
                since = ticket.since if ticket.tries else None
                ref = slot.actor.run.remote(ticket.job, o, since)
                slot.flights.append(ref)
                self._flights[ref] = (slot, ticket)

    def _collect(self, ref: Any, queue: deque[_Ticket]) -> Iterator[Result]:
        """A file's end: its result, or, if its worker died, its files back in the queue
        (and the results of those that have had their :data:`ATTEMPTS`)."""
        slot, _ticket = self._flights[ref]
        try:
            with _signals_through():
                res, notes = self._ray.get(ref)
        except self._ray.exceptions.RayTaskError as e:
            raise _cause(e) from None
        except self._ray.exceptions.RayError as e:  # the worker died: ActorDiedError & co
            yield from self._lost(slot, queue, e)
            return
        del self._flights[ref]
        slot.flights.remove(ref)
        for text in notes:
            self._notes.setdefault(text)
        yield res

    def _lost(self, slot: _Slot, queue: deque[_Ticket], e: Exception) -> Iterator[Result]:
        """A worker died: its files go back to the front of the queue (the one it was
        running with one more attempt counted), its temporary files are removed, and
        another worker takes its place."""
        tickets = [self._flights.pop(ref)[1] for ref in slot.flights]
        slot.flights.clear()
        self._slots.remove(slot)
        with contextlib.suppress(Exception):
            self._ray.kill(slot.actor, no_restart=True)
        info = slot.info
        if info is not None:
            for folder in {f for t in tickets for f in _folders(t.job, self._options)}:
                files.remove_temporaries(folder, info.owner)
        running = tickets[0] if tickets else None
        if running is not None:
            running.tries += 1
        keep = [t for t in tickets if t.tries < ATTEMPTS]
        queue.extendleft(reversed(keep))
        where = f"pid {info.pid} on {info.host}" if info is not None else "starting"
        if running is None:
            what = "it held no file"
        elif running in keep:
            what = f"{running.job.src} goes to another worker"
        else:
            what = f"{running.job.src} fails: its workers died {ATTEMPTS} times"
        self._notes.setdefault(f"a Ray worker died ({where}: {type(e).__name__}); {what}")
        self._spawn({**slot.placement, "scheduling_strategy": None}, slot.share)
        for ticket in tickets:
            if ticket not in keep:
                yield self._failed(
                    ticket.job,
                    f"{ticket.job.src}: not done: the Ray worker upscaling it died "
                    f"{ATTEMPTS} times (killed, out of memory or crashed)",
                )

    def _failed(self, job: Job, error: str) -> Result:
        return Result(str(job.src), str(job.dst), Status.FAILED, error, notes=job.notes)

    def _give_up(self, queue: deque[_Ticket]) -> Iterator[Result]:
        """No worker left, or none started for :data:`START_SECONDS`: the files not done
        fail, each with its one line."""
        while queue:
            job = queue.popleft().job
            yield self._failed(job, f"{job.src}: not done: no Ray worker left to run it")

    def close(self) -> None:
        """Stop the workers (waiting for the killed ones to end, then removing what those
        still writing left), and the Ray session if this started it. Safe to call twice."""
        ray = self._ray
        if ray is None:
            return
        with contextlib.suppress(Exception):
            for slot in self._slots:
                ray.kill(slot.actor, no_restart=True)
            held = list(self._flights)
            if held:  # each ref ends (in error) once its worker has gone
                ray.wait(held, num_returns=len(held), timeout=10)
            for slot, ticket in self._flights.values():
                if slot.info is not None:
                    for folder in _folders(ticket.job, self._options):
                        files.remove_temporaries(folder, slot.info.owner)
        self._slots, self._starting, self._flights = [], {}, {}
        if self._owns:
            with contextlib.suppress(Exception):
                ray.shutdown()
        if self._printer is not None:
            module, printer = self._printer
            module.print_to_stdstream = printer
        self._ray, self._printer, self._owns = None, None, False
