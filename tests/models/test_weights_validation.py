"""Weights files that are wrong in any way are refused in one line, before any picture.

A matrix over the ways a file can be wrong: its bytes (not safetensors, truncated), the
layout of its safetensors header, srup's fields in that header (scale, model, input_space),
and its tensors (NaN, ±Inf, integer dtypes). Each must be a BadWeightsError naming the
file, on one line, from srup.load, srup.describe and `srup export --weights` (exit 1),
never a traceback or a picture made of NaN.
"""

from __future__ import annotations

import json
import math

import pytest
import torch

import srup
from srup.cli import cli
from srup.errors import BadWeightsError, UnknownModelError
from srup.models.catalog import model_names
from srup.models.weights import load_state, read_header, read_weights_header, save_state, shipped

BASE = shipped()[("espcn", 2)]
TENSORS = sorted(k for k in read_header(BASE) if k != "__metadata__")


def raw(header: dict, data: bytes) -> bytes:
    """A safetensors file: 8-byte little-endian header length, JSON header, tensor data."""
    blob = json.dumps(header).encode()
    return len(blob).to_bytes(8, "little") + blob + data


def base_parts() -> tuple[dict, bytes]:
    whole = BASE.read_bytes()
    size = int.from_bytes(whole[:8], "little")
    return json.loads(whole[8 : 8 + size]), whole[8 + size :]


def refused(path, match: str, in_header: bool = True) -> str:
    """Assert that srup.load refuses ``path`` with a one-line BadWeightsError naming it, and
    srup.describe too when the fault is ``in_header`` (describe reads no tensors)."""
    with pytest.raises(BadWeightsError, match=match) as caught:
        srup.load(weights=path, scale=2, device="cpu", precision="fp32")
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    if in_header:
        with pytest.raises(BadWeightsError, match=match):
            srup.describe(weights=path, scale=2)
    return message


def with_metadata(tmp_path, **fields: str):
    header, data = base_parts()
    header["__metadata__"] = dict(header["__metadata__"], **fields)
    path = tmp_path / "w.safetensors"
    path.write_bytes(raw(header, data))
    return path


@pytest.mark.parametrize(
    "scale", ["abc", "2.0", "", "-2", "+2", "0", "1", " 2", "2 ", "²", "٢", "1e3", "0x2", "99999"]
)
def test_a_header_scale_that_is_not_a_whole_number_of_two_or_more_is_refused(tmp_path, scale):
    path = with_metadata(tmp_path, scale=scale)
    refused(path, "scale")
    with pytest.raises(BadWeightsError, match="scale"):
        read_weights_header(path)


@pytest.mark.parametrize("space", ["rgb", "XYZ", "", "Y ", "YCbCr"])
def test_a_header_input_space_other_than_y_or_rgb_is_refused(tmp_path, space):
    refused(with_metadata(tmp_path, input_space=space), "input_space")


@pytest.mark.parametrize(
    "model,match",
    [
        ("", "model is empty"),
        ("  ", "model is empty"),
        ("nosuch", "not an architecture"),
        ("ESPCN", "not an architecture"),
        ("espcn-real", "not an architecture"),
    ],
)
def test_a_header_model_srup_does_not_have_is_refused_with_the_architectures(
    tmp_path, model, match
):
    message = refused(with_metadata(tmp_path, model=model), match)
    if "architecture" in match:
        assert "espcn, espcn7, fsrcnn, srcnn" in message


def test_well_formed_header_fields_are_parsed():
    header = read_weights_header(shipped()[("espcn-rgb", 3)])
    assert (header.model, header.scale, header.input_space) == ("espcn", 3, "RGB")
    assert read_weights_header(BASE).input_space == "Y"


def _mutate(name: str):
    """Header mutations: (function of header → None, words the message must hold)."""
    first = TENSORS[0]

    def set_entry(key, value):
        return lambda h: h[first].__setitem__(key, value)

    def drop_entry(key):
        return lambda h: h[first].pop(key)

    return {
        "metadata-list": (lambda h: h.__setitem__("__metadata__", [1, 2]), "__metadata__"),
        "metadata-int": (lambda h: h["__metadata__"].__setitem__("scale", 2), "__metadata__"),
        "metadata-null": (lambda h: h["__metadata__"].__setitem__("model", None), "__metadata__"),
        "entry-not-object": (lambda h: h.__setitem__(first, [0, 1]), first),
        "no-dtype": (drop_entry("dtype"), "dtype"),
        "dtype-number": (set_entry("dtype", 7), "dtype"),
        "unknown-dtype": (set_entry("dtype", "F99"), "unknown dtype"),
        "no-shape": (drop_entry("shape"), "shape"),
        "shape-string": (set_entry("shape", "64"), "shape"),
        "shape-negative": (set_entry("shape", [-64]), "shape"),
        "shape-float": (set_entry("shape", [64.0]), "shape"),
        "shape-bool": (set_entry("shape", [True]), "shape"),
        "shape-mismatch": (set_entry("shape", [65]), "cannot hold"),
        "dtype-mismatch": (set_entry("dtype", "F64"), "cannot hold"),
        "no-offsets": (drop_entry("data_offsets"), "offsets"),
        "offsets-reversed": (set_entry("data_offsets", [256, 0]), "offsets"),
        "offsets-past-end": (set_entry("data_offsets", [0, 10**9]), "offsets"),
        "offsets-three": (set_entry("data_offsets", [0, 128, 256]), "offsets"),
        "offsets-strings": (set_entry("data_offsets", ["0", "256"]), "offsets"),
    }[name]


@pytest.mark.parametrize(
    "name",
    [
        "metadata-list",
        "metadata-int",
        "metadata-null",
        "entry-not-object",
        "no-dtype",
        "dtype-number",
        "unknown-dtype",
        "no-shape",
        "shape-string",
        "shape-negative",
        "shape-float",
        "shape-bool",
        "shape-mismatch",
        "dtype-mismatch",
        "no-offsets",
        "offsets-reversed",
        "offsets-past-end",
        "offsets-three",
        "offsets-strings",
    ],
)
def test_a_malformed_safetensors_header_is_refused(tmp_path, name):
    mutate, words = _mutate(name)
    header, data = base_parts()
    mutate(header)
    path = tmp_path / "w.safetensors"
    path.write_bytes(raw(header, data))
    refused(path, words)


@pytest.mark.parametrize(
    "name,content,words",
    [
        ("empty", b"", "not a safetensors"),
        ("short", b"\x08\x00\x00", "not a safetensors"),
        ("zero-length-header", b"\x00" * 8 + b"{}", "not a safetensors"),
        ("huge-header-length", b"\xff" * 8 + b"{}", "not a safetensors"),
        ("header-not-utf8", (4).to_bytes(8, "little") + b"{\xff\xfe}", "not a valid safetensors"),
        ("header-array", (2).to_bytes(8, "little") + b"[]", "not a safetensors"),
        ("header-deep", (4002).to_bytes(8, "little") + b"{" + b"[" * 4000 + b"}", "not a"),
        ("text", b"model: espcn\nscale: 2\n", "not a safetensors"),
        ("zip", b"PK\x03\x04" + b"\x00" * 40, "pickle"),
    ],
)
def test_bytes_that_are_not_safetensors_are_refused(tmp_path, name, content, words):
    path = tmp_path / "w.safetensors"
    path.write_bytes(content)
    refused(path, words)


def test_a_truncated_weights_file_is_refused(tmp_path):
    whole = BASE.read_bytes()
    for cut in (len(whole) - 1, len(whole) // 2, 200):
        path = tmp_path / f"cut{cut}.safetensors"
        path.write_bytes(whole[:cut])
        refused(path, "safetensors|cannot read")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("tensor", TENSORS)
@pytest.mark.parametrize("where", ["first", "last"])
def test_weights_holding_nan_or_inf_are_refused_naming_the_tensor(tmp_path, value, tensor, where):
    state, meta = load_state(BASE)
    bad = state[tensor].clone().reshape(-1)
    bad[0 if where == "first" else -1] = value
    state[tensor] = bad.reshape(state[tensor].shape)
    path = tmp_path / "w.safetensors"
    save_state(path, state, meta)
    message = refused(path, f"tensor {tensor} holds 1 NaN or infinite value", in_header=False)
    assert "black" in message


def test_a_checkpoint_with_nan_weights_is_refused_too(tmp_path):
    # load_state is the one door: training's --init and --resume go through it as well.
    state, meta = load_state(BASE)
    state["body.0.bias"] = torch.full_like(state["body.0.bias"], math.nan)
    path = tmp_path / "w.safetensors"
    save_state(path, state, meta)
    with pytest.raises(BadWeightsError, match="holds 64 NaN or infinite values of 64"):
        load_state(path)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.uint8, torch.bool])
def test_integer_weights_are_refused_rather_than_cast(tmp_path, dtype):
    state, meta = load_state(BASE)
    state[TENSORS[1]] = state[TENSORS[1]].to(dtype)
    path = tmp_path / "w.safetensors"
    save_state(path, state, meta)
    refused(path, f"tensor {TENSORS[1]} is .*floating-point", in_header=False)


FLOAT8 = [getattr(torch, n) for n in ("float8_e4m3fn", "float8_e5m2") if hasattr(torch, n)]


@pytest.mark.parametrize("dtype", FLOAT8, ids=str)
def test_weights_of_a_dtype_srup_cannot_run_are_refused_naming_tensor_and_dtype(
    runner, tmp_path, dtype
):
    state, meta = load_state(BASE)
    state[TENSORS[1]] = state[TENSORS[1]].to(dtype)
    path = tmp_path / "w.safetensors"
    save_state(path, state, meta)
    kind = str(dtype).removeprefix("torch.")
    refused(path, f"tensor {TENSORS[1]} is {kind}, which srup cannot run", in_header=False)
    picture = tmp_path / "a.png"
    from PIL import Image

    Image.new("RGB", (8, 6)).save(picture)
    for args in (
        ["upscale", str(picture), "-s", "2", "--weights", str(path), "-o", str(tmp_path / "o.png")],
        ["export", "--onnx", str(tmp_path / "o.onnx"), "-s", "2", "--weights", str(path)],
    ):
        res = runner.invoke(cli, args)
        assert res.exit_code == 1 and f"is {kind}" in res.output, res.output
        assert "internal error" not in res.output


def test_half_precision_weights_still_load(tmp_path):
    state, meta = load_state(BASE)
    path = tmp_path / "w.safetensors"
    save_state(path, {k: v.half() for k, v in state.items()}, meta)
    assert srup.load(weights=path, scale=2, device="cpu", precision="fp32").name == "espcn"


@pytest.mark.parametrize(
    "fields",
    [{"scale": "abc"}, {"scale": "2.0"}, {"input_space": "XYZ"}, {"model": "nosuch"}],
    ids=lambda f: "-".join(f"{k}={v}" for k, v in f.items()),
)
def test_cli_reports_a_bad_weights_file_in_one_line_and_exits_1(runner, tmp_path, fields):
    path = with_metadata(tmp_path, **fields)
    out = tmp_path / "m.onnx"
    res = runner.invoke(
        cli,
        ["export", "--onnx", str(out), "--weights", str(path), "-s", "2"],
        catch_exceptions=False,
    )
    assert res.exit_code == 1, res.output
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output
    assert not out.exists()


def test_cli_reports_nan_weights_in_one_line_and_exits_1(runner, tmp_path):
    state, meta = load_state(BASE)
    state[TENSORS[0]] = torch.full_like(state[TENSORS[0]], math.inf)
    path = tmp_path / "w.safetensors"
    save_state(path, state, meta)
    res = runner.invoke(
        cli, ["export", "--onnx", str(tmp_path / "m.onnx"), "--weights", str(path), "-s", "2"]
    )
    assert res.exit_code == 1 and "NaN or infinite" in res.output
    assert len(res.output.strip().splitlines()) == 1


# ---- item 22: the unknown-model error lists every name -m accepts


def test_model_names_are_auto_and_every_shipped_model_and_variant():
    names = model_names()
    assert names[0] == "auto"
    assert set(names[1:]) == {n for n, _ in shipped()}
    assert {"fsrcnn-real", "espcn7-real", "espcn-rgb", "espcn", "srcnn"} <= set(names)


@pytest.mark.parametrize("name", ["nope", "espcn-foo", "fsrcnn_real", "Espcn", "real"])
def test_an_unknown_model_lists_every_name_model_accepts(name):
    with pytest.raises(UnknownModelError) as caught:
        srup.load(name, 3, device="cpu")
    listed = str(caught.value).split("available: ")[1].split(", ")
    assert listed == model_names()


@pytest.mark.parametrize("name", model_names())
def test_every_listed_name_is_accepted(name):
    scale = min(s for n, s in shipped() if n == name) if name != "auto" else 3
    assert srup.describe(name, scale).name in model_names()


def test_cli_unknown_model_lists_the_variants(runner, rgb_file, tmp_path):
    res = runner.invoke(
        cli, ["upscale", str(rgb_file), "-m", "nope", "-o", str(tmp_path / "o.png")]
    )
    assert res.exit_code == 2
    for name in ("auto", "fsrcnn-real", "espcn7-real", "espcn-rgb"):
        assert name in res.output


@pytest.mark.parametrize("scale", ["abc", "2.0", " 2", "0", ""])
def test_upscale_with_a_weights_file_whose_scale_does_not_parse_is_one_line_exit_1(
    runner, rgb_file, tmp_path, scale
):
    path = with_metadata(tmp_path, scale=scale)
    out = tmp_path / "o.png"
    res = runner.invoke(cli, ["upscale", str(rgb_file), "--weights", str(path), "-o", str(out)])
    assert res.exit_code == 1 and "the header's scale" in res.output
    assert len(res.output.strip().splitlines()) == 1 and "internal error" not in res.output
    assert not out.exists()
