"""bf16 against fp32: Set5 Y-PSNR change and speed, every shipped model, one run.

    python benchmarks/precision.py [--markdown FILE]

`--precision auto` stays fp32 on the CPU: bf16 is offered (`--precision bf16`) and this
script says what it costs in quality and gains (or loses) in time on this machine. Without
native bf16 instructions (AVX-512 BF16 / AMX) the CPU emulates it and it is slower.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from readme import arguments, publish

import srup
from srup.evaluation.protocol import discover, evaluate, pairs
from srup.models.weights import shipped

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "Set5"


def main() -> None:
    parser = arguments(__doc__)
    args = parser.parse_args()
    native = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    lines = [
        f"Set5, Y channel, shave = scale; CPU has native bf16: {'yes' if native else 'no'}",
        "",
        "| model | scale | fp32 dB | bf16 dB | change dB | bf16 time ÷ fp32 time |",
        "|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    dataset = discover(DATA)
    for name, scale in sorted(k for k in shipped() if "-" not in k[0]):  # variants: same nets
        data = pairs(dataset, scale)
        psnr, seconds = {}, {}
        ups = {p: srup.load(name, scale, device="cpu", precision=p) for p in ("fp32", "bf16")}
        for precision, up in ups.items():
            psnr[precision] = float(
                np.mean([s.psnr for s in evaluate(up.upscale_array, data, scale)])
            )
        # Network time only (no metrics), warm, alternating, best of three rounds.
        seconds = {p: float("inf") for p in ups}
        for _ in range(3):
            for precision, up in ups.items():
                start = time.perf_counter()
                for _, lr, _ in data:
                    up.upscale_array(lr)
                seconds[precision] = min(seconds[precision], time.perf_counter() - start)
        line = (
            f"| {name} | ×{scale} | {psnr['fp32']:.3f} | {psnr['bf16']:.3f} | "
            f"{psnr['bf16'] - psnr['fp32']:+.3f} | {seconds['bf16'] / seconds['fp32']:.2f} |"
        )
        lines.append(line)
        print(line, flush=True)
    publish("precision", lines, args.markdown, args.update_readme)


if __name__ == "__main__":
    main()
