"""A weight set's descriptor: what it is (read from the registry and the weights header) and
its three forms, which compute one function."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import srup
from srup.errors import UnknownModelError, UnsupportedPrecision
from srup.models.descriptor import describe
from srup.models.weights import (
    read_metadata,
    shipped,
    split_name,
)

SHIPPED = sorted(shipped())


@pytest.mark.parametrize(("name", "scale"), SHIPPED)
def test_every_shipped_weight_set_is_described_from_its_header(name, scale):
    d = describe(name, scale)
    assert d.name == name and d.scale == scale and d.spec.name == split_name(name)[0]
    rgb = "rgb" in split_name(name)[1]
    assert (d.input_space, d.channels) == (("RGB", 3) if rgb else ("Y", 1))
    assert "fp32" in d.precisions
    assert d.degradation == read_metadata(shipped()[(name, scale)]).get("degradation", "clean")
    variant = split_name(name)[1]
    if variant in ("real", "capture"):  # the variant names the kind of degradation
        assert d.degradation != "clean"
        assert d.degradation.startswith("capture") == (variant == "capture")
    up = srup.load(name, scale, device="cpu", precision="fp32")
    assert up.descriptor == d and up.overlap == d.receptive_radius


@pytest.mark.parametrize(("name", "scale"), [("espcn", 3), ("fsrcnn", 3), ("srcnn", 2)])
def test_the_three_forms_compute_one_function_away_from_the_edge(name, scale):
    d = describe(name, scale)
    x = torch.rand(1, 1, 40, 36)
    with torch.no_grad():
        train = d.build("train")(x)
        export = d.build("export")(x)
        infer = d.build("infer")(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(export, train, atol=1e-6, rtol=0)
    # The infer form may skip or change pixels within the receptive radius of the edge,
    # which every tiler crops.
    q = d.receptive_radius * scale
    inner = (..., slice(q, -q), slice(q, -q))
    torch.testing.assert_close(infer[inner], train[inner], atol=1e-5, rtol=0)
    trainable = d.build("train")
    assert trainable.training and all(p.requires_grad for p in trainable.parameters())
    assert not d.build("export").training


def test_an_unknown_form_and_a_mismatched_weights_file_are_refused():
    d = describe("espcn", 3)
    with pytest.raises(ValueError, match="form must be one of train, infer, export"):
        d.build("fast")
    with pytest.raises(UnknownModelError, match="for ×3, not ×2"):
        describe("auto", 2, weights=d.path)
    with pytest.raises(UnknownModelError, match="for espcn, not fsrcnn"):
        describe("fsrcnn", 3, weights=d.path)


def test_load_refuses_a_precision_the_weight_set_does_not_run_in(monkeypatch):
    d = describe("espcn", 3)
    fp32_only = dataclasses.replace(d, spec=dataclasses.replace(d.spec, precisions=("fp32",)))
    monkeypatch.setattr("srup.runtime.upscaler.describe", lambda *a, **k: fp32_only)
    with pytest.raises(UnsupportedPrecision, match="does not run in bf16; use fp32"):
        srup.load("espcn", 3, device="cpu", precision="bf16")
    assert srup.load("espcn", 3, device="cpu", precision="fp32").precision == "fp32"
