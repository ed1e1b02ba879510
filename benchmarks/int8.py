"""Does an int8 precision pay end to end on this CPU, and what does it cost in dB? (issue 28)

    python benchmarks/int8.py [--models espcn fsrcnn] [--scales 2 3 4] [--repeat 7]
                              [--json benchmarks/results/int8.json]

benchmarks/int8_layers.py found oneDNN's int8 convolutions 3.4-8.5x faster than float32 per
layer on this CPU (AVX-512 VNNI, no AMX). This script asks the question a precision has to
answer: what the whole network, and the whole ``upscale_array``, gain once the activations
between the layers, the input's quantization and the output's dequantization are paid for,
and what the quantization costs on Set5 and Set14. No precision is built here: a float32
Upscaler's ``net.detail`` is replaced by :class:`Int8Detail`.

How the network is quantized (static, on PyTorch's oneDNN operators, the int8 path in torch
2.13's CPU wheel that runs without a compiler), on srup's own infer form of the network:

- weights: int8, symmetric, one scale per output channel (absmax / 127), bias-corrected
  (:func:`int8_weight`);
- activations: uint8, one scale and zero point per tensor, from the min and max over the
  training set (T91, each picture MATLAB-bicubic downscaled by the scale, as the networks
  were trained);
- ESPCN's tanh is already a sigmoid in the infer form (:mod:`srup.models.forms`), FSRCNN has
  PReLU; neither is a post-op ``onednn::qconv2d_pointwise`` takes in torch 2.13 (relu,
  hardtanh, hardswish and swish only), so the activations between layers are held one of
  two ways (``BETWEEN``, both measured; :class:`Int8Detail`): uint8 throughout, or float32
  from each convolution's output to its activation's;
- the network's input (Y in [0, 1], float32) is quantized once; the bicubic path that
  carries the picture, the colour pipeline and the tiler stay float32, as with bf16.

Timing: one thread, CPU seconds (``time.process_time``), the best of --repeat, int8 and
float32 alternating, freed memory kept (as ``srup upscale`` runs): the network's learned part
alone on a 640x360 Y plane, and the whole ``upscale_array`` of a 640x360 RGB picture (at
every scale). Quality: the protocol of ``srup benchmark`` (Y-PSNR, shave = scale) on Set5 and
Set14 from /work/shared/data (or $SRUP_DATA), float32 and int8, and int8's output against
float32's. A missing data set is skipped, and said so.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

BETWEEN = ("int8", "float")
DATA = Path(os.environ.get("SRUP_DATA", "/work/shared/data"))

# torch 2.13 warns that its quantized tensor types are deprecated (pytorch#184982); the
# warning would repeat on every tile.
warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*")


def cpu_flags() -> str:
    """The CPU's int8 dot-product flags, as /proc/cpuinfo names them."""
    try:
        words = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return "unknown"
    wanted = ("avx512_vnni", "avx_vnni", "amx_int8", "amx_tile")
    return ", ".join(f for f in wanted if f in words) or "none of avx512_vnni/avx_vnni/amx"


# --- calibration -----------------------------------------------------------------------


def training_y(scale: int) -> list[torch.Tensor] | None:
    """T91's pictures as the networks saw them in training: each MATLAB-bicubic downscaled by
    ``scale`` (HR cropped to a multiple of it), BT.601 Y in [16/255, 235/255] as
    ``(1, 1, h, w)`` float32 channels-last. None when T91 is not there."""
    from srup.data.datasets import read_rgb
    from srup.imaging.color import rgb_to_y
    from srup.imaging.resize import imresize

    folder = DATA / "T91"
    files = sorted(folder.glob("*.png")) if folder.is_dir() else []
    if not files:
        return None
    out = []
    for f in files:
        hr = read_rgb(f)
        h, w = hr.shape[:2]
        lr = imresize(hr[: h - h % scale, : w - w % scale], 1 / scale)
        y = torch.from_numpy(rgb_to_y(lr / 255.0).astype(np.float32))[None, None]
        out.append(y.contiguous(memory_format=torch.channels_last))
    return out


# Beyond ±ln(255.5 / 0.5) the quantized sigmoid (scale 1/256, levels 0-255) is 0 or 255
# whatever the input: a sigmoid's input range clipped there loses nothing and halves the
# step of ESPCN's second layer (calibrated -10.5 … 11.4).
SIGMOID_SATURATES = math.log(255.5 / 0.5)


class Calibration:
    """What the training set says about a network's tensors: ``ranges[key]`` the (min, max)
    of the network's input (``input``), of each layer's output (``body.<i>``) and of the
    sub-pixel convolution's (``subpixel``); ``means[key]`` the ``(C,)`` mean of each input
    channel of the convolution ``body.<i>`` (or ``subpixel``), for bias correction."""

    def __init__(self) -> None:
        self.ranges: dict[str, tuple[float, float]] = {}
        self.means: dict[str, torch.Tensor] = {}
        self._sums: dict[str, tuple[torch.Tensor, int]] = {}

    def see(self, key: str, t: torch.Tensor) -> None:
        lo, hi = self.ranges.get(key, (math.inf, -math.inf))
        self.ranges[key] = (min(lo, float(t.min())), max(hi, float(t.max())))

    def see_input(self, key: str, t: torch.Tensor) -> None:
        total, n = self._sums.get(key, (torch.zeros(t.shape[1], dtype=torch.float64), 0))
        self._sums[key] = (total + t.sum(dim=(0, 2, 3), dtype=torch.float64), n + t[0, 0].numel())
        self.means[key] = (self._sums[key][0] / self._sums[key][1]).float()

    def qparams(self, key: str, clip: float = math.inf) -> tuple[float, int]:
        """(scale, zero point) of uint8 covering ``key``'s range, cut to ±``clip``, and 0
        (as PyTorch's observers)."""
        lo, hi = self.ranges[key]
        lo, hi = min(max(lo, -clip), 0.0), max(min(hi, clip), 0.0)
        scale = max(hi - lo, 1e-8) / 255
        return scale, round(-lo / scale)


def _sub_pixel(net: nn.Module) -> tuple[torch.Tensor, torch.Tensor, int, int] | None:
    """FSRCNN's deconvolution as the infer form runs it: the ``(s², 56, k, k)`` float32
    weight, ``(s²,)`` bias, the padding, and the offset of the detail's first row in the
    phases (:meth:`srup.models.arch.fsrcnn.FSRCNN.detail`). None for a sub-pixel network."""
    deconv = getattr(net, "deconv", None)
    if deconv is None:
        return None
    from srup.models.arch.fsrcnn import subpixel_weight

    weight, (before, after) = subpixel_weight(deconv.weight.detach(), net.scale)
    pad = min(before, after)
    return weight, deconv.bias.detach().expand(weight.shape[0]).clone(), pad, before - pad


def calibrate(net: nn.Module, pictures: list[torch.Tensor]) -> Calibration:
    """Run the float32 infer form of ``net`` over ``pictures`` (``(1, 1, h, w)`` Y in
    [0, 1]) and record its tensors' ranges and its convolutions' input means."""
    cal = Calibration()
    sub = _sub_pixel(net)
    with torch.inference_mode():
        for y in pictures:
            cal.see("input", y)
            t = y
            for i, layer in enumerate(net.body):
                if isinstance(layer, nn.Conv2d):
                    cal.see_input(f"body.{i}", t)
                # clone: srup's activations run in place, and t's range is already recorded
                t = layer(t.clone())
                cal.see(f"body.{i}", t)
            if sub is not None:
                weight, bias, pad, _ = sub
                cal.see_input("subpixel", t)
                cal.see("subpixel", F.conv2d(t, weight, bias, padding=pad))
    return cal


# --- the int8 network --------------------------------------------------------------------


def int8_weight(
    weight: torch.Tensor, bias: torch.Tensor, mean: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``weight`` ``(out, in, k, k)`` float32 as int8 with one symmetric scale per output
    channel (absmax / 127): (int8 weight, ``(out,)`` float32 scales, bias corrected).

    Bias correction (Nagel et al. 2019): the rounding error of the weights times the mean
    input (``mean``, ``(in,)``, over the training set) is a constant per output channel, and
    a large one after a sigmoid, whose outputs are all positive; it is taken off the bias.
    On ESPCN ×3 (Set5 and Set14 LR), weight rounding put 2.27 squared Y levels of error on
    the detail without it (1.85 from the last layer), 0.11 with it."""
    w = weight.detach().float()
    scales = w.abs().amax(dim=(1, 2, 3)).clamp_min(1e-12) / 127
    q = torch.round(w / scales[:, None, None, None]).clamp(-127, 127)
    error = q * scales[:, None, None, None] - w
    corrected = bias.detach().float() - (error.sum(dim=(2, 3)) * mean[None]).sum(dim=1)
    return q.to(torch.int8), scales, corrected


def _uint8(x: torch.Tensor, scale: float, zero: int) -> torch.Tensor:
    """``x`` float32 as plain uint8 levels ``round(x / scale) + zero``, clamped: PyTorch's
    vectorised quantize, then its integers (the cheapest of the ways tried)."""
    return torch.quantize_per_tensor(x, scale, zero, torch.quint8).int_repr()


class Int8Detail:
    """A drop-in for ``net.detail`` (:class:`srup.models.layers.BicubicResidual`) that runs
    the learned layers' convolutions in int8 on oneDNN: ``(N, 1, h, w)`` float32 Y in
    [0, 1], channels-last → ``((N, s², h', w')`` float32 detail, offset)``, as the float32
    infer form returns.

    ``between``: how the activations between two convolutions are held.

    - ``int8``: uint8 throughout (PyTorch's quantized tensors): each convolution's output
      requantized by oneDNN to its calibrated range, then the quantized sigmoid (output
      scale fixed at 1/256) or ``quantized::prelu``; the last layer dequantized.
    - ``float``: each convolution returns float32 (``onednn::qconv2d_pointwise``), the
      activation runs in float32 and the result is quantized for the next layer (sigmoid
      outputs at 1/255, PReLU outputs to their calibrated range); the last layer's output is
      float32. The pre-activation never rounds to uint8: more passes over memory, less error.
    """

    def __init__(self, net: nn.Module, cal: Calibration, between: str = "float") -> None:
        from srup.models.forms import InPlace

        self.between = between
        self.in_q = cal.qparams("input")
        layers: list[tuple[str, nn.Module | tuple]] = list(
            (f"body.{i}", m) for i, m in enumerate(net.body)
        )
        self.offset = 0
        sub = _sub_pixel(net)
        if sub is not None:
            weight, bias, pad, self.offset = sub
            layers.append(("subpixel", (weight, bias, pad)))
        self.steps: list[Callable[[torch.Tensor], torch.Tensor]] = []
        x_q = self.in_q  # the qparams of the tensor the next convolution reads
        for n, (key, layer) in enumerate(layers):
            after = layers[n + 1][1] if n + 1 < len(layers) else None
            sigmoid_next = isinstance(after, InPlace) and after.fn == "sigmoid"
            if isinstance(layer, nn.Conv2d | tuple):
                w, b, pad = (
                    layer
                    if isinstance(layer, tuple)
                    else (layer.weight, layer.bias, layer.padding[0])
                )
                qw, ws, qb = int8_weight(w, b, cal.means[key])
                clip = SIGMOID_SATURATES if sigmoid_next else math.inf
                out_q = cal.qparams(key, clip)
                self.steps.append(self._conv(qw, ws, qb, pad, x_q, out_q, last=after is None))
                x_q = out_q
            elif isinstance(layer, InPlace) and layer.fn == "sigmoid":
                if between == "int8":
                    self.steps.append(torch.sigmoid)  # quantized: fixed qparams (1/256, 0)
                else:
                    self.steps.append(lambda x: _uint8(x.sigmoid_(), 1 / 255, 0))
                x_q = (1 / 256, 0) if between == "int8" else (1 / 255, 0)
            elif isinstance(layer, nn.PReLU):
                slope = layer.weight.detach()
                out_q = cal.qparams(key)
                if between == "int8":
                    # quantized::prelu takes its slopes as quint8 (zero point 128).
                    step = max(float(slope.abs().max()), 1e-8) / 127
                    qslope = torch.quantize_per_tensor(slope, step, 128, torch.quint8)
                    self.steps.append(
                        lambda q, a=qslope, o=out_q: torch.ops.quantized.prelu(q, a, *o)
                    )
                else:
                    self.steps.append(lambda x, a=slope, o=out_q: _uint8(F.prelu(x, a), *o))
                x_q = out_q
            else:
                raise NotImplementedError(f"no int8 form of {layer!r}")

    def _conv(
        self,
        qw: torch.Tensor,
        ws: torch.Tensor,
        bias: torch.Tensor,
        pad: int,
        x_q: tuple[float, int],
        out_q: tuple[float, int],
        last: bool,
    ) -> Callable[[torch.Tensor], torch.Tensor]:
        """One convolution: uint8 ``(N, in, h, w)`` in (quantized or plain, as ``between``
        says) → its output (quantized to ``out_q``, or float32)."""
        if self.between == "int8":
            zeros = torch.zeros(qw.shape[0], dtype=torch.long)
            weight = torch._make_per_channel_quantized_tensor(qw, ws.double(), zeros, 0)
            packed = torch.ops.quantized.conv2d_prepack(weight, bias, [1, 1], [pad] * 2, [1, 1], 1)
            return lambda q: torch.ops.quantized.conv2d(q, packed, *out_q)
        zeros = torch.zeros(qw.shape[0], dtype=torch.long)
        packed = torch.ops.onednn.qconv_prepack(qw, ws, *x_q, [1, 1], [pad] * 2, [1, 1], 1, None)
        return lambda x: torch.ops.onednn.qconv2d_pointwise(
            x, *x_q, packed, ws, zeros, bias, [1, 1], [pad] * 2, [1, 1], 1,
            1.0, 0, torch.float32, "none", [], "",
        )  # fmt: skip

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        q = torch.quantize_per_tensor(x, *self.in_q, torch.quint8)
        t = q if self.between == "int8" else q.int_repr()
        for step in self.steps:
            t = step(t)
        return (t.dequantize() if t.is_quantized else t), self.offset


# --- measurements ------------------------------------------------------------------------


def alternating_best(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """The least CPU seconds of ``repeat`` calls of each of ``fns``, called in turn (A, B, A,
    B…) after a warm-up each, so that a burst of other work lands on all of them."""
    for fn in fns.values():
        fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.process_time()
            fn()
            best[name] = min(best[name], time.process_time() - start)
    return best


def quality(
    fp32: Callable[[np.ndarray], np.ndarray],
    int8: Callable[[np.ndarray], np.ndarray],
    scale: int,
) -> dict[str, dict[str, float]]:
    """Mean Y-PSNR (dB, the evaluation protocol) of both on Set5 and Set14, and int8's
    output against float32's; a data set that is not there is left out, and said so."""
    from srup.evaluation.protocol import discover, pairs, psnr

    out = {}
    for name in ("Set5", "Set14"):
        if not (DATA / name).is_dir():
            print(f"  {name}: skipped, not at {DATA / name}", flush=True)
            continue
        a, b, ab = [], [], []
        for _, lr, hr in pairs(discover(DATA / name), scale):
            sa, sb = fp32(lr), int8(lr)
            a.append(psnr(sa, hr, crop_border=scale))
            b.append(psnr(sb, hr, crop_border=scale))
            ab.append(psnr(sb, sa, crop_border=scale))
        out[name] = {
            "fp32_db": float(np.mean(a)),
            "int8_db": float(np.mean(b)),
            "cost_db": float(np.mean(a) - np.mean(b)),
            "worst_picture_cost_db": float(max(x - y for x, y in zip(a, b, strict=True))),
            "int8_vs_fp32_db": float(np.mean(ab)),
        }
    return out


def measure(model: str, scale: int, repeat: int, pictures: list[torch.Tensor]) -> dict:
    """Everything the script reports for one model and scale, for both ways of holding the
    activations between layers (:class:`Int8Detail`)."""
    import srup

    fp32 = srup.load(model, scale, device="cpu", precision="fp32")
    cal = calibrate(fp32.net, pictures)
    runs = {"fp32": fp32}
    details = {"fp32": fp32.net.detail}
    for between in BETWEEN:
        up = srup.load(model, scale, device="cpu", precision="fp32")
        details[between] = Int8Detail(up.net, cal, between)
        # The colour pipeline calls net.detail: an instance attribute shadows the method.
        up.net.detail = details[between]
        runs[between] = up
    y = torch.rand(1, 1, 360, 640, generator=torch.Generator().manual_seed(28))
    y = ((16 + 219 * y) / 255).contiguous(memory_format=torch.channels_last)
    rgb = np.random.default_rng(28).integers(0, 256, (360, 640, 3), dtype=np.uint8)
    out: dict = {"model": model, "scale": scale}
    with torch.inference_mode():
        net_s = alternating_best({k: lambda d=d: d(y) for k, d in details.items()}, repeat)
        whole_s = alternating_best(
            {k: lambda u=u: u.upscale_array(rgb) for k, u in runs.items()}, repeat
        )
        out["fp32"] = {"network_ms": net_s["fp32"] * 1e3, "upscale_ms": whole_s["fp32"] * 1e3}
        for between in BETWEEN:
            up = runs[between]
            # Tiled == untiled: the same picture whole and in the smallest tiles.
            up.tile = 0
            whole = up.upscale_array(rgb)
            up.tile = 64
            tiled = up.upscale_array(rgb)
            up.tile = "auto"
            out[f"int8, {between} between layers"] = {
                "network_ms": net_s[between] * 1e3,
                "network_fp32_over_int8": net_s["fp32"] / net_s[between],
                "upscale_ms": whole_s[between] * 1e3,
                "upscale_fp32_over_int8": whole_s["fp32"] / whole_s[between],
                "quality": quality(fp32.upscale_array, up.upscale_array, scale),
                "tiled_equals_untiled": bool(np.array_equal(whole, tiled)),
            }
    out["calibration_ranges"] = cal.ranges
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["espcn", "fsrcnn"])
    parser.add_argument("--scales", nargs="+", type=int, default=[3])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from srup.runtime.allocator import keep_freed_memory

    keep_freed_memory()
    torch.set_num_threads(1)
    torch.backends.quantized.engine = "onednn"
    print(f"CPU flags: {cpu_flags()}; torch {torch.__version__}; engine onednn", flush=True)
    results = []
    for scale in args.scales:
        pictures = training_y(scale)
        if pictures is None:
            print(f"skipped: no T91 at {DATA / 'T91'} to calibrate on", flush=True)
            return
        for model in args.models:
            r = measure(model, scale, args.repeat, pictures)
            results.append(r)
            print(json.dumps(r, indent=1), flush=True)
    if args.json:
        meta = {
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {cpu_flags()}",
            "torch": torch.__version__,
            "threads": 1,
            "clock": f"CPU seconds, best of {args.repeat}, alternating",
        }
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
