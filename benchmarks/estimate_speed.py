"""How long srup.imaging.estimate takes on a 640×480 JPEG of a board (the per-file cost that
``--denoise auto`` adds): best of N for the luma noise σ, the edge width and the whole
estimate, in milliseconds.

    python benchmarks/estimate_speed.py [--runs 15]
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np
from PIL import Image

from srup.data.boards import render_board
from srup.imaging.estimate import edge_width, estimate, luma, noise_sigma


def best_ms(fn, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    board, _ = render_board(np.random.default_rng(1), (640, 480), style="marker")
    noisy = np.clip(board + np.random.default_rng(2).normal(0, 3, board.shape), 0, 255)
    buf = io.BytesIO()
    Image.fromarray(noisy.astype(np.uint8)).save(buf, "JPEG", quality=80)
    with Image.open(buf) as im:
        rgb, tables = np.asarray(im.convert("RGB")), im.quantization
    y = luma(rgb)
    estimate(rgb, tables)  # warm up
    for name, fn in [
        ("noise_sigma", lambda: noise_sigma(y)),
        ("edge_width", lambda: edge_width(y)),
        ("estimate", lambda: estimate(rgb, tables)),
    ]:
        print(f"{name:12s} {best_ms(fn, args.runs):6.2f} ms")


if __name__ == "__main__":
    main()
