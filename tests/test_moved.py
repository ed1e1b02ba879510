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
