"""docs/quality.md's real-photo table: clean and real-photo models on clean, JPEG-75, phone LR.

    python benchmarks/real_quality.py [--update-readme] [--datasets Set14,Set5]

Each cell is `srup benchmark DATASET -s S -m MODELS --degradation D` (PSNR / SSIM on Y,
shave = scale): "clean" is the papers' protocol; "JPEG 75" is MATLAB's own LR image saved
as JPEG quality 75 by Pillow; "phone" is the HR blurred (σ 0.7), shrunk by MATLAB bicubic,
given noise (σ 3) and saved as JPEG 75, one fixed draw per image. Set14 is never used in
training or to choose weights. Writes benchmarks/results/real_quality.json.
"""

from __future__ import annotations

import json
from pathlib import Path

from readme import arguments, publish

from srup.evaluation.run import BenchmarkRun
from srup.models.weights import shipped

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
INPUTS = {"clean": "clean", "JPEG 75": "clean,jpeg=75", "phone": "phone"}
MODELS = "bicubic,fsrcnn,fsrcnn-real,espcn,espcn-real,espcn7,espcn7-real"


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--datasets", default="Set14")
    parser.add_argument("--scales", default="2,3,4")
    args = parser.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    rows: dict[tuple[str, str, str, int], dict] = {}
    have = shipped()
    for ds in args.datasets.split(","):
        for label, deg in INPUTS.items():
            for scale in scales:  # one run per scale: not every model has every scale
                models = [m for m in MODELS.split(",") if m == "bicubic" or (m, scale) in have]
                run = BenchmarkRun(
                    paths=[DATA / ds],
                    scales=[scale],
                    models=",".join(models),
                    device="cpu",
                    tile=0,
                    precision="fp32",
                    degradation=deg,
                    quiet=True,
                )
                for r in run.execute().results:
                    rows[(ds, label, r["model"], r["scale"])] = r
    lines = []
    for ds in args.datasets.split(","):
        lines += [
            f"**{ds}**, PSNR dB / SSIM (gain over bicubic in brackets)",
            "",
            "| model | " + " | ".join(f"{lab} ×{s}" for lab in INPUTS for s in scales) + " |",
            "|---" * (len(INPUTS) * len(scales) + 1) + "|",
        ]
        for model in MODELS.split(","):
            cells = []
            for lab in INPUTS:
                for s in scales:
                    r, b = rows.get((ds, lab, model, s)), rows.get((ds, lab, "bicubic", s))
                    if r is None:
                        cells.append("-")
                        continue
                    gain = "" if model == "bicubic" else f" ({r['psnr'] - b['psnr']:+.2f})"
                    cells.append(f"{r['psnr']:.2f} / {r['ssim']:.3f}{gain}")
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
        lines.append("")
    print("\n".join(lines))
    out = ROOT / "benchmarks" / "results" / "real_quality.json"
    out.write_text(json.dumps([dict(r, input=k[1]) for k, r in rows.items()], indent=1))
    publish("real_quality", lines, args.markdown, args.update_readme)


if __name__ == "__main__":
    main()
