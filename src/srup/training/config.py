"""What a training run is asked to do: :class:`TrainConfig`, its checks, and what a resume
may change.

Every field of :class:`TrainConfig` is recorded in the run's checkpoint; a resume compares
the fields that shape the result with the checkpoint's record (:func:`changed_options`), and
:func:`check_config` refuses a config that cannot run before any data is read.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from srup import arguments
from srup.choices import SAMPLERS
from srup.errors import InvalidArgument, UnknownModelError
from srup.models import registry
from srup.models.weights import INPUT_SPACES, shipped, split_name

__all__ = ["LOSSES", "TrainConfig", "changed_options", "check_config"]

# The losses a run may minimise: --loss NAME → the function of torch.nn.functional.
LOSSES = {"l1": "l1_loss", "mse": "mse_loss"}


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
