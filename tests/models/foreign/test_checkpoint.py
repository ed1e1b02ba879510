"""Other projects' weights files are read without running anything in them: pickles that
name a callable are refused before they are unpickled (every pickle protocol, PyTorch's zip
and legacy formats), TorchScript is refused, and damaged files of every kind are one
BadWeightsError, never another exception."""

from __future__ import annotations

import functools
import io
import os
import pickle
import zipfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srup.errors import BadWeightsError
from srup.models.foreign.checkpoint import file_kind, read_state_dict, unsafe_globals


class _RunsCode:
    """Unpickling this runs ``touch MARKER``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


class _Evals:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (eval, ("__import__('os').getpid()",))


def _state() -> dict[str, torch.Tensor]:
    return {"conv.weight": torch.randn(4, 3, 3, 3), "conv.bias": torch.randn(4)}


def _writers(payload: object):  # type: ignore[no-untyped-def]
    """Every way a pickle of ``payload`` reaches a user as a weights file."""
    yield "zip", lambda p: torch.save(payload, p)
    yield "legacy", lambda p: torch.save(payload, p, _use_new_zipfile_serialization=False)
    for protocol in (2, 3, 4, 5):

        def plain(p: Path, protocol: int = protocol) -> None:
            p.write_bytes(pickle.dumps(payload, protocol=protocol))

        yield f"pickle{protocol}", plain


@pytest.mark.parametrize("suffix", [".pth", ".ckpt", ".bin"])
@pytest.mark.parametrize("kind", ["zip", "legacy", "pickle2", "pickle3", "pickle4", "pickle5"])
def test_a_pickle_that_runs_code_is_refused_before_anything_runs(
    tmp_path: Path, kind: str, suffix: str
) -> None:
    marker = tmp_path / "ran"
    payload = {"weight": torch.ones(2), "x": _RunsCode(marker)}
    write = dict(_writers(payload))[kind]
    path = tmp_path / f"evil{suffix}"
    write(path)
    with pytest.raises(BadWeightsError, match=r"refused|cannot read|neither a PyTorch"):
        read_state_dict(path)
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["zip", "legacy", "pickle2", "pickle4"])
def test_the_refusal_names_the_global_the_file_asked_for(tmp_path: Path, kind: str) -> None:
    write = dict(_writers({"w": torch.ones(1), "x": _Evals()}))[kind]
    path = tmp_path / "evil.pth"
    write(path)
    # Protocol 2 spells it as Python 2 did.
    with pytest.raises(BadWeightsError, match=r"(__builtin__|builtins)\.eval"):
        read_state_dict(path)


def test_the_cli_refuses_a_pickle_that_runs_code_with_one_line(tmp_path: Path, runner) -> None:  # type: ignore[no-untyped-def]
    from srup.cli import cli

    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    torch.save({"x": _RunsCode(marker)}, path)
    picture = tmp_path / "a.png"
    from PIL import Image

    Image.new("RGB", (8, 8)).save(picture)
    result = runner.invoke(cli, ["upscale", str(picture), "--weights", str(path)])
    assert result.exit_code == 1, result.output
    assert "refused" in result.output and "Traceback" not in result.output
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["zip", "legacy"])
def test_tensors_in_plain_containers_are_read_in_both_torch_formats(
    tmp_path: Path, kind: str
) -> None:
    state = _state()
    nested = {"params_ema": state, "meta": {"epoch": 3, "name": "x", "lr": [1e-4]}}
    write = dict(_writers(nested))[kind]
    path = tmp_path / "ok.pth"
    write(path)
    loaded = read_state_dict(path)
    assert set(loaded) == {"params_ema", "meta"}
    for key, tensor in state.items():
        assert torch.equal(loaded["params_ema"][key], tensor)


def test_tensors_pickled_without_torch_save_are_refused(tmp_path: Path) -> None:
    # pickle.dumps of a tensor goes through torch.storage._load_from_bytes, which calls
    # torch.load again, unrestricted: not a format torch.save writes, and not read.
    path = tmp_path / "plain.pth"
    path.write_bytes(pickle.dumps(_state(), protocol=4))
    with pytest.raises(BadWeightsError, match="_load_from_bytes"):
        read_state_dict(path)


def test_parameters_saved_as_parameters_are_read(tmp_path: Path) -> None:
    net = torch.nn.Conv2d(3, 4, 3)
    path = tmp_path / "module_params.pth"
    torch.save(dict(net.named_parameters()), path)
    assert torch.equal(read_state_dict(path)["weight"], net.weight.detach())


def test_torchscript_is_refused_without_being_loaded(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.jit.script(torch.nn.Conv2d(3, 3, 3)).save(str(path))
    assert file_kind(path) == "torchscript"
    with pytest.raises(BadWeightsError, match="TorchScript"):
        read_state_dict(path)


@pytest.mark.parametrize(
    "content",
    [b"", b"hello world", b"PK\x03\x04garbage", b"\x80\x02garbage", b"{}" * 8, bytes(64)],
)
def test_a_file_that_is_not_weights_is_one_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.pth"
    path.write_bytes(content)
    with pytest.raises(BadWeightsError):
        read_state_dict(path)


def test_a_zip_without_a_pickle_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.pth"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/readme.txt", "no pickle here")
    with pytest.raises(BadWeightsError, match=r"data\.pkl"):
        read_state_dict(path)


def test_a_missing_file_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(BadWeightsError, match="not found"):
        read_state_dict(tmp_path / "absent.pth")


def test_the_opcode_scan_reads_stack_globals_through_the_memo() -> None:
    # Protocol 4 names globals with STACK_GLOBAL, its strings often memoized and fetched.
    stream = io.BytesIO(pickle.dumps([os.system, os.system, {"a": [1, 2]}], protocol=4))
    assert set(unsafe_globals(stream)) == {"posix.system"}


@functools.cache
def _saved(zipfile_format: bool) -> bytes:
    """:func:`_state` as ``torch.save`` writes it, once per process and format."""
    buffer = io.BytesIO()
    torch.save(_state(), buffer, _use_new_zipfile_serialization=zipfile_format)
    return buffer.getvalue()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_damaged_weights_files_are_refused_or_read_never_crash(tmp_path: Path, data) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "w.pth"
    # The same bytes in every example: torch.save's length varies from call to call, and
    # hypothesis needs each draw's bounds to repeat when it replays an example.
    blob = bytearray(_saved(data.draw(st.booleans())))
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(blob) - 1))
        blob[at] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        blob = blob[: data.draw(st.integers(0, len(blob)))]
    path.write_bytes(bytes(blob))
    try:
        loaded = read_state_dict(path)
    except BadWeightsError as e:
        assert "\n" not in str(e)
    else:
        assert isinstance(loaded, dict)


def test_a_second_spelling_of_data_pkl_is_refused_not_scanned_past(tmp_path: Path) -> None:
    # PyTorch finds archive/data.pkl case-insensitively: a decoy beside the real one must
    # not be the one scanned.
    honest = tmp_path / "honest.pth"
    torch.save(_state(), honest)
    path = tmp_path / "two.pth"
    with zipfile.ZipFile(honest) as z, zipfile.ZipFile(path, "w") as out:
        for info in z.infolist():
            out.writestr(info, z.read(info))
        prefix = z.namelist()[0].split("/")[0]
        out.writestr(f"{prefix}/DATA.PKL", pickle.dumps({"x": _Evals()}, protocol=2))
    with pytest.raises(BadWeightsError, match=r"one data\.pkl"):
        read_state_dict(path)


def test_a_pickle_too_large_for_a_state_dict_is_refused_before_it_is_inflated(
    tmp_path: Path,
) -> None:
    from srup.models.foreign import checkpoint

    path = tmp_path / "bomb.pth"
    torch.save(_state(), path)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(checkpoint, "MAX_PICKLE_BYTES", 64)  # the real cap is 64 MiB
        with pytest.raises(BadWeightsError, match="at most"):
            read_state_dict(path)


def test_extension_code_globals_are_not_taken() -> None:
    stream = io.BytesIO(b"\x80\x02\x82\x01N\x85R.")  # EXT1 1, then a call
    assert unsafe_globals(stream) == ["<extension code 1>"]


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize(
    "dtype", [torch.float8_e4m3fn, torch.float8_e5m2, torch.complex64, torch.complex128]
)
def test_tensors_of_a_type_srup_cannot_run_are_named_as_such_not_as_code(
    tmp_path: Path, dtype: torch.dtype, legacy: bool
) -> None:
    path = tmp_path / "odd.pth"
    state = {"w": torch.zeros(3, dtype=dtype), "b": torch.zeros(2)}
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    with pytest.raises(BadWeightsError) as err:
        read_state_dict(path)
    text = str(err.value)
    assert str(dtype).removeprefix("torch.") in text and "cannot run" in text
    assert "could run code" not in text


def test_code_beside_tensors_of_an_odd_type_is_still_refused_as_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "odd.pth"
    torch.save({"w": torch.zeros(3, dtype=torch.float8_e4m3fn), "x": _RunsCode(marker)}, path)
    with pytest.raises(BadWeightsError, match="could run code"):
        read_state_dict(path)
    assert not marker.exists()
