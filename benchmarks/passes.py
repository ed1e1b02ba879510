"""What the device-resident pipeline asks of the memory, counted on any machine.

    python benchmarks/passes.py [--size 1920x1080] [--markdown F] [--update-readme]

On a GPU an upscale by a small network is bound by memory traffic, not arithmetic: every
elementwise pass over the output (colour conversion, adds, clamping, rounding, shuffles,
casts) reads and writes s² times the input's pixels. This script runs the resident tiler
(`srup.load(..., resident=True)`, the GPU path) on the CPU, where its operators are the same
torch operators, and counts at torch's dispatcher, per output pixel of an RGB picture:
operator calls, and the bytes of the tensors each call reads and writes, apart for the
network's learned layers (its body: the same in any pipeline) and for the rest, the
pipeline around them (bicubic, colour, adds, shuffles, rounding, interleaving, transfers;
FSRCNN's sub-pixel convolution, outside its body, counts here too). Fewer bytes per output
pixel is what a GPU turns into speed; the counts do not depend on the machine, so a change
can be judged here and timed on a GPU with `benchmarks/gpu.py`.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch
from readme import arguments, publish
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

import srup

# Calls that make or reshape views, or only allocate: they move no pixels.
NO_TRAFFIC = {
    "view", "_unsafe_view", "as_strided", "slice", "select", "permute", "unsqueeze",
    "squeeze", "expand", "t", "transpose", "alias", "detach", "empty", "empty_like",
    "empty_strided", "new_empty", "unflatten", "split", "_reshape_alias", "lift_fresh", "resize_",
    "is_pinned", "record_stream", "_to_copy_view",
}  # fmt: skip


class Traffic(TorchDispatchMode):
    """Operator calls and the bytes of their tensor arguments and results, counted per
    ``part`` (whatever the caller sets it to while the work runs: here the network's
    learned layers, True, and the rest, False)."""

    def __init__(self, part: object = False) -> None:
        super().__init__()
        self.part = part
        self.calls: Counter = Counter()
        self.bytes: Counter = Counter()

    def seen(self, name: str, args: tuple, kwargs: dict, out: object) -> None:
        """Every call, before it is filtered: for a subclass that looks at more."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = func.__name__.split(".")[0]
        self.seen(name, args, kwargs, out)
        if name in NO_TRAFFIC:
            return out
        inputs = [t for t in tree_flatten((args, kwargs))[0] if torch.is_tensor(t)]
        outputs = [t for t in tree_flatten(out)[0] if torch.is_tensor(t)]
        # An out-of-place call that returns its input (`.to` the same dtype, `.contiguous`
        # of a contiguous tensor) moves nothing.
        if not name.endswith("_") and {t.data_ptr() for t in outputs} <= {
            t.data_ptr() for t in inputs
        }:
            return out
        self.calls[self.part] += 1
        self.bytes[self.part] += sum(t.numel() * t.element_size() for t in inputs + outputs)
        return out


def count(model: str, scale: int, width: int, height: int) -> dict[str, float]:
    """Operator calls per megapixel of output and bytes per output pixel, for the learned
    layers and the rest, of one resident upscale to ``width × height``."""
    up = srup.load(model, scale, device="cpu", precision="fp32", resident=True)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (height // scale, width // scale, 3), dtype=np.uint8)
    up.upscale_array(pixels)  # warm-up: lazily built buffers are not counted
    traffic = Traffic()

    def enter(*_: object) -> None:
        traffic.part = True

    def leave(*_: object) -> None:
        traffic.part = False

    learned = [m for m in up.net.body.modules() if not list(m.children())]
    hooks = [m.register_forward_pre_hook(enter) for m in learned]
    hooks += [m.register_forward_hook(leave) for m in learned]
    try:
        with traffic:
            up.upscale_array(pixels)
    finally:
        for hook in hooks:
            hook.remove()
    out_px = (height // scale) * (width // scale) * scale * scale
    return {
        "pipeline calls": traffic.calls[False] / (out_px / 1e6),
        "pipeline bytes": traffic.bytes[False] / out_px,
        "network calls": traffic.calls[True] / (out_px / 1e6),
        "network bytes": traffic.bytes[True] / out_px,
    }


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--size", default="1920x1080", help="output size, WxH")
    parser.add_argument("--models", default="espcn,fsrcnn,espcn7,srcnn")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    lines = [
        f"Resident pipeline, RGB, {width}×{height} output, fp32; counted at torch's dispatcher"
        " (`benchmarks/passes.py`).",
        "",
        "| model | ×s | pipeline: calls per output MP | pipeline: bytes per output pixel |"
        " learned layers: calls per output MP | learned layers: bytes per output pixel |",
        "|---|---|---|---|---|---|",
    ]
    for model in args.models.split(","):
        for scale in (2, 3, 4):
            c = count(model, scale, width, height)
            lines.append(
                f"| {model} | {scale} | {c['pipeline calls']:.1f} | {c['pipeline bytes']:.0f}"
                f" | {c['network calls']:.1f} | {c['network bytes']:.0f} |"
            )
            print(lines[-1], flush=True)
    publish("passes", lines, args.markdown, args.update_readme)


if __name__ == "__main__":
    main()
