"""Training: on-the-fly patches cut from HR folders, LR made by MATLAB-exact bicubic.

Every step's batch comes from a generator seeded by ``(seed, rank, step)``, so a run is
repeatable, and a resumed run continues bit for bit: the checkpoint holds the weights, the
optimiser state, the step and the best weights so far, and nothing random is left unsaved.
Runs unchanged under ``torchrun`` (DistributedDataParallel; gloo on CPU, nccl on CUDA).

Work is never lost silently: a run refuses to replace an existing output or checkpoint
unless ``overwrite`` (``--overwrite``); ``resume`` checks the checkpoint (srup's record in
its header, the step, the model and scale) and refuses to go on when an option that shapes
the result has changed since (``--lr``, ``--batch-size``, the data, …), naming each, unless
``allow_changes`` (``--allow-changes``: then the changes are listed in the summary's notes);
``stop_at`` writes the weights so far as well as the checkpoint; an error, Ctrl-C or SIGTERM
during the run saves a checkpoint first (SIGTERM then goes on to the handler that was there
before, so the CLI exits 143 and a bare process dies of the signal, as it would have).
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from srup import arguments
from srup.choices import SAMPLERS
from srup.concurrency import ordered_map
from srup.data import degrade
from srup.data.boards import render_boards
from srup.devices import out_of_memory
from srup.errors import (
    BadWeightsError,
    DataError,
    InvalidArgument,
    OutputError,
    SrupError,
    UnknownModelError,
)
from srup.evaluation import protocol as benchmark
from srup.media.pictures import image_files, suffix_list
from srup.models import registry
from srup.models.weights import INPUT_SPACES, load_into, load_state, save_state, shipped, split_name
from srup.training.samplers import DevicePatchSampler, PatchSampler

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "SAMPLERS",
    "PatchSampler",
    "TrainConfig",
    "changed_options",
    "check_config",
    "choose_sampler",
    "load_images",
    "train",
]

LOSSES = {"l1": "l1_loss", "mse": "mse_loss"}
BOARDS = 48  # rendered boards in the pool --synthetic-text draws from


@dataclass
class TrainConfig:
    """Everything a run depends on; recorded in checkpoints and in the output header."""

    model: str
    scale: int
    data: list[str]
    output: str
    val: str | None = None
    epochs: int = 100
    max_steps: int | None = None
    batch_size: int = 32
    patch_size: int = 24
    lr: float = 1e-3
    loss: str = "l1"
    init: str | None = None
    resume: bool = False
    seed: int = 0
    workers: int = 0
    device: str = "auto"
    checkpoint_minutes: float = 10.0
    degradation: str = "clean"
    val_degradation: str | None = None  # how the validation LR is made; None: as training's
    synthetic_text: float = 0.0
    sampler: str = "auto"  # host, device, or auto: device for clean data on a GPU
    input_space: str = "Y"  # what the network reads: Y, or RGB where the model offers it
    stop_at: int | None = None  # leave off after this step, checkpointed, for --resume
    overwrite: bool = False  # replace an existing output and checkpoint (not resuming)
    allow_changes: bool = False  # resume although options that shape the result changed
    command: str = field(default_factory=lambda: shlex.join(["srup", *sys.argv[1:]]))


# Options that say where or how fast a run goes, or how it is staged, not what it computes:
# a resume may change them freely. ``init`` only seeds a fresh run (a resume takes the
# checkpoint's weights). Every other field of TrainConfig must match the checkpoint's.
_FREE_ON_RESUME = frozenset(
    {
        "output",
        "resume",
        "overwrite",
        "allow_changes",
        "stop_at",
        "workers",
        "device",
        "checkpoint_minutes",
        "command",
        "init",
    }
)
# How the CLI spells each field, for messages.
_OPTION = {"model": "-m", "scale": "-s", "data": "DATA", "input_space": "--input"}


def check_config(cfg: TrainConfig) -> registry.ModelSpec:
    """The architecture's spec, once every field of ``cfg`` is checked.

    Raises :class:`~srup.errors.UnknownModelError` for a ``model`` that is not an
    architecture (a shipped variant such as ``espcn-real`` is named as such, with the
    options that train one), :class:`~srup.errors.InvalidArgument` (or its TypeError form)
    for a value out of range: a scale the architecture does not have, an output that is not
    ``.safetensors``, a non-positive size, rate or count."""
    arguments.text("model", cfg.model)
    if cfg.model not in registry.names():
        arch, variant = split_name(cfg.model)
        if arch in registry.names() and any(n == cfg.model for n, _ in shipped()):
            how = {"real": "--degradation real", "rgb": "--input rgb"}
            options = " ".join(how.get(tag, "") for tag in variant.split("-")).strip()
            raise UnknownModelError(
                f"-m {cfg.model}: training takes an architecture ({', '.join(registry.names())}); "
                f"{cfg.model} is a shipped weight set of {arch}"
                + (f": train it with -m {arch} {options}" if options else "")
            )
        registry.get(cfg.model)  # the list of architectures
    spec = registry.get(cfg.model)
    scale = arguments.integer("scale", cfg.scale)
    if scale not in spec.scales:
        raise InvalidArgument(
            f"-s {scale}: {cfg.model} trains at ×{', ×'.join(map(str, spec.scales))}"
        )
    output = arguments.path("output", cfg.output)
    if output.suffix.lower() != ".safetensors":
        raise InvalidArgument(
            f"-o {output}: the weights file must end in .safetensors (srup writes safetensors "
            "only, never pickles such as .pth)"
        )
    if not cfg.data or isinstance(cfg.data, str):
        raise InvalidArgument("data must be a list of one or more folders")
    for name, value in (
        ("--batch-size", cfg.batch_size),
        ("--patch-size", cfg.patch_size),
        ("--epochs", cfg.epochs),
    ):
        arguments.integer(name, value, minimum=1)
    for name, value in (("--max-steps", cfg.max_steps), ("--stop-at", cfg.stop_at)):
        if value is not None:
            arguments.integer(name, value, minimum=1)
    arguments.integer("--workers", cfg.workers, minimum=0)
    arguments.integer("--seed", cfg.seed)
    arguments.number("--lr", cfg.lr, positive=True)
    arguments.number("--checkpoint-minutes", cfg.checkpoint_minutes, positive=True)
    arguments.number("--synthetic-text", cfg.synthetic_text, minimum=0, maximum=1)
    arguments.choice("--loss", cfg.loss, tuple(LOSSES))
    arguments.choice("--sampler", cfg.sampler, SAMPLERS)
    arguments.choice("input_space", cfg.input_space, INPUT_SPACES)
    if cfg.input_space not in spec.input_spaces:
        raise InvalidArgument(
            f"--input {cfg.input_space.lower()}: {cfg.model} reads {' or '.join(spec.input_spaces)}"
        )
    for name in ("resume", "overwrite", "allow_changes"):
        arguments.boolean(name, getattr(cfg, name))
    if cfg.resume and cfg.overwrite:
        raise InvalidArgument(
            "--resume continues the run in the checkpoint, --overwrite starts afresh: "
            "give one of them"
        )
    return spec


def _same_path(a: object, b: object) -> bool:
    return Path(str(a)).resolve() == Path(str(b)).resolve()


def _spelled(key: str, value: object) -> str:
    if key == "input_space" and isinstance(value, str):
        return value.lower()
    if isinstance(value, list):
        return " ".join(map(str, value))
    return "none" if value is None else str(value)


def changed_options(saved: dict, cfg: TrainConfig) -> list[str]:
    """The options of ``cfg`` that shape the result and differ from ``saved`` (a
    checkpoint's record of its run's config), each as ``--lr 0.001 → 0.0005``; paths are
    compared resolved, so ``./T91`` is ``T91``. A field the checkpoint did not record
    (written by an older srup) counts as changed only when ``cfg`` leaves its default."""
    now = json.loads(json.dumps(asdict(cfg)))
    defaults = {f: getattr(TrainConfig(model="", scale=0, data=[], output=""), f) for f in now}
    changed = []
    for key, value in now.items():
        if key in _FREE_ON_RESUME:
            continue
        old = saved.get(key, defaults[key])
        if key == "data":
            same = (
                isinstance(old, list)
                and len(old) == len(value)
                and all(_same_path(a, b) for a, b in zip(old, value, strict=True))
            )
        elif key == "val" and old is not None and value is not None:
            same = _same_path(old, value)
        else:
            same = old == value
        if not same:
            option = _OPTION.get(key, "--" + key.replace("_", "-"))
            changed.append(f"{option} {_spelled(key, old)} → {_spelled(key, value)}")
    return changed


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
            images.append(benchmark.read_rgb(f))
    return images


def _validate(net: nn.Module, spec: registry.ModelSpec, scale: int, val_pairs: list) -> float:
    """Mean Y-PSNR of ``net`` on the validation pairs, by the benchmark protocol.

    It runs on a copy: the Upscaler changes its network's memory layout and mode, and the
    network being trained must follow the same path whether or not it is validated."""
    import copy

    import torch

    from srup.runtime.upscaler import Upscaler

    device = next(net.parameters()).device
    frozen = copy.deepcopy(net).requires_grad_(False)
    up = Upscaler(frozen, spec, scale, device, torch.float32, tile=0)
    scores = benchmark.evaluate(up.upscale_array, val_pairs, scale)
    return float(np.mean([s.psnr for s in scores]))


class _Checkpoint:
    """The resumable state of a run, in ``<output>.ckpt.safetensors``.

    Its header holds one record, ``srup_checkpoint``: JSON with the step reached, the best
    validation PSNR, the seconds spent and the run's config; its tensors are the model
    (``model.*``), the best weights so far (``best.*``) and Adam's state (``optim.N.*``)."""

    KEY = "srup_checkpoint"

    def __init__(self, output: Path) -> None:
        self.path = output.with_name(output.name + ".ckpt.safetensors")

    def save(self, net, opt, step: int, best: dict, meta: dict) -> None:
        tensors = {f"model.{k}": v for k, v in net.state_dict().items()}
        tensors.update({f"best.{k}": v for k, v in best.get("state", {}).items()})
        opt_state = opt.state_dict()
        for idx, st in opt_state["state"].items():
            for k, v in st.items():
                tensors[f"optim.{idx}.{k}"] = v if hasattr(v, "shape") else _scalar(v)
        meta = dict(meta, step=step, best_psnr=best.get("psnr", -1.0))
        save_state(self.path, tensors, {self.KEY: json.dumps(meta)})

    def record(self) -> dict:
        """The checked ``srup_checkpoint`` record, from the header alone (no tensors read):
        :class:`~srup.errors.BadWeightsError` when it is missing, not JSON, or its step,
        best PSNR, seconds or config do not parse."""
        from srup.models.weights import read_metadata

        header = read_metadata(self.path)
        if self.KEY not in header:
            raise BadWeightsError(
                f"{self.path}: not a srup training checkpoint (its header has no "
                f"{self.KEY} record); start afresh with --overwrite instead of --resume"
            )
        try:
            meta = json.loads(header[self.KEY])
        except ValueError as e:
            raise BadWeightsError(
                f"{self.path}: its {self.KEY} record is not valid JSON ({e})"
            ) from None
        if not isinstance(meta, dict):
            raise BadWeightsError(f"{self.path}: its {self.KEY} record is not a JSON object")
        step = meta.get("step")
        if type(step) is not int or step < 0:
            raise BadWeightsError(
                f"{self.path}: the checkpoint's step {step!r} is not a whole number ≥ 0"
            )
        for key in ("best_psnr", "seconds"):
            value = meta.get(key, 0.0)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise BadWeightsError(f"{self.path}: the checkpoint's {key} {value!r} is no number")
        config = meta.get("config")
        if not isinstance(config, dict) or not all(k in config for k in ("model", "scale")):
            raise BadWeightsError(f"{self.path}: the checkpoint records no run config")
        return meta

    def load(self, net, opt, total: int) -> tuple[int, dict, dict]:
        """Restore ``net`` and ``opt``; returns (step, best, record). Every mismatch is a
        one-line :class:`~srup.errors.BadWeightsError`, and nothing is changed until all of
        the checkpoint has been checked."""
        meta = self.record()
        step = meta["step"]
        if step > total:
            raise BadWeightsError(
                f"{self.path}: the checkpoint is at step {step}, past this run's last "
                f"({total}); raise --max-steps or --epochs"
            )
        tensors, _ = load_state(self.path)
        model_state = _prefixed(tensors, "model.")
        best_state = _prefixed(tensors, "best.")
        load_into(copy.deepcopy(net), model_state, self.path)  # checked before net changes
        if best_state:
            load_into(copy.deepcopy(net), best_state, self.path)
        params = list(net.parameters())
        state: dict = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, idx, name = ([*key.split(".", 2), "", ""])[:3]
                if not idx.isdecimal() or int(idx) >= len(params) or not name:
                    raise BadWeightsError(
                        f"{self.path}: optimiser tensor {key} does not belong to this model"
                    )
                # Adam's moments have their parameter's shape; its step count is a scalar.
                want = (1,) if name == "step" else tuple(params[int(idx)].shape)
                got = (value.numel(),) if name == "step" else tuple(value.shape)
                if got != want:
                    raise BadWeightsError(
                        f"{self.path}: optimiser tensor {key} has shape {tuple(value.shape)}, "
                        f"not {want}"
                    )
                state.setdefault(int(idx), {})[name] = value
        self._check_optimiser(state, len(params), step)
        opt_state = opt.state_dict()
        opt_state["state"] = state
        load_into(net, model_state, self.path)
        opt.load_state_dict(opt_state)
        best = {"psnr": float(meta["best_psnr"]), "state": best_state} if best_state else {}
        return step, best, meta

    # Adam's state per parameter: its step count and its two moments.
    ADAM_STATE = ("step", "exp_avg", "exp_avg_sq")

    def _check_optimiser(self, state: dict, n_params: int, step: int) -> None:
        """:class:`~srup.errors.BadWeightsError` naming the first optimiser tensor missing:
        a parameter with part of Adam's state, or (past step 0, when Adam has taken a step)
        any parameter without it; resuming with fresh moments would silently change the run."""
        for idx in range(n_params):
            have = state.get(idx, {})
            if not have and step == 0:
                continue
            missing = [name for name in self.ADAM_STATE if name not in have]
            if missing:
                raise BadWeightsError(
                    f"{self.path}: the checkpoint lacks the optimiser tensor "
                    f"optim.{idx}.{missing[0]} (at step {step}); it is damaged or not "
                    "srup's; start afresh with --overwrite instead of --resume"
                )


def _scalar(v: object):
    import torch

    return torch.tensor(v)


def _prefixed(tensors: dict, prefix: str) -> dict:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


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
        raise SrupError(f"--sampler must be one of {', '.join(SAMPLERS)}, got {name}")
    if name != "auto":
        return name
    return "device" if device.type != "cpu" and degradation.is_clean else "host"


def train(
    cfg: TrainConfig,
    progress: Callable[[dict], None] | None = None,
) -> dict[str, object]:
    """Run a training job; returns a summary: ``step``, and ``output``, ``seconds``,
    ``val_psnr`` when the run is complete, ``stopped`` and ``checkpoint`` when it left off
    (``stop_at``: ``output`` too, holding the weights so far), ``notes`` (changed options a
    resume accepted). ``progress`` receives a dict per log point (step, total, loss,
    val_psnr, best_psnr, seconds).

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
    import torch.nn.functional as F

    from srup.devices import exact_numerics, resolve_device

    spec = check_config(cfg)
    rank, local_rank, world = _dist_env()
    distributed = world > 1
    device = resolve_device(cfg.device)
    if distributed:
        if device.type == "cuda":
            device = torch.device("cuda", local_rank)
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        with exact_numerics(device, torch.float32):  # resumable bit for bit on GPUs too
            return _train(cfg, spec, device, rank, world, progress, torch, dist, F)
    except (RuntimeError, MemoryError) as e:
        if not out_of_memory(e):
            raise
        raise SrupError(
            f"out of memory on {device}: use a smaller --batch-size or --patch-size"
        ) from None
    finally:
        if distributed and dist.is_initialized():
            dist.destroy_process_group()


def _preflight(cfg: TrainConfig, output: Path, ckpt: _Checkpoint) -> tuple[dict | None, list]:
    """What must hold before any data is read: the output may be written, and a resume has
    a checkpoint of this run. Returns the checkpoint's record (None when not resuming) and
    the notes to pass on."""
    if not output.parent.is_dir():
        raise OutputError(f"{output.parent}: output folder does not exist")
    if not cfg.resume:
        if not cfg.overwrite:
            for path in (output, ckpt.path):
                if path.exists():
                    hint = " or --resume to continue its run" if ckpt.path.exists() else ""
                    raise OutputError(f"{path}: exists; use --overwrite to replace it{hint}")
        return None, []
    if not ckpt.path.is_file():
        raise OutputError(f"--resume: no checkpoint at {ckpt.path}")
    record = ckpt.record()
    saved = record["config"]
    if saved.get("model") != cfg.model or saved.get("scale") != cfg.scale:
        raise InvalidArgument(
            f"--resume: {ckpt.path} is a run of {saved.get('model')} ×{saved.get('scale')}, "
            f"not {cfg.model} ×{cfg.scale}"
        )
    if saved.get("input_space", "Y") != cfg.input_space:
        raise InvalidArgument(
            f"--resume: {ckpt.path} is a run on --input {str(saved.get('input_space')).lower()}"
        )
    changed = changed_options(saved, cfg)
    if changed and not cfg.allow_changes:
        raise InvalidArgument(
            f"--resume: options changed since the checkpoint: {'; '.join(changed)}; repeat "
            "the checkpoint's, or pass --allow-changes to go on with these"
        )
    notes = [f"resumed with changed options: {'; '.join(changed)}"] if changed else []
    return record, notes


def _train(cfg, spec, device, rank, world, progress, torch, dist, F) -> dict[str, object]:
    output = Path(cfg.output)
    ckpt = _Checkpoint(output)
    record, notes = _preflight(cfg, output, ckpt)
    images = load_images(cfg.data)
    per_rank = max(1, cfg.batch_size // world)
    deg = degrade.parse(cfg.degradation)
    boards = render_boards(BOARDS, cfg.seed) if cfg.synthetic_text > 0 else []
    kind = choose_sampler(cfg.sampler, device, deg)
    sampler_args = dict(
        degradation=deg,
        boards=boards,
        text_fraction=cfg.synthetic_text,
        input_space=cfg.input_space,
    )
    if kind == "device":
        sampler: PatchSampler = DevicePatchSampler(
            images, cfg.scale, cfg.patch_size, per_rank, device=device, **sampler_args
        )
    else:
        sampler = PatchSampler(images, cfg.scale, cfg.patch_size, per_rank, **sampler_args)
    hr_pixels = sum(im.shape[0] * im.shape[1] for im in images)
    steps_per_epoch = max(1, round(hr_pixels / (cfg.batch_size * sampler.hr_size**2)))
    total = cfg.max_steps if cfg.max_steps is not None else cfg.epochs * steps_per_epoch
    # Every epoch, at least 20 times a run and at most 100: a GPU run's epochs are short.
    eval_every = min(max(steps_per_epoch, math.ceil(total / 100)), max(1, total // 20))
    val_pairs = []
    if cfg.val:  # read (and any image too small to score refused) before training starts
        val_deg = degrade.parse(cfg.val_degradation) if cfg.val_degradation else deg
        val_pairs = benchmark.pairs(benchmark.discover(cfg.val), cfg.scale, degradation=val_deg)

    torch.manual_seed(cfg.seed)
    net = spec.create(cfg.scale, cfg.input_space)
    if cfg.init:
        _init_from(net, cfg.init)
    net.to(device)
    model = net
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(net, device_ids=ddp_device_ids(device))
    opt = optimizer(net.parameters(), cfg.lr, device)
    start, best, elapsed = 0, {}, 0.0
    init = cfg.init
    if record is not None:
        start, best, meta = ckpt.load(net, opt, total)
        elapsed = float(meta.get("seconds", 0.0))
        init = init or meta["config"].get("init")  # what the run started from

    def lr_at(step: int) -> float:
        # Cosine decay to 1% over the run: the schedule is a pure function of the step.
        return cfg.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * step / max(1, total))))

    stop = {"signal": None}

    def on_signal(signum, _frame):
        stop["signal"] = signum

    # SIGTERM ends the step under way, saves a checkpoint, and is then handed to the
    # handler that was there before (the CLI's: exit 143), or to the default (death).
    # An ignored SIGTERM stays ignored; off the main thread signals cannot be caught.
    old, installed = None, False
    if rank == 0 and signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN:
        with contextlib.suppress(ValueError):
            old, installed = signal.signal(signal.SIGTERM, on_signal), True
    t0 = time.monotonic() - elapsed
    last_ckpt = time.monotonic()
    loss_avg = None
    val_psnr = best.get("psnr")

    def save_ckpt(step: int) -> None:
        meta = {"config": asdict(cfg), "seconds": time.monotonic() - t0}
        ckpt.save(net, opt, step, best, meta)

    def make_batch(step: int):
        return sampler(np.random.default_rng([cfg.seed, rank, step]))

    # NumPy releases the GIL in the resizes, so batches are cut ahead in threads; in order,
    # so runs stay repeatable.
    # A device sampler queues its work on the GPU, where threads would only contend.
    # --stop-at: this stage ends there (a stop at or before the checkpoint's step: at once).
    end = total if cfg.stop_at is None else min(total, max(cfg.stop_at, start))
    batches = ordered_map(make_batch, range(start, end), cfg.workers if kind == "host" else 0)
    completed = start
    try:
        model.train()
        for step, (lr_batch, hr_batch) in zip(range(start, end), batches, strict=False):
            # NumPy from the host sampler, uploaded without waiting; or already on the device.
            lr_t, hr_t = (to_device(b, device) for b in (lr_batch, hr_batch))
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            loss = getattr(F, LOSSES[cfg.loss])(model(lr_t), hr_t)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            completed = step + 1
            # Kept on the device: reading a GPU's loss every step would stall its queue.
            value = loss.detach()
            loss_avg = value.clone() if loss_avg is None else loss_avg.lerp_(value, 0.02)
            done = step + 1
            if done % eval_every == 0 or done == total:
                if rank == 0 and val_pairs:
                    val_psnr = _validate(net, spec, cfg.scale, val_pairs)
                    if val_psnr > best.get("psnr", -math.inf):
                        best = {
                            "psnr": val_psnr,
                            "state": {k: v.detach().clone() for k, v in net.state_dict().items()},
                        }
                if progress is not None and rank == 0:
                    progress(
                        {
                            "step": done,
                            "total": total,
                            "loss": float(loss_avg),
                            "val_psnr": val_psnr,
                            "best_psnr": best.get("psnr"),
                            "seconds": time.monotonic() - t0,
                        }
                    )
            if rank == 0 and time.monotonic() - last_ckpt > cfg.checkpoint_minutes * 60:
                save_ckpt(done)
                last_ckpt = time.monotonic()
            if stop["signal"] is not None:
                break
    except (RuntimeError, MemoryError) as e:
        if not out_of_memory(e):
            _save_on_failure(rank, completed, start, save_ckpt, e)
            raise
        if rank == 0:
            save_ckpt(completed)
        raise SrupError(
            f"out of memory on {device} after step {completed}, saved: continue with --resume"
            " and a smaller --batch-size or --patch-size"
        ) from None
    except BaseException as e:
        # Ctrl-C, a validation that failed, anything: the steps done are saved first.
        _save_on_failure(rank, completed, start, save_ckpt, e)
        raise
    finally:
        if installed:  # None: a handler from outside Python, which the default stands for
            signal.signal(signal.SIGTERM, signal.SIG_DFL if old is None else old)
    finished = completed
    if rank != 0:
        return {"step": finished}
    save_ckpt(finished)
    if stop["signal"] is not None and finished < end:
        signal.raise_signal(stop["signal"])  # the previous handler's turn: exit 143
        return {"step": finished, "stopped": True, "checkpoint": ckpt.path, "notes": notes}
    summary: dict[str, object] = {"step": finished, "notes": notes, "output": output}
    if finished < total:  # --stop-at: a stage of the run, continued by --resume
        summary.update(stopped=True, checkpoint=ckpt.path)
    state = best.get("state") or net.state_dict()
    _check_finite(state, finished)
    seconds = time.monotonic() - t0
    meta = {
        "model": cfg.model,
        "scale": cfg.scale,
        "data": ",".join(Path(d).name for d in cfg.data),
        "steps": finished,
        "total_steps": total,
        "seconds": round(seconds, 1),
        "batch_size": cfg.batch_size,
        "patch_size": cfg.patch_size,
        "loss": cfg.loss,
        "seed": cfg.seed,
        "init": Path(init).name if init else "",
        "val_data": Path(cfg.val).name if cfg.val else "",
        "val_psnr": round(best["psnr"], 3) if "psnr" in best else "",
        "input_space": cfg.input_space,
        "degradation": deg.spec(),
        "val_degradation": degrade.parse(cfg.val_degradation or deg).spec(),
        "synthetic_text": cfg.synthetic_text,
        "sampler": kind,
        "command": cfg.command,
    }
    save_state(output, state, meta)
    summary.update(seconds=seconds, val_psnr=best.get("psnr"))
    if stop["signal"] is not None:  # it came as the last step ended: the work is whole
        signal.raise_signal(stop["signal"])
    return summary


def _save_on_failure(rank: int, completed: int, start: int, save, error: BaseException) -> None:
    """Save the steps done before ``error`` goes on; a failure to save is added to its
    notes rather than hiding it."""
    if rank != 0 or completed <= start:
        return
    try:
        save(completed)
    except Exception as e:  # the first error is the one to report
        error.add_note(f"the checkpoint could not be saved either: {e}")


def _check_finite(state: dict, step: int) -> None:
    """Refuse to write weights holding NaN or ±Inf (a diverged run): they would load as
    black pictures, and srup refuses to load them."""
    import torch

    for key, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise SrupError(
                f"training diverged: tensor {key} holds NaN or infinite values after step "
                f"{step}; start again with a lower --lr (or --loss l1)"
            )


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
        raise SrupError(f"--init {path}: no tensor fits {type(net).__name__}")
    own.update(fitting)
    net.load_state_dict(own)
