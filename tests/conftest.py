"""Shared fixtures: small generated pictures, the CLI runner, and the ../shared data sets."""

from __future__ import annotations

import itertools
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from srup.models.weights import load_state

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


# A toy press for colour-managed CMYK: linear-light sRGB = 1 − c·C − m·M − y·Y − k·K (inks
# 0–1), each column summing to 1 so that full ink is black and LittleCMS's black-point
# handling changes nothing. Affine, so the profile's 2-point lookup table is exact.
TOY_INKS = np.array([[0.5, 0.1, 0.05], [0.1, 0.5, 0.1], [0.05, 0.1, 0.5], [0.35, 0.3, 0.35]])
# sRGB primaries adapted to the ICC's D50 white (Bradford), as in every sRGB profile.
_SRGB_TO_XYZ_D50 = np.array(
    [
        [0.4360747, 0.3850649, 0.1430804],
        [0.2225045, 0.7168786, 0.0606169],
        [0.0139322, 0.0971045, 0.7141733],
    ]
)


def cmyk_profile() -> bytes:
    """A minimal valid ICC v2 output ("prtr") profile for CMYK, PCS XYZ, with one A2B0
    lut16 table (2 grid points per ink) describing the toy press above: what a CMYK
    file's embedded profile is, small enough to build in a test."""
    import struct

    def s15(v: float) -> bytes:
        return struct.pack(">i", round(v * 65536))

    text = b"srup toy CMYK\0"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + b"\0" * 8 + b"\0" * 70
    cprt = b"text\0\0\0\0public domain\0"
    white = s15(0.9642) + s15(1.0) + s15(0.8249)
    wtpt = b"XYZ \0\0\0\0" + white
    clut = []
    for corner in itertools.product((0, 1), repeat=4):  # C, M, Y, K: K varies fastest
        xyz = _SRGB_TO_XYZ_D50 @ (1.0 - np.array(corner, float) @ TOY_INKS)
        clut += [round(v * 32768) for v in xyz]  # lut16 XYZ: 1.0 is 0x8000
    identity = b"".join(s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    a2b0 = (
        b"mft2\0\0\0\0"
        + bytes([4, 3, 2, 0])
        + identity
        + struct.pack(">HH", 2, 2)
        + struct.pack(">8H", *[0, 65535] * 4)
        + struct.pack(f">{len(clut)}H", *clut)
        + struct.pack(">6H", *[0, 65535] * 3)
    )
    tags = [(b"desc", desc), (b"cprt", cprt), (b"wtpt", wtpt), (b"A2B0", a2b0)]
    start = 128 + 4 + 12 * len(tags)
    table, data = struct.pack(">I", len(tags)), b""
    for sig, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += sig + struct.pack(">II", start + len(data), len(body))
        data += body
    header = (
        struct.pack(">I", start + len(data))
        + b"\0" * 4
        + struct.pack(">I", 0x02100000)
        + b"prtrCMYKXYZ "
        + b"\0" * 12
        + b"acsp"
        + b"\0" * 24
        + struct.pack(">I", 0)
        + white
        + b"\0" * 48
    )
    return header + table + data


def cmyk_to_srgb(cmyk: np.ndarray) -> np.ndarray:
    """``(..., 4)`` uint8 CMYK → ``(..., 3)`` uint8 sRGB through the toy press, computed
    here (the sRGB transfer curve on the press's linear light), not by LittleCMS."""
    linear = np.clip(1.0 - (cmyk.astype(np.float64) / 255.0) @ TOY_INKS, 0, 1)
    encoded = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.rint(encoded * 255).astype(np.uint8)


def train_config(hr_folder, out, **kw):
    """A TrainConfig for a few fast CPU steps of ESPCN ×2 on ``hr_folder``; ``kw`` overrides."""
    from srup.training.loop import TrainConfig

    base = dict(
        model="espcn",
        scale=2,
        data=[str(hr_folder)],
        output=str(out),
        max_steps=6,
        batch_size=4,
        patch_size=8,
        seed=3,
        workers=0,
        device="cpu",
    )
    base.update(kw)
    return TrainConfig(**base)


def train_args(data, out, steps: int, *extra: str) -> list[str]:
    """`srup train` arguments for a tiny ESPCN ×2 run on ``data``."""
    return [
        "train",
        str(data),
        "-m",
        "espcn",
        "-s",
        "2",
        "-o",
        str(out),
        "--max-steps",
        str(steps),
        "--batch-size",
        "4",
        "--patch-size",
        "8",
        *extra,
    ]


def same_tensors(a_path, b_path) -> bool:
    a, _ = load_state(a_path)
    b, _ = load_state(b_path)
    return a.keys() == b.keys() and all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def make_clip(path: Path, frames: int = 12, size=(64, 48), fps: int = 12, audio: bool = True):
    """An H.264 clip of a moving square on a gradient, with an AAC tone when ``audio``."""
    import av

    w, h = size
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.options = {"crf": "18"}
        a = out.add_stream("aac", rate=16000, layout="mono") if audio else None
        yy, xx = np.mgrid[0:h, 0:w]
        for i in range(frames):
            img = np.stack([xx * 255 // w, yy * 255 // h, np.full_like(xx, 90)], 2)
            img[10:26, 4 + 3 * i : 20 + 3 * i] = (250, 240, 30)
            frame = av.VideoFrame.from_ndarray(img.astype(np.uint8), format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
        if a is not None:
            samples = int(16000 * frames / fps)
            t = np.arange(samples) / 16000
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            for start in range(0, samples, 1024):
                af = av.AudioFrame.from_ndarray(
                    tone[:, start : start + 1024], format="fltp", layout="mono"
                )
                af.sample_rate, af.pts = 16000, start
                out.mux(a.encode(af))
            out.mux(a.encode(None))
    return path
