"""Training steps per second: does making real-photo LR patches slow training down?

    python benchmarks/train_speed.py [--model fsrcnn] [--scale 3] [--steps 150]

Runs `srup.training.loop.train` for the same number of steps with the clean degradation, the real
one, and the real one with a quarter of the patches from rendered boards, each with the
batches made in the training thread (`--workers 0`) and one batch ahead in a thread
(`--workers 1`), one after the other in one process, so the ratios are comparable. Needs
../shared/data/T91.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch
from readme import arguments, publish

from srup.training.loop import TrainConfig, train

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CASES = [("clean", 0.0), ("real", 0.0), ("real", 0.25)]


def steps_per_second(model: str, scale: int, steps: int, deg: str, text: float, workers: int):
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(
            model=model,
            scale=scale,
            data=[str(DATA / "T91")],
            output=str(Path(tmp) / "w.safetensors"),
            max_steps=steps + 20,
            stop_at=20,
            degradation=deg,
            synthetic_text=text,
            workers=workers,
            device="cpu",
        )
        train(cfg)  # loading, board rendering and the first steps, outside the timing
        cfg.resume, cfg.stop_at = True, None
        start = time.perf_counter()
        train(cfg)
        return steps / (time.perf_counter() - start)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--model", default="fsrcnn")
    parser.add_argument("--scale", type=int, default=3)
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args()
    lines = [
        f"{args.model} ×{args.scale}, batch 32, patch 24, {torch.get_num_threads()} threads; "
        f"steps/s over {args.steps} steps",
        "",
        "| degradation | boards | workers 0 | workers 1 | ÷ clean (workers 1) |",
        "|---|---|---|---|---|",
    ]
    base = None
    for deg, text in CASES:
        rates = [steps_per_second(args.model, args.scale, args.steps, deg, text, w) for w in (0, 1)]
        base = base or rates[1]
        lines.append(
            f"| {deg} | {text:.2f} | {rates[0]:.2f} | {rates[1]:.2f} | {rates[1] / base:.2f} |"
        )
        print(lines[-1], flush=True)
    publish("train_speed", lines, args.markdown, args.update_readme)


if __name__ == "__main__":
    main()
