"""Export trained weights into weights/: measure Set5 (and, for the record only, Set14)
Y-PSNR by the benchmark protocol and write them into the safetensors header.

    python benchmarks/stamp_weights.py runs/*_x?.safetensors

Set14 is measured after training and never used to choose anything.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

import srup
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
    args = parser.parse_args()
    for src in args.files:
        tensors, meta = load_state(src)
        scale = int(meta["scale"])
        meta["set5_psnr"] = f"{measure(src, scale, 'Set5'):.3f}"
        meta["set14_psnr"] = f"{measure(src, scale, 'Set14'):.3f}"
        dst = args.to / f"{meta['model']}_x{scale}.safetensors"
        tmp = dst.with_suffix(".tmp")
        save_state(tmp, tensors, meta)
        shutil.move(tmp, dst)
        print(f"{dst.name}: Set5 {meta['set5_psnr']} dB, Set14 {meta['set14_psnr']} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
