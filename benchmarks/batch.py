"""Batch throughput with and without overlapping decode/encode with the network, one run.

    python benchmarks/batch.py [--files 8] [--model fsrcnn] [--scale 3] [--format png]

Writes --files copies of a 640×360 photograph (scikit-image's astronaut) and upscales them
with `srup.batch.run_jobs`, overlap off then on, alternating --rounds times; prints MP/s.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image
from readme import arguments, publish
from skimage import data

import srup
from srup import batch


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--model", default="fsrcnn")
    parser.add_argument("--scale", type=int, default=3)
    parser.add_argument("--format", default="png", choices=["png", "jpg"])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    up = srup.load(args.model, args.scale, device="cpu")
    photo = Image.fromarray(data.astronaut()).resize((640, 360))
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        src.mkdir()
        for i in range(args.files):
            photo.rotate(i * 90 % 360).save(src / f"{i:03d}.{args.format}")
        rates: dict[bool, list[float]] = {False: [], True: []}
        for r in range(args.rounds):
            for overlap in (False, True):
                out = Path(tmp) / f"out_{r}_{overlap}"
                jobs = batch.plan([src], out, args.scale).jobs
                start = time.perf_counter()
                results = list(batch.run_jobs(up, jobs, overlap=overlap))
                seconds = time.perf_counter() - start
                assert all(x.status == "done" for x in results)
                rates[overlap].append(sum(x.megapixels for x in results) / seconds)
    seq, ovl = statistics.median(rates[False]), statistics.median(rates[True])
    line = (
        f"{args.files} × 640×360 {args.format} → ×{args.scale} {args.model}: "
        f"sequential {seq:.1f} MP/s, overlapped {ovl:.1f} MP/s, ratio {ovl / seq:.2f}"
    )
    print(line)
    publish("batch", [line], args.markdown, args.update_readme)


if __name__ == "__main__":
    main()
