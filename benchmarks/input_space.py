"""Y in, or RGB in: the same network trained both ways, scored both ways.

    python benchmarks/input_space.py Y.safetensors RGB.safetensors [--markdown F]
        [--update-readme]

For each weights file (any number; their headers say the model, scale and input space) and
each of Set5 and Set14: PSNR on Y as the papers score (the protocol of `srup benchmark`),
PSNR on R, G and B together (what a Y-only network leaves to bicubic shows here), and the
1080p-output time in `Upscaler.upscale_array` on this CPU (fp32, median of 5; the files'
ratios come from one run). Bicubic is the first row.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
from readme import arguments, publish

import srup
from srup.evaluation import protocol as benchmark
from srup.imaging.metrics import psnr
from srup.models.descriptor import describe

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def scores(upscale, scale: int, dataset: str) -> tuple[float, float]:
    """(mean Y PSNR, mean RGB PSNR) of ``upscale`` on ``dataset`` at ``scale``."""
    found = benchmark.pairs(benchmark.discover(DATA / dataset), scale)
    y, rgb = [], []
    for _name, lr, hr in found:
        sr = upscale(lr)
        y.append(psnr(sr, hr, crop_border=scale))
        rgb.append(psnr(sr, hr, crop_border=scale, y_channel=False))
    return float(np.mean(y)), float(np.mean(rgb))


def seconds(upscale, scale: int) -> float:
    img = np.random.default_rng(0).integers(0, 256, (1080 // scale, 1920 // scale, 3), np.uint8)
    upscale(img)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        upscale(img)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("weights", nargs="+", type=Path)
    args = parser.parse_args()
    first = describe(weights=args.weights[0], scale=int(srup_scale(args.weights[0])))
    scale = first.scale
    lines = [
        f"×{scale}, Set5 and Set14; PSNR in dB on Y / on RGB; 1080p output, fp32, this CPU",
        "",
        "| weights | input | MACs per output pixel | Set5 Y | Set5 RGB | Set14 Y | Set14 RGB "
        "| 1080p s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = [("bicubic", "–", "–", benchmark.bicubic(scale))]
    for path in args.weights:
        d = describe(weights=path, scale=scale)
        up = srup.load(weights=path, scale=scale, device="cpu", precision="fp32")
        rows.append((path.name, d.input_space, f"{d.macs_per_pixel:,.0f}", up.upscale_array))
    for name, space, macs, upscale in rows:
        cells = [f"{v:.2f}" for ds in ("Set5", "Set14") for v in scores(upscale, scale, ds)]
        took = f"{seconds(upscale, scale):.3f}" if space != "–" else "–"
        lines.append(f"| {name} | {space} | {macs} | " + " | ".join(cells) + f" | {took} |")
        print(lines[-1], flush=True)
    publish("input_space", lines, args.markdown, args.update_readme)


def srup_scale(path: Path) -> str:
    from srup.models.weights import read_metadata

    scale = read_metadata(path).get("scale")
    if not scale:
        sys.exit(f"{path}: the header names no scale")
    return scale


if __name__ == "__main__":
    main()
