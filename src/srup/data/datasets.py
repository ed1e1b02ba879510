"""Data sets on disk: where the HR pictures and any given LR ones are, and reading them.

A data set is either a folder of HR images or the layout ``NAME/HR/*`` +
``NAME/LR_bicubic/X{s}/*x{s}.*`` (DIV2K's; the given LR images are used). How LR and HR are
made into a scored pair is the evaluation protocol's (:mod:`srup.evaluation.protocol`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from srup.errors import DataError
from srup.media import pictures
from srup.media.modes import to_8bit
from srup.media.pictures import image_files

__all__ = ["Dataset", "Sample", "discover", "read_rgb"]


@dataclass(frozen=True)
class Sample:
    name: str
    hr: Path
    lr: dict[int, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class Dataset:
    name: str
    root: Path
    samples: tuple[Sample, ...]


def discover(path: str | Path) -> Dataset:
    """The data set at ``path``; :class:`DataError` when it is missing or has no images."""
    root = Path(path)
    if not root.exists():
        raise DataError(f"{root}: no such folder")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder (give a folder of HR images or NAME/ with HR/)")
    hr_dir = root / "HR" if (root / "HR").is_dir() else root
    hr_files = image_files(hr_dir)
    if not hr_files:
        raise DataError(f"{hr_dir}: no images found ({pictures.suffix_list()})")
    samples = []
    for hr in hr_files:
        lr = {}
        for s in range(2, 9):
            folder = root / "LR_bicubic" / f"X{s}"
            for candidate in (folder / f"{hr.stem}x{s}{hr.suffix}", folder / hr.name):
                if candidate.is_file():
                    lr[s] = candidate
                    break
        samples.append(Sample(hr.stem, hr, lr))
    return Dataset(root.name, root, tuple(samples))


def read_rgb(path: Path) -> np.ndarray:
    """An image file as uint8 RGB ``(H, W, 3)`` (gray repeated, alpha dropped)."""
    pixels = to_8bit(pictures.read(path).pixels)
    if pixels.shape[2] in (1, 2):
        pixels = np.repeat(pixels[:, :, :1], 3, axis=2)
    return np.ascontiguousarray(pixels[:, :, :3])
