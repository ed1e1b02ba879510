"""``--precision int8`` on the command line."""

import pytest
from PIL import Image

from srup.cli import cli
from srup.devices import int8_engine
from srup.errors import EXIT_USAGE


@pytest.mark.skipif(not int8_engine(), reason="torch build without oneDNN int8")
def test_upscale_runs_a_calibrated_model_in_int8(runner, rgb_file, tmp_path):
    out = tmp_path / "x3.png"
    res = runner.invoke(
        cli, ["upscale", str(rgb_file), "-s", "3", "-m", "espcn", "--precision", "int8",
              "-o", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert Image.open(out).size == (48 * 3, 40 * 3)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["-s", "2", "-m", "fsrcnn-real"], "fsrcnn-real ×2 has no int8 calibration; int8 runs"),
        (["-s", "3", "-m", "espcn7-capture"], "espcn7-capture ×3 has no int8 calibration"),
        (["-s", "3"], "not -m auto"),
    ],
)
def test_int8_is_refused_in_one_line_where_it_does_not_run(runner, rgb_file, tmp_path, args, says):
    out = tmp_path / "o.png"
    res = runner.invoke(
        cli, ["upscale", str(rgb_file), *args, "--precision", "int8", "-o", str(out)]
    )
    assert res.exit_code == EXIT_USAGE, res.output
    assert says in res.output
    assert len([line for line in res.output.splitlines() if line.startswith("error")]) == 1
    assert not out.exists()


@pytest.mark.skipif(not int8_engine(), reason="torch build without oneDNN int8")
def test_a_weights_file_runs_in_int8_only_where_an_int8_json_beside_it_lists_its_bytes(
    runner, rgb_file, tmp_path
):
    import shutil

    from srup.models.weights import weights_dir

    alone, listed = tmp_path / "alone", tmp_path / "listed"
    alone.mkdir(), listed.mkdir()
    shutil.copy(weights_dir() / "fsrcnn_x3.safetensors", alone / "mine.safetensors")
    for name in ("fsrcnn_x3.safetensors", "int8.json"):
        shutil.copy(weights_dir() / name, listed / name)
    out = tmp_path / "o.png"
    args = ["upscale", str(rgb_file), "-s", "3", "--precision", "int8", "-o", str(out)]
    res = runner.invoke(cli, [*args, "--weights", str(alone / "mine.safetensors")])
    assert res.exit_code == EXIT_USAGE, res.output
    assert "mine.safetensors has no int8 calibration (no int8.json beside it" in res.output
    assert not out.exists()
    res = runner.invoke(cli, [*args, "--weights", str(listed / "fsrcnn_x3.safetensors")])
    assert res.exit_code == 0, res.output
    assert Image.open(out).size == (48 * 3, 40 * 3)


@pytest.mark.skipif(not int8_engine(), reason="torch build without oneDNN int8")
@pytest.mark.parametrize("model", ["srcnn", "espcn7", "fsrcnn", "espcn"])
def test_int8_runs_leave_no_note_of_torchs_quantization_deprecation(
    runner, rgb_file, tmp_path, model
):
    out = tmp_path / "o.png"
    res = runner.invoke(
        cli, ["upscale", str(rgb_file), "-s", "2", "-m", model, "--precision", "int8",
              "--json", "-o", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "deprecated" not in res.output and "warned" not in res.output
