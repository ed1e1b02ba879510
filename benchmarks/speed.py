"""In-process speed of every shipped model, with ratios measured in one run.

    python benchmarks/speed.py [--repeat 3]

For each (model, scale): the input size whose output is 1920×1080 (×3: 640×360), timed in
`Upscaler.upscale_array` (after a warm-up; median of --repeat runs), against
1. the same network run naively: eager NCHW fp32, untiled, on the Y plane only;
2. the FLOP bound: MACs of the network ÷ a float32 matrix-multiply peak measured here.
Prints a Markdown table (for the README's Performance section).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import torch

import srup
from srup.weights import shipped


def median_time(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_peak(repeat: int) -> float:
    """Multiply-accumulates per second of a large float32 matmul."""
    a, b = torch.rand(2048, 2048), torch.rand(2048, 2048)
    seconds = median_time(lambda: a @ b, repeat)
    return 2048**3 / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    peak = matmul_peak(args.repeat)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"matmul peak {peak / 1e9:.1f} GMAC/s\n"
    )
    print(
        "| model | scale | input | srup s | MP/s | naive NCHW s | naive ÷ srup | "
        "FLOP bound s | srup ÷ bound |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for name, scale in sorted(shipped()):
        w, h = 1920 // scale, 1080 // scale
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        up = srup.load(name, scale, device="cpu")
        t_srup = median_time(lambda up=up, img=img: up.upscale_array(img), args.repeat)
        net = up.spec.build(scale)
        net.load_state_dict(up.net.state_dict())
        net.eval()
        y = torch.rand(1, 1, h, w)

        def naive(net=net, y=y):
            with torch.no_grad():
                net(y)

        t_naive = median_time(naive, args.repeat)
        bound = up.spec.macs_per_pixel(scale) * w * h * scale * scale / peak
        mp = w * h * scale * scale / 1e6
        print(
            f"| {name} | ×{scale} | {w}×{h} | {t_srup:.3f} | {mp / t_srup:.1f} | "
            f"{t_naive:.3f} | {t_naive / t_srup:.2f} | {bound:.3f} | {t_srup / bound:.2f} |"
        )


if __name__ == "__main__":
    main()
