"""Training: on-the-fly patches cut from HR folders, LR made by MATLAB-exact bicubic.

Every step's batch comes from a generator seeded by ``(seed, rank, step)``, so a run is
repeatable, and a resumed run continues bit for bit: the checkpoint holds the weights, the
optimiser state, the step and the best weights so far, and nothing random is left unsaved.
Runs unchanged under ``torchrun`` (DistributedDataParallel; gloo on CPU, nccl on CUDA).
"""

from __future__ import annotations

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

from . import benchmark, degrade
from .boards import render_boards
from .devices import out_of_memory
from .errors import DataError, SrupError
from .formats import SAMPLERS
from .imageio import image_files, suffix_list
from .models import registry
from .ordered import ordered_map
from .patches import DevicePatchSampler, PatchSampler
from .weights import load_into, load_state, save_state

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["SAMPLERS", "PatchSampler", "TrainConfig", "choose_sampler", "load_images", "train"]

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
    command: str = field(default_factory=lambda: shlex.join(["srup", *sys.argv[1:]]))


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

    from .upscale import Upscaler

    device = next(net.parameters()).device
    frozen = copy.deepcopy(net).requires_grad_(False)
    up = Upscaler(frozen, spec, scale, device, torch.float32, tile=0)
    scores = benchmark.evaluate(up.upscale_array, val_pairs, scale)
    return float(np.mean([s.psnr for s in scores]))


class _Checkpoint:
    """The resumable state of a run, in ``<output>.ckpt.safetensors``."""

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
        save_state(self.path, tensors, {"srup_checkpoint": json.dumps(meta)})

    def load(self, net, opt) -> tuple[int, dict, dict]:
        tensors, header = load_state(self.path)
        meta = json.loads(header["srup_checkpoint"])
        load_into(net, _prefixed(tensors, "model."), self.path)
        state: dict = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, idx, name = key.split(".", 2)
                state.setdefault(int(idx), {})[name] = value
        opt_state = opt.state_dict()
        opt_state["state"] = state
        opt.load_state_dict(opt_state)
        best_state = _prefixed(tensors, "best.")
        best = {"psnr": meta["best_psnr"], "state": best_state} if best_state else {}
        return int(meta["step"]), best, meta


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
    """Run a training job; returns a summary. ``progress`` receives a dict per log point
    (step, total, loss, val_psnr, best_psnr, seconds)."""
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F

    from .devices import exact_numerics, resolve_device

    spec = registry.get(cfg.model)
    if cfg.scale not in spec.scales:
        raise SrupError(f"{cfg.model} supports scales {', '.join(map(str, spec.scales))}")
    for name, value in (("batch size", cfg.batch_size), ("patch size", cfg.patch_size)):
        if value < 1:
            raise SrupError(f"{name} must be positive, got {value}")
    if cfg.lr <= 0:
        raise SrupError(f"--lr must be positive, got {cfg.lr}")
    if cfg.loss not in LOSSES:
        raise SrupError(f"--loss must be one of {', '.join(LOSSES)}, got {cfg.loss}")
    if cfg.input_space not in spec.input_spaces:
        raise SrupError(
            f"--input {cfg.input_space.lower()}: {cfg.model} reads {' or '.join(spec.input_spaces)}"
        )
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


def _train(cfg, spec, device, rank, world, progress, torch, dist, F) -> dict[str, object]:
    output = Path(cfg.output)
    if not output.parent.is_dir():
        raise SrupError(f"{output.parent}: output folder does not exist")
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
    if cfg.val:
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
    ckpt = _Checkpoint(output)
    start, best, elapsed = 0, {}, 0.0
    if cfg.resume:
        if not ckpt.path.is_file():
            raise SrupError(f"--resume: no checkpoint at {ckpt.path}")
        start, best, meta = ckpt.load(net, opt)
        elapsed = float(meta.get("seconds", 0.0))

    def lr_at(step: int) -> float:
        # Cosine decay to 1% over the run: the schedule is a pure function of the step.
        return cfg.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * step / max(1, total))))

    stop = {"signal": None}

    def on_signal(signum, _frame):
        stop["signal"] = signum

    old = signal.signal(signal.SIGTERM, on_signal) if rank == 0 else None
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
    batches = ordered_map(make_batch, range(start, total), cfg.workers if kind == "host" else 0)
    completed = start
    try:
        model.train()
        for step, (lr_batch, hr_batch) in zip(range(start, total), batches, strict=False):
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
            if cfg.stop_at is not None and done >= cfg.stop_at:
                break
    except KeyboardInterrupt:
        if rank == 0:
            save_ckpt(completed)
        raise
    except (RuntimeError, MemoryError) as e:
        if not out_of_memory(e):
            raise
        if rank == 0:
            save_ckpt(completed)
        raise SrupError(
            f"out of memory on {device} after step {completed}, saved: continue with --resume"
            " and a smaller --batch-size or --patch-size"
        ) from None
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
    finished = completed
    if rank != 0:
        return {"step": finished}
    save_ckpt(finished)
    if stop["signal"] is not None:
        raise SrupError(f"stopped at step {finished}; continue with --resume")
    if finished < total:  # --stop-at: a stage of the run, continued by --resume
        return {"step": finished, "stopped": True, "checkpoint": ckpt.path}
    state = best.get("state") or net.state_dict()
    seconds = time.monotonic() - t0
    meta = {
        "model": cfg.model,
        "scale": cfg.scale,
        "data": ",".join(Path(d).name for d in cfg.data),
        "steps": finished,
        "seconds": round(seconds, 1),
        "batch_size": cfg.batch_size,
        "patch_size": cfg.patch_size,
        "loss": cfg.loss,
        "seed": cfg.seed,
        "init": Path(cfg.init).name if cfg.init else "",
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
    return {"step": finished, "seconds": seconds, "val_psnr": best.get("psnr"), "output": output}


def to_device(batch, device: torch.device) -> torch.Tensor:
    """A batch on ``device``: a tensor as it is, a NumPy array by :func:`~srup.devices.upload`."""
    from .devices import upload

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
