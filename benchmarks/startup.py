"""Time from the shell: `srup --help`, and one 1280×720 → 3840×2160 `srup upscale`, against
the time Python takes to import torch alone.

    python benchmarks/startup.py [--runs 5] [--markdown FILE] [--update-readme]

Every command is a fresh process (the whole cost a user waits for: interpreter start,
imports, model load, decode, upscale, encode, atomic write). The commands are run in turn,
round after round, and each one's median is reported, so that a slow moment of the machine
falls on all of them alike. The target: the upscale within 1 s of the torch import.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image
from readme import arguments, publish
from skimage import data


def seconds(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    srup = [sys.executable, "-m", "srup"]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in_1280x720.jpg"
        photo = Image.fromarray(data.astronaut()).resize((1280, 720), Image.Resampling.BICUBIC)
        photo.save(src, quality=92)
        upscale = [*srup, "upscale", str(src), "-s", "3", "--overwrite", "-q", "-o"]
        commands = {
            "`python -c 'import torch'`": [sys.executable, "-c", "import torch"],
            "`srup --help`": [*srup, "--help"],
            "`srup upscale` 1280×720 ×3 → PNG": [*upscale, str(Path(tmp) / "out.png")],
            "`srup upscale` 1280×720 ×3 → JPEG": [*upscale, str(Path(tmp) / "out.jpg")],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for cmd in commands.values():  # a warm-up round: disk caches, .pyc files
            seconds(cmd)
        for _ in range(args.runs):
            for name, cmd in commands.items():
                times[name].append(seconds(cmd))
    medians = {name: statistics.median(t) for name, t in times.items()}
    torch_import = next(iter(medians.values()))
    lines = [
        f"median of {args.runs} fresh processes each; `auto` model (FSRCNN at ×3)",
        "",
        "| command | seconds | beyond the torch import | target |",
        "|---|---|---|---|",
    ]
    for name, value in medians.items():
        if "upscale" in name:
            beyond = value - torch_import
            target = f"{'met' if beyond < 1 else 'missed'} (< 1 s beyond)"
            lines.append(f"| {name} | {value:.2f} | {beyond:.2f} | {target} |")
        elif "help" in name:
            lines.append(
                f"| {name} | {value:.2f} | – | {'met' if value < 0.3 else 'missed'} (< 0.3 s) |"
            )
        else:
            lines.append(f"| {name} | {value:.2f} | – | – |")
    print("\n".join(lines))
    publish("startup", lines, args.markdown, args.update_readme)


if __name__ == "__main__":
    main()
