"""The int8 precision (issue 28): a float32 infer form whose learned convolutions run in int8
on oneDNN, CPU only, for the weight sets calibrated in ``weights/int8.json``.

How a network is quantized (static, on PyTorch's oneDNN operators, the int8 path in torch
2.13's CPU wheel that runs without a compiler; measured in benchmarks/int8.py):

- weights: int8, symmetric, one scale per output channel (absmax / 127), bias-corrected
  (:func:`int8_weight`);
- activations: uint8, one scale and zero point per tensor, from the min and max over the
  training set (T91, each picture MATLAB-bicubic downscaled by the scale, as the networks
  were trained): a :class:`Calibration`, stored beside the weights
  (:func:`stored_calibration`), so that the float32 weights' bytes stay as they are;
- between two convolutions: where a ReLU follows (ESPCN-7, SRCNN), it is the convolution's
  oneDNN post-op and the uint8 output at the ReLU's calibrated range comes straight out of
  ``onednn::qconv2d_pointwise``. ESPCN's tanh (a sigmoid in the infer form,
  :mod:`srup.models.forms`) and FSRCNN's PReLU are not post-ops it takes in torch 2.13
  (relu, hardtanh, hardswish and swish are), so there the convolution returns float32, the
  activation runs in float32 and its output is quantized to uint8 for the next layer
  (``between="float"``, :class:`Int8Detail`), except a PReLU that a 1×1 convolution
  reads: relu(y) − a·relu(−y), both halves out of the convolution with ReLU fused.
  Holding them in uint8 throughout (``"int8"``: requantized convolution outputs, PyTorch's
  quantized sigmoid and PReLU) is kept for the benchmark: 0.07-1.3 dB worse, and for
  FSRCNN slower than float32;
- the network's body input (Y in [0, 1], float32; for SRCNN its bicubic upscale less ½,
  :meth:`~srup.models.layers.BicubicResidual.body_input`) is quantized once; the bicubic
  path that carries the picture, the colour pipeline and the tiler stay float32.

Every output pixel is computed the same way whatever the tile (integer accumulation, then
per-element float32 scaling): tiled output equals untiled output, as in float32.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "CALIBRATION_FILE",
    "Calibration",
    "CalibrationError",
    "Int8Detail",
    "calibrate",
    "calibrated",
    "calibrated_names",
    "int8_weight",
    "quantize",
    "store_calibration",
    "stored_calibration",
    "table_problem",
]

CALIBRATION_FILE = "int8.json"  # beside the weights: {file name: {sha256, ranges, means}}

# Beyond ±ln(255.5 / 0.5) the quantized sigmoid (scale 1/256, levels 0-255) is 0 or 255
# whatever the input: a sigmoid's input range clipped there loses nothing and halves the
# step of ESPCN's second layer (calibrated -10.5 … 11.4).
SIGMOID_SATURATES = math.log(255.5 / 0.5)


def _quiet() -> None:
    # torch 2.13 warns that its quantized tensor types are deprecated (pytorch#184982); the
    # warning would repeat on every tile.
    warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*")


class CalibrationError(ValueError):
    """A calibration entry that is not what :meth:`Calibration.to_json` writes, or does not
    fit the network it is for."""


class Calibration:
    """What the training set says about a network's tensors: ``ranges[key]`` the uint8
    range (lo ≤ 0 ≤ hi) chosen for its body's input (``input``,
    :meth:`~srup.models.layers.BicubicResidual.body_input`), for each layer's output
    (``body.<i>``) and for the sub-pixel convolution's (``subpixel``); ``means[key]`` the
    ``(C,)`` mean of each input channel of the convolution ``body.<i>`` (or ``subpixel``),
    for bias correction.

    A range is PyTorch's ``HistogramObserver``'s: the clipping of the observed values that
    minimises the L2 quantization error over their histogram. The plain min and max left
    the few largest activations to set the step for all: FSRCNN ×2 cost 0.077 dB on Set5
    with them, 0.048 dB with the histogram's ranges (benchmarks/results/int8.json).
    """

    def __init__(self) -> None:
        self.ranges: dict[str, tuple[float, float]] = {}
        self.means: dict[str, torch.Tensor] = {}
        self._sums: dict[str, tuple[torch.Tensor, int]] = {}
        self._observers: dict[str, object] = {}

    def see(self, key: str, t: torch.Tensor) -> None:
        """Add ``t``'s values to what ``key``'s range is chosen from."""
        import torch
        from torch.ao.quantization.observer import HistogramObserver

        if key not in self._observers:
            self._observers[key] = HistogramObserver(dtype=torch.quint8)
        observer = self._observers[key]
        observer(t.detach().float())  # type: ignore[operator]

    def settle(self) -> None:
        """Choose each seen tensor's range from everything :meth:`see` was given."""
        for key, observer in self._observers.items():
            scale, zero = observer.calculate_qparams()  # type: ignore[attr-defined]
            scale, zero = float(scale), int(zero)
            self.ranges[key] = (-zero * scale, (255 - zero) * scale)

    def see_input(self, key: str, t: torch.Tensor) -> None:
        import torch

        total, n = self._sums.get(key, (torch.zeros(t.shape[1], dtype=torch.float64), 0))
        self._sums[key] = (total + t.sum(dim=(0, 2, 3), dtype=torch.float64), n + t[0, 0].numel())
        self.means[key] = (self._sums[key][0] / self._sums[key][1]).float()

    def qparams(self, key: str, clip: float = math.inf) -> tuple[float, int]:
        """(scale, zero point) of uint8 covering ``key``'s range, cut to ±``clip``, and 0
        (as PyTorch's observers)."""
        if key not in self.ranges:
            raise CalibrationError(f"no range {key!r}")
        lo, hi = self.ranges[key]
        lo, hi = min(max(lo, -clip), 0.0), max(min(hi, clip), 0.0)
        scale = max(hi - lo, 1e-8) / 255
        return scale, round(-lo / scale)

    def mean(self, key: str, channels: int) -> torch.Tensor:
        """The ``(channels,)`` input means of the convolution ``key``."""
        mean = self.means.get(key)
        if mean is None or mean.shape != (channels,):
            have = "none" if mean is None else f"{mean.numel()}"
            raise CalibrationError(f"means {key!r}: {have} for {channels} input channels")
        return mean

    def to_json(self) -> dict:
        """Ranges and means as JSON numbers (float32 values, exact as JSON doubles)."""
        return {
            "ranges": {k: list(v) for k, v in self.ranges.items()},
            "means": {k: [float(x) for x in v.tolist()] for k, v in self.means.items()},
        }

    @classmethod
    def from_json(cls, data: object) -> Calibration:
        """The calibration :meth:`to_json` wrote. :class:`CalibrationError` unless every
        range is two finite numbers with lo ≤ 0 ≤ hi and lo < hi, and every mean a list of
        finite numbers (all within ±1e6)."""
        import torch

        if not isinstance(data, dict):
            raise CalibrationError("the entry is not a JSON object")
        ranges, means = data.get("ranges"), data.get("means")
        if not isinstance(ranges, dict) or not isinstance(means, dict):
            raise CalibrationError('"ranges" and "means" must be JSON objects')
        cal = cls()
        for key, pair in ranges.items():
            if not (isinstance(pair, list) and len(pair) == 2 and all(map(_number, pair))):
                raise CalibrationError(f"range {key!r} is not two numbers")
            lo, hi = float(pair[0]), float(pair[1])
            if not lo <= 0 <= hi or not lo < hi:
                raise CalibrationError(f"range {key!r} is [{lo:g}, {hi:g}], not lo ≤ 0 ≤ hi")
            cal.ranges[key] = (lo, hi)
        for key, values in means.items():
            if not (isinstance(values, list) and values and all(map(_number, values))):
                raise CalibrationError(f"means {key!r} are not a list of numbers")
            cal.means[key] = torch.tensor(values, dtype=torch.float32)
        return cal


def _number(x: object) -> bool:
    """A finite JSON number within ±1e6 (no bool, no NaN, no infinity)."""
    return (
        isinstance(x, int | float)
        and not isinstance(x, bool)
        and math.isfinite(x)
        and abs(x) <= 1e6
    )


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


def _conv_weights(
    cal: Calibration,
    key: str,
    layer: object,
    split_in: tuple[str, torch.Tensor] | None,
    split: bool,
) -> tuple[torch.Tensor, torch.Tensor, int, torch.Tensor]:
    """The float32 (weight, bias, padding, input means) of the convolution ``key`` as int8
    runs it: reading a split PReLU's halves (``split_in``: its key and slopes), and
    writing both halves of its own (``split``: y and −y, for a ReLU post-op)."""
    import torch

    w, b, pad = layer if isinstance(layer, tuple) else (layer.weight, layer.bias, layer.padding[0])
    if split_in is None:
        mean = cal.mean(key, w.shape[1])
    else:
        # It reads [relu(y), relu(-y)]: PReLU(y) = relu(y) - a * relu(-y).
        before, slope = split_in
        mean = torch.cat([cal.mean(f"{before}{h}", w.shape[1]) for h in "+-"])
        w = torch.cat([w, w * -slope[None, :, None, None]], dim=1)
    if split:
        w, b = torch.cat([w, -w]), torch.cat([b, -b])
    return w, b, pad, mean


def _splits(layer: object, reader: object) -> bool:
    """Whether ``layer`` is a PReLU that runs split into relu(y) and relu(−y): one that a
    1×1 convolution (``reader``, the layer after it) reads. The one rule for the calibration
    (which records the halves' means) and for :class:`Int8Detail` (which splits)."""
    from torch import nn

    one_by_one = isinstance(reader, nn.Conv2d) and reader.kernel_size == (1, 1)
    return isinstance(layer, nn.PReLU) and one_by_one


def calibrate(net: nn.Module, pictures: list[torch.Tensor]) -> Calibration:
    """Run the float32 infer form of ``net`` over ``pictures`` (``(1, 1, h, w)`` Y in
    [0, 1]) and record its tensors' ranges and its convolutions' input means."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    cal = Calibration()
    sub = _sub_pixel(net)
    with torch.inference_mode():
        for y in pictures:
            t = net.body_input(y)
            cal.see("input", t)
            for i, layer in enumerate(net.body):
                if isinstance(layer, nn.Conv2d):
                    cal.see_input(f"body.{i}", t)
                reader = net.body[i + 1] if i + 1 < len(net.body) else None
                if _splits(layer, reader):
                    # The halves the 1×1 convolution after a split PReLU reads (Int8Detail).
                    cal.see_input(f"body.{i - 1}+", t.clamp(min=0))
                    cal.see_input(f"body.{i - 1}-", (-t).clamp(min=0))
                # clone: srup's activations run in place, and t's range is already recorded
                t = layer(t.clone())
                cal.see(f"body.{i}", t)
            if sub is not None:
                weight, bias, pad, _ = sub
                cal.see_input("subpixel", t)
                cal.see("subpixel", F.conv2d(t, weight, bias, padding=pad))
    cal.settle()
    return cal


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
    import torch

    w = weight.detach().float()
    scales = w.abs().amax(dim=(1, 2, 3)).clamp_min(1e-12) / 127
    q = torch.round(w / scales[:, None, None, None]).clamp(-127, 127)
    error = q * scales[:, None, None, None] - w
    corrected = bias.detach().float() - (error.sum(dim=(2, 3)) * mean[None]).sum(dim=1)
    return q.to(torch.int8), scales, corrected


def _uint8(x: torch.Tensor, scale: float, zero: int) -> torch.Tensor:
    """``x`` float32 as plain uint8 levels ``round(x / scale) + zero``, clamped: PyTorch's
    quantizer, its bytes then read as plain uint8 in place (:func:`_plain`)."""
    import torch

    return _plain(torch.quantize_per_tensor(x, scale, zero, torch.quint8))


def _plain(q: torch.Tensor) -> torch.Tensor:
    """The quint8 tensor ``q``'s levels as a plain uint8 tensor over the same bytes, shape and
    strides. ``q.int_repr()`` gives the same values but copies them, single-threaded: it took
    longer than the quantization itself (benchmarks/int8.py)."""
    import torch

    plain = torch.empty(0, dtype=torch.uint8, device=q.device)
    return plain.set_(q.untyped_storage(), q.storage_offset(), q.shape, q.stride())


def _layers(net: nn.Module) -> tuple[list[tuple[str, object]], int]:
    """The learned layers of ``net``'s infer form in order, as (calibration key, module or
    FSRCNN's ``(weight, bias, pad)``), and the offset of the detail in the phases."""
    layers: list[tuple[str, object]] = [(f"body.{i}", m) for i, m in enumerate(net.body)]
    sub = _sub_pixel(net)
    if sub is None:
        return layers, 0
    weight, bias, pad, offset = sub
    layers.append(("subpixel", (weight, bias, pad)))
    return layers, offset


class Int8Detail:
    """A drop-in for ``net.detail`` (:class:`srup.models.layers.BicubicResidual`) that runs
    the learned layers' convolutions in int8 on oneDNN: ``(N, 1, h, w)`` float32 Y in
    [0, 1], channels-last → ``((N, s², h', w')`` float32 detail, offset)``, as the float32
    infer form returns.

    ``between``: how the activations between two convolutions are held.

    - ``float`` (srup's int8 precision): a convolution followed by a ReLU returns uint8 at
      the ReLU's calibrated range (the ReLU its post-op), and one followed by a PReLU that
      a 1×1 convolution reads returns relu(y) and relu(−y) the same way (``split_prelu``;
      the 1×1 weighs the second half by −a); any other returns float32
      (``onednn::qconv2d_pointwise``), the activation runs in float32 and the result is
      quantized for the next layer (sigmoid outputs at 1/255, PReLU outputs to their
      calibrated range); the last layer's output is float32.
    - ``int8`` (benchmarks/int8.py's comparison): uint8 throughout (PyTorch's quantized
      tensors): each convolution's output requantized by oneDNN to its calibrated range,
      then the quantized sigmoid (output scale fixed at 1/256), ReLU or
      ``quantized::prelu``.
    """

    def __init__(
        self,
        net: nn.Module,
        cal: Calibration,
        between: str = "float",
        split_prelu: bool = True,
    ) -> None:
        import torch
        from torch import nn

        from srup.models.forms import InPlace

        _quiet()
        self.between = between
        self.in_q = cal.qparams("input")
        layers, self.offset = _layers(net)
        self.body_input, self.phases_of = net.body_input, net.phases_of
        self.steps: list[Callable[[torch.Tensor], torch.Tensor]] = []
        # The bytes per pixel of the largest activation: float32 where a convolution
        # returns float32, uint8 where its output is quantized by oneDNN.
        self.largest = 4  # the body's input, float32
        x_q = self.in_q  # the qparams of the tensor the next convolution reads
        fused = False  # the layer just passed was fused into its convolution
        split_in: tuple[str, torch.Tensor] | None = None  # (key, slopes) of a split PReLU
        for n, (key, layer) in enumerate(layers):
            after = layers[n + 1][1] if n + 1 < len(layers) else None
            if fused:
                fused = False
                continue
            if isinstance(layer, nn.Conv2d | tuple):
                # The convolution after a PReLU, where there is one.
                reader = layers[n + 2][1] if n + 2 < len(layers) else None
                split = (
                    between == "float"
                    and split_prelu
                    and _splits(after, reader)
                    and f"{key}+" in cal.means
                )
                w, b, pad, mean = _conv_weights(cal, key, layer, split_in, split)
                weights = int8_weight(w, b, mean)
                split_in = None
                out_q, post, fused = self._output(cal, key, after, layers, n, split)
                if split:
                    split_in = (key, after.weight.detach())
                self.steps.append(self._conv(weights, pad, x_q, out_q, post))
                self.largest = max(self.largest, w.shape[0] * (4 if out_q is None else 1))
                if out_q is not None:
                    x_q = out_q
            elif isinstance(layer, InPlace) and layer.fn == "sigmoid":
                self.steps.append(self._sigmoid())
                x_q = (1 / 256, 0) if between == "int8" else (1 / 255, 0)
            elif isinstance(layer, InPlace) and layer.fn == "relu" and between == "int8":
                self.steps.append(torch.relu)  # quantized: the input's qparams
            elif isinstance(layer, nn.PReLU):
                out_q = cal.qparams(key)
                self.steps.append(self._prelu(layer.weight.detach(), out_q))
                x_q = out_q
            else:
                raise NotImplementedError(f"no int8 form of {layer!r}")

    def _output(
        self, cal: Calibration, key: str, after: object, layers: list, n: int, split: bool
    ) -> tuple[tuple[float, int] | None, str, bool]:
        """How the convolution ``key`` (the ``n``-th of ``layers``, ``after`` the layer
        that follows it) returns its output: (its qparams, or None for float32; its oneDNN
        post-op; whether the layer after it is fused into it)."""
        from srup.models.forms import InPlace

        if self.between == "int8":
            sigmoid_next = isinstance(after, InPlace) and after.fn == "sigmoid"
            clip = SIGMOID_SATURATES if sigmoid_next else math.inf
            return cal.qparams(key, clip), "none", False
        if isinstance(after, InPlace) and after.fn == "relu":
            # ReLU is a post-op of oneDNN's int8 convolution: uint8 straight out, at the
            # calibrated range of the ReLU's output.
            return cal.qparams(layers[n + 1][0]), "relu", True
        if split:
            # A PReLU read by a 1×1 convolution as two ReLU halves, relu(y) and relu(-y),
            # fused into this convolution as above; the 1×1 weighs the second by -a
            # (_conv_weights). Twice the channels out and in (cheap for a 1×1), no float32
            # pass, and each half quantized over its own side: FSRCNN ×2 0.037 dB on Set5
            # where the PReLU in float32 cost 0.048 dB, at the same speed
            # (benchmarks/int8.py). Split before FSRCNN's sub-pixel convolution, its
            # largest, it was 0.8× as fast.
            lo, hi = cal.ranges[key]
            return (max(hi, -lo, 1e-8) / 255, 0), "relu", True
        return None, "none", False  # float32 out

    def _sigmoid(self) -> Callable[[torch.Tensor], torch.Tensor]:
        import torch

        if self.between == "int8":
            return torch.sigmoid  # quantized: fixed qparams (1/256, 0)
        return lambda x: _uint8(x.sigmoid_(), 1 / 255, 0)

    def _prelu(
        self, slope: torch.Tensor, out_q: tuple[float, int]
    ) -> Callable[[torch.Tensor], torch.Tensor]:
        import torch
        import torch.nn.functional as F

        if self.between != "int8":
            return lambda x: _uint8(F.prelu(x, slope), *out_q)
        # quantized::prelu takes its slopes as quint8 (zero point 128).
        step = max(float(slope.abs().max()), 1e-8) / 127
        qslope = torch.quantize_per_tensor(slope, step, 128, torch.quint8)
        return lambda q: torch.ops.quantized.prelu(q, qslope, *out_q)

    def _conv(
        self,
        weights: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        pad: int,
        x_q: tuple[float, int],
        out_q: tuple[float, int] | None,
        post: str = "none",
    ) -> Callable[[torch.Tensor], torch.Tensor]:
        """One convolution (``weights``: :func:`int8_weight`'s int8 weight, scales and
        bias), followed by the post-op ``post`` (``none`` or ``relu``): uint8 ``(N, in, h,
        w)`` in (quantized or plain, as ``between`` says) → its output, quantized to
        ``out_q``, or float32 where ``out_q`` is None."""
        import torch

        qw, ws, bias = weights
        zeros = torch.zeros(qw.shape[0], dtype=torch.long)
        if self.between == "int8":
            assert out_q is not None
            weight = torch._make_per_channel_quantized_tensor(qw, ws.double(), zeros, 0)
            packed = torch.ops.quantized.conv2d_prepack(weight, bias, [1, 1], [pad] * 2, [1, 1], 1)
            return lambda q: torch.ops.quantized.conv2d(q, packed, *out_q)
        packed = torch.ops.onednn.qconv_prepack(qw, ws, *x_q, [1, 1], [pad] * 2, [1, 1], 1, None)
        o_scale, o_zero, o_dtype = (1.0, 0, torch.float32) if out_q is None else (*out_q, None)
        return lambda x: torch.ops.onednn.qconv2d_pointwise(
            x, *x_q, packed, ws, zeros, bias, [1, 1], [pad] * 2, [1, 1], 1,
            o_scale, o_zero, o_dtype, post, [], "",
        )  # fmt: skip

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        import torch

        with warnings.catch_warnings():
            # Here too: a caller that records every warning (srup.notes) would otherwise
            # see the deprecation _quiet() silences.
            _quiet()
            q = torch.quantize_per_tensor(self.body_input(x.float()), *self.in_q, torch.quint8)
            t = q if self.between == "int8" else _plain(q)
            for step in self.steps:
                t = step(t)
        return self.phases_of(t.dequantize() if t.is_quantized else t), self.offset


def quantize(net: nn.Module, cal: Calibration) -> nn.Module:
    """``net`` (a float32 infer form) with its learned layers in int8: its ``detail`` an
    :class:`Int8Detail` (an instance attribute shadows the method; the colour pipeline and
    ``forward`` call it), and the tilers' working-memory estimate two of its largest
    activation (float32 where a convolution returns float32, uint8 where oneDNN quantizes
    its output)."""
    import torch

    detail = Int8Detail(net, cal)
    net.detail = detail
    # Two live activations of the largest per output pixel, as for float32
    # (srup.runtime.color_pipeline.working_bytes_per_out_px adds the colour work); the
    # body's pixels per input pixel: 1, or s² where it works at the output's size (SRCNN).
    side = net.body_input(torch.zeros(1, 1, 8, 8)).shape[-1] / 8
    net.measured_bytes_per_out_px = 2 * detail.largest * side**2 / net.scale**2
    return net


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# The shipped file is about 100 KB; a file much larger than any calibration is not read.
MAX_TABLE_BYTES = 16 * 2**20


@lru_cache(maxsize=8)
def _stored(folder: Path, stamp: tuple[int, int]) -> tuple[dict, str | None]:
    """``folder``'s calibration file as a dict, and None; or ``{}`` and why it cannot be
    used. ``stamp`` (mtime, size) is in the cache key only: a rewritten file is read again."""
    file = folder / CALIBRATION_FILE
    if stamp[1] > MAX_TABLE_BYTES:
        return {}, f"{file} is {stamp[1]:,} bytes, more than a calibration file holds"
    try:
        data = json.loads(file.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError) as e:  # ValueError: JSON, UTF-8
        return {}, f"{file} cannot be read ({type(e).__name__})"
    if not isinstance(data, dict):
        return {}, f"{file} is not a JSON object"
    return data, None


def _read(folder: Path) -> tuple[dict, str | None]:
    file = folder / CALIBRATION_FILE
    try:
        st = file.stat()
    except OSError:
        return {}, None
    return _stored(folder, (st.st_mtime_ns, st.st_size))


def _table(folder: Path) -> dict:
    """``folder``'s calibration file as a dict, ``{}`` when there is none or it cannot be
    read (:func:`table_problem` says why): float32 runs whatever it holds."""
    return _read(folder)[0]


def table_problem(folder: Path) -> str | None:
    """Why ``folder``'s calibration file cannot be used, or None (none there, or readable)."""
    return _read(folder)[1]


@lru_cache(maxsize=64)
def _matches(path: Path, sha256: str, stamp: tuple[int, int]) -> bool:
    del stamp
    return _sha256(path) == sha256


def calibrated(path: Path | None) -> bool:
    """Whether ``int8.json`` beside the weights file ``path`` holds a calibration of its
    bytes (its sha256); torch is not imported."""
    if path is None or not path.is_file():
        return False
    entry = _table(path.parent).get(path.name)
    if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
        return False
    st = path.stat()
    return _matches(path, entry["sha256"], (st.st_mtime_ns, st.st_size))


def stored_calibration(path: Path | None) -> Calibration | None:
    """The calibration stored for the weights file ``path`` in ``int8.json`` beside it, if
    its sha256 there is the file's own; None otherwise (no file, another file's bytes).
    :class:`CalibrationError` where the entry's ranges or means are not numbers a
    calibration holds (:meth:`Calibration.from_json`)."""
    if path is None or not calibrated(path):
        return None
    return Calibration.from_json(_table(path.parent)[path.name])


def calibrated_names(folder: Path) -> list[str]:
    """The weight sets in ``folder`` with a calibration that matches their bytes, one entry
    per model with its scales, by model name: ``["espcn ×2/×3/×4", "fsrcnn ×3"]``."""
    scales: dict[str, list[int]] = {}
    for name in _table(folder):
        path = folder / name
        model, _, scale = path.stem.rpartition("_x")
        if calibrated(path) and scale.isdigit():
            scales.setdefault(model, []).append(int(scale))
    return [
        f"{model} " + "/".join(f"×{s}" for s in sorted(found))
        for model, found in sorted(scales.items())
    ]


def store_calibration(path: Path, cal: Calibration, pictures: str = "") -> None:
    """Record ``cal`` for the weights file ``path`` in ``int8.json`` beside it (the other
    entries kept, sorted by name), with ``pictures``, what it was calibrated on."""
    table = dict(_table(path.parent))
    table[path.name] = {"sha256": _sha256(path), "calibrated_on": pictures, **cal.to_json()}
    text = json.dumps(dict(sorted(table.items())), indent=1) + "\n"
    (path.parent / CALIBRATION_FILE).write_text(text)
