"""Scales other than the networks' own: network-then-resize against plain bicubic.

    python benchmarks/fractional.py [--update-readme]

For a factor f, the LR is MATLAB's bicubic shrink of the HR to round(size / f); it is
brought back to the HR size by plain bicubic, and by the shipped clean model at the smallest
scale ≥ f (×2 for f < 2) followed by an antialiased MATLAB bicubic resize. PSNR on Y with
ceil(f) pixels shaved, mean over Set5 and Set14. srup runs the network only where it wins
(srup.imaging.sizing.MIN_NETWORK_FACTOR).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from readme import arguments, publish

import srup
from srup.evaluation import protocol as bm
from srup.imaging.resize import imresize, resize_pixels

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FACTORS = (1.25, 1.5, 2.5, 3.5)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--model", default="fsrcnn")
    args = parser.parse_args()
    hrs = [bm.read_rgb(s.hr) for d in ("Set5", "Set14") for s in bm.discover(DATA / d).samples]
    lines = [
        f"Set5 + Set14 ({len(hrs)} images), Y-PSNR dB, {args.model} then resize",
        "",
        "| factor | network scale | bicubic | network + resize | gain |",
        "|---|---|---|---|---|",
    ]
    for f in FACTORS:
        net = min(s for s in (2, 3, 4) if s >= f)
        up = srup.load(args.model, net, device="cpu", precision="fp32")
        bic, ours = [], []
        for hr in hrs:
            h, w = hr.shape[:2]
            lr = imresize(hr, output_shape=(round(h / f), round(w / f)))
            shave = math.ceil(f)
            bic.append(srup.psnr(imresize(lr, output_shape=(h, w)), hr, crop_border=shave))
            sr = resize_pixels(up.upscale_array(lr), (w, h))
            ours.append(srup.psnr(sr, hr, crop_border=shave))
        b, o = float(np.mean(bic)), float(np.mean(ours))
        lines.append(f"| ×{f:g} | ×{net} | {b:.2f} | {o:.2f} | {o - b:+.2f} |")
        print(lines[-1], flush=True)
    publish("fractional", lines, args.markdown, args.update_readme)


if __name__ == "__main__":
    main()
