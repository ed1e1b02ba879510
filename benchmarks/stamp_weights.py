"""Export trained weights into weights/: measure Set5 (and, for the record only, Set14)
Y-PSNR by the benchmark protocol and write them into the safetensors header.

    python benchmarks/stamp_weights.py [--only-better] runs/*_x?.safetensors

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
import srup.weights
from srup import benchmark as bm
from srup.weights import load_state, save_state

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def measure(weights: Path, scale: int, dataset: str) -> float:
    up = srup.load(weights=weights, scale=scale, device="cpu", precision="fp32")
    pairs = bm.pairs(bm.discover(DATA / dataset), scale)
    return float(np.mean([s.psnr for s in bm.evaluate(up.upscale_array, pairs, scale)]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--to", type=Path, default=Path(__file__).resolve().parents[1] / "weights")
    parser.add_argument(
        "--only-better", action="store_true", help="Keep a file only if it beats Set5's."
    )
    args = parser.parse_args()
    for src in args.files:
        tensors, meta = load_state(src)
        scale = int(meta["scale"])
        meta["set5_psnr"] = f"{measure(src, scale, 'Set5'):.3f}"
        dst = args.to / f"{meta['model']}_x{scale}.safetensors"
        if args.only_better and dst.is_file():
            shipped = float(srup.weights.read_metadata(dst).get("set5_psnr") or "-inf")
            if float(meta["set5_psnr"]) <= shipped:
                print(f"{src.name}: Set5 {meta['set5_psnr']} dB, not above {shipped:.3f}; kept")
                continue
        meta["set14_psnr"] = f"{measure(src, scale, 'Set14'):.3f}"
        tmp = dst.with_suffix(".tmp")
        save_state(tmp, tensors, meta)
        shutil.move(tmp, dst)
        print(f"{dst.name}: Set5 {meta['set5_psnr']} dB, Set14 {meta['set14_psnr']} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
