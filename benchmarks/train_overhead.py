"""What one training step asks of the host, counted on any machine.

    python benchmarks/train_overhead.py [--steps 200] [--markdown F] [--update-readme]

At batch 32 an ESPCN step is a few milliseconds of arithmetic for a GPU, so the GPU's
steps per second are set by the host: how many operators it dispatches per step (each one
a kernel launch on a GPU), and how often it waits for the GPU (every blocking copy from
host memory to the device drains the GPU's queue first, so the host cannot run ahead).
This script runs a training step as `srup.training.loop` builds it, with the device sampler
(`--sampler device`, the GPU default), on the CPU and counts, per step, at torch's
dispatcher:

- operator calls that move data, by `passes.py`'s counter (views, allocations and calls
  that return their input left out), for the batch, the forward and backward, and the
  optimiser (built as `srup.training.loop.optimizer` builds it for CUDA);
- copies from host memory to the device, on the `meta` device, where a copy from the CPU
  is visible as one, and how many of them go through `srup.devices.upload`, which on CUDA
  copies from page-locked memory without blocking.

The counts do not depend on the machine, so a change can be judged here and timed on a
GPU with `benchmarks/gpu.py --train`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from passes import Traffic
from readme import arguments, publish

from srup import devices
from srup.models import registry
from srup.training import loop as train
from srup.training.config import LOSSES
from srup.training.samplers import DevicePatchSampler

PARTS = ("batch", "forward + backward", "optimiser")


class Calls(Traffic):
    """``passes.py``'s counts per part of a step, and host → device copies."""

    def __init__(self) -> None:
        super().__init__(PARTS[0])
        self.uploads = 0

    def seen(self, name: str, args: tuple, kwargs: dict, out: object) -> None:
        if name in ("_to_copy", "copy_"):
            source = args[1] if name == "copy_" else args[0]
            target = out if torch.is_tensor(out) else args[0]
            self.uploads += source.device.type == "cpu" and target.device.type != "cpu"


def images(count: int = 91, side: int = 160) -> list[np.ndarray]:
    """Random pictures the size of T91's: the counts depend on shapes, not pixels."""
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (side, side + 20, 3), dtype=np.uint8) for _ in range(count)]


def setup(device: str, batch: int):
    spec = registry.get("espcn")
    sampler = DevicePatchSampler(images(), 3, 24, batch, device=torch.device(device))
    net = spec.create(3, "Y").to(device)
    # The optimiser CUDA gets; meta has no fused kernel, and its uploads do not depend on it.
    as_on = torch.device("meta" if device == "meta" else "cuda")
    opt = train.optimizer(net.parameters(), 1e-3, as_on)
    return sampler, net, opt


def run_step(sampler, net, opt, step: int, calls: Calls | None = None):
    def part(name: str) -> None:
        if calls is not None:
            calls.part = name

    part(PARTS[0])
    lr_batch, hr_batch = sampler(np.random.default_rng([0, 0, step]))
    part(PARTS[1])
    loss = getattr(F, LOSSES["l1"])(net(lr_batch), hr_batch)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    part(PARTS[2])
    opt.step()
    return loss.detach()


def counted(device: str, steps: int) -> Calls:
    """The calls of ``steps`` steps, each run once before: a long run has met every crop
    size its zoom draws, and what is built once per size is not counted."""
    sampler, net, opt = setup(device, 32)
    calls = Calls()
    for step in range(steps):
        run_step(sampler, net, opt, step)
    with calls:
        for step in range(steps):
            run_step(sampler, net, opt, step, calls)
    return calls


def count(steps: int = 4) -> dict[str, float]:
    """Per step: calls per part (on the CPU) and uploads (on meta)."""
    calls = counted("cpu", steps)
    result = {p: calls.calls[p] / steps for p in PARTS}
    through = 0
    plain = devices.upload

    def upload(array, device):
        nonlocal through
        through += 1
        return plain(array, device)

    devices.upload = upload
    try:
        calls = counted("meta", steps)
    finally:
        devices.upload = plain
    result["uploads"] = calls.uploads / steps
    result["async"] = through / steps / 2  # counted() runs each step twice
    return result


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--steps", type=int, default=4, help="steps counted")
    args = parser.parse_args()
    c = count(args.steps)
    lines = [
        "ESPCN ×3 training step, device sampler, batch 32, patch 24; per step "
        "(`benchmarks/train_overhead.py`)",
        "",
        "| batch: calls | forward + backward: calls | optimiser: calls | all calls |"
        " uploads | of them through `devices.upload` (asynchronous on CUDA) |",
        "|---|---|---|---|---|---|",
        f"| {c['batch']:.0f} | {c['forward + backward']:.0f} | {c['optimiser']:.0f} |"
        f" {sum(c[p] for p in PARTS):.0f} | {c['uploads']:.0f} | {c['async']:.0f} |",
    ]
    print("\n".join(lines), flush=True)
    publish("train_overhead", lines, args.markdown, args.update_readme)


if __name__ == "__main__":
    main()
