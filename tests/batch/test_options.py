"""The batch's types: a status enum whose values are the --json strings, one options object
(the keyword form still taken), and a video routed by its job's kind, never by a status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from srup import batch
from srup.batch.picture import prepare
from tests.conftest import photo


def test_the_status_values_are_the_json_strings():
    assert [s.value for s in batch.Status] == [
        "running",
        "done",
        "partial",
        "skipped",
        "failed",
        "left_out",
    ]
    res = batch.Result("a.png", None, "left_out")
    assert res.status is batch.Status.LEFT_OUT and res.status == "left_out"
    assert json.dumps({"status": res.status}) == '{"status": "left_out"}'
    assert {"failed": 0}[batch.Status.FAILED] == 0  # counted by its string


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    src = tmp_path / "a.png"
    Image.fromarray(photo(12, 10)).save(src)
    return src


def test_options_and_their_keyword_form_run_alike(picture, tmp_path):
    import srup

    up = srup.load("espcn", 2, device="cpu")
    dst = tmp_path / "out.png"
    assert batch.run_job(up, batch.Job(picture, dst, "PNG")).status is batch.Status.DONE
    kept = batch.Options(skip_existing=True)
    assert batch.run_job(up, batch.Job(picture, dst, "PNG"), kept).status == "skipped"
    by_keyword = batch.run_job(up, batch.Job(picture, dst, "PNG"), skip_existing=True)
    assert by_keyword.status is batch.Status.SKIPPED
    refused = batch.run_job(up, batch.Job(picture, dst, "PNG"))
    assert refused.status is batch.Status.FAILED and "--overwrite" in refused.error
    with pytest.raises(TypeError):
        batch.run_job(up, batch.Job(picture, dst, "PNG"), skip_exsting=True)
    with pytest.raises(TypeError):
        list(batch.run_jobs(up, [batch.Job(picture, dst, "PNG")], overwrite=True, qualty=80))


def test_a_video_job_is_ready_for_its_own_stage_not_a_status(tmp_path):
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"")  # never opened: prepare only checks its output
    job = batch.Job(src, tmp_path / "clip_x2.mp4", batch.VIDEO)
    assert job.is_video
    prepared = prepare(None, job, batch.Options())
    assert prepared.ready and prepared.picture is None
    assert prepared.result.status is batch.Status.RUNNING
