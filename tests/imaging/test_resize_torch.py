"""MATLAB bicubic in torch (`srup.imaging.resize_torch`) against the NumPy reference."""

import numpy as np
import pytest
import torch

from srup.imaging.resize import imresize
from srup.imaging.resize_torch import imresize_torch

SHAPES = [((90, 90), (30, 30)), ((131, 97), (90, 90)), ((7, 5), (3, 2)), ((40, 40), (17, 23))]


@pytest.mark.parametrize(("shape", "out"), SHAPES, ids=lambda v: "x".join(map(str, v)))
def test_float64_uint8_resize_equals_matlab_imresize_exactly(shape, out):
    rng = np.random.default_rng(sum(shape))
    pixels = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    planes = torch.from_numpy(pixels).permute(2, 0, 1).double()
    got = imresize_torch(planes, out).permute(1, 2, 0).numpy()
    assert np.array_equal(got.astype(np.uint8), imresize(pixels, output_shape=out))
    assert np.array_equal(got, np.round(got))


def test_float_resize_is_unrounded_and_matches_the_float_reference():
    rng = np.random.default_rng(0)
    x = rng.random((33, 21))
    got = imresize_torch(torch.from_numpy(x), (11, 50), uint8=False).numpy()
    np.testing.assert_allclose(got, imresize(x, output_shape=(11, 50)), atol=1e-12)


def test_batches_resize_each_picture_alike():
    rng = np.random.default_rng(1)
    batch = torch.from_numpy(rng.integers(0, 256, (4, 3, 24, 24)).astype(np.float32))
    whole = imresize_torch(batch, (8, 8))
    for i in range(4):
        assert torch.equal(whole[i], imresize_torch(batch[i], (8, 8)))
