"""The pictures of the README and docs/: the shipped example (a downscaled skimage sample) and a
before/after crop (nearest | bicubic | srup) made from it.

    python benchmarks/figure.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from skimage import data

import srup
from srup.evaluation.compare import _font

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    hr = data.chelsea()  # 451×300 RGB, public domain, shipped with scikit-image
    h, w = hr.shape[:2]
    hr = hr[: h - h % 3, : w - w % 3]
    lr = srup.imresize(hr, 1 / 3)
    Image.fromarray(lr).save(ROOT / "examples" / "chelsea_lr.png")
    up = srup.load(scale=3, device="cpu")
    sr = up.upscale_array(lr)
    y, x, size = 40, 150, 150  # the eye and whiskers
    panels = {
        "nearest": np.repeat(np.repeat(lr, 3, axis=0), 3, axis=1),
        "bicubic": srup.imresize(lr, 3),
        f"srup {up.name} x3": sr,
        "original": hr,
    }
    zoom = 2
    label = 26
    canvas = Image.new("RGB", (len(panels) * size * zoom, size * zoom + label), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (name, img) in enumerate(panels.items()):
        crop = Image.fromarray(img[y : y + size, x : x + size])
        big = crop.resize((size * zoom, size * zoom), Image.NEAREST)
        canvas.paste(big, (i * size * zoom, label))
        text = name
        if name not in ("original", "nearest"):
            text += f"  {srup.psnr(img, hr, crop_border=3):.2f} dB"
        draw.text((i * size * zoom + 6, 4), text, fill="black", font=_font(16))
    canvas.save(ROOT / "docs" / "before_after.png", optimize=True)


if __name__ == "__main__":
    main()
