"""Options and values more than one command shares (pip's ``cmdoptions``): ``--debug`` on a
command, the engine's ``--precision``/``--device``/``--tile``, and the parsers that turn an
argument's text into its value, each failing as a usage error (exit 2) that names the option."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

import click

from srup.choices import MIN_TILE
from srup.cli.group import set_debug
from srup.errors import SrupError

if TYPE_CHECKING:
    from srup.runtime.tilers.tiler import TileSize

__all__ = [
    "ByteSize",
    "background",
    "debug_option",
    "degradation",
    "denoise",
    "engine_options",
    "ray_address",
    "scales",
    "shard",
    "tile",
]

# `srup upscale ... --debug` as `srup --debug upscale ...`: where users type it.
debug_option = click.option(
    "--debug",
    is_flag=True,
    expose_value=False,
    callback=set_debug,
    help="Show the Python traceback of every error (as srup --debug or SRUP_DEBUG=1).",
)


def engine_options(f, precision: str = "auto"):
    """``--precision``, ``--device`` and ``--tile``, as upscale and benchmark take them."""
    from srup.devices import PRECISIONS

    f = click.option(
        "--precision",
        default=precision,
        show_default=True,
        type=click.Choice(PRECISIONS),
        help="Arithmetic precision of the network (auto: fp32 on CPUs, where it is exact and "
        "tile-independent; fp16 on GPUs; int8: CPU only, by name only, for the weight sets "
        "srup models marks).",
    )(f)
    f = click.option(
        "--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps."
    )(f)
    f = click.option(
        "--tile",
        default="auto",
        show_default=True,
        help=f"Input tile side in pixels (at least {MIN_TILE}); 0 = whole image; "
        "auto = memory budget.",
    )(f)
    return f


def scales(value: str) -> list[int]:
    """``-s 2,3,4`` as ``[2, 3, 4]``: whole numbers of at least 2, sorted, once each."""
    try:
        found = sorted({int(v) for v in value.split(",") if v.strip()})
    except ValueError:
        raise click.BadParameter(f"{value!r}: give scales like 2,3,4") from None
    if not found or min(found) < 2:
        raise click.BadParameter(f"{value!r}: scales are integers of at least 2")
    return found


def degradation(value: str) -> str:
    """A degradation spec, checked here so that a bad one is a usage error."""
    from srup.data.degrade import parse

    try:
        return parse(value).spec()
    except SrupError as e:
        raise click.BadParameter(str(e), param_hint="--degradation") from None


def tile(value: str) -> TileSize:
    """``--tile``: ``auto``, 0 (the whole image) or a side of at least ``MIN_TILE`` pixels,
    parsed once, as the :class:`~srup.runtime.tilers.tiler.TileSize` the runtime takes."""
    from srup.runtime.tilers.tiler import TileSize

    if value == "auto":
        return TileSize.AUTO
    try:
        side = int(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: give a number of pixels, 0 or auto", param_hint="--tile"
        ) from None
    if side < 0:
        raise click.BadParameter("tile size cannot be negative", param_hint="--tile")
    if 0 < side < MIN_TILE:
        # Each tile also reads the network's receptive radius (up to 9 px) on every side,
        # and srup.runtime.tilers.plan widens every read to 32 px anyway: smaller tiles only
        # multiply the tiles (--tile 1 would turn a photo into an hour of work).
        raise click.BadParameter(
            f"{side}: tiles are at least {MIN_TILE} pixels (0 = whole image, auto = by memory)",
            param_hint="--tile",
        )
    return TileSize.parse(side)


def shard(_ctx: click.Context, _param: click.Parameter, value: str | None):
    """``--shard K/N`` as ``(K, N)``: whole numbers, ``1 <= K <= N``."""
    if value is None:
        return None
    match = re.fullmatch(r"([0-9]+)/([0-9]+)", value.strip())
    if match is None or int(match[2]) < 1:
        raise click.BadParameter(f"{value!r}: give K/N, such as 2/8 (N at least 1)")
    k, n = int(match[1]), int(match[2])
    if not 1 <= k <= n:
        raise click.BadParameter(f"{value!r}: K goes from 1 to N ({n})")
    return k, n


def ray_address(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """``--ray [ADDRESS]``: None without it, ``""`` alone (Ray's own rule), else an address
    Ray takes (``auto``, ``local``, ``HOST:PORT``, ``ray://HOST:PORT``). Anything else is
    most likely an input that followed a bare ``--ray`` (``--ray in/ -o out/``): a usage
    error saying so, rather than a connection attempt to ``in/``."""
    if value is None or value == "" or value in ("auto", "local") or ":" in value:
        return value
    raise click.BadParameter(
        f"{value!r} is not a Ray address (auto, local, HOST:PORT, ray://HOST:PORT); "
        "write --ray=ADDRESS, or put a bare --ray after the inputs",
        param_hint="--ray",
    )


def denoise(_ctx: click.Context, _param: click.Parameter, value: str) -> str | float:
    """``--denoise``: ``auto`` or a number from 0 to 1."""
    if value.strip().lower() == "auto":
        return "auto"
    try:
        number = float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: give auto or a number from 0 to 1") from None
    if not 0.0 <= number <= 1.0:  # NaN fails this too
        raise click.BadParameter(f"{value!r}: give auto or a number from 0 to 1")
    return number + 0.0  # -0 is 0


def background(value: str) -> tuple[int, int, int]:
    """``--background``: a colour name or #rrggbb (Pillow's ImageColor) → RGB 0–255."""
    from PIL import ImageColor

    try:
        rgb = ImageColor.getrgb(value.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: give a colour name (white, black, gray, ...) or #rrggbb",
            param_hint="--background",
        ) from None
    if len(rgb) == 4 and rgb[3] != 255:
        raise click.BadParameter(
            f"{value!r}: a background is opaque; give #rrggbb", param_hint="--background"
        )
    return rgb[0], rgb[1], rgb[2]


class ByteSize(click.ParamType):
    """A size in bytes: a number with an optional K, M, G or T (powers of 1024, an optional
    B or iB after it): ``8G``, ``512MiB``, ``1.5g``, ``0``."""

    name = "size"
    _UNITS: ClassVar[dict[str, int]] = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().upper().removesuffix("IB").removesuffix("B")
        unit = text[-1:] if text[-1:] in self._UNITS else ""
        number = text[: len(text) - len(unit)].strip()
        try:
            size = float(number) * self._UNITS[unit]
        except ValueError:
            self.fail(f"{value!r}: give a size such as 8G, 512M or 0 (no limit)", param, ctx)
        if not size >= 0 or size == float("inf"):
            self.fail(f"{value!r}: a size is a positive number", param, ctx)
        return int(size)
