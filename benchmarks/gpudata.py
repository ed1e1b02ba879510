"""Copy the data sets a GPU session needs into ``.gpudata/``, small enough to carry.

    python benchmarks/gpudata.py [--shared ../shared/data] [--out .gpudata]

The device machine gets the working tree and at most 64 MiB of carried paths, and cannot
reach ``../shared``. Training pictures (T91, BSD200) are written as lossless WebP (the same
pixels at about half of PNG's size), the benchmark sets (Set5, Set14) copied as they are,
in the ``../shared`` layout, so ``SRUP_SHARED_DATA=$PWD/.gpudata`` serves the tests and
``--data .gpudata`` the benchmarks there (see ``benchmarks/gpu_session.sh``).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ("T91", "BSD200")
BENCH = ("Set5", "Set14")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / ".gpudata")
    args = parser.parse_args()
    for name in TRAIN:
        target = args.out / name
        target.mkdir(parents=True, exist_ok=True)
        for src in sorted((args.shared / name).glob("*.png")):
            with Image.open(src) as img:
                img.save(target / f"{src.stem}.webp", lossless=True, quality=50, method=4)
    for name in BENCH:
        shutil.copytree(args.shared / name, args.out / name, dirs_exist_ok=True)
    total = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"{args.out}: {total / 2**20:.1f} MiB (carry limit 64 MiB)")


if __name__ == "__main__":
    main()
