"""Pictures and numbers that compare methods on one image.

``side_by_side`` makes the picture people look at: nearest-neighbour LR | bicubic | each
model | HR, each panel with a zoomed crop of the most telling region and its PSNR.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from srup.data.datasets import read_rgb
from srup.errors import DataError
from srup.evaluation.protocol import bicubic, score
from srup.imaging.metrics import prepare
from srup.media.pictures import image_files

__all__ = ["pick_crop", "reference_scores", "side_by_side"]


def pick_crop(hr: np.ndarray, bicubic: np.ndarray, size: int) -> tuple[int, int]:
    """Top-left corner of the ``size``-square where bicubic errs most (the detail that SR
    is for), on a stride of ``size // 2``."""
    err = (prepare(hr) - prepare(bicubic)) ** 2
    best, corner = -1.0, (0, 0)
    h, w = err.shape
    step = max(1, size // 2)
    for y in range(0, max(1, h - size + 1), step):
        for x in range(0, max(1, w - size + 1), step):
            e = float(err[y : y + size, x : x + size].mean())
            if e > best:
                best, corner = e, (y, x)
    return corner


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def side_by_side(
    lr: np.ndarray,
    hr: np.ndarray,
    outputs: dict[str, np.ndarray],
    scale: int,
    zoom_size: int | None = None,
) -> Image.Image:
    """``lr`` uint8 RGB ``(h, w, 3)``; ``hr`` and each of ``outputs`` ``(h*s, w*s, 3)``.
    ``outputs`` must include ``bicubic`` (it picks the crop). Returns an RGB image."""
    h, w = hr.shape[:2]
    nearest = np.repeat(np.repeat(lr, scale, axis=0), scale, axis=1)[:h, :w]
    panels = {"LR (nearest)": nearest, **outputs, "HR": hr}
    zoom = zoom_size or max(16, min(h, w) // 4)
    y, x = pick_crop(hr, outputs["bicubic"], zoom)
    panel_w = max(w, 240)
    zoom_px = panel_w
    label_h = 28
    canvas = Image.new("RGB", (panel_w * len(panels), label_h + h + zoom_px), "white")
    draw = ImageDraw.Draw(canvas)
    font = _font(16)
    for i, (name, img) in enumerate(panels.items()):
        left = i * panel_w
        label = name
        if name not in ("HR", "LR (nearest)"):
            label += f"  {score(img, hr, scale)[0]:.2f} dB"
        draw.text((left + 6, 5), label, fill="black", font=font)
        canvas.paste(Image.fromarray(img), (left, label_h))
        crop = Image.fromarray(img[y : y + zoom, x : x + zoom])
        canvas.paste(crop.resize((zoom_px, zoom_px), Image.NEAREST), (left, label_h + h))
        draw.rectangle(
            [left + x, label_h + y, left + x + zoom, label_h + y + zoom], outline="red", width=2
        )
    return canvas


def _match(reference: Path, src: Path) -> Path:
    """The HR picture for ``src``: ``reference`` itself, or the one in that folder named as
    ``src`` (``baby.png`` for ``baby.png`` or ``babyx3.png``), whatever its suffix."""
    if reference.is_file():
        return reference
    if reference.is_dir():
        stems = (src.stem, src.stem.rsplit("x", 1)[0])
        for stem in stems:  # the usual case without listing the folder for every file
            for suffix in (src.suffix, ".png"):
                if (reference / f"{stem}{suffix}").is_file():
                    return reference / f"{stem}{suffix}"
        for f in image_files(reference):
            if f.stem in stems:
                return f
        raise DataError(f"{reference}: no image named like {src.stem}")
    raise DataError(f"{reference}: no such file or folder")


def reference_scores(output: Path, src: Path, reference: Path, scale: int) -> list[dict[str, Any]]:
    """PSNR/SSIM/MSE of srup's output and of plain bicubic against the HR reference.

    ``output``: srup's picture of ``src`` at ``scale`` (a whole number); ``reference``: an
    HR picture or a folder of them (matched by name). One row per method (``bicubic``,
    ``srup``): PSNR in dB, SSIM in [0, 1] and MSE in squared 8-bit levels, on Y with
    ``scale`` pixels shaved, and the reference's path. Raises :class:`DataError` when no
    reference matches or its size does not fit the output, and whatever reading a picture
    raises (:class:`~srup.errors.BadImageError`).

    Sizes: the SR protocol makes the LR from the HR cropped to a multiple of ``scale``
    (or rounds the LR's size up, as MATLAB's ``imresize`` does), so the output and the
    reference may differ by fewer than ``scale`` pixels on each axis; both are then cut to
    their common top-left part. A larger difference is not this picture's reference: a
    :class:`DataError`, never a score of the wrong region."""
    hr_path = _match(reference, src)
    sr = read_rgb(output)
    lr = read_rgb(src)
    hr = read_rgb(hr_path)
    (h, w), (hh, hw) = sr.shape[:2], hr.shape[:2]
    if abs(hh - h) >= scale or abs(hw - w) >= scale:
        raise DataError(
            f"{hr_path}: reference {hw}×{hh} does not match the output {w}×{h} at ×{scale} "
            f"(they may differ by fewer than {scale} pixels a side); is it this picture's HR?"
        )
    h, w = min(h, hh), min(w, hw)
    hr = hr[:h, :w]
    rows = []
    for method, img in (("bicubic", bicubic(scale)(lr)), ("srup", sr)):
        p, s, m = score(img[:h, :w], hr, scale)
        rows.append({"method": method, "psnr": p, "ssim": s, "mse": m, "reference": str(hr_path)})
    return rows
