"""Peak memory (RSS) of `srup upscale` from the shell, and how it grows with image size.

    python benchmarks/memory.py [--model espcn] [--scale 3] [--markdown FILE]

Each run is a fresh `srup upscale IN.jpg -o OUT.jpg` process on a JPEG made from
scikit-image's astronaut; its peak RSS is read from the kernel's accounting of the finished
child (getrusage), not sampled. The largest case is the issue's: 4000×3000 at ×3, a
12000×9000 (108 MP) output. The budget: 2 GiB.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image
from readme import arguments, publish
from skimage import data

SIZES = [(500, 375), (1000, 750), (2000, 1500), (4000, 3000)]
BUDGET = 2 * 2**30


def child_peak(cmd: list[str]) -> tuple[int, float]:
    """(peak RSS in bytes, seconds) of ``cmd``, run in a fresh measuring process so that
    RUSAGE_CHILDREN holds this command alone."""
    probe = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *cmd], check=True, capture_output=True, text=True
    ).stdout.split()
    return int(out[0]) * 1024, float(out[1])


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--model", default="espcn")
    parser.add_argument("--scale", type=int, default=3)
    args = parser.parse_args()
    srup = [sys.executable, "-m", "srup"]
    base, _ = child_peak([*srup, "--version"])
    lines = [
        f"`srup upscale` of a JPEG, {args.model} ×{args.scale}, peak RSS by getrusage; "
        f"`srup --version` alone: {base / 2**20:.0f} MiB",
        "",
        "| input | output | output MP | peak RSS MiB | MiB per output MP above the "
        "smallest | seconds | within 2 GiB |",
        "|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    photo = Image.fromarray(data.astronaut())
    first: tuple[float, int] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for w, h in SIZES:
            src = Path(tmp) / f"in_{w}x{h}.jpg"
            photo.resize((w, h), Image.Resampling.BICUBIC).save(src, quality=92)
            dst = Path(tmp) / f"out_{w}x{h}.jpg"
            cmd = [*srup, "upscale", str(src), "-s", str(args.scale), "-m", args.model]
            peak, seconds = child_peak([*cmd, "-o", str(dst), "-q"])
            mp = w * h * args.scale**2 / 1e6
            slope = "–" if first is None else f"{(peak - first[1]) / 2**20 / (mp - first[0]):.1f}"
            first = first or (mp, peak)
            line = (
                f"| {w}×{h} | {w * args.scale}×{h * args.scale} | {mp:.1f} | "
                f"{peak / 2**20:.0f} | {slope} | {seconds:.1f} | "
                f"{'yes' if peak <= BUDGET else 'NO'} |"
            )
            lines.append(line)
            print(line, flush=True)
            dst.unlink()
    publish("memory", lines, args.markdown, args.update_readme)


if __name__ == "__main__":
    main()
