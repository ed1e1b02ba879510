"""The capture benchmark's scene and camera (srup.data.boards) and its scoring
(benchmarks/capture.py): seeded, sized, the text kept in the frame, a real 4:2:0 JPEG, blur of
the asked length."""

from __future__ import annotations

import io
import math
import shutil
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from srup.data.boards import (
    HERSHEY_FONTS,
    Capture,
    capture_blur,
    capture_photo,
    capture_scene,
    draw_capture,
    font_files,
    illumination,
    keystone,
    render_board,
    warp_board,
)
from tests.conftest import REPO

needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="needs Tesseract OCR (apt-get install tesseract-ocr)"
)
SIZE = (240, 180)
LINES = ["Quiz on Friday", "room 214"]


def scene(seed: int, style: str = "marker", hand: float = 1.0):
    rng = np.random.default_rng(seed)
    return capture_scene(rng, LINES, 18, style, "hershey:simplex", hand, SIZE)


@pytest.fixture(scope="module")
def bench():
    """benchmarks/capture.py as a module (it imports its neighbours by their bare names)."""
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import capture
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return capture


@pytest.mark.parametrize("style", ["chalk", "marker", "print"])
def test_a_scene_is_the_same_for_the_same_seed_and_keeps_its_size(style):
    one, two, other = scene(5, style), scene(5, style), scene(6, style)
    assert one.pixels.shape == (SIZE[1], SIZE[0], 3) and one.pixels.dtype == np.uint8
    assert one.pixels.tobytes() == two.pixels.tobytes() and one.lines == tuple(LINES)
    assert one.text_box == two.text_box and not np.array_equal(one.pixels, other.pixels)


def test_the_photo_is_the_same_jpeg_for_the_same_seed_at_a_third_of_the_size():
    hr = scene(1).pixels
    cap = draw_capture(np.random.default_rng(3))
    jpeg, lr = capture_photo(hr, cap, 3)
    again, _ = capture_photo(hr, draw_capture(np.random.default_rng(3)), 3)
    assert jpeg == again
    assert lr.shape == (SIZE[1] // 3, SIZE[0] // 3, 3) and lr.dtype == np.uint8
    with Image.open(io.BytesIO(jpeg)) as im:
        assert im.format == "JPEG" and im.size == (SIZE[0] // 3, SIZE[1] // 3)
        assert np.array_equal(np.asarray(im.convert("RGB")), lr)
    other, _ = capture_photo(hr, replace(cap, seed=cap.seed + 1), 3)
    assert other != jpeg  # the noise has its own seed


def test_the_photo_is_4_2_0_at_the_drawn_quality():
    hr = scene(2).pixels
    qualities = set()
    for seed in range(40):
        cap = draw_capture(np.random.default_rng(seed))
        assert 50 <= cap.quality <= 85 and cap.blur in ("motion", "defocus", None)
        assert 2 <= cap.length <= 8 and 0 <= cap.angle <= math.pi and 0.6 <= cap.radius <= 2
        qualities.add(cap.quality)
    assert len(qualities) > 10
    cap = Capture(quality=57, seed=1)
    jpeg, lr = capture_photo(hr, cap, 3)
    with Image.open(io.BytesIO(jpeg)) as im:
        assert JpegImagePlugin.get_sampling(im) == 2  # 4:2:0
        tables = im.quantization
    buf = io.BytesIO()
    Image.fromarray(lr).save(buf, format="JPEG", quality=57, subsampling=2)
    with Image.open(buf) as ref:
        assert tables == ref.quantization  # libjpeg's tables at quality 57


@pytest.mark.parametrize(("angle", "axis"), [(0.0, 1), (math.pi / 2, 0)])
@pytest.mark.parametrize("length", [2.0, 5.0, 8.0])
def test_motion_blur_draws_an_impulse_out_to_a_line_of_the_asked_length(length, angle, axis):
    img = np.zeros((81, 81, 3), np.float32)
    img[40, 40] = 255
    out = capture_blur(img, Capture(blur="motion", length=length, angle=angle), scale=3)
    assert out.shape == img.shape and out.sum() == pytest.approx(255 * 3, rel=1e-4)
    lit = out[..., 0] > 1e-3
    along = np.nonzero(lit.any(axis=1 - axis))[0]
    across = np.nonzero(lit.any(axis=axis))[0]
    # length × scale HR pixels, give or take the anti-aliased ends; one or two pixels wide.
    assert abs((along.max() - along.min() + 1) - length * 3) <= 2
    assert across.max() - across.min() + 1 <= 2
    assert abs((along.max() + along.min()) / 2 - 40) <= 1  # centred: the text does not move


def test_defocus_spreads_an_impulse_into_a_disc_of_the_asked_radius():
    img = np.zeros((41, 41, 3), np.float32)
    img[20, 20] = 255
    out = capture_blur(img, Capture(blur="defocus", radius=1.5), scale=3)[..., 0]
    rows = np.nonzero((out > 1e-3).any(axis=1))[0]
    assert rows.max() - rows.min() + 1 == pytest.approx(2 * 4.5, abs=2)
    assert out[20, 20] == pytest.approx(out[20, 22], rel=0.01)  # flat inside: a disc
    steady = capture_blur(img, Capture(blur=None), scale=3)
    assert np.array_equal(steady, img)


def test_keystone_keeps_the_whole_board_and_its_text_in_the_frame():
    w, h = 640, 480
    for seed in range(200):
        corners = keystone(np.random.default_rng(seed), (w, h))
        assert corners.shape == (4, 2)
        assert (corners[:, 0] >= 0.01 * w - 1e-6).all() and (corners[:, 0] <= 0.99 * w + 1e-6).all()
        assert (corners[:, 1] >= 0.01 * h - 1e-6).all() and (corners[:, 1] <= 0.99 * h + 1e-6).all()
    # A white board warped over black: its coverage never touches the frame's edge.
    corners = keystone(np.random.default_rng(7), SIZE)
    seen, cover = warp_board(
        np.full((SIZE[1], SIZE[0], 3), 255, np.uint8), corners, np.zeros((SIZE[1], SIZE[0], 3))
    )
    assert cover.shape == (SIZE[1], SIZE[0]) and cover.min() >= 0 and cover.max() <= 1
    edge = np.concatenate([cover[0], cover[-1], cover[:, 0], cover[:, -1]])
    assert edge.max() == 0 and np.allclose(seen[..., 0], 255 * cover, atol=1e-3)
    for seed in range(10):
        s = scene(seed, hand=0.5)
        left, top, right, bottom = s.text_box
        assert 0 <= left < right <= SIZE[0] and 0 <= top < bottom <= SIZE[1]


def test_the_text_box_holds_the_ink():
    # The same board with and without text: every pixel the text changed is in the box.
    rng = np.random.default_rng
    with_text = capture_scene(rng(4), ["Quiz on Friday"], 18, "print", "hershey:duplex", 0, SIZE)
    without = capture_scene(rng(4), [""], 18, "print", "hershey:duplex", 0, SIZE)
    changed = np.abs(with_text.pixels.astype(int) - without.pixels.astype(int)).max(axis=2) > 8
    rows, cols = np.nonzero(changed)
    left, top, right, bottom = with_text.text_box
    assert rows.size and left <= cols.min() and cols.max() < right
    assert top <= rows.min() and rows.max() < bottom


def test_illumination_is_uneven_seeded_and_positive():
    one = illumination(np.random.default_rng(2), SIZE)
    assert one.shape == (SIZE[1], SIZE[0]) and one.dtype == np.float32
    assert np.array_equal(one, illumination(np.random.default_rng(2), SIZE))
    assert 0.3 < one.min() < one.max() < 1.4 and one.max() - one.min() > 0.05


def test_handwriting_is_seeded_and_differs_from_print():
    args = ((400, 120), "marker", (HERSHEY_FONTS[0],), (24, 24))
    one, _ = render_board(np.random.default_rng(1), *args, lines=["Bring a pencil"], hand=1.0)
    two, _ = render_board(np.random.default_rng(1), *args, lines=["Bring a pencil"], hand=1.0)
    typed, _ = render_board(np.random.default_rng(1), *args, lines=["Bring a pencil"])
    assert np.array_equal(one, two) and not np.array_equal(one, typed)


def test_the_benchmark_never_uses_trainings_fonts_or_words(bench):
    fonts = [f for kind in ("printed", "hand") for f in _fonts(bench)[kind]]
    names = [bench.font_name(f) for f in fonts]
    assert not any(n.startswith(("DejaVu", "cm")) for n in names) and None not in fonts


def _fonts(bench):
    if not font_files(("STIXGeneral",)):
        pytest.skip("needs matplotlib's STIX fonts (pip install 'srup[bench]')")
    return bench.bench_fonts()


def test_the_first_24_photos_cover_every_board_writing_and_size_once(bench):
    fake = {"printed": ["a.ttf", "hershey:complex"], "hand": ["hershey:simplex", "b.ttf"]}
    plans = [bench.photo_plan(i, fake) for i in range(24)]
    assert len({(st, kind, px) for st, kind, _, _, px in plans}) == 24
    for _, kind, font, hand, _ in plans:
        assert hand == (1.0 if kind == "hand" and font.startswith("hershey") else 0.0)


def test_the_summary_counts_photos_better_and_worse_than_bicubic_by_more_than_a_point(bench):
    cers = [(0.30, 0.20), (0.30, 0.295), (0.30, 0.312), (0.10, 0.40)]
    rows = [
        {"cer": {"bicubic": b, "m": m}, "psnr": {"bicubic": 20.0, "m": 21.0 + i}}
        for i, (b, m) in enumerate(cers)
    ]
    s = bench.summary(rows, ["bicubic", "m"])["m"]
    assert (s["better"], s["same"], s["worse"]) == (1, 1, 2)
    assert s["cer_mean"] == pytest.approx(np.mean([m for _, m in cers]))
    assert s["cer_median"] == pytest.approx(np.median([m for _, m in cers]))
    assert s["psnr_y"] == pytest.approx(22.5)


def test_method_arguments_pass_through_to_srup_load(bench):
    assert bench.parse_method("fsrcnn-real,denoise=0.5", False, {}) == (
        "fsrcnn-real",
        {"denoise": 0.5},
    )
    assert bench.parse_method("runs/x.safetensors", True, {"denoise": "auto"}) == (
        "runs/x.safetensors",
        {"denoise": "auto", "weights": "runs/x.safetensors"},
    )


@needs_tesseract
def test_tesseract_reads_the_clean_handwriting_like_scene(bench):
    rng = np.random.default_rng(11)
    lines = ["Bring a calculator", "and a sharp pencil"]
    s = capture_scene(rng, lines, 40, "marker", "hershey:simplex", 1.0, (720, 360))
    left, top, right, bottom = s.text_box
    text = bench.normalise(bench.ocr_text(s.pixels[top:bottom, left:right]))
    reference = bench.normalise(" ".join(lines))
    assert bench.edit_distance(reference, text) / len(reference) < 0.05, text


def test_each_model_runs_as_srup_upscale_runs_a_jpeg(bench, tmp_path):
    import argparse

    from srup.media.pictures import read

    path = tmp_path / "photo.jpg"
    Image.fromarray(scene(3).pixels[::3, ::3].copy()).save(path, quality=60)
    args = argparse.Namespace(
        model=["fsrcnn-real", "auto,denoise=0"], weights=[], load=[], device="cpu"
    )
    found = bench.methods(args)
    assert [m.name for m in found] == ["bicubic", "fsrcnn-real", "auto,denoise=0"]
    picture = read(path)
    for method in found:
        out, used = method.upscale(picture)
        assert out.shape == (SIZE[1], SIZE[0], 3) and out.dtype == np.uint8
    assert used == "fsrcnn"  # denoise 0: the clean model
