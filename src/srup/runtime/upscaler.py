"""The Upscaler: a weight set (:mod:`srup.models.descriptor`), a device and precision, and the
tiler that upscales with them, PIL or NumPy in and out.

Per tile, the colour pipeline (:mod:`srup.runtime.color_pipeline`) runs the network on Y and
bicubic on the rest, and the rounded result is written into the output buffer, so memory holds the
input, the output and one tile's work, whatever the image size. This is the runtime's
boundary: a device that runs out of memory comes out of it as one
:class:`~srup.errors.DeviceMemoryError`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from srup import arguments
from srup._moved import names_moved_from
from srup.devices import out_of_memory, out_of_memory_as_error, precision_name, require_int8
from srup.errors import UnsupportedPrecision
from srup.imaging.resize import has_alpha, resize_pixels
from srup.media import pictures as imageio
from srup.models.descriptor import ModelDescriptor, describe
from srup.runtime.tilers.tiler import Progress, TileSize

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from srup.models import registry
    from srup.runtime.tilers.tiler import Tiler

__all__ = ["Upscaler", "load", "scaled_dpi"]


def scaled_dpi(
    dpi: tuple[float, float] | None, before: tuple[int, int], after: tuple[int, int]
) -> tuple[float, float] | None:
    """``dpi`` (dots per inch, x and y) of a picture resampled from ``before`` to ``after``
    pixels (width, height): each axis times its own growth, so the print size stays the
    same (a 300 dpi scan at ×2 is 600 dpi). None stays None."""
    if dpi is None:
        return None
    return dpi[0] * after[0] / before[0], dpi[1] * after[1] / before[1]


class Upscaler:
    """Upscales pictures with one weight set at its scale (a
    :class:`~srup.runtime.processor.PictureProcessor`).

    Build it with :func:`srup.load`, or from a descriptor: ``Upscaler(describe("fsrcnn", 3),
    device, dtype)``. ``tile``: the input tile side (:class:`TileSize`, or what
    :meth:`TileSize.parse` takes; ``auto``: the tiler's own choice); tiles overlap by the
    network's receptive radius, so the result does not depend on it. The work goes to a
    :class:`~srup.runtime.tilers.tiler.Tiler`, which owns the numerics settings and the
    tile policy: the host tiler (:mod:`srup.runtime.tilers.host`) on the CPU, the
    device-resident tiler (:mod:`srup.runtime.tilers.device`) on GPUs, or as ``resident``
    says. :class:`~srup.errors.UnsupportedPrecision` when the weight set does not run in
    ``dtype``.
    """

    def __init__(
        self,
        descriptor: ModelDescriptor,
        device: torch.device,
        dtype: torch.dtype,
        tile: TileSize | int | str = TileSize.AUTO,
        resident: bool | None = None,
    ) -> None:
        import torch

        from srup.models.layers import keep_first_layer_fp32
        from srup.runtime.color_pipeline import ColorPipeline, working_bytes_per_out_px
        from srup.runtime.tilers.device import ResidentTiler
        from srup.runtime.tilers.host import HostTiler

        self.descriptor = descriptor
        self.device = device
        self.dtype = dtype
        if dtype == torch.qint8:
            require_int8(device)
        net = descriptor.runnable(dtype)
        # int8 (torch.qint8) quantizes the learned layers alone: around them (the input's
        # quantization, the activations, the bicubic path, the tiler) it is float32.
        dtype = torch.float32 if dtype == torch.qint8 else dtype
        # Channels-last is oneDNN's fast layout and, unlike NCHW, computes every output
        # pixel the same way whatever the tile shape: tiled output equals untiled output.
        self.net = net.to(device=device, dtype=dtype, memory_format=torch.channels_last).eval()
        if dtype == torch.bfloat16 and getattr(self.net, "mixed_precision", True):
            keep_first_layer_fp32(self.net)
        self.pipeline = ColorPipeline(self.net, self.scale).to(device)
        per_px = self._probe(working_bytes_per_out_px, device, dtype)
        # On a GPU the picture stays on the device from upload to the copy back; on the CPU
        # the host tiler is faster (its tiles fit the caches) and gives the same pixels.
        on_device = device.type != "cpu" if resident is None else resident
        kind = ResidentTiler if on_device else HostTiler
        size = TileSize.parse(tile, smallest=0)
        self.tiler: Tiler = kind(
            self.pipeline,
            self.overlap,
            device,
            dtype,
            per_px,
            size,
            descriptor.tile_alignment,
            # Another project's network runs as its project runs it: whole where it fits
            # (no overlap to pay; docs/models.md), its own padding at the picture's edges.
            prefer_whole=descriptor.foreign,
            mirror=not descriptor.foreign,
        )

    def _probe(
        self, measure: Callable[..., float], device: torch.device, dtype: torch.dtype
    ) -> float:
        """``measure`` of the network (a first run, on a small probe), where another
        project's network that fails in ``dtype`` is an
        :class:`~srup.errors.UnsupportedPrecision`: spandrel's ``supports_bfloat16`` is
        per architecture, and some (SwinIR) build float32 masks at sizes they were not
        built for."""
        try:
            return measure(self.net, self.scale, device, dtype)
        except RuntimeError as e:
            if not self.descriptor.foreign or out_of_memory(e):
                raise
            reason = str(e).strip().splitlines()[0][:120] if str(e).strip() else "an error"
            raise UnsupportedPrecision(
                f"{self.name} does not run in {precision_name(dtype)} here ({reason}); use fp32"
            ) from None

    def limit_whole(self, budget: int) -> None:
        """Run a picture whole (another project's network, which prefers it) only where its
        working memory is at most ``budget`` bytes, so that a memory limit (``--max-memory``)
        tiles a picture it would otherwise refuse."""
        self.tiler.whole_budget = max(1, int(budget))

    def working_bytes(self, width: int, height: int) -> int | None:
        """Host memory the network's work on a ``width``×``height`` picture needs, in
        bytes, where it differs from the batch's fixed allowance
        (:data:`srup.batch.memory.WORKING_BYTES`): another project's network, measured on a
        probe and up to a whole picture's when it runs untiled. None for srup's own
        networks, whose tiles keep to the allowance, and on a GPU."""
        measure = getattr(self.tiler, "working_bytes", None)
        if not self.descriptor.foreign or measure is None:
            return None
        return int(measure(height, width))

    @property
    def name(self) -> str:
        """The model's name as ``srup models`` lists it (``fsrcnn``, ``fsrcnn-real``)."""
        return self.descriptor.name

    @property
    def scale(self) -> int:
        """The weight set's scale."""
        return self.descriptor.scale

    @property
    def overlap(self) -> int:
        """The tiles' overlap: the weight set's receptive radius."""
        return self.descriptor.receptive_radius

    @property
    def spec(self) -> registry.ModelSpec:
        """The architecture (:class:`~srup.models.registry.ModelSpec`) of the weight set."""
        return self.descriptor.spec

    @property
    def metadata(self) -> dict[str, str]:
        """The weights' header metadata (a copy)."""
        return dict(self.descriptor.metadata)

    @property
    def denoise(self) -> float | None:
        """The ``--denoise`` strength these weights stand for (0 clean, 0.5 real-photo,
        1 capture variant; :mod:`srup.models.denoise`), None when none was asked."""
        return self.descriptor.denoise

    @property
    def tile(self) -> int | None:
        """The input tile side the tiler uses (0: the whole picture): the one asked for,
        the host tiler's budget for ``auto``, or None where the device-resident tiler
        chooses bands per picture. Set it to re-tile (a side, 0, ``auto`` or a
        :class:`TileSize`; any side, for tests of the tiling itself)."""
        return self.tiler.side

    @tile.setter
    def tile(self, value: TileSize | int | str) -> None:
        self.tiler.tile = TileSize.parse(value, smallest=0)

    def process(
        self, picture: imageio.Picture, progress: Progress | None = None
    ) -> tuple[imageio.Picture, str]:
        """``picture`` upscaled, and the name of the model that did it (as
        :meth:`srup.runtime.auto.Engine.process`, which picks per picture)."""
        return self.upscale_picture(picture, progress), self.name

    @property
    def precision(self) -> str:
        """The precision the network runs in: fp32, fp16, bf16 or int8."""
        return precision_name(self.dtype)

    def upscale_array(self, pixels: np.ndarray, progress: Progress | None = None) -> np.ndarray:
        """``(H, W)`` or ``(H, W, C)`` uint8/uint16 levels with C in 1–4 (L, LA, RGB, RGBA;
        alpha straight, not premultiplied) → ``(H*s, W*s[, C])`` C-contiguous, same dtype.

        Where the alpha is not fully opaque the colour is upscaled premultiplied by it
        (Porter & Duff 1984) and divided by the upscaled alpha after, in float32 per tile,
        rounded once: colour stored under α = 0 never reaches a visible pixel, and where
        the output's alpha is 0 its colour is 0. Alpha is bicubic, clamped to the dtype's
        range. An opaque picture pays one pass over its alpha for this.
        :class:`~srup.errors.InvalidArgumentType` (a TypeError) for another type, shape or
        dtype, :class:`~srup.errors.InvalidArgument` (a ValueError) for an empty array or a
        ``progress`` that is not callable; :class:`~srup.errors.DeviceMemoryError` when the
        device runs out of memory."""
        arr = arguments.array("pixels", pixels, ("uint8", "uint16"), channels=imageio.LAYOUTS)
        arguments.optional_callable("progress", progress)
        squeeze = arr.ndim == 2
        if squeeze:
            arr = arr[:, :, None]
        premultiply = has_alpha(arr)
        # torch's allocators raise RuntimeError (CUDA's a subclass of it): one kind of error
        # for every device, which the batch reports as such and goes on.
        with out_of_memory_as_error(self.device):
            out = self.tiler.run(arr, progress, premultiply)
        return np.ascontiguousarray(out[:, :, 0]) if squeeze else out

    def upscale_picture(
        self, picture: imageio.Picture, progress: Progress | None = None
    ) -> imageio.Picture:
        """A :class:`~srup.media.pictures.Picture` upscaled (as :meth:`upscale_array`: alpha
        premultiplied), with its ICC profile and EXIF, and its DPI times the scale.
        :class:`~srup.errors.InvalidArgumentType` when ``picture`` is not a Picture."""
        arguments.instance("picture", picture, imageio.Picture, "a srup.media.pictures.Picture")
        tiles = [1]

        def counted(done: int, total: int) -> None:
            tiles[0] = total
            if progress is not None:
                progress(done, total)

        pixels = self.upscale_array(picture.pixels, counted)
        dpi = scaled_dpi(picture.dpi, picture.size, (pixels.shape[1], pixels.shape[0]))
        notes = picture.notes
        guarantee, why = self.descriptor.tiling
        if guarantee == "bounded" and tiles[0] > 1:
            # Said per file: such a network runs untiled wherever memory allows.
            notes = [
                *notes,
                f"{self.descriptor.spec.title} ran in {tiles[0]} tiles ({why}); tiles may "
                "differ slightly from one untiled run (--tile 0 runs it whole)",
            ]
        return replace(picture, pixels=pixels, dpi=dpi, notes=notes)

    def upscale(self, img: Image.Image, size: tuple[int, int] | None = None) -> Image.Image:
        """Upscale a Pillow image. L, LA, RGB, RGBA and 16-bit gray keep their mode;
        P becomes RGB or RGBA, CMYK and others RGB. ``size`` = (width, height): the network's
        output resized to exactly that (MATLAB bicubic, antialiased), e.g. a ×3 model for a
        2.5× enlargement. Alpha is resampled premultiplied in both steps (Porter & Duff
        1984): colour under fully transparent pixels never shows. As ``srup upscale`` does,
        the EXIF orientation is applied to the pixels and the rest of the EXIF is carried
        (in ``info["exif"]``, less the orientation), so the result is upright as saved.
        16-bit grey with alpha (a 16-bit colour key) comes back as 8-bit LA: Pillow has no
        mode for it.
        :class:`~srup.errors.InvalidArgumentType` when ``img`` is not a PIL image or ``size``
        not two integers; :class:`~srup.errors.InvalidArgument` for a size under 1."""
        from PIL import Image

        arguments.instance("img", img, Image.Image, "a PIL image")
        if size is not None:
            size = arguments.size_pair("size", size)
        img.load()
        original = imageio.from_pil(img, orient=True)
        picture = self.upscale_picture(original)
        if size is not None:
            dpi = scaled_dpi(original.dpi, original.size, size)
            picture = replace(picture, pixels=resize_pixels(picture.pixels, size), dpi=dpi)
        return imageio.to_pil(picture)


# shape: the public keyword API of srup.load, kept as users call it (positionally too)
def load(
    model: str = "auto",
    scale: int | None = None,
    device: str = "auto",
    weights: str | os.PathLike[str] | None = None,
    tile: int | str | TileSize = "auto",
    precision: str = "auto",
    lossy: bool = False,
    resident: bool | None = None,
    denoise: str | float = "auto",
) -> Upscaler:
    """Build an :class:`Upscaler`.

    ``model``: a shipped model (``srup models``: ``fsrcnn``, ``fsrcnn-real``, …) or ``auto``
    (the best fast shipped model for ``scale``; with ``lossy=True``, its real-photo variant,
    made for JPEG-compressed, blurred, noisy input).
    ``scale``: the network's scale; None for a ``weights`` file's own, else ×3.
    ``weights``: a weights file to use instead of the shipped one: srup's safetensors (its
    header names the model and scale), or with the ``srup[models]`` extra another project's
    ``.pth``/``.ckpt``/``.safetensors`` of any architecture spandrel recognises
    (docs/models.md: read without unpickling anything but tensors, a tiling guarantee
    measured on the weights). ``tile``: input tile side in pixels, 0 for the whole image, at least
    :data:`srup.choices.MIN_TILE` (32) otherwise, or ``auto`` for a memory budget. ``device``:
    auto, cpu, cuda[:N] or mps. ``precision``: auto, fp32, fp16, bf16 or int8 (CPU only,
    the calibrated weight sets: ``srup models``; auto never chooses it). ``resident``: keep
    the picture on the device for the whole upscale (:mod:`srup.runtime.tilers.device`); None: on
    GPUs, not on the CPU. ``denoise``: ``"auto"`` (the model as ``model`` and ``lossy`` say),
    or a strength from 0 to 1 on the family of ``model`` (``auto`` or a clean model such as
    ``fsrcnn``): 0 the clean model, 0.5 its real-photo variant, 1 its capture variant, the
    weights of the two around it interpolated in between (Deep Network Interpolation, as
    Real-ESRGAN's ``-dn``: :mod:`srup.models.denoise`); the Upscaler's ``name`` and ``denoise`` say
    what was built (``fsrcnn-clean+real@0.30``, 0.3). ``srup upscale`` chooses the strength
    per file (:class:`srup.runtime.auto.Engine`).

    Raises :class:`~srup.errors.InvalidArgumentType` for an argument of the wrong type
    (``scale=3.0``, ``tile="big"``, ``lossy="yes"``), :class:`~srup.errors.InvalidArgument`
    for a value out of range (``tile=-5``, ``tile=1``, ``denoise=1.5``, a strength with
    ``weights`` or a variant such as ``fsrcnn-real``), :class:`~srup.errors.UnknownModelError`
    for a model or scale srup does not offer, :class:`~srup.errors.BadWeightsError` for a
    weights file that cannot be used, :class:`~srup.errors.DeviceError` for a device or
    precision not available here, :class:`~srup.errors.UnsupportedPrecision` for a precision
    the weight set does not run in.
    """
    from srup.devices import resolve_device, resolve_precision

    device = arguments.text("device", device)
    precision = arguments.text("precision", precision)
    if resident is not None:
        resident = arguments.boolean("resident", resident)
    size = TileSize.parse(tile)
    described = describe(model, scale, weights, lossy, denoise)
    dev = resolve_device(device)
    dtype = resolve_precision(precision, dev)
    if precision == "auto" and precision_name(dtype) not in described.precisions:
        import torch

        # auto's half precision on a GPU, for a model of another project that is not made
        # for it (spandrel's supports_half): float32, which every model runs in.
        dtype = torch.float32
    return Upscaler(described, dev, dtype, size, resident)


# Names that lived here before 0.2.0 (old users import them through srup._moved's aliases).
__getattr__ = names_moved_from(
    __name__,
    "srup.upscale",
    {
        "default_model": ("srup.models.shipped", "default_model"),
        "FAST_MACS_1080P": ("srup.models.shipped", "FAST_MACS_1080P"),
    },
)
