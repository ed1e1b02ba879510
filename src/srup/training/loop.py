"""Training: on-the-fly patches cut from HR folders, LR made by MATLAB-exact bicubic.

Every step's batch comes from a generator seeded by ``(seed, rank, step)``, so a run is
repeatable, and a resumed run continues bit for bit: the checkpoint holds the weights, the
optimiser state, the step and the best weights so far, and nothing random is left unsaved.
Runs unchanged under ``torchrun`` (DistributedDataParallel; gloo on CPU, nccl on CUDA).

A run goes in phases: the config is checked (:mod:`srup.training.config`), then what must
hold before any data is read (:func:`srup.training.checkpoint.preflight`), then the data
(:func:`_prepare`: samplers, step counts, validation pairs), the network and its optimiser
(:class:`_Run`, restored from the checkpoint on ``resume``), the steps, and the weights
written. How work is kept safe on the way (checkpoints, errors, SIGTERM, ``stop_at``):
:mod:`srup.training.checkpoint`.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from srup.choices import SAMPLERS
from srup.concurrency import ordered_map
from srup.data import degrade
from srup.data.boards import render_boards
from srup.data.datasets import read_rgb
from srup.devices import out_of_memory
from srup.errors import BadWeightsError, DataError, InvalidArgument, SrupError
from srup.media.pictures import image_files, suffix_list
from srup.models import registry
from srup.models.weights import load_state, save_state
from srup.training import validation
from srup.training.checkpoint import (
    Best,
    Checkpoint,
    TermSignal,
    check_finite,
    preflight,
    save_on_failure,
)

# The names srup.train (this module before 0.2) offered, kept importable from here.
from srup.training.config import LOSSES, TrainConfig, changed_options, check_config
from srup.training.samplers import DevicePatchSampler, PatchSampler, TextBoards

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "LOSSES",
    "SAMPLERS",
    "PatchSampler",
    "TrainConfig",
    "TrainProgress",
    "TrainSummary",
    "changed_options",
    "check_config",
    "choose_sampler",
    "load_images",
    "train",
]

BOARDS = 48  # rendered boards in the pool --synthetic-text draws from


class _ByKey:
    """Reading by key (``summary["step"]``), as when train() gave a dict before 0.2.0:
    for one release, with a DeprecationWarning."""

    def __getitem__(self, key: str) -> object:
        import warnings

        warnings.warn(
            f"{type(self).__name__}[{key!r}]: read .{key} instead; train() gives a "
            "dataclass since 0.2.0 and key access goes in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None


@dataclass(frozen=True)
class TrainProgress(_ByKey):
    """One log point of a run, as ``train(progress=…)`` receives it: every epoch, and at
    least 20 and at most 100 times a run."""

    step: int  # steps done
    total: int  # steps in the run
    loss: float  # the training loss, a moving average over about 50 steps
    val_psnr: float | None  # the latest validation's mean Y-PSNR (dB); None without ``val``
    best_psnr: float | None  # the best validation's so far, whose weights are written
    seconds: float  # spent on the run, the stages before a resume included


@dataclass
class TrainSummary(_ByKey):
    """What :func:`train` did. A run that left off (``stop_at``, or SIGTERM when the
    previous handler returns) is ``stopped`` with its ``checkpoint`` for ``resume``."""

    step: int  # steps done
    output: Path | None = None  # the weights written: the run's, or (``stop_at``) so far
    seconds: float | None = None  # spent on the run, with ``output``
    val_psnr: float | None = None  # the best validation's, whose weights were written
    stopped: bool = False
    checkpoint: Path | None = None  # when ``stopped``: continue with ``resume``
    notes: list[str] = field(default_factory=list)  # changed options a resume accepted


def load_images(folders: Sequence[str | Path]) -> list[np.ndarray]:
    """All images under ``folders`` as uint8 RGB ``(H, W, 3)``."""
    images = []
    for folder in folders:
        path = Path(folder)
        if not path.is_dir():
            raise DataError(f"{path}: no such folder")
        files = image_files(path, recursive=True)
        if not files:
            raise DataError(f"{path}: no training images found ({suffix_list()})")
        for f in files:
            images.append(read_rgb(f))
    return images


def ddp_device_ids(device: torch.device) -> list[int] | None:
    """DistributedDataParallel's ``device_ids``: the GPU's index (``cuda:0`` included, whose
    index 0 is false), None on the CPU."""
    return [device.index] if device.type == "cuda" and device.index is not None else None


def optimizer(params: Iterable[nn.Parameter], lr: float, device: torch.device):
    """Adam; on CUDA its fused form: one kernel updates every parameter, where the default
    multi-tensor form launches a dozen, and a small network's step on a GPU is bound by
    launches. The CPU keeps the plain form the shipped weights were trained with."""
    import torch

    return torch.optim.Adam(params, lr=lr, fused=True if device.type == "cuda" else None)


def _dist_env() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")), world


def choose_sampler(name: str, device: torch.device, degradation: degrade.Degradation) -> str:
    """``auto``: batches are made on a GPU when it can make them (clean LR: JPEG has no
    device form), as a GPU fed by host patches spends most of its time waiting; on the CPU
    the host sampler, whose patches need no device copy."""
    if name not in SAMPLERS:
        raise InvalidArgument(f"--sampler must be one of {', '.join(SAMPLERS)}, got {name}")
    if name != "auto":
        return name
    return "device" if device.type != "cpu" and degradation.is_clean else "host"


def train(
    cfg: TrainConfig, progress: Callable[[TrainProgress], None] | None = None
) -> TrainSummary:
    """Run a training job; returns its :class:`TrainSummary`. ``progress`` receives a
    :class:`TrainProgress` per log point.

    Raises, before any work: :class:`~srup.errors.UnknownModelError` /
    :class:`~srup.errors.InvalidArgument` for a config that cannot run (:func:`check_config`);
    :class:`~srup.errors.OutputError` when the output or its checkpoint exists and neither
    ``overwrite`` nor ``resume`` is set; :class:`~srup.errors.BadWeightsError` for a
    checkpoint that is not srup's or does not fit; :class:`~srup.errors.InvalidArgument` when
    a resume changes options that shape the result (listed) without ``allow_changes``;
    :class:`~srup.errors.DataError` for missing or unusable data. During the run, any error
    saves a checkpoint before it propagates."""
    import torch
    import torch.distributed as dist

    from srup.devices import exact_numerics, resolve_device

    spec = check_config(cfg)
    rank, local_rank, world = _dist_env()
    device = resolve_device(cfg.device)
    if world > 1:
        device = _join_group(device, local_rank)
    try:
        with exact_numerics(device, torch.float32):  # resumable bit for bit on GPUs too
            return _run(cfg, spec, device, rank, world, progress)
    except (RuntimeError, MemoryError) as e:
        if not out_of_memory(e):
            raise
        # A plain SrupError, not a DeviceMemoryError: the message says what to do, and the
        # CLI words a MemoryError as "out of memory (…)".
        raise SrupError(
            f"out of memory on {device}: use a smaller --batch-size or --patch-size"
        ) from None
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _join_group(device: torch.device, local_rank: int) -> torch.device:
    """Join the process group ``torchrun`` set up (nccl on CUDA, each process on the GPU of
    its local rank; gloo elsewhere); returns the device this process trains on."""
    import torch
    import torch.distributed as dist

    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


@dataclass
class _Data:
    """What the data makes of a config, before any network exists."""

    degradation: degrade.Degradation
    kind: str  # the sampler: host or device
    sampler: PatchSampler
    total: int  # steps in the run
    eval_every: int  # steps between log points
    val_pairs: list = field(default_factory=list)


def _prepare(cfg: TrainConfig, device: torch.device, world: int) -> _Data:
    """Read the training pictures (and the validation pictures, any too small to score
    refused before training starts), choose the sampler and count the steps."""
    images = load_images(cfg.data)
    per_rank = max(1, cfg.batch_size // world)
    deg = degrade.parse(cfg.degradation)
    text = None
    if cfg.synthetic_text > 0:
        text = TextBoards(render_boards(BOARDS, cfg.seed), cfg.synthetic_text)
    kind = choose_sampler(cfg.sampler, device, deg)
    shape = (cfg.scale, cfg.patch_size, per_rank)
    options = dict(degradation=deg, text=text, input_space=cfg.input_space)
    if kind == "device":
        sampler: PatchSampler = DevicePatchSampler(images, *shape, device=device, **options)
    else:
        sampler = PatchSampler(images, *shape, **options)
    hr_pixels = sum(im.shape[0] * im.shape[1] for im in images)
    steps_per_epoch = max(1, round(hr_pixels / (cfg.batch_size * sampler.hr_size**2)))
    total = cfg.max_steps if cfg.max_steps is not None else cfg.epochs * steps_per_epoch
    # Every epoch, at least 20 times a run and at most 100: a GPU run's epochs are short.
    eval_every = min(max(steps_per_epoch, math.ceil(total / 100)), max(1, total // 20))
    data = _Data(deg, kind, sampler, total, eval_every)
    if cfg.val:
        val_deg = degrade.parse(cfg.val_degradation) if cfg.val_degradation else deg
        data.val_pairs = validation.pairs(cfg.val, cfg.scale, val_deg)
    return data


def _lr_at(lr: float, step: int, total: int) -> float:
    """Cosine decay to 1% over the run: the schedule is a pure function of the step."""
    return lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * step / max(1, total))))


class _Run:
    """One run's network, optimiser and state between steps: where it started, the steps
    completed, the best validation so far, the loss's moving average and the clock."""

    def __init__(
        self,
        cfg: TrainConfig,
        spec: registry.ModelSpec,
        device: torch.device,
        rank: int,
        world: int,
        data: _Data,
        ckpt: Checkpoint,
        record: dict | None,
    ) -> None:
        """Build the network and its optimiser in the one order that fixes every weight
        (seed, create, ``init``, move, wrap, Adam), then restore them from the checkpoint
        ``record`` names when resuming."""
        import torch
        import torch.nn.functional as F

        self.cfg, self.spec, self.device, self.rank = cfg, spec, device, rank
        self.data, self.ckpt = data, ckpt
        torch.manual_seed(cfg.seed)
        self.net = spec.create(cfg.scale, cfg.input_space)
        if cfg.init:
            _init_from(self.net, cfg.init)
        self.net.to(device)
        self.model = self.net
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel

            self.model = DistributedDataParallel(self.net, device_ids=ddp_device_ids(device))
        self.opt = optimizer(self.net.parameters(), cfg.lr, device)
        self.loss_fn = getattr(F, LOSSES[cfg.loss])
        self.start, elapsed, self.init = 0, 0.0, cfg.init
        self.best: Best | None = None
        if record is not None:
            self.start, self.best, meta = ckpt.load(self.net, self.opt, data.total)
            elapsed = float(meta.get("seconds", 0.0))
            self.init = self.init or meta["config"].get("init")  # what the run started from
        self.completed = self.start
        self.val_psnr = self.best.psnr if self.best else None
        self.loss_avg: torch.Tensor | None = None
        self.t0 = time.monotonic() - elapsed
        self.last_ckpt = time.monotonic()

    def save(self, step: int) -> None:
        """Write the checkpoint at ``step``."""
        meta = {"config": asdict(self.cfg), "seconds": time.monotonic() - self.t0}
        self.ckpt.save(self.net, self.opt, step, self.best, meta)

    def batch(self, step: int):
        """Step ``step``'s batch, the same for the same seed, rank and step."""
        return self.data.sampler(np.random.default_rng([self.cfg.seed, self.rank, step]))

    def steps(self, end: int, progress: Callable[[TrainProgress], None] | None, term: TermSignal):
        """Train from the run's start to ``end``, or until a SIGTERM ends the step under way.
        Any error saves the steps done first (out of memory becomes a one-line error)."""
        cfg = self.cfg
        # NumPy releases the GIL in the resizes, so batches are cut ahead in threads; in
        # order, so runs stay repeatable. A device sampler queues its work on the GPU, where
        # threads would only contend.
        workers = cfg.workers if self.data.kind == "host" else 0
        batches = ordered_map(self.batch, range(self.start, end), workers)
        every = cfg.checkpoint_minutes * 60  # seconds between checkpoints
        try:
            self.model.train()
            for step, (lr_batch, hr_batch) in zip(range(self.start, end), batches, strict=False):
                self.step(step, lr_batch, hr_batch)
                done = step + 1
                if done % self.data.eval_every == 0 or done == self.data.total:
                    self.log_point(done, progress)
                if self.rank == 0 and time.monotonic() - self.last_ckpt > every:
                    self.save(done)
                    self.last_ckpt = time.monotonic()
                if term.signum is not None:
                    break
        except (RuntimeError, MemoryError) as e:
            if not out_of_memory(e):
                save_on_failure(self.rank, self.completed, self.start, self.save, e)
                raise
            if self.rank == 0:
                self.save(self.completed)
            raise SrupError(
                f"out of memory on {self.device} after step {self.completed}, saved: continue "
                "with --resume and a smaller --batch-size or --patch-size"
            ) from None
        except BaseException as e:
            # Ctrl-C, a validation that failed, anything: the steps done are saved first.
            save_on_failure(self.rank, self.completed, self.start, self.save, e)
            raise

    def step(self, step: int, lr_batch, hr_batch) -> None:
        """One optimiser step on one batch."""
        # NumPy from the host sampler, uploaded without waiting; or already on the device.
        lr_t, hr_t = (to_device(b, self.device) for b in (lr_batch, hr_batch))
        for g in self.opt.param_groups:
            g["lr"] = _lr_at(self.cfg.lr, step, self.data.total)
        loss = self.loss_fn(self.model(lr_t), hr_t)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.completed = step + 1
        # Kept on the device: reading a GPU's loss every step would stall its queue.
        value = loss.detach()
        self.loss_avg = value.clone() if self.loss_avg is None else self.loss_avg.lerp_(value, 0.02)

    def log_point(self, done: int, progress: Callable[[TrainProgress], None] | None) -> None:
        """Validate (rank 0), keep the best weights so far, and report progress."""
        if self.rank == 0 and self.data.val_pairs:
            self.val_psnr = validation.validate(
                self.net, self.spec, self.cfg.scale, self.data.val_pairs
            )
            if self.val_psnr > (self.best.psnr if self.best else -math.inf):
                state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
                self.best = Best(self.val_psnr, state)
        if progress is not None and self.rank == 0:
            progress(
                TrainProgress(
                    step=done,
                    total=self.data.total,
                    loss=float(self.loss_avg),
                    val_psnr=self.val_psnr,
                    best_psnr=self.best.psnr if self.best else None,
                    seconds=time.monotonic() - self.t0,
                )
            )


def _run(
    cfg: TrainConfig,
    spec: registry.ModelSpec,
    device: torch.device,
    rank: int,
    world: int,
    progress: Callable[[TrainProgress], None] | None,
) -> TrainSummary:
    """The run's phases: preflight, data, network, steps, and the weights written."""
    output = Path(cfg.output)
    ckpt = Checkpoint(output)
    record, notes = preflight(cfg, output, ckpt)
    data = _prepare(cfg, device, world)
    run = _Run(cfg, spec, device, rank, world, data, ckpt, record)
    # --stop-at: this stage ends there (a stop at or before the checkpoint's step: at once).
    end = data.total if cfg.stop_at is None else min(data.total, max(cfg.stop_at, run.start))
    with TermSignal(catch=rank == 0) as term:
        run.steps(end, progress, term)
    finished = run.completed
    if rank != 0:
        return TrainSummary(step=finished)
    run.save(finished)
    if term.signum is not None and finished < end:
        term.pass_on()  # the previous handler's turn: exit 143
        return TrainSummary(step=finished, stopped=True, checkpoint=ckpt.path, notes=notes)
    summary = TrainSummary(step=finished, notes=notes, output=output)
    if finished < data.total:  # --stop-at: a stage of the run, continued by --resume
        summary.stopped, summary.checkpoint = True, ckpt.path
    state = run.best.state if run.best else run.net.state_dict()
    check_finite(state, finished)
    summary.seconds = time.monotonic() - run.t0
    save_state(output, state, _header(run, finished, summary.seconds))
    summary.val_psnr = run.best.psnr if run.best else None
    term.pass_on()  # a SIGTERM that came as the last step ended: the work is whole
    return summary


def _header(run: _Run, steps: int, seconds: float) -> dict[str, object]:
    """The written weights' header: what the run was, for ``srup models`` and a reader."""
    cfg, deg, init = run.cfg, run.data.degradation, run.init
    return {
        "model": cfg.model,
        "scale": cfg.scale,
        "data": ",".join(Path(d).name for d in cfg.data),
        "steps": steps,
        "total_steps": run.data.total,
        "seconds": round(seconds, 1),
        "batch_size": cfg.batch_size,
        "patch_size": cfg.patch_size,
        "loss": cfg.loss,
        "seed": cfg.seed,
        "init": Path(init).name if init else "",
        "val_data": Path(cfg.val).name if cfg.val else "",
        "val_psnr": round(run.best.psnr, 3) if run.best else "",
        "input_space": cfg.input_space,
        "degradation": deg.spec(),
        "val_degradation": degrade.parse(cfg.val_degradation or deg).spec(),
        "synthetic_text": cfg.synthetic_text,
        "sampler": run.data.kind,
        "command": cfg.command,
    }


def to_device(batch, device: torch.device) -> torch.Tensor:
    """A batch on ``device``: a tensor as it is, a NumPy array by :func:`~srup.devices.upload`."""
    from srup.devices import upload

    return upload(batch, device) if isinstance(batch, np.ndarray) else batch.to(device)


def _init_from(net: nn.Module, path: str) -> None:
    """Start from other weights: every tensor whose name and shape fit is copied (so ×3
    weights start a ×2 or ×4 run; only the scale-specific last layer stays fresh)."""
    state, _ = load_state(path)
    own = net.state_dict()
    fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not fitting:
        raise BadWeightsError(f"--init {path}: no tensor fits {type(net).__name__}")
    own.update(fitting)
    net.load_state_dict(own)
