"""Degradations as data: how an LR picture is made from an HR one.

A :class:`Degradation` is a frozen description, parsed from a spec string and written back
as one, so it can go into a weights header, be shown by ``srup models`` and be given to
``srup benchmark``. ``clean`` is the papers' protocol (MATLAB bicubic only); ``real`` is a
camera: blur, a downscale by one of several kernels, sensor noise and JPEG, each drawn per
picture from a seeded generator, so the same seed gives the same LR bit for bit.

Spec grammar: a preset name, then ``,key=value`` overrides; ranges are ``lo:hi``::

    clean                      the SR papers' protocol
    real                       camera and phone input (the preset below)
    phone                      one fixed phone photo: blur σ 0.7, noise σ 3, JPEG 75
    real,jpeg=75:75,noise=0    only JPEG at quality 75 and the preset's blur
    clean,jpeg=75:75           MATLAB bicubic, then JPEG 75 (the benchmark's "JPEG LR")

Keys: ``blur`` (probability), ``sigma`` (HR pixels, lo:hi), ``aniso`` (probability that a
blur is anisotropic), ``resize`` (weights for bicubic/area/bilinear, e.g. ``6/2/2``),
``noise`` (probability), ``nsigma`` (Gaussian σ in 8-bit levels, lo:hi), ``poisson``
(probability that noise is Poisson-like instead), ``gray`` (probability that noise is the
same in every channel), ``jpeg`` (quality lo:hi), ``pjpeg`` (probability), ``second``
(probability of a second round of blur, noise and JPEG at LR size, as Real-ESRGAN does).
The capture keys model a handheld phone photo, each step at LR size (the photo's own
pixels) after the downscale: ``motion`` (probability of motion blur, a line kernel) and
``mlen`` (its length in LR pixels, lo:hi, at an angle drawn from 0 to π), ``defocus``
(probability of a disc kernel) and ``radius`` (LR pixels, lo:hi; motion and defocus never
both), ``sharpen`` (probability of the phone's unsharp mask, amount 0.3–1.2, σ 1 LR
pixel), ``chroma`` (probability of blotchy colour noise: Cb/Cr noise of ``csigma`` levels,
lo:hi, blurred by σ 0.5–1.5 pixels, as a phone's demosaicking and noise reduction leave it).
Naming a range (``jpeg``, ``sigma``, ``nsigma``, ``mlen``, ``radius``, ``csigma``) whose
step is off turns it on.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, fields, replace

import numpy as np

from srup.errors import InvalidArgument
from srup.imaging.resize import imresize

__all__ = ["PRESETS", "Degradation", "parse"]

RESIZERS = ("bicubic", "area", "bilinear")


@dataclass(frozen=True)
class Degradation:
    """Probabilities are per picture; ranges are drawn uniformly (JPEG quality as an int)."""

    blur: float = 0.0
    sigma: tuple[float, float] = (0.2, 1.5)
    aniso: float = 0.0
    resize: tuple[float, float, float] = (1.0, 0.0, 0.0)
    noise: float = 0.0
    nsigma: tuple[float, float] = (1.0, 8.0)
    poisson: float = 0.0
    gray: float = 0.4
    pjpeg: float = 0.0
    jpeg: tuple[float, float] = (30.0, 95.0)
    second: float = 0.0
    motion: float = 0.0
    mlen: tuple[float, float] = (2.0, 8.0)
    defocus: float = 0.0
    radius: tuple[float, float] = (0.5, 2.5)
    sharpen: float = 0.0
    chroma: float = 0.0
    csigma: tuple[float, float] = (2.0, 8.0)

    @property
    def captures(self) -> bool:
        """True when a capture step (motion, defocus, sharpening, chroma noise) may run."""
        return bool(self.motion or self.defocus or self.sharpen or self.chroma)

    @property
    def is_clean(self) -> bool:
        """True when the LR is exactly the papers' MATLAB bicubic."""
        return (
            self.blur == 0
            and self.noise == 0
            and self.pjpeg == 0
            and self.second == 0
            and not self.captures
            and self.resize[1] == self.resize[2] == 0
        )

    def spec(self) -> str:
        """The shortest spec string that parses back to this degradation."""
        for name, preset in PRESETS.items():
            if preset == self:
                return name
        base_name, base = min(PRESETS.items(), key=lambda kv: len(_diff(kv[1], self)))
        return ",".join([base_name, *_diff(base, self)])

    def __str__(self) -> str:
        return self.spec()

    def _draw(self, rng: np.random.Generator) -> tuple:
        """One picture's choices, in a fixed order. Every draw is made whether or not it is
        used: one picture's choices then never shift the random stream of the next. The
        capture draws come after the others and only when a capture step is on, so presets
        without one draw exactly what they drew before those steps existed."""
        u = rng.random(8)
        sig = rng.uniform(*self.sigma, size=2)
        theta = rng.uniform(0, math.pi)
        kind = rng.choice(len(RESIZERS), p=np.asarray(self.resize) / sum(self.resize))
        nsig = rng.uniform(*self.nsigma)
        quality = round(float(rng.uniform(*self.jpeg)))
        noise_seed = int(rng.integers(2**63))
        return u, sig, theta, kind, nsig, quality, noise_seed

    def _draw_capture(self, rng: np.random.Generator) -> dict | None:
        if not self.captures:
            return None
        u = rng.random(4)
        return {
            "blur": (
                "motion"
                if u[0] < self.motion
                else "defocus"
                if u[0] < self.motion + (1 - self.motion) * self.defocus
                else None
            ),
            "length": float(rng.uniform(*self.mlen)),
            "angle": float(rng.uniform(0, math.pi)),
            "radius": float(rng.uniform(*self.radius)),
            "sharpen": u[1] < self.sharpen,
            "amount": float(rng.uniform(0.3, 1.2)),
            "chroma": u[2] < self.chroma,
            "csigma": float(rng.uniform(*self.csigma)),
            "cblur": float(rng.uniform(0.5, 1.5)),
            "seed": int(rng.integers(2**63)),
        }

    def apply(self, hr: np.ndarray, scale: int, rng: np.random.Generator) -> np.ndarray:
        """``(H, W, 3)`` uint8 RGB HR, H and W multiples of ``scale`` → ``(H/s, W/s, 3)``
        uint8 LR. Draws from ``rng`` in a fixed order, so a seed fixes the result."""
        u, sig, theta, kind, nsig, quality, noise_seed = self._draw(rng)
        img = hr.astype(np.float32)
        if u[0] < self.blur:
            aniso = u[1] < self.aniso
            img = _blur(img, _gaussian_kernel(sig[0], sig[1] if aniso else sig[0], theta))
            img = np.clip(np.rint(img), 0, 255)
        lr = _downscale(img.astype(np.uint8), scale, RESIZERS[kind])
        return self._after_resize(lr, rng, u, nsig, quality, noise_seed)

    @property
    def resizes_like_matlab(self) -> bool:
        """True when the LR before noise and JPEG is plain MATLAB bicubic, so a data set's
        own LR images (made by MATLAB) can stand for it."""
        return self.blur == 0 and self.resize[1] == self.resize[2] == 0

    def apply_to_lr(self, lr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The steps after the resize (noise, JPEG, second round) on ``(h, w, 3)`` uint8 RGB
        LR, drawing from ``rng`` exactly as :meth:`apply` does."""
        u, _, _, _, nsig, quality, noise_seed = self._draw(rng)
        return self._after_resize(lr, rng, u, nsig, quality, noise_seed)

    def _after_resize(self, lr, rng, u, nsig, quality, noise_seed) -> np.ndarray:
        cap = self._draw_capture(rng)
        if cap is not None:
            lr = _capture_optics(lr, cap)
        if u[2] < self.noise:
            lr = _noise(lr, nsig, u[3] < self.poisson, u[4] < self.gray, noise_seed)
        if cap is not None and cap["chroma"]:
            lr = chroma_noise(lr, cap["csigma"], cap["cblur"], cap["seed"])
        if u[5] < self.pjpeg:
            lr = _jpeg(lr, quality)
        if u[6] < self.second:
            lr = self._second_round(lr, rng)
        return lr

    def _second_round(self, lr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A milder blur, noise and JPEG again at LR size: a picture that was compressed,
        resized and compressed again on its way to the user."""
        sig = rng.uniform(0.2, max(0.3, self.sigma[1] / 2))
        nsig = rng.uniform(self.nsigma[0], max(self.nsigma[0], self.nsigma[1] / 2))
        quality = round(float(rng.uniform(max(self.jpeg[0], 50), 95)))
        seed = int(rng.integers(2**63))
        img = _blur(lr.astype(np.float32), _gaussian_kernel(sig, sig, 0.0))
        out = _noise(np.clip(np.rint(img), 0, 255).astype(np.uint8), nsig, False, True, seed)
        return _jpeg(out, quality)


def _gaussian_kernel(sx: float, sy: float, theta: float) -> np.ndarray:
    """A normalised 2-D Gaussian with standard deviations ``sx``, ``sy`` along axes turned
    by ``theta``; side ``2·ceil(3σ)+1``."""
    radius = max(1, math.ceil(3 * max(sx, sy)))
    ax = np.arange(-radius, radius + 1, dtype=np.float64)
    xx, yy = np.meshgrid(ax, ax)
    c, s = math.cos(theta), math.sin(theta)
    u, v = c * xx + s * yy, -s * xx + c * yy
    k = np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2))
    return (k / k.sum()).astype(np.float32)


def motion_kernel(length: float, angle: float) -> np.ndarray:
    """A normalised line kernel: a straight handheld shake of ``length`` pixels (≥ 1) at
    ``angle`` radians, drawn anti-aliased by sampling the segment finely; odd side."""
    length = max(1.0, float(length))
    radius = math.ceil(length / 2) + 1
    side = 2 * radius + 1
    k = np.zeros((side, side), np.float64)
    c, s = math.cos(angle), math.sin(angle)
    for t in np.linspace(-(length - 1) / 2, (length - 1) / 2, max(2, int(length * 8))):
        x, y = radius + t * c, radius + t * s
        x0, y0 = math.floor(x), math.floor(y)
        fx, fy = x - x0, y - y0
        k[y0, x0] += (1 - fx) * (1 - fy)
        k[y0, x0 + 1] += fx * (1 - fy)
        k[y0 + 1, x0] += (1 - fx) * fy
        k[y0 + 1, x0 + 1] += fx * fy
    return (k / k.sum()).astype(np.float32)


def disc_kernel(radius: float) -> np.ndarray:
    """A normalised disc (defocus) of ``radius`` pixels, edges weighted by coverage
    (4×4 supersampling); odd side."""
    radius = max(0.25, float(radius))
    r = math.ceil(radius)
    sub = (np.arange(4) + 0.5) / 4 - 0.5
    ax = np.arange(-r, r + 1, dtype=np.float64)
    xx = (ax[None, :, None, None] + sub[None, None, None, :]).repeat(len(ax), 0)
    yy = (ax[:, None, None, None] + sub[None, None, :, None]).repeat(len(ax), 1)
    k = ((xx**2 + yy**2) <= radius * radius).mean(axis=(2, 3))
    return (k / k.sum()).astype(np.float32)


def filter_image(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``(H, W, C)`` uint8 or float32 convolved with ``kernel`` (turned a half turn, so it is
    a convolution), edges mirrored (reflect-101), float32 out. OpenCV, which switches to a
    DFT for large kernels."""
    import cv2

    flipped = np.ascontiguousarray(kernel[::-1, ::-1])
    out = cv2.filter2D(img.astype(np.float32), -1, flipped, borderType=cv2.BORDER_REFLECT_101)
    return out.reshape(img.shape)


def _capture_optics(lr: np.ndarray, cap: dict) -> np.ndarray:
    """The handheld camera's blur (motion or defocus) and the phone's sharpening."""
    img = lr.astype(np.float32)
    if cap["blur"] == "motion":
        img = filter_image(img, motion_kernel(cap["length"], cap["angle"]))
    elif cap["blur"] == "defocus":
        img = filter_image(img, disc_kernel(cap["radius"]))
    if cap["sharpen"]:
        soft = filter_image(img, _gaussian_kernel(1.0, 1.0, 0.0))
        img = img + cap["amount"] * (img - soft)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def chroma_noise(lr: np.ndarray, sigma: float, blur: float, seed: int) -> np.ndarray:
    """Blotchy colour noise: Gaussian noise of ``sigma`` levels on Cb and Cr (BT.601),
    blurred by a Gaussian of ``blur`` pixels and rescaled to keep ``sigma``; luma untouched.
    ``(H, W, 3)`` uint8 RGB in and out."""
    rng = np.random.default_rng(seed)
    n = rng.standard_normal((*lr.shape[:2], 2), dtype=np.float32)
    if blur > 0:
        n = filter_image(n, _gaussian_kernel(blur, blur, 0.0))
        n = n / max(float(n.std()), 1e-6)
    cb, cr = n[..., 0] * np.float32(sigma), n[..., 1] * np.float32(sigma)
    # RGB offsets of a pure (Cb, Cr) change with Y fixed (BT.601 inverse).
    delta = np.stack([1.402 * cr, -0.344136 * cb - 0.714136 * cr, 1.772 * cb], axis=-1)
    return np.clip(np.rint(lr.astype(np.float32) + delta), 0, 255).astype(np.uint8)


def _blur(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``(H, W, C)`` float32 convolved with ``kernel``, edges mirrored."""
    from scipy.ndimage import correlate

    # The kernel is symmetric under a half turn, so correlation is convolution.
    return correlate(img, kernel[:, :, None], mode="mirror")


def _downscale(img: np.ndarray, scale: int, kind: str) -> np.ndarray:
    if kind == "bicubic":
        return imresize(img, 1 / scale)
    from PIL import Image

    h, w = img.shape[:2]
    method = Image.Resampling.BOX if kind == "area" else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(img).resize((w // scale, h // scale), method))


def _noise(lr: np.ndarray, sigma: float, poisson: bool, gray: bool, seed: int) -> np.ndarray:
    """Gaussian noise of ``sigma`` levels, or Poisson-like noise whose σ grows with the
    square root of the level (``sigma`` at mid-grey), as a sensor's shot noise does."""
    rng = np.random.default_rng(seed)
    shape = lr.shape[:2] + ((1,) if gray else lr.shape[2:])
    n = rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma)
    img = lr.astype(np.float32)
    if poisson:
        level = img.mean(axis=2, keepdims=True) if gray else img
        n = n * np.sqrt(np.maximum(level, 1.0) / 128.0)
    return np.clip(np.rint(img + n), 0, 255).astype(np.uint8)


def _jpeg(lr: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(lr).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"))


PRESETS: dict[str, Degradation] = {
    "clean": Degradation(),
    # Phone photos of boards and documents: mild blur half the time, sensor noise of a few
    # levels, JPEG from middling to good. A wider range (σ up to 1.5, noise up to 8, JPEG
    # from 30, a second round) cost FSRCNN ×3 0.15 dB on JPEG-75 input and 0.4 dB on clean
    # input on Set5 for no gain on phone-like input (weights/README.md).
    "real": Degradation(
        blur=0.5,
        sigma=(0.2, 1.0),
        aniso=0.2,
        resize=(0.8, 0.1, 0.1),
        noise=0.5,
        nsigma=(1.0, 5.0),
        poisson=0.3,
        gray=0.4,
        pjpeg=0.9,
        jpeg=(50.0, 95.0),
        second=0.0,
    ),
    # Handheld phone captures of boards: motion blur of 1–6 LR pixels or defocus of 0.5–2.5
    # a good share of the time, the phone's sharpening, shot and read noise with blotchy
    # chroma noise, JPEG 40–90 (4:2:0, Pillow's default), sometimes compressed twice.
    "capture": Degradation(
        blur=0.4,
        sigma=(0.2, 1.2),
        aniso=0.3,
        resize=(0.5, 0.3, 0.2),
        noise=0.7,
        nsigma=(1.0, 6.0),
        poisson=0.5,
        gray=0.3,
        pjpeg=0.95,
        jpeg=(40.0, 90.0),
        second=0.15,
        motion=0.35,
        mlen=(1.0, 6.0),
        defocus=0.25,
        radius=(0.5, 2.5),
        sharpen=0.4,
        chroma=0.5,
        csigma=(1.0, 6.0),
    ),
    # The legibility benchmark's phone photo: blur σ 0.7, colour noise σ 3, JPEG 75.
    "phone": Degradation(
        blur=1.0, sigma=(0.7, 0.7), noise=1.0, nsigma=(3.0, 3.0), gray=0.0, pjpeg=1.0, jpeg=(75, 75)
    ),
}


_SWITCHES = {
    "jpeg": "pjpeg",
    "sigma": "blur",
    "nsigma": "noise",
    "mlen": "motion",
    "radius": "defocus",
    "csigma": "chroma",
}


def _fmt(value: object) -> str:
    if isinstance(value, tuple):
        if len(value) == 3:
            return "/".join(f"{v:g}" for v in value)
        return f"{value[0]:g}:{value[1]:g}"
    return f"{value:g}"


def _diff(base: Degradation, other: Degradation) -> list[str]:
    changed = [
        f.name for f in fields(Degradation) if getattr(base, f.name) != getattr(other, f.name)
    ]
    # A switch turned on by naming its range goes without saying (see parse).
    implied = {
        switch
        for key, switch in _SWITCHES.items()
        if key in changed and getattr(base, switch) == 0 and getattr(other, switch) == 1
    }
    return [f"{k}={_fmt(getattr(other, k))}" for k in changed if k not in implied]


def _number(key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidArgument(f"degradation {key}={text!r}: not a number") from None
    if not math.isfinite(value) or value < 0:
        raise InvalidArgument(f"degradation {key}={text!r}: must be a non-negative number")
    return value


def parse(spec: str | Degradation | None) -> Degradation:
    """A :class:`Degradation` from a spec string (see the module doc); ``None`` → clean.
    :class:`~srup.errors.InvalidArgument` for a spec that means nothing."""
    if spec is None:
        return PRESETS["clean"]
    if isinstance(spec, Degradation):
        return spec
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts:
        return PRESETS["clean"]
    head, overrides = parts[0], parts[1:]
    if "=" in head:
        head, overrides = "clean", parts
    if head not in PRESETS:
        raise InvalidArgument(
            f"unknown degradation {head!r}; use one of {', '.join(PRESETS)}, "
            "optionally followed by ,key=value"
        )
    deg = PRESETS[head]
    known = {f.name: f for f in fields(Degradation)}
    given = set()
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in known:
            raise InvalidArgument(
                f"degradation {item!r}: expected key=value with key one of {', '.join(known)}"
            )
        deg = replace(deg, **{key: _value(key, value, getattr(deg, key))})
        given.add(key)
    # Naming a range switches its step on ("clean,jpeg=75" means JPEG 75 every time),
    # unless its probability was given too.
    for key, switch in _SWITCHES.items():
        if key in given and switch not in given and getattr(deg, switch) == 0:
            deg = replace(deg, **{switch: 1.0})
    return deg


def _value(key: str, value: str, current: object) -> object:
    """The override ``key=value`` of a field now ``current``: three weights (``6/2/2``), a
    range (``lo:hi``, or one number for both ends) or a probability."""
    if isinstance(current, tuple) and len(current) == 3:
        ws = [_number(key, v) for v in value.split("/")]
        if len(ws) != 3 or sum(ws) <= 0:
            raise InvalidArgument(f"degradation {key}={value!r}: give three weights like 6/2/2")
        return tuple(ws)
    if isinstance(current, tuple):
        lo_s, colon, hi_s = value.partition(":")
        lo = _number(key, lo_s)
        # "50:" is a range without its high end, not 50:50: refused, like ":50".
        hi = _number(key, hi_s) if colon else lo
        if lo > hi:
            raise InvalidArgument(f"degradation {key}={value!r}: low end above high end")
        if key == "jpeg" and not (lo >= 1 and hi <= 100):
            raise InvalidArgument(f"degradation jpeg={value!r}: quality is 1 to 100")
        if key in ("sigma", "radius") and lo <= 0:
            raise InvalidArgument(f"degradation sigma={value!r}: σ must be above 0")
        return (lo, hi)
    p = _number(key, value)
    if p > 1:
        raise InvalidArgument(f"degradation {key}={value!r}: a probability is at most 1")
    return p
