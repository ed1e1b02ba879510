"""The file formats srup knows, by suffix, and the other fixed choices the command line
offers: kept apart, free of imports, so the command line can offer them without loading
Pillow, NumPy or torch."""

from __future__ import annotations

__all__ = [
    "EXTENSIONS",
    "FORMAT_NAMES",
    "IMAGE_SUFFIXES",
    "MIN_TILE",
    "ONNX_FORMS",
    "READ_ONLY",
    "SAMPLERS",
    "SUFFIX_FOR",
    "VIDEO_SUFFIXES",
]

# Suffixes srup reads and writes, and the Pillow format each names.
EXTENSIONS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}
# Formats read but not written (srup writes their first frame as PNG): found by folder scans.
# AVIF and JPEG 2000 come with Pillow's wheels (HEIF needs a plugin, pillow-heif, that
# registers itself with Pillow, so .heic/.heif are not scanned for).
READ_ONLY = {".gif": "GIF", ".avif": "AVIF", ".jp2": "JPEG2000", ".j2k": "JPEG2000"}
# Video containers (srup.media.video, through PyAV): kept in their own container.
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mkv", ".mov", ".avi", ".webm"})
IMAGE_SUFFIXES = frozenset(EXTENSIONS) | frozenset(READ_ONLY)
# What --format accepts: the format names and the suffixes -o accepts.
FORMAT_NAMES = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "webp": "WEBP", "tiff": "TIFF"}
FORMAT_NAMES |= {"tif": "TIFF", "bmp": "BMP"}
# What `srup export --onnx --form` writes: the whole RGB pipeline, or the network on luma.
ONNX_FORMS = ("rgb", "y")
# The smallest --tile (input pixels) srup upscale takes: srup.runtime.tilers.plan widens every
# tile's read to 32 px (MIN_READ) and each reads the receptive radius (up to 9 px) around it,
# so smaller tiles only multiply the work.
MIN_TILE = 32
# Where `srup train --sampler` cuts batches (srup.training.samplers).
SAMPLERS = ("auto", "host", "device")
SUFFIX_FOR = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "TIFF": ".tif", "BMP": ".bmp"}
