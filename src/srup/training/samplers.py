"""Training batches: random (LR, HR) Y patches cut from HR pictures.

Two samplers draw the same kind of batch from one random sequence: :class:`PatchSampler`
cuts and resizes with NumPy on the host (any degradation, JPEG included), and
:class:`DevicePatchSampler` keeps the pictures on the training device and does the pixel
work there with :func:`srup.imaging.resize_torch.imresize_torch`, so that a GPU is not left
waiting for batches (clean degradation only: JPEG has no device form).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from srup.data import degrade
from srup.data.degrade import Degradation
from srup.errors import DataError, InvalidArgument
from srup.imaging.color import OFFSET, RGB_TO_YCC
from srup.imaging.resize import imresize

if TYPE_CHECKING:
    import torch

__all__ = ["MARGIN", "DevicePatchSampler", "Draw", "PatchSampler", "TextBoards"]

MARGIN = 3  # LR pixels cut around each patch so the bicubic kernel sees real neighbours


@dataclass(frozen=True)
class Draw:
    """One patch's random choices: picture, top-left corner, mirror, quarter turns."""

    image: int
    y: int
    x: int
    flip: bool
    turns: int


@dataclass(frozen=True)
class TextBoards:
    """Rendered boards of text (:func:`srup.data.boards.render_boards`) and the fraction of
    patches cut from them (``--synthetic-text``): the photos share the rest by area."""

    boards: Sequence[np.ndarray]
    fraction: float

    def __post_init__(self) -> None:
        if not 0 <= self.fraction <= 1:
            raise InvalidArgument(
                f"--synthetic-text is a fraction from 0 to 1, got {self.fraction}"
            )
        if self.fraction > 0 and not self.boards:
            raise InvalidArgument("--synthetic-text needs rendered boards")


def _stack_resize(stack: np.ndarray, size: int) -> np.ndarray:
    """``(N, H, W, 3)`` uint8 → ``(N, size, size, 3)`` with MATLAB bicubic."""
    moved = np.moveaxis(stack, 0, 2)  # imresize works on the first two axes
    out = imresize(moved, output_shape=(size, size))
    return np.ascontiguousarray(np.moveaxis(out, 2, 0))


def _zoom(patch: np.ndarray, size: int) -> np.ndarray:
    """Shrink one HR crop for the scale augmentation. Pillow's antialiased bicubic has
    MATLAB's kernel (a = -0.5) and is 20× faster than ``imresize`` here; the augmentation
    needs no MATLAB exactness (the LR made from its result does, and gets it)."""
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(patch))
    return np.asarray(img.resize((size, size), Image.Resampling.BICUBIC))


class PatchSampler:
    """Random (LR, HR) patches, Y or (``input_space="RGB"``) RGB: random image (weighted by
    area; rendered boards, if any, drawn with the probability ``text`` gives), random
    downscale of the HR in [0.6, 1], random crop, random flip/90° rotation, LR made from
    uint8 RGB by ``degradation`` (default: MATLAB bicubic, as in the evaluation protocol),
    per patch from the same generator."""

    def __init__(
        self,
        images: list[np.ndarray],
        scale: int,
        patch: int,
        batch: int,
        min_zoom: float = 0.6,
        degradation: Degradation | str | None = None,
        text: TextBoards | None = None,
        input_space: str = "Y",
    ) -> None:
        if input_space not in ("Y", "RGB"):
            raise InvalidArgument(f"input space is Y or RGB, got {input_space}")
        self.input_space = input_space
        boards, text_fraction = (text.boards, text.fraction) if text else ((), 0.0)
        self.scale, self.patch, self.batch = scale, patch, batch
        self.images = list(images) + list(boards)
        self.hr_size = (patch + 2 * MARGIN) * scale
        self.min_zoom = min_zoom
        self.degradation = degrade.parse(degradation)
        sides = np.array([min(im.shape[:2]) for im in self.images])
        if sides.max() < self.hr_size:
            raise DataError(
                f"every training image is smaller than {self.hr_size} pixels, the HR patch "
                f"at patch size {patch} and ×{scale}; use a smaller --patch-size"
            )
        self.sides = sides
        areas = np.array([im.shape[0] * im.shape[1] for im in images], dtype=np.float64)
        if boards:
            # Photos keep their area weighting among themselves; boards share the rest.
            photo = (1 - text_fraction) * areas / areas.sum() if len(areas) else areas
            board = np.full(len(boards), text_fraction / len(boards))
            areas = np.concatenate([photo, board])
        self.areas = areas

    def draw(self, rng: np.random.Generator) -> tuple[int, list[Draw]]:
        """The batch's crop side (before the zoom back to the HR patch) and its patches."""
        zoom = rng.uniform(self.min_zoom, 1.0)
        crop = math.ceil(self.hr_size / zoom)
        fits = self.sides >= crop
        if not fits.any():
            crop = self.hr_size
            fits = self.sides >= crop
        weights = np.where(fits, self.areas, 0.0)
        picks = rng.choice(len(self.images), size=self.batch, p=weights / weights.sum())
        draws = []
        for i in picks:
            h, w = self.images[i].shape[:2]
            y = int(rng.integers(0, h - crop + 1))
            x = int(rng.integers(0, w - crop + 1))
            flip = bool(rng.integers(2))
            draws.append(Draw(int(i), y, x, flip, int(rng.integers(4))))
        return crop, draws

    def __call__(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """float32 ``(N, C, p, p)`` LR and ``(N, C, p*s, p*s)`` HR, in [0, 1]: Y (C = 1) or
        RGB (C = 3)."""
        from srup.imaging.color import rgb_to_y

        crop, draws = self.draw(rng)
        patches = []
        for d in draws:
            p = self.images[d.image][d.y : d.y + crop, d.x : d.x + crop]
            if d.flip:
                p = p[:, ::-1]
            p = np.rot90(p, k=d.turns)
            patches.append(_zoom(p, self.hr_size) if crop != self.hr_size else p)
        hr = np.stack(patches)
        if self.degradation.is_clean:
            lr = _stack_resize(hr, self.hr_size // self.scale)
        else:
            lr = np.stack([self.degradation.apply(p, self.scale, rng) for p in hr])
        m, ms = MARGIN, MARGIN * self.scale
        lr, hr = lr[:, m:-m, m:-m], hr[:, ms:-ms, ms:-ms]
        if self.input_space == "RGB":
            planes = (np.ascontiguousarray(a.transpose(0, 3, 1, 2)) for a in (lr, hr))
            lr_rgb, hr_rgb = ((a / np.float32(255)).astype(np.float32) for a in planes)
            return lr_rgb, hr_rgb
        return (
            rgb_to_y(lr / 255.0).astype(np.float32)[:, None],
            rgb_to_y(hr / 255.0).astype(np.float32)[:, None],
        )


class DevicePatchSampler(PatchSampler):
    """:class:`PatchSampler`'s batches, cut and resized on ``device``: the pictures are
    uploaded once, end to end in one flat buffer (291 pictures: 110 MB as uint8), and a
    batch is one upload of what the host drew (asynchronous on CUDA, so the host runs ahead
    of the GPU), one gather (every patch's crop, mirror and turns folded into its indices)
    and four small matrix products: about twenty operators whatever the batch size. The
    zoom is MATLAB bicubic here (Pillow's on the host: the same kernel, other rounding), so
    the two samplers' batches are alike, not equal."""

    def __init__(self, images: list[np.ndarray], *args, device: torch.device, **kwargs) -> None:
        import torch

        super().__init__(images, *args, **kwargs)
        if not self.degradation.is_clean:
            raise InvalidArgument(
                "the device sampler makes clean (bicubic) LR only; use --sampler host for "
                f"--degradation {self.degradation.spec()}"
            )
        self.device = device
        pixels = [np.ascontiguousarray(im).reshape(-1) for im in self.images]
        self.flat = torch.from_numpy(np.concatenate(pixels)).to(device)
        self.starts = np.cumsum([0] + [p.size for p in pixels[:-1]])
        self.widths = np.array([im.shape[1] for im in self.images])
        self._maps: dict[int, torch.Tensor] = {}
        # BT.601 luma as a 1×1 convolution: the weights and offset in one operator.
        luma = torch.tensor(RGB_TO_YCC[0] / 255.0, dtype=torch.float32)
        self.to_y = luma.view(1, 3, 1, 1).to(device)
        self.y_offset = torch.tensor([float(OFFSET[0])], dtype=torch.float32, device=device)

    def maps(self, crop: int) -> torch.Tensor:
        """For each of the 8 mirror × turns choices (index ``4·flip + turns``), the source
        row, and the source column × 3 (bytes per pixel), of every output pixel of a
        ``crop``-sided patch, ``(8, 2, crop, crop)``: the host sampler's own flip and
        ``rot90`` applied to the coordinates."""
        import torch

        if crop not in self._maps:
            rows = torch.arange(crop).view(-1, 1).expand(crop, crop)
            cols = 3 * torch.arange(crop).view(1, -1).expand(crop, crop)
            found = []
            for flip in (False, True):
                r, c = (rows.flip(1), cols.flip(1)) if flip else (rows, cols)
                found += [
                    torch.stack([torch.rot90(m, k, (0, 1)) for m in (r, c)]) for k in range(4)
                ]
            self._maps[crop] = torch.stack(found).to(self.device)
        return self._maps[crop]

    def __call__(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        import torch
        import torch.nn.functional as F

        from srup.devices import upload
        from srup.imaging.resize_torch import imresize_torch

        crop, draws = self.draw(rng)
        image = np.array([d.image for d in draws])
        width = self.widths[image]
        y, x = (np.array([getattr(d, k) for d in draws]) for k in ("y", "x"))
        corner = self.starts[image] + 3 * (y * width + x)
        choice = [4 * d.flip + d.turns for d in draws]
        # Per patch: its R, G and B at the corner in the flat buffer, the bytes per row, and
        # the mirror/turn choice; one upload.
        drawn = np.column_stack([corner, corner + 1, corner + 2, 3 * width, choice])
        drawn = upload(drawn.astype(np.int64), self.device)
        rows_cols = self.maps(crop)[drawn[:, 4]]  # (N, 2, c, c)
        offset = torch.addcmul(rows_cols[:, 1], rows_cols[:, 0], drawn[:, 3].view(-1, 1, 1))
        index = offset[:, None] + drawn[:, :3, None, None]  # (N, 3, c, c)
        hr = self.flat[index].float()  # levels 0-255
        if crop != self.hr_size:
            hr = imresize_torch(hr, (self.hr_size, self.hr_size))
        lr = imresize_torch(hr, (self.hr_size // self.scale,) * 2)
        if self.input_space == "Y":
            lr, hr = (F.conv2d(a, self.to_y, self.y_offset) for a in (lr, hr))
        else:
            lr, hr = lr / 255, hr / 255
        m, ms = MARGIN, MARGIN * self.scale
        # Views: the network's first operator (its padding) and the loss read any strides.
        return lr[:, :, m:-m, m:-m], hr[:, :, ms:-ms, ms:-ms]
