"""`srup upscale --weights OTHER_PROJECT.pth` takes every path srup's own models take: a batch
that goes on past a bad file, --json, alpha, 16-bit, another -s than the file's (run at the
file's scale, then resized), and video with its audio."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srup.cli import cli
from tests.conftest import photo


def _records(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """A folder of an RGBA PNG (a transparent corner), a 16-bit gray PNG, a JPEG and a
    damaged file."""
    folder = tmp_path / "in"
    folder.mkdir()
    rgba = np.dstack([photo(40, 32, seed=4), np.full((32, 40), 255, np.uint8)])
    rgba[:10, :10, 3] = 0
    Image.fromarray(rgba, "RGBA").save(folder / "alpha.png")
    deep = (np.linspace(0, 65535, 36 * 28).reshape(28, 36)).astype(np.uint16)
    Image.fromarray(deep).save(folder / "deep.png")
    Image.fromarray(photo(40, 32, seed=5)).save(folder / "photo.jpg", quality=85)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    return folder


def test_a_batch_with_another_projects_model_goes_on_past_a_bad_file(
    runner, foreign_weights, inputs: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    weights = foreign_weights["compact", ".pth"]
    res = runner.invoke(
        cli, ["upscale", str(inputs), "--weights", str(weights), "-o", str(out), "--json"]
    )
    records = {Path(r["input"]).name: r for r in _records(res.output)}
    assert res.exit_code == 3, res.output  # some files failed (srup.errors: EXIT_PARTIAL)
    assert records["broken.png"]["status"] == "failed"
    for name in ("alpha.png", "deep.png", "photo.jpg"):
        assert records[name]["status"] == "done", records[name]
        assert records[name]["model"] == "Compact:compact.pth" and records[name]["scale"] == 4
    alpha = np.asarray(Image.open(out / "alpha.png"))
    assert alpha.shape == (128, 160, 4)
    assert (alpha[:32, :32, 3] == 0).all() and (alpha[:32, :32, :3] == 0).all()
    deep = Image.open(out / "deep.png")
    assert deep.size == (144, 112) and np.asarray(deep).dtype == np.uint16
    assert np.asarray(deep).max() > 255  # 16 bits in, 16 bits out
    assert not (out / "broken.png").exists()


def test_another_scale_than_the_files_runs_at_the_files_and_resizes(
    runner, foreign_weights, inputs: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "x2.png"
    weights = foreign_weights["esrgan", ".safetensors"]
    res = runner.invoke(
        cli,
        [
            *("upscale", str(inputs / "alpha.png"), "--weights", str(weights)),
            *("-s", "2", "-o", str(out), "--json"),
        ],
    )
    assert res.exit_code == 0, res.output
    (record,) = _records(res.output)
    assert Image.open(out).size == (80, 64)
    assert any("ran ×4" in note for note in record["notes"])


def test_the_default_scale_is_the_files(runner, foreign_weights, inputs: Path, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "auto.png"
    weights = foreign_weights["span", ".pth"]
    res = runner.invoke(
        cli, ["upscale", str(inputs / "photo.jpg"), "--weights", str(weights), "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert Image.open(out).size == (160, 128)


def test_a_foreign_file_with_model_is_a_usage_error(runner, foreign_weights, inputs) -> None:  # type: ignore[no-untyped-def]
    weights = foreign_weights["compact", ".pth"]
    res = runner.invoke(
        cli, ["upscale", str(inputs / "photo.jpg"), "--weights", str(weights), "-m", "fsrcnn"]
    )
    assert res.exit_code == 2 and "drop --model" in res.output


def test_benchmark_scores_another_projects_file(runner, foreign_weights, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hr = tmp_path / "HR"
    hr.mkdir()
    for i in range(2):
        Image.fromarray(photo(48, 40, seed=i)).save(hr / f"p{i}.png")
    weights = foreign_weights["compact", ".pth"]
    report = tmp_path / "report.json"
    res = runner.invoke(
        cli,
        ["benchmark", str(tmp_path), "-s", "4", "--weights", str(weights), "--json", str(report)],
    )
    assert res.exit_code == 0, res.output
    assert "compact" in res.output and "compact" in report.read_text()

    # The same network in two formats: two rows told apart by their whole names.
    both = ["--weights", str(weights), "--weights", str(foreign_weights["compact", ".safetensors"])]
    report.unlink()
    res = runner.invoke(cli, ["benchmark", str(tmp_path), "-s", "4", *both, "--json", str(report)])
    assert res.exit_code == 0, res.output
    models = {row["model"] for row in json.loads(report.read_text())["results"]}
    assert {weights.name, weights.with_suffix(".safetensors").name} <= models, models


def test_video_runs_through_another_projects_model_with_its_audio(
    runner, foreign_weights, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    av = pytest.importorskip("av")
    from tests.conftest import make_clip

    clip = tmp_path / "clip.mp4"
    make_clip(clip, frames=6, size=(48, 32))
    out = tmp_path / "clip_x4.mp4"
    weights = foreign_weights["compact", ".pth"]
    res = runner.invoke(cli, ["upscale", str(clip), "--weights", str(weights), "-o", str(out)])
    assert res.exit_code == 0, res.output
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert (video.width, video.height) == (192, 128)
        assert len(container.streams.audio) == 1


def test_export_refuses_another_projects_network_in_one_line(
    runner, foreign_weights, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    weights = foreign_weights["compact", ".pth"]
    out = tmp_path / "m.onnx"
    res = runner.invoke(cli, ["export", "--onnx", str(out), "--weights", str(weights), "-s", "4"])
    assert res.exit_code == 1 and "exports its own networks only" in res.output
    assert not out.exists()


def test_benchmark_refuses_a_file_of_a_scale_not_asked_for(
    runner, foreign_weights, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    hr = tmp_path / "HR"
    hr.mkdir()
    Image.fromarray(photo(48, 40)).save(hr / "p.png")
    weights = foreign_weights["compact", ".pth"]
    res = runner.invoke(cli, ["benchmark", str(tmp_path), "-s", "2", "--weights", str(weights)])
    assert res.exit_code == 2 and "×4, a scale not asked for; add -s 4" in res.output


def test_max_memory_counts_the_networks_own_working_memory(
    runner, foreign_weights, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    import srup
    from srup.batch.memory import WORKING_BYTES, estimate_memory

    up = srup.load(weights=foreign_weights["dat", ".pth"])  # bounded: untiled where it fits
    assert up.working_bytes(400, 300) > WORKING_BYTES  # a whole 400×300 picture's
    assert estimate_memory(up, 400, 300, 3, 1).total > up.working_bytes(400, 300)
    picture = tmp_path / "p.png"
    Image.fromarray(photo(400, 300)).save(picture)
    weights = foreign_weights["dat", ".pth"]
    res = runner.invoke(
        cli, ["upscale", str(picture), "--weights", str(weights), "--max-memory", "300M"]
    )
    assert res.exit_code == 3 and "needs about" in res.output


def test_a_memory_limit_tiles_a_picture_it_would_refuse_whole(
    runner, foreign_weights, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    import srup
    from srup.batch.memory import estimate_memory

    weights = foreign_weights["dat", ".pth"]
    whole = estimate_memory(srup.load(weights=weights), 400, 300, 3, 1).total
    tiled_up = srup.load(weights=weights)
    tiled_up.limit_whole(1)
    tiled = estimate_memory(tiled_up, 400, 300, 3, 1).total
    assert tiled < whole
    limit = (tiled + whole) // 2  # whole does not fit; tiled does
    picture = tmp_path / "p.png"
    Image.fromarray(photo(400, 300)).save(picture)
    out = tmp_path / "o.png"
    args = ["upscale", str(picture), "--weights", str(weights), "-o", str(out), "--json"]
    res = runner.invoke(cli, [*args, "--max-memory", str(limit)])
    assert res.exit_code == 0, res.output
    (line,) = [x for x in res.output.splitlines() if x.startswith('{"input"')]
    record = json.loads(line)
    assert record["status"] == "done" and any("tile" in note for note in record["notes"]), record
    assert Image.open(out).size == (1600, 1200)


def test_a_headerless_safetensors_of_another_project_with_model_is_a_usage_error(
    runner, foreign_weights, inputs
) -> None:  # type: ignore[no-untyped-def]
    weights = foreign_weights["esrgan", ".safetensors"]
    res = runner.invoke(
        cli, ["upscale", str(inputs / "photo.jpg"), "--weights", str(weights), "-m", "fsrcnn"]
    )
    assert res.exit_code == 2 and "drop --model" in res.output
