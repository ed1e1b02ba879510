"""The quality table of docs/quality.md: `srup benchmark` on Set5 and Set14, every shipped model.

    python benchmarks/quality.py [--update-readme]

Writes benchmarks/results/quality.json (the `srup benchmark --json` format) and prints a
Markdown table; --update-readme replaces the table between its quality markers
(docs/quality.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

from readme import arguments, publish

from srup.evaluation.run import BenchmarkRun

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
PAPER = {  # Set5 / Set14 ×2, ×3, ×4 from the original papers (bicubic: SRCNN paper)
    "srcnn": ["36.66", "32.75", "30.48", "32.42", "29.28", "27.49"],
    "fsrcnn": ["37.00", "33.16", "30.71", "32.63", "29.43", "27.59"],
    "espcn": ["36.66", "33.13", "30.90", "32.42", "29.49", "27.73"],
    "bicubic": ["33.66", "30.39", "28.42", "30.23", "27.54", "26.00"],
    "espcn7": ["–"] * 6,  # srup's own tier: no paper trained this network on the 291 images
}


def table(results: list[dict]) -> str:
    cols = [(d, s) for d in ("Set5", "Set14") for s in (2, 3, 4)]
    psnr = {(r["model"], r["dataset"], r["scale"]): r for r in results}
    head = "| model | " + " | ".join(f"{d} ×{s}" for d, s in cols) + " |"
    lines = [head, "|---" * (len(cols) + 1) + "|"]
    for model in ("bicubic", "srcnn", "fsrcnn", "espcn", "espcn7"):
        cells = []
        for i, (d, s) in enumerate(cols):
            r = psnr.get((model, d, s))
            cells.append(f"{r['psnr']:.2f} / {r['ssim']:.4f} ({PAPER[model][i]})" if r else "-")
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = arguments(__doc__)
    args = parser.parse_args()
    run = BenchmarkRun(paths=[DATA / "Set5", DATA / "Set14"], scales=[2, 3, 4], device="cpu")
    result = run.execute()
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    result.write_json(out / "quality.json")
    md = table(result.results)
    print(md)
    publish("quality", [md], args.markdown, args.update_readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
