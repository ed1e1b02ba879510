"""Modules that moved in 0.2 (issue 26) still import under their old names for one release:
the very module at its new home, with a DeprecationWarning that names it."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys

import pytest

from srup._moved import MOVED
from tests.conftest import REPO

SRC = REPO / "src" / "srup"


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_module_name_gives_the_module_at_its_new_home_with_a_warning(old):
    code = (
        "import importlib, warnings\n"
        "warnings.simplefilter('error', DeprecationWarning)\n"
        f"try:\n    importlib.import_module({old!r})\n"
        "except DeprecationWarning as w:\n    print(w)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-1500:]
    assert f"{old} moved to {MOVED[old]}" in done.stdout
    with pytest.warns(DeprecationWarning):
        sys.modules.pop(old, None)
        module = importlib.import_module(old)
    assert module is importlib.import_module(MOVED[old])


def test_every_new_home_exists_and_no_old_name_is_still_a_file():
    for old, new in MOVED.items():
        assert importlib.util.find_spec(new) is not None, new
        # The alias finder comes first on sys.meta_path, so a file left at the old place
        # would be shadowed, never imported: there must be none.
        assert not (SRC / (old.removeprefix("srup.").replace(".", "/") + ".py")).exists(), old


@pytest.mark.parametrize(
    ("old", "name", "home", "new"),
    [
        ("srup.upscale", "default_model", "srup.models.shipped", "default_model"),
        ("srup.upscale", "FAST_MACS_1080P", "srup.models.shipped", "FAST_MACS_1080P"),
        ("srup.catalog", "default_model", "srup.models.shipped", "default_model"),
        ("srup.export", "FORMS", "srup.choices", "ONNX_FORMS"),
        ("srup.imageio", "FORMAT_NAMES", "srup.choices", "FORMAT_NAMES"),
    ],
)
def test_a_name_that_left_its_module_still_answers_there_with_a_warning(old, name, home, new):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning):
        module = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=f"{name} moved to {home}.{new}"):
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(home), new)
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        module.not_a_name  # noqa: B018


def test_train_summary_and_progress_still_read_by_key_with_a_warning():
    from srup.training.loop import TrainProgress, TrainSummary

    summary = TrainSummary(
        step=5, output=None, seconds=1.0, val_psnr=None, stopped=False, checkpoint=None
    )
    with pytest.warns(DeprecationWarning, match="read .step instead"):
        assert summary["step"] == 5
    progress = TrainProgress(step=2, total=4, loss=0.1, val_psnr=None, best_psnr=None, seconds=0.5)
    with pytest.warns(DeprecationWarning):
        assert progress["total"] == 4
    with pytest.warns(DeprecationWarning), pytest.raises(KeyError):
        summary["nope"]
