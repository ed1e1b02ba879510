"""Shared fixtures: small generated pictures, the CLI runner, and the ../shared data sets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
# SRUP_SHARED_DATA points elsewhere: a GPU machine that gets a copy of some of the sets.
SHARED = Path(os.environ.get("SRUP_SHARED_DATA") or REPO.parent / "shared" / "data")

needs_shared = pytest.mark.skipif(
    not (SHARED / "Set5" / "HR").is_dir(),
    reason="needs ../shared/data (Set5, Set14, T91); not present on this machine",
)


def photo(width: int = 48, height: int = 40, seed: int = 0) -> np.ndarray:
    """A smooth colour picture with edges: enough structure for a network to act on."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 128 + 100 * np.sin(x / 5.0 + seed) * np.cos(y / 7.0)
    g = 128 + 90 * np.cos((x + y) / 9.0)
    b = np.where(
        (x - width / 2) ** 2 + (y - height / 2) ** 2 < (min(width, height) / 3) ** 2, 220.0, 40.0
    )
    img = np.stack([r, g, b], axis=2) + rng.normal(0, 4, (height, width, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def rgb_file(tmp_path: Path) -> Path:
    path = tmp_path / "board.png"
    Image.fromarray(photo()).save(path)
    return path


@pytest.fixture
def hr_folder(tmp_path: Path) -> Path:
    """A tiny HR data set of three generated pictures (divisible by 2, 3 and 4 or not)."""
    folder = tmp_path / "hr"
    folder.mkdir()
    for i, (w, h) in enumerate([(48, 48), (50, 38), (64, 44)]):
        Image.fromarray(photo(w, h, seed=i)).save(folder / f"img{i}.png")
    return folder
