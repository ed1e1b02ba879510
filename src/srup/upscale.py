"""The Upscaler: a network, a device, a tiler and the colour pipeline, PIL or NumPy in and out.

Per tile, pixels are split into Y (through the network) and Cb/Cr/alpha (MATLAB bicubic),
merged back, rounded and written into the output buffer, so memory holds the input, the
output and one tile's work, whatever the image size.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import imageio, tiling
from .catalog import FAST_MACS_1080P, default_model
from .devices import exact_numerics
from .errors import BadImageError, UnknownModelError
from .models import registry
from .models.layers import keep_first_layer_fp32
from .pipeline import ColorPipeline
from .resize import resize_pixels
from .weights import load_into, load_state, path_for, read_metadata, shipped, split_name

if TYPE_CHECKING:
    import torch
    from PIL import Image
    from torch import nn

__all__ = ["FAST_MACS_1080P", "Upscaler", "default_model", "load"]

TILE_BUDGET_BYTES = 256 * 2**20

Progress = Callable[[int, int], None]


class Upscaler:
    """Upscales pictures with one network at one scale.

    Build it with :func:`srup.load`. ``tile`` is the input tile side in pixels (0: whole
    image); tiles overlap by the network's receptive radius, so the result does not depend
    on it.
    """

    def __init__(
        self,
        net: nn.Module,
        spec: registry.ModelSpec,
        scale: int,
        device: torch.device,
        dtype: torch.dtype,
        tile: int | None = None,
        metadata: dict[str, str] | None = None,
        resident: bool | None = None,
    ) -> None:
        import torch

        from .resident import ResidentTiler

        # Channels-last is oneDNN's fast layout and, unlike NCHW, computes every output
        # pixel the same way whatever the tile shape: tiled output equals untiled output.
        self.net = net.to(device=device, dtype=dtype, memory_format=torch.channels_last).eval()
        if dtype != torch.float32:
            keep_first_layer_fp32(self.net)
        self.spec = spec
        self.scale = scale
        self.device = device
        self.dtype = dtype
        self.metadata = dict(metadata or {})
        self.overlap = max(spec.receptive_radius(scale), 2)
        self.pipeline = ColorPipeline(self.net, scale).to(device)
        # On a GPU the picture stays on the device from upload to the copy back; on the CPU
        # the host tiler is faster (its tiles fit the caches) and gives the same pixels.
        self.resident = (
            ResidentTiler(self.pipeline, scale, self.overlap, device, self._bytes_per_out_px())
            if (device.type != "cpu" if resident is None else resident)
            else None
        )
        auto = None if self.resident is not None else self._auto_tile()
        self.tile: int | None = auto if tile is None else tile

    model_name: str | None = None

    @property
    def name(self) -> str:
        """The model's name as ``srup models`` lists it (``fsrcnn``, ``fsrcnn-real``)."""
        return self.model_name or self.spec.name

    def process(
        self, picture: imageio.Picture, progress: Progress | None = None
    ) -> tuple[imageio.Picture, str]:
        """``picture`` upscaled, and the name of the model that did it (as
        :meth:`srup.engine.Engine.process`, which picks per picture)."""
        return self.upscale_picture(picture, progress), self.name

    @property
    def precision(self) -> str:
        """The precision the network runs in: fp32, fp16 or bf16."""
        from .devices import precision_name

        return precision_name(self.dtype)

    def _auto_tile(self) -> int:
        side = math.sqrt(TILE_BUDGET_BYTES / self._bytes_per_out_px()) / self.scale
        return int(min(2048, max(64, side)))

    def _bytes_per_out_px(self) -> float:
        import torch

        size = 16
        peak = 0

        def hook(_m: nn.Module, _i: object, out: torch.Tensor) -> None:
            nonlocal peak
            peak = max(peak, out.numel())

        hooks = [m.register_forward_hook(hook) for m in self.net.modules() if m is not self.net]
        try:
            with torch.inference_mode():
                self.net(torch.zeros(1, 1, size, size, device=self.device))
        finally:
            for h in hooks:
                h.remove()
        per_out_px = peak / (size * self.scale) ** 2
        # Two live activations of the widest layer, plus ~16 float32 planes of colour work.
        return 2 * per_out_px * torch.finfo(self.dtype).bits / 8 + 64

    def _run_tile(self, tile: np.ndarray) -> np.ndarray:
        """``(h, w, C)`` uint8/uint16 → ``(h*s, w*s, C)`` of the same dtype."""
        import torch

        maxv = float(np.iinfo(tile.dtype).max)
        src = torch.from_numpy(np.array(tile, copy=True, order="C")).to(self.device)
        torch_dtype = torch.uint8 if tile.dtype == np.uint8 else torch.uint16
        out = self.pipeline.levels(src.permute(2, 0, 1)[None].float(), maxv, torch_dtype)
        return out.cpu().numpy()

    def upscale_array(self, pixels: np.ndarray, progress: Progress | None = None) -> np.ndarray:
        """``(H, W)`` or ``(H, W, C)`` uint8/uint16 with C in 1–4 (L, LA, RGB, RGBA) →
        ``(H*s, W*s[, C])`` of the same dtype."""
        import torch

        arr = np.asarray(pixels)
        squeeze = arr.ndim == 2
        if squeeze:
            arr = arr[:, :, None]
        if arr.ndim != 3 or arr.shape[2] not in imageio.LAYOUTS:
            raise BadImageError(f"expected (H, W) or (H, W, 1..4) pixels, got {arr.shape}")
        if arr.dtype not in (np.uint8, np.uint16):
            raise BadImageError(f"expected uint8 or uint16 pixels, got {arr.dtype}")
        if 0 in arr.shape:
            raise BadImageError(f"empty image {arr.shape}")
        with torch.inference_mode(), exact_numerics(self.device, self.dtype):
            if self.resident is not None:
                tile = None if self.tile is None else (self.tile, self.tile)
                out = self.resident.run(arr, tile, progress)
            else:
                assert self.tile is not None
                out = tiling.run(
                    self._run_tile, arr, self.scale, self.tile, self.overlap, progress=progress
                )
        return out[:, :, 0] if squeeze else out

    def upscale_picture(
        self, picture: imageio.Picture, progress: Progress | None = None
    ) -> imageio.Picture:
        """A :class:`~srup.imageio.Picture` upscaled, with its ICC profile and EXIF."""
        return replace(picture, pixels=self.upscale_array(picture.pixels, progress))

    def upscale(self, img: Image.Image, size: tuple[int, int] | None = None) -> Image.Image:
        """Upscale a Pillow image. L, LA, RGB, RGBA and 16-bit gray keep their mode;
        P becomes RGB or RGBA, CMYK and others RGB. ``size`` = (width, height): the network's
        output resized to exactly that (MATLAB bicubic, antialiased), e.g. a ×3 model for a
        2.5× enlargement."""
        img.load()
        picture = self.upscale_picture(imageio.from_pil(img))
        if size is not None:
            picture = replace(picture, pixels=resize_pixels(picture.pixels, size))
        return imageio.to_pil(picture)


def load(
    model: str = "auto",
    scale: int = 3,
    device: str = "auto",
    weights: str | os.PathLike[str] | None = None,
    tile: int | str = "auto",
    precision: str = "auto",
    lossy: bool = False,
    resident: bool | None = None,
) -> Upscaler:
    """Build an :class:`Upscaler`.

    ``model``: a shipped model (``srup models``: ``fsrcnn``, ``fsrcnn-real``, …) or ``auto``
    (the best fast shipped model for ``scale``; with ``lossy=True``, its real-photo variant,
    made for JPEG-compressed, blurred, noisy input).
    ``weights``: a safetensors file to use instead of the shipped one; its header names the
    model and scale. ``tile``: input tile side in pixels, 0 for the whole image, ``auto``
    for a memory budget. ``device``: auto, cpu, cuda[:N] or mps. ``precision``: auto, fp32,
    fp16 or bf16. ``resident``: keep the picture on the device for the whole upscale
    (:mod:`srup.resident`); None: on GPUs, not on the CPU.
    """
    from .devices import resolve_device, resolve_precision

    if weights is not None:
        meta = read_metadata(weights)
        named = meta.get("model", "")
        if model == "auto":
            model = named
            if not model:
                raise UnknownModelError(f"{weights}: the header names no model; pass --model")
        elif named and split_name(model)[0] != named:
            raise UnknownModelError(
                f"{weights}: these weights are for {named}, not {model}; drop --model or "
                f"pass --model {named}"
            )
        if meta.get("scale", str(scale)) != str(scale):
            raise UnknownModelError(
                f"{weights}: these weights are for ×{meta['scale']}, not ×{scale}"
            )
        path = Path(weights)
    else:
        if model == "auto":
            model = default_model(scale, lossy)
        arch, variant = split_name(model)
        registry.get(arch)  # an unknown name fails here, with the list of models
        path = path_for(model, scale)
        if not path.is_file():
            have = sorted(s for (n, s) in shipped() if n == model)
            if not have and variant:
                raise UnknownModelError(
                    f"no shipped model {model!r}; see `srup models` for the shipped ones"
                )
            raise UnknownModelError(
                f"no shipped {model} weights for ×{scale}; available scales for {model}: "
                f"{', '.join(map(str, have)) or 'none'}"
            )
    name = model
    spec = registry.get(split_name(model)[0])
    if scale not in spec.scales:
        raise UnknownModelError(
            f"{model} does not support ×{scale}; scales: {', '.join(map(str, spec.scales))}"
        )
    state, meta = load_state(path)
    net = spec.build(scale)
    load_into(net, state, path)
    dev = resolve_device(device)
    dtype = resolve_precision(precision, dev)
    if isinstance(tile, str):
        if tile != "auto":
            raise ValueError(f"tile must be an int or 'auto', got {tile!r}")
        tile_px = None
    else:
        tile_px = int(tile)
    from .models.inference import for_inference

    up = Upscaler(for_inference(net, dtype), spec, scale, dev, dtype, tile_px, meta, resident)
    up.model_name = name
    return up
