"""What ``--denoise auto`` costs: ``srup upscale photo.jpg -s 3`` on a 640×480 JPEG of a
board, as today's choice for a JPEG ran it (``--denoise 0.5``: the real variant, loaded as
it is) against ``auto`` (the estimate, then a mix of weights or the capture variant), for a
board at quality 60 (auto: the capture end) and at 85 (auto: a clean+real mix, built by
interpolation).

    python benchmarks/denoise_speed.py [--runs 5] [--markdown FILE]

Every command is a fresh process (what a user waits for). The commands run in turn, round
after round, and each one's best is reported with its ratio to ``--denoise 0.5`` on the same
file, measured in the same run. The target (issue 25): within 1.5×.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from readme import arguments, publish
from startup import seconds

from srup.data.boards import render_board


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    srup_cli = [sys.executable, "-m", "srup"]
    with tempfile.TemporaryDirectory() as tmp:
        board, _ = render_board(np.random.default_rng(11), (640, 480), style="marker")
        files = {}
        for quality in (60, 85):
            files[quality] = Path(tmp) / f"board_q{quality}.jpg"
            Image.fromarray(board).save(files[quality], quality=quality)
        cmds = {}
        for quality, path in files.items():
            for denoise in ("0.5", "auto"):
                out = Path(tmp) / f"out_{quality}_{denoise}.png"
                cmds[(quality, denoise)] = [
                    *srup_cli, "upscale", str(path), "-s", "3", "-o", str(out),
                    "--overwrite", "--denoise", denoise,
                ]  # fmt: skip
        best = dict.fromkeys(cmds, float("inf"))
        for _ in range(args.runs):
            for key, cmd in cmds.items():
                best[key] = min(best[key], seconds(cmd))
    lines = [
        f"640×480 board JPEG → ×3, fresh process each, best of {args.runs}",
        "",
        "| input | `--denoise 0.5` (today's JPEG choice) | `--denoise auto` | ratio |",
        "|---|---|---|---|",
    ]
    for quality in files:
        old, new = best[(quality, "0.5")], best[(quality, "auto")]
        lines.append(f"| JPEG {quality} | {old:.2f} s | {new:.2f} s | {new / old:.2f}× |")
    print("\n".join(lines))
    publish("denoise_speed", lines, args.markdown, False)


if __name__ == "__main__":
    main()
