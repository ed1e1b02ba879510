"""sha256 of srup's float32 CPU output for every shipped weight set: the check that a change
meant to make srup faster did not change a single output level.

    python benchmarks/digests.py --write benchmarks/results/digests_fp32.json   # before
    python benchmarks/digests.py --check benchmarks/results/digests_fp32.json   # after

Every shipped weight set (variants included: their weights differ, so do their roundings) at
its scales, ``Upscaler.upscale_array`` on the CPU in float32 with the default (``auto``)
tile, on generated pictures of each layout the pipeline has a path for (RGB, gray, gray with
alpha, RGBA with a transparent region, 16-bit RGB) and on Set5's HR pictures where
``--set5`` finds them; plus one picture cut into 40-pixel tiles, so the tiling path with
many tiles and the mirrored borders between them is covered too. ``--check`` exits 1 and
names every digest that differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def pictures(set5: Path | None) -> dict[str, np.ndarray]:
    """The inputs by name: generated ones (fixed seeds) and Set5's HR pictures (RGB)."""
    rng = np.random.default_rng(28)
    h, w = 97, 131  # odd sizes: no tile or phase lines up by accident
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    smooth = np.stack([xx / w, yy / h, (xx + yy) / (w + h)], axis=-1) * 200 + 20
    photo = np.clip(smooth + rng.normal(0, 12, smooth.shape), 0, 255).astype(np.uint8)
    noise = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)  # every level, edges everywhere
    alpha = np.full((h, w, 1), 255, np.uint8)
    alpha[20:50, 30:80] = 0  # colour under α = 0 must stay invisible
    alpha[60:90, 10:60] = 128
    out = {
        "photo_rgb": photo,
        "noise_rgb": noise,
        "gray": photo[..., 1],
        "gray_alpha": np.concatenate([photo[..., 1:2], alpha], axis=-1),
        "rgba": np.concatenate([noise, alpha], axis=-1),
        "rgb16": (photo.astype(np.uint16) * 257 + rng.integers(0, 257, photo.shape)).astype(
            np.uint16
        ),
    }
    if set5 is not None and set5.is_dir():
        from PIL import Image

        for path in sorted(set5.glob("*.png"))[:3]:
            out[f"set5_{path.stem}"] = np.asarray(Image.open(path).convert("RGB"))
    return out


def digests(set5: Path | None, models: list[str] | None) -> dict[str, str]:
    """``{"model xS picture[ tile N]": sha256 of the output bytes, shape and dtype}``."""
    import srup
    from srup.models.weights import shipped

    inputs = pictures(set5)
    out: dict[str, str] = {}
    for name, scale in sorted(shipped()):
        if models and name not in models:
            continue
        up = srup.load(name, scale=scale, device="cpu")
        for key, pixels in inputs.items():
            if up.descriptor.spec.name == "srcnn" and key.startswith("set5") and scale == 2:
                continue  # SRCNN ×2 on 512² pictures: seconds each, and Set5 ×3/×4 cover it
            out[f"{name} x{scale} {key}"] = _sha(up.upscale_array(pixels))
        up.tile = 40
        out[f"{name} x{scale} noise_rgb tile 40"] = _sha(up.upscale_array(inputs["noise_rgb"]))
        print(f"{name} x{scale}", file=sys.stderr, flush=True)
    return out


def _sha(arr: np.ndarray) -> str:
    h = hashlib.sha256(f"{arr.shape} {arr.dtype}".encode())
    h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--write", type=Path, help="write the digests to this JSON file")
    what.add_argument("--check", type=Path, help="compare with this JSON file")
    parser.add_argument("--set5", type=Path, default=Path("/work/shared/data/Set5/HR"))
    parser.add_argument("--models", help="comma-separated weight sets (default: all)")
    args = parser.parse_args()
    models = args.models.split(",") if args.models else None
    found = digests(args.set5, models)
    if args.write:
        args.write.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
        print(f"{len(found)} digests written to {args.write}")
        return 0
    expected = json.loads(args.check.read_text())
    differ = [k for k, v in found.items() if expected.get(k) != v]
    for key in differ:
        print(f"DIFFERS: {key}")
    print(f"{len(found) - len(differ)}/{len(found)} digests as recorded")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
