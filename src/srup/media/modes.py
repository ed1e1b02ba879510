"""Every Pillow mode as one of srup's four layouts, and every layout as what a format holds.

Reading (:func:`from_pil`) gives ``(H, W, C)`` pixels, C = 1 (L), 2 (LA), 3 (RGB) or
4 (RGBA), uint8 or uint16:

- ``1``, ``L``, ``LA``, ``RGB``, ``RGBA`` as they are; ``La``/``RGBa`` (premultiplied)
  un-premultiplied; ``P``/``PA`` become RGB, or RGBA where the palette has transparency;
  ``RGBX``, ``YCbCr``, ``HSV`` become RGB; ``LAB`` becomes sRGB (D50 Lab, as Pillow).
- **Colour keys.** A ``tRNS`` key on an L, I;16 or RGB picture (``transparency=`` in Pillow)
  becomes an alpha channel: alpha 0 exactly where the pixel equals the key, full elsewhere.
  For PNG grey at 1, 2 or 4 bits the key is scaled as Pillow scales the samples.
- **16 bits.** ``I;16`` stays uint16. 16-bit colour never reaches here (Pillow truncates it
  to 8 bits; :mod:`srup.media.deep` reads it). A TIFF's MinIsWhite grey is inverted (0 is white),
  as Pillow does for 8 bits but not for 16. 16-bit CMYK, which Pillow reads at 8 bits, is
  noted.
- **32-bit integer (``I``) and float (``F``) samples**, and a TIFF's signed samples (its
  ``SampleFormat`` 2: signed 8-bit, which Pillow reads as unsigned, and 16-bit; unsigned
  32-bit, which Pillow reads as signed, is read as unsigned) become uint16 by one stated rule,
  with a note: values all within [0, 1] are × 65535; else within [0, 255], × 257; else
  within [0, 65535], kept; else (negative, or above 65535) stretched linearly from their
  minimum and maximum to [0, 65535], the note giving both. Rounded to the nearest. A float
  picture with any NaN or infinite sample is refused (:class:`BadImageError`): no rule
  says which level "not a number" is.
- **CMYK** with an embedded ICC profile goes to sRGB through LittleCMS (``PIL.ImageCms``),
  perceptual intent (what print workflows use to leave CMYK: it matches the colours a
  colour-managed viewer shows), and the result carries the sRGB profile LittleCMS builds,
  so that a colour-managed reader knows what it got. Without a profile (or with one
  LittleCMS cannot use) the naive formula (R = 255 − C − K, clipped), with a note saying so.
  Pillow already undoes the inversion of Adobe CMYK JPEGs.

Writing (:func:`fit`) converts to what a format holds: 16 bits rounded to 8 (v / 257, to the
nearest) for JPEG, WebP and BMP; alpha flattened onto a background for JPEG and BMP (the
colour under alpha 0 can never show); grey widened to RGB where a format has no grey with
alpha (WebP; 16-bit TIFF, which Pillow cannot read back as grey with alpha).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageCms

from srup.errors import BadImageError

__all__ = [
    "FIT",
    "HOLDS_16",
    "LAYOUTS",
    "fit",
    "flatten",
    "from_pil",
    "shape_of",
    "srgb_profile",
    "to_8bit",
    "with_key",
]

LAYOUTS = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
SIXTEEN_BIT = {"I;16", "I;16B", "I;16L", "I;16N"}
# Layouts each output format holds, by bit depth; anything else is converted by fit().
FIT = {
    "PNG": ({"L", "LA", "RGB", "RGBA"}, {"L", "LA", "RGB", "RGBA"}),
    "TIFF": ({"L", "LA", "RGB", "RGBA"}, {"L", "RGB", "RGBA"}),
    "JPEG": ({"L", "RGB"}, set()),
    "WEBP": ({"RGB", "RGBA"}, set()),
    "BMP": ({"L", "RGB"}, set()),  # Pillow writes RGBA BMPs that read back as RGB
}
HOLDS_16 = {fmt for fmt, (_, deep) in FIT.items() if deep}
_SRGB = None


def srgb_profile() -> bytes:
    """The sRGB ICC profile LittleCMS builds (588 bytes), carried by converted pictures."""
    global _SRGB
    if _SRGB is None:
        _SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return _SRGB


def to_8bit(pixels: np.ndarray) -> np.ndarray:
    """uint16 → uint8 by rounding ``v / 257`` (65535 → 255, 1000 → 4); uint8 unchanged."""
    if pixels.dtype == np.uint8:
        return pixels
    return ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)


def with_key(pixels: np.ndarray, key: object, scale: float = 1.0) -> np.ndarray | None:
    """``pixels`` (H, W, C) with an alpha channel from a colour key, or None when ``key``
    is not one key of C samples."""
    values = key if isinstance(key, tuple) else (key,)
    if len(values) != pixels.shape[2] or not all(isinstance(v, int) for v in values):
        return None
    full = np.iinfo(pixels.dtype).max
    target = np.array([round(v * scale) for v in values], dtype=np.int64)
    hidden = np.all(pixels == target, axis=2)
    alpha = np.where(hidden, 0, full).astype(pixels.dtype)
    return np.concatenate([pixels, alpha[:, :, None]], axis=2)


def _tiff_tag(img: Image.Image, tag: int, default: int | None) -> int | None:
    """The first value of a TIFF tag of ``img`` (``default`` when absent or not a TIFF)."""
    tags = getattr(img, "tag_v2", None) if img.format == "TIFF" else None
    value = tags.get(tag, default) if tags is not None else default
    if isinstance(value, tuple):
        value = value[0] if value else default
    return value if isinstance(value, int) else default


def _deep_samples(arr: np.ndarray, kind: str, notes: list[str], sign: str = "") -> np.ndarray:
    """Integer or float samples (``kind``: "32-bit float", "8-bit integer"; ``sign``:
    "signed", "unsigned" or "" where the file does not say) as uint16, by the rule in the
    module docstring."""
    values = arr.astype(np.float64)
    if not np.isfinite(values).all():
        bad = int((~np.isfinite(values)).sum())
        raise BadImageError(
            f"{bad} of {values.size} float samples are NaN or infinite; no pixel level "
            "stands for them (convert the file to 16-bit first)"
        )
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if lo >= 0 and hi <= 1:
        scaled, how = values * 65535, "0..1 × 65535"
    elif lo >= 0 and hi <= 255:
        scaled, how = values * 257, "0..255 × 257"
    elif lo >= 0 and hi <= 65535:
        scaled, how = values, "0..65535 kept"
    else:
        scaled = (values - lo) * (65535 / (hi - lo)) if hi > lo else values * 0
        how = f"{lo:g}..{hi:g} stretched linearly to 0..65535"
    notes.append(f"{kind} samples read as 16-bit ({sign + '; ' if sign else ''}{how})")
    return np.clip(np.rint(scaled), 0, 65535).astype(np.uint16)


def _cmyk_to_rgb(
    img: Image.Image, icc: bytes | None, notes: list[str]
) -> tuple[Image.Image, bytes | None]:
    """``img`` (CMYK) in RGB and the profile it is then in: through its ICC profile by
    LittleCMS where there is one it can use, else naively; a note either way."""
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            rgb = ImageCms.profileToProfile(
                img,
                source,
                ImageCms.createProfile("sRGB"),
                renderingIntent=ImageCms.Intent.PERCEPTUAL,
                outputMode="RGB",
            )
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as e:
            reason = " ".join(str(e).split()) or type(e).__name__
            notes.append(
                f"CMYK converted to RGB naively: its ICC profile cannot be used ({reason})"
            )
        else:
            notes.append("CMYK converted to RGB through its ICC profile (sRGB, perceptual)")
            return rgb, srgb_profile()
    else:
        notes.append("CMYK converted to RGB naively: the file has no ICC profile")
    return img.convert("RGB"), None


def from_pil(
    img: Image.Image, low_bits: int | None = None
) -> tuple[np.ndarray, bytes | None, list[str]]:
    """``(pixels, icc, notes)`` of a loaded Pillow image: pixels ``(H, W, C)`` uint8 or
    uint16 (C = 1–4, L/LA/RGB/RGBA), the ICC profile the pixels are in (None: untagged),
    and notes on any conversion. ``low_bits``: the file's bits per grey sample where it
    has fewer than 8 (PNG), to scale a colour key as Pillow scales the samples.
    Raises :class:`BadImageError` for float samples that are NaN or infinite."""
    notes: list[str] = []
    icc = img.info.get("icc_profile") or None
    key = img.info.get("transparency")
    scale = 1.0
    # A TIFF's own description of its samples, which Pillow's mode does not always follow.
    bits, sample_format = _tiff_tag(img, 258, None), _tiff_tag(img, 339, None)
    signed8 = img.mode == "L" and bits == 8 and sample_format == 2
    if img.mode in SIXTEEN_BIT or img.mode in {"I", "F"} or signed8:
        arr, key_holds = _deep_pixels(img, signed8, notes)
        key = key if key_holds else None
    else:
        arr, icc, key, scale = _eight_bit_pixels(img, icc, key, low_bits, notes)
    if key is not None and arr.shape[2] in (1, 3):
        keyed = with_key(arr, key, scale)
        if keyed is not None:
            arr = keyed
    return np.ascontiguousarray(arr), icc, notes


def _deep_pixels(img: Image.Image, signed8: bool, notes: list[str]) -> tuple[np.ndarray, bool]:
    """:func:`from_pil`'s ``(H, W, 1)`` uint16 pixels of an image of 16-bit, 32-bit integer
    or float samples, or a TIFF's signed 8-bit ones (``signed8``), and whether a colour key
    still applies to them."""
    mode = img.mode
    photometric = _tiff_tag(img, 262, None)
    bits, sample_format = _tiff_tag(img, 258, None), _tiff_tag(img, 339, None)
    keyed = True
    arr = np.asarray(img)
    if mode == "F":
        arr = _deep_samples(arr, f"{bits if bits in (16, 64) else 32}-bit float", notes)
    elif mode == "I" or signed8:
        if signed8:
            arr = arr.view(np.int8)  # Pillow reads the bytes as unsigned: -100 as 156
        elif bits == 32 and sample_format in (None, 1):
            arr = arr.view(np.uint32)  # Pillow reads them as signed: 4e9 as negative
        sign = ("signed" if sample_format == 2 else "unsigned") if bits else ""
        arr = _deep_samples(arr, f"{bits or 32}-bit integer", notes, sign)
    if mode in {"I", "F"} or signed8:
        keyed = False  # a key on 32-bit samples: no file format srup reads stores one
    arr = arr.astype(np.uint16, copy=False)[:, :, None]
    if photometric == 0:  # MinIsWhite: 0 is white (Pillow inverts only 1 and 8 bits)
        arr = 65535 - arr
        keyed = False
    return arr, keyed


def _eight_bit_pixels(
    img: Image.Image, icc: bytes | None, key: object, low_bits: int | None, notes: list[str]
) -> tuple[np.ndarray, bytes | None, object, float]:
    """:func:`from_pil` for an image of 8-bit samples (or fewer): ``(pixels, icc, key,
    scale)``, the pixels ``(H, W, C)`` uint8 in one of the four layouts, the profile they
    are in, the colour key that still applies and the scale of its samples."""
    mode = img.mode
    scale = 1.0
    if mode == "CMYK":
        if _tiff_tag(img, 258, None) == 16:
            notes.append("16-bit CMYK samples read at 8 bits: Pillow reads CMYK at 8")
        img, icc = _cmyk_to_rgb(img, icc, notes)
    elif mode in {"P", "PA"}:
        img = img.convert("RGBA" if mode == "PA" or key is not None else "RGB")
        key = None
    elif mode == "1":
        img = img.convert("L")  # Pillow's key for "1" is already 0 or 255
    elif mode == "La":
        img = img.convert("LA")
    elif mode == "RGBa":
        img = img.convert("RGBA")
    elif mode == "LAB":
        img = img.convert("RGB")
        icc = srgb_profile()
        notes.append("Lab converted to sRGB")
    elif mode not in {"L", "LA", "RGB", "RGBA"}:
        img = img.convert("RGBA" if "A" in mode else "RGB")
    if mode == "L" and low_bits and low_bits < 8:
        scale = 255.0 / ((1 << low_bits) - 1)
    arr = np.asarray(img)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return arr, icc, key, scale


def shape_of(img: Image.Image) -> tuple[int, int]:
    """``(channels, bytes per sample)`` of the pixels :func:`from_pil` makes of ``img``,
    from its mode and header alone (for an estimate before decoding)."""
    mode, keyed = img.mode, "transparency" in img.info
    if mode in SIXTEEN_BIT:
        return (2 if keyed else 1), 2
    if mode in {"I", "F"} or (mode == "L" and _tiff_tag(img, 339, None) == 2):
        return 1, 2
    if mode in {"1", "L"}:
        return (2 if keyed else 1), 1
    if mode in {"LA", "La"}:
        return 2, 1
    if mode in {"P", "RGB"}:
        return (4 if keyed else 3), 1
    if mode in {"PA", "RGBA", "RGBa"}:
        return 4, 1
    return (4 if "A" in mode else 3), 1


def flatten(pixels: np.ndarray, background: tuple[int, int, int]) -> np.ndarray:
    """``(H, W, 2|4)`` grey/colour with straight alpha → ``(H, W, 1|3)`` composited "over"
    an opaque ``background`` (RGB, 0–255), same dtype: ``a·C + (1 − a)·B``, rounded. Grey
    onto a coloured background becomes RGB."""
    full = float(np.iinfo(pixels.dtype).max)
    colour = pixels[..., :-1].astype(np.float64)
    alpha = pixels[..., -1:].astype(np.float64) / full
    bg = np.array(background, np.float64) * (full / 255.0)
    if colour.shape[2] == 1:
        if bg[0] == bg[1] == bg[2]:
            bg = bg[:1]
        else:
            colour = np.repeat(colour, 3, axis=2)
    out = colour * alpha + bg * (1.0 - alpha)
    return np.clip(np.rint(out), 0, full).astype(pixels.dtype)


def fit(
    pixels: np.ndarray, fmt: str, background: tuple[int, int, int] = (255, 255, 255)
) -> tuple[np.ndarray, list[str]]:
    """``pixels`` (H, W, 1–4) uint8/uint16 in a layout and depth ``fmt`` holds, and notes
    on what changed: 16 bits rounded to 8, alpha flattened onto ``background`` (only noted
    when some pixel was not fully opaque: an opaque alpha channel carries nothing)."""
    notes: list[str] = []
    holds8, holds16 = FIT[fmt]
    if pixels.dtype == np.uint16 and not holds16:
        pixels = to_8bit(pixels)
        notes.append(f"16-bit samples rounded to 8 bits: {fmt} holds 8")
    holds = holds16 if pixels.dtype == np.uint16 else holds8
    layout = LAYOUTS[pixels.shape[2]]
    if layout in holds:
        return pixels, notes
    if layout in {"LA", "RGBA"} and not {"LA", "RGBA"} & holds:
        opaque = bool((pixels[..., -1] == np.iinfo(pixels.dtype).max).all())
        if not opaque:
            hexa = "#{:02x}{:02x}{:02x}".format(*background)
            notes.append(f"transparency flattened onto {hexa}: {fmt} has no alpha")
        pixels = flatten(pixels, background)
        layout = LAYOUTS[pixels.shape[2]]
    if layout not in holds:  # grey where only colour is held: the same picture in RGB
        if layout == "LA":
            depth = "16-bit " if pixels.dtype == np.uint16 else ""
            notes.append(f"{depth}grey with alpha written as RGBA: {fmt} holds no such layout")
        grey, alpha = pixels[..., :1], pixels[..., 1:]
        pixels = np.concatenate([grey, grey, grey, alpha], axis=2)
    return np.ascontiguousarray(pixels), notes
