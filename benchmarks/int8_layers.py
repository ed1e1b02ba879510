"""Would an int8 precision pay on this CPU? FSRCNN's and ESPCN's convolution shapes run by
PyTorch's quantized engines (oneDNN and FBGEMM) against float32, layer by layer (issue 28).

    python benchmarks/int8_layers.py [--side 400] [--repeat 10] [--markdown FILE]

Each layer of FSRCNN (56, 12, 4) and ESPCN, its deconvolution as the sub-pixel convolution
srup runs (×2: 4 outputs 5×5, ×3: 9 outputs 4×4, ×4: 16 outputs 3×3), on a --side² tile,
channels-last, one thread, CPU seconds (the best of --repeat, which holds on a busy
machine), freed memory kept for both (as ``srup upscale`` runs). int8: per-channel weights,
one activation scale (uint8 in and out, so a layer's output feeds the next without a
conversion); "quantize" is the float32 → uint8 pass a network's input pays once. Weights are
random: the speed of a kernel does not depend on its values, and no accuracy is claimed
here: an int8 precision would need calibration and a quality measurement first. Prints the
CPU's VNNI/AMX flags, since int8 pays only where they exist.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import torch
from int8 import cpu_flags  # benchmarks/int8.py, beside this script
from torch import nn

SHAPES = [  # (network, input channels, output channels, kernel)
    ("fsrcnn", 1, 56, 5),
    ("fsrcnn", 56, 12, 1),
    ("fsrcnn", 12, 12, 3),
    ("fsrcnn", 12, 56, 1),
    ("fsrcnn ×2 deconv", 56, 4, 5),
    ("fsrcnn ×3 deconv", 56, 9, 4),
    ("fsrcnn ×4 deconv", 56, 16, 3),
    ("espcn", 1, 64, 5),
    ("espcn", 64, 32, 3),
    ("espcn ×3", 32, 9, 3),
]


def best_cpu_seconds(fn: Callable[[], object], repeat: int) -> float:
    """The least CPU time of ``repeat`` calls of ``fn``, after a warm-up."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--side", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    from srup.runtime.allocator import keep_freed_memory

    keep_freed_memory()
    torch.set_num_threads(1)
    side = args.side
    lines = [
        f"{side}×{side} tile, channels-last, 1 thread, best CPU time of {args.repeat}; "
        f"CPU flags: {cpu_flags()}; torch {torch.__version__}",
        "",
        "| layer | conv | float32 ms | engine | int8 ms | float32 ÷ int8 | quantize input ms |",
        "|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    engines = [e for e in ("onednn", "fbgemm") if e in torch.backends.quantized.supported_engines]
    gen = torch.Generator().manual_seed(28)
    for name, cin, cout, k in SHAPES:
        conv = nn.Conv2d(cin, cout, k, padding=k // 2).eval()
        x = torch.rand(1, cin, side, side, generator=gen)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            fp32 = best_cpu_seconds(lambda conv=conv, x=x: conv(x), args.repeat)
            for engine in engines:
                torch.backends.quantized.engine = engine
                q = _quantized(conv, cout, k, gen)
                xq = torch.quantize_per_tensor(x, 1 / 255, 0, torch.quint8)
                int8 = best_cpu_seconds(lambda q=q, xq=xq: q(xq), args.repeat)
                quant = best_cpu_seconds(
                    lambda x=x: torch.quantize_per_tensor(x, 1 / 255, 0, torch.quint8),
                    args.repeat,
                )
                line = (
                    f"| {name} | {cin}→{cout} {k}×{k} | {fp32 * 1e3:.1f} | {engine} | "
                    f"{int8 * 1e3:.1f} | {fp32 / int8:.2f} | {quant * 1e3:.1f} |"
                )
                lines.append(line)
                print(line, flush=True)
    if args.markdown:
        args.markdown.write_text("\n".join(lines) + "\n")


def _quantized(conv: nn.Conv2d, cout: int, k: int, gen: torch.Generator) -> nn.Module:
    """``conv`` as a quantized convolution: per-channel int8 weights, uint8 activations."""
    import torch.ao.nn.quantized as nnq

    q = nnq.Conv2d(conv.in_channels, cout, k, padding=k // 2)
    scales = torch.rand(cout, generator=gen) * 0.01 + 0.001
    weight = torch.quantize_per_channel(
        conv.weight.detach(), scales, torch.zeros(cout, dtype=torch.long), 0, torch.qint8
    )
    q.set_weight_bias(weight, conv.bias.detach())
    q.scale, q.zero_point = 0.05, 128
    return q


if __name__ == "__main__":
    main()
