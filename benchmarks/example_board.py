"""The shipped example, examples/board.jpg: a whiteboard as a phone photographs it.

    python benchmarks/example_board.py [examples/board.jpg]

A board rendered by srup.data.boards (marker on white, known lines), blurred (σ 0.7), shrunk ×3
by MATLAB bicubic and given sensor noise (σ 3) by srup.data.degrade, then saved as a JPEG at
quality 75, as a phone would. `srup upscale examples/board.jpg -s 3` gets it back.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from srup.data.boards import font_files, render_board
from srup.data.degrade import parse

LINES = ["Homework for Thursday:", "Exercises 4.2 to 4.7, page 131", "y = 3x^2 - 2x + 5"]


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("examples/board.jpg")
    fonts = font_files(("DejaVuSans.ttf",)) or ()
    hr, _ = render_board(
        np.random.default_rng(7),
        (600, 240),
        style="marker",
        fonts=fonts,
        text_px=(26, 26),
        lines=LINES,
        max_angle=1.5,
    )
    # Everything of the phone photo but the JPEG, which Pillow writes into the file itself.
    lr = parse("clean,sigma=0.7,nsigma=3,gray=0").apply(hr, 3, np.random.default_rng(7))
    Image.fromarray(lr).save(out, quality=75)
    print(f"wrote {out}: {lr.shape[1]}×{lr.shape[0]}")


if __name__ == "__main__":
    main()
