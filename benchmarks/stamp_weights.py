"""Export trained weights into weights/: measure Set5 (and, for the record only, Set14)
Y-PSNR by the benchmark protocol and write them into the safetensors header.

    python benchmarks/stamp_weights.py [--only-better] runs/*_x?.safetensors [--final]

Weights trained with a degradation other than clean become a variant (``fsrcnn-real``;
``fsrcnn-capture`` for the ``capture`` preset), as do weights that read RGB
(``espcn-rgb``); the degraded ones are also measured on JPEG-75 LR, on the phone photo
(srup.data.degrade's ``phone``), which is what ``auto`` uses to choose among real variants, and
on one handheld capture (the phone photo with motion blur and chroma noise, JPEG 65).
``--final`` takes the last step's weights from the run's checkpoint instead of the best
validated ones.

Set14 is measured after training and never used to choose anything: with --only-better a
file replaces the shipped one only if its Set5 PSNR is higher, and Set14 is measured only
for the files that are kept.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

import srup
import srup.models.weights
from srup.evaluation import protocol as bm
from srup.models.weights import load_state, save_state

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


LOSSY = {
    "jpeg75": "clean,jpeg=75",
    "phone": "phone",
    # One fixed handheld capture (the capture variants' validation): motion blur of 3 px,
    # chroma noise σ 3, JPEG 65 on top of the phone photo.
    "handheld": "phone,mlen=3:3,csigma=3:3,jpeg=65:65",
}


def measure(weights: Path, scale: int, dataset: str, degradation: str = "clean") -> float:
    up = srup.load(weights=weights, scale=scale, device="cpu", precision="fp32")
    pairs = bm.pairs(bm.discover(DATA / dataset), scale, degradation=degradation)
    return float(np.mean([s.psnr for s in bm.evaluate(up.upscale_array, pairs, scale)]))


def final_weights(src: Path) -> tuple[dict, dict]:
    """The last step's weights of a run, from its checkpoint, with the output's header."""
    tensors, meta = load_state(src)
    ckpt, _ = load_state(src.with_name(src.name + ".ckpt.safetensors"))
    final = {k[len("model.") :]: v for k, v in ckpt.items() if k.startswith("model.")}
    assert final.keys() == tensors.keys()
    return final, dict(meta, kept="final step", val_psnr="")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--to", type=Path, default=Path(__file__).resolve().parents[1] / "weights")
    parser.add_argument(
        "--only-better", action="store_true", help="Keep a file only if it beats Set5's."
    )
    parser.add_argument("--final", action="store_true", help="The last step, not the best.")
    args = parser.parse_args()
    for src in args.files:
        tensors, meta = final_weights(src) if args.final else load_state(src)
        if args.final:
            src = args.to / f".{src.name}.final"
            save_state(src, tensors, meta)
        scale = int(meta["scale"])
        real = meta.get("degradation", "clean") != "clean"
        # Weights trained on the capture preset are the capture variant, any other
        # degradation the real one.
        kind = "capture" if meta.get("degradation", "").startswith("capture") else "real"
        tags = [kind] * real + ["rgb"] * (meta.get("input_space", "Y") == "RGB")
        variant = "".join(f"-{t}" for t in tags)
        meta["set5_psnr"] = f"{measure(src, scale, 'Set5'):.3f}"
        if real:
            for key, deg in LOSSY.items():
                meta[f"set5_{key}_psnr"] = f"{measure(src, scale, 'Set5', deg):.3f}"
        dst = args.to / f"{meta['model']}{variant}_x{scale}.safetensors"
        if args.only_better and dst.is_file():
            shipped = float(srup.models.weights.read_metadata(dst).get("set5_psnr") or "-inf")
            if float(meta["set5_psnr"]) <= shipped:
                print(f"{src.name}: Set5 {meta['set5_psnr']} dB, not above {shipped:.3f}; kept")
                continue
        meta["set14_psnr"] = f"{measure(src, scale, 'Set14'):.3f}"
        if real:
            for key, deg in LOSSY.items():
                meta[f"set14_{key}_psnr"] = f"{measure(src, scale, 'Set14', deg):.3f}"
        tmp = dst.with_suffix(".tmp")
        save_state(tmp, tensors, meta)
        shutil.move(tmp, dst)
        if args.final:
            src.unlink()
        print(f"{dst.name}: Set5 {meta['set5_psnr']} dB, Set14 {meta['set14_psnr']} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
