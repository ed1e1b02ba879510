"""How far knowing the blur would take legibility: the capture benchmark's photos deblurred
with their *true* kernel before a bicubic ×3, read by Tesseract (issue 25's ceiling check).

    python benchmarks/deblur_oracle.py [--photos 24] [--nsr 0.01,0.03,0.1] [--json FILE]

For every photo of ``benchmarks/capture.py`` that the camera blurred (motion: a line of 2–8
photo pixels; defocus: a disc of radius 0.6–2), the decoded JPEG is deconvolved with the
kernel that made it (``srup.data.degrade.motion_kernel``/``disc_kernel`` at the photo's
scale: an oracle no real file offers) by a Wiener filter of noise-to-signal ratio ``nsr``
(per RGB channel, FFT, edges reflected), then upscaled ×3 by MATLAB's bicubic
(``srup.imaging.resize.imresize``) and read as ``capture.py`` reads (same crop, same CER).
Unblurred photos are left out: nothing to deconvolve. The result bounds what a
deconvolution stage could add: a blind one, estimating the kernel from the photo, can only
do worse.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import capture as cap
from legibility import edit_distance, normalise, ocr_text

from srup.data.degrade import disc_kernel, motion_kernel
from srup.imaging.resize import imresize


def wiener(img: np.ndarray, kernel: np.ndarray, nsr: float) -> np.ndarray:
    """``(H, W, C)`` float deconvolved by ``kernel`` (Wiener, constant ``nsr``), in 0–255."""
    h, w = img.shape[:2]
    pad = 3 * max(kernel.shape)
    big = np.pad(img, ((pad, pad), (pad, pad), (0, 0)), mode="reflect").astype(np.float64)
    otf = np.zeros(big.shape[:2])
    kh, kw = kernel.shape
    otf[:kh, :kw] = kernel
    otf = np.fft.fft2(np.roll(otf, (-(kh // 2), -(kw // 2)), (0, 1)))
    gain = np.conj(otf) / (np.abs(otf) ** 2 + nsr)
    planes = [np.real(np.fft.ifft2(np.fft.fft2(big[..., c]) * gain)) for c in range(img.shape[2])]
    return np.clip(np.stack(planes, -1)[pad : pad + h, pad : pad + w], 0, 255)


def cer(img: np.ndarray, photo: cap.Photo) -> float:
    """The character error rate of Tesseract on ``img``'s text box (``capture.py``'s)."""
    up = np.clip(np.rint(imresize(img.astype(np.float32), cap.SCALE)), 0, 255).astype(np.uint8)
    left, top, right, bottom = photo.text_box
    reference = normalise("\n".join(photo.lines))
    return edit_distance(reference, normalise(ocr_text(up[top:bottom, left:right]))) / len(
        reference
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--nsr", default="0.01,0.03,0.1")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/deblur_oracle.json"))
    args = parser.parse_args()
    ratios = [float(x) for x in args.nsr.split(",")]
    fonts = cap.bench_fonts()
    rows = []
    for index in range(args.photos):
        photo, _hr, jpeg = cap.make_photo(index, fonts)
        c = photo.capture
        if c.blur is None:
            continue
        kernel = motion_kernel(c.length, c.angle) if c.blur == "motion" else disc_kernel(c.radius)
        lr = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")).astype(np.float64)
        row = {"index": index, "blur": c.blur, "quality": c.quality}
        row["size"] = c.length if c.blur == "motion" else c.radius
        row["cer"] = {"bicubic": cer(lr, photo)}
        for nsr in ratios:
            row["cer"][f"wiener {nsr:g}"] = cer(wiener(lr, kernel, nsr), photo)
        print(index, c.blur, {k: round(v, 3) for k, v in row["cer"].items()}, file=sys.stderr)
        rows.append(row)
    names = list(rows[0]["cer"]) if rows else []
    mean = {n: statistics.fmean(r["cer"][n] for r in rows) for n in names}
    motion = {
        n: statistics.fmean(r["cer"][n] for r in rows if r["blur"] == "motion") for n in names
    }
    result = {"photos": args.photos, "rows": rows, "mean": mean, "mean_motion": motion}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    for n in names:
        print(f"{n}: mean CER {100 * mean[n]:.1f} %, motion-blurred photos {100 * motion[n]:.1f} %")


if __name__ == "__main__":
    main()
