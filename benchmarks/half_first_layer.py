"""Does the first layer need float32 when the network runs in fp16?

    python benchmarks/half_first_layer.py [--models espcn,fsrcnn,espcn7,srcnn] [--scales 2,3,4]

bf16 keeps 8 bits of mantissa, too few for a picture's 8-bit levels, so in bf16 the first
layer (the one that reads the picture) stays float32 (`keep_first_layer_fp32`). fp16 keeps
11. This script scores Set5 (Y-PSNR, the benchmark protocol) in float32, in fp16 with the
first layer in float32, and all in fp16; and counts, with `passes.py`'s counter, the bytes
per output pixel the device-resident path moves in both fp16 forms (ESPCN-class networks
write their first layer's 64 channels at input size, so a float32 first layer costs a
float32 write, a float32 activation and a cast).

fp16 runs on the CPU here (oneDNN, float32 accumulation, as cuDNN's fp16 convolutions);
a GPU's own numbers come from `tests/test_cuda.py`'s fp16 quality test. Needs
../shared/data/Set5.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from passes import Traffic
from readme import arguments, publish

from srup.evaluation import protocol as benchmark
from srup.models.descriptor import describe
from srup.models.layers import keep_first_layer_fp32
from srup.runtime.upscaler import Upscaler

SET5 = Path(__file__).resolve().parents[2] / "shared" / "data" / "Set5"
CPU = torch.device("cpu")


def upscaler(name: str, scale: int, dtype: torch.dtype, first_fp32: bool, **kw) -> Upscaler:
    """An Upscaler whose first layer runs in float32 or in ``dtype``, whatever srup's
    policy for ``dtype`` is."""
    d = describe(name, scale)
    up = Upscaler(d, CPU, dtype, **kw)
    if first_fp32:
        keep_first_layer_fp32(up.net)  # in place: the pipeline holds the same network
    else:
        up.net.to(dtype)
    return up


def traffic(name: str, scale: int, first_fp32: bool) -> float:
    """Bytes per output pixel of a resident fp16 upscale to 1080p."""
    up = upscaler(name, scale, torch.float16, first_fp32, resident=True)
    pixels = np.random.default_rng(0).integers(0, 256, (1080 // scale, 1920 // scale, 3), np.uint8)
    up.upscale_array(pixels)  # lazily built buffers are not counted
    counter = Traffic()
    with counter:
        out = up.upscale_array(pixels)
    return sum(counter.bytes.values()) / (out.shape[0] * out.shape[1])


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--models", default="espcn,fsrcnn,espcn7,srcnn")
    parser.add_argument("--scales", default="2,3,4")
    args = parser.parse_args()
    lines = [
        "Set5 Y-PSNR (dB) and resident-path traffic (bytes per output pixel, 1080p), fp16 on "
        f"the CPU, {torch.get_num_threads()} threads (`benchmarks/half_first_layer.py`)",
        "",
        "| model | × | fp32 | fp16, first layer fp32 | fp16, all | all − fp32 |"
        " bytes/px, first layer fp32 | bytes/px, all fp16 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for scale in (int(s) for s in args.scales.split(",")):
        pairs = benchmark.pairs(benchmark.discover(SET5), scale)
        for name in args.models.split(","):
            psnr = {}
            for label, dtype, first in (
                ("fp32", torch.float32, True),
                ("first", torch.float16, True),
                ("all", torch.float16, False),
            ):
                up = upscaler(name, scale, dtype, first, tile=0)
                scores = benchmark.evaluate(up.upscale_array, pairs, scale)
                psnr[label] = float(np.mean([s.psnr for s in scores]))
            lines.append(
                f"| {name} | {scale} | {psnr['fp32']:.4f} | {psnr['first']:.4f} | "
                f"{psnr['all']:.4f} | {psnr['all'] - psnr['fp32']:+.4f} | "
                f"{traffic(name, scale, True):.0f} | {traffic(name, scale, False):.0f} |"
            )
            print(lines[-1], flush=True)
    publish("half_first_layer", lines, args.markdown, args.update_readme)


if __name__ == "__main__":
    main()
