"""`srup benchmark`: every data set × scale × model, scored by :mod:`srup.evaluation.protocol`."""

from __future__ import annotations

import csv
import json
import math
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from srup.data.datasets import Dataset, discover
from srup.errors import OutputError, UnknownModelError
from srup.evaluation import protocol as bm
from srup.files import OutputExistsError
from srup.models import registry
from srup.models.catalog import model_names
from srup.models.descriptor import weights_scale
from srup.models.weights import shipped, split_name

__all__ = ["BenchmarkResult", "BenchmarkRun"]

FIELDS = [
    "dataset",
    "scale",
    "model",
    "psnr",
    "ssim",
    "mse",
    "delta_psnr",
    "seconds",
    "mp_per_s",
    "images",
]


@dataclass
class BenchmarkResult:
    results: list[dict[str, Any]] = field(default_factory=list)
    per_image: list[dict[str, Any]] = field(default_factory=list)
    # What produced the numbers: srup and torch versions, device, precision, degradation.
    meta: dict[str, Any] = field(default_factory=dict)
    # What a reader of the numbers should know (images SSIM is not defined on); also in
    # the JSON's meta.
    notes: list[str] = field(default_factory=list)

    def grouped(self) -> dict[tuple[str, int], list[dict[str, Any]]]:
        groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for r in self.results:
            groups.setdefault((r["dataset"], r["scale"]), []).append(r)
        return groups

    def write_json(self, path: Path, overwrite: bool = True) -> None:
        """The results as JSON; a score that is not defined (NaN: SSIM under its window) is
        ``null``, as JSON has no NaN, and so is an infinite PSNR (the output equals the HR
        picture, e.g. a flat one), which a note then names, as JSON has no infinity."""
        from srup.files import write_file

        notes = list(self.notes)
        if _infinite(self.per_image) or _infinite(self.results):
            notes.append(
                "PSNR is infinite (the output equals the HR picture) where the JSON says null"
            )
        meta = dict(self.meta, notes=notes) if notes else self.meta
        record = {"meta": meta, "results": self.results, "per_image": self.per_image}
        blob = json.dumps(_defined(record), indent=2, allow_nan=False).encode()
        _check_report(path, overwrite)
        write_file(path, lambda f: f.write(blob), overwrite=overwrite)

    def write_csv(self, path: Path, overwrite: bool = True) -> None:
        import io

        from srup.files import write_file

        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(_defined(self.results, missing="", infinite=False))
        _check_report(path, overwrite)
        write_file(path, lambda f: f.write(buf.getvalue().encode()), overwrite=overwrite)


@dataclass
class BenchmarkRun:
    paths: list[Path]
    scales: list[int]
    models: str = "all"
    weights: list[Path] = field(default_factory=list)
    device: str = "auto"
    tile: int | str = "auto"
    precision: str = "fp32"  # the published protocol, exactly
    save_images: Path | None = None
    overwrite: bool = False  # replace pictures --save-images finds there
    quiet: bool = False
    degradation: str = "clean"  # how the LR is made (srup.data.degrade); clean: the protocol

    def _methods(self, scale: int) -> list[tuple[str, Callable[[], Any]]]:
        """(label, factory of an Upscaler) for every method but bicubic at ``scale``.

        ``all``: every shipped clean model (the protocol's); ``real``: every shipped
        real-photo variant; or names, comma-separated."""
        from srup.runtime.upscaler import load

        names = [n.strip() for n in self.models.split(",") if n.strip()]
        have = {n for (n, s) in shipped() if s == scale and split_name(n)[0] in registry.names()}
        chosen: list[str] = []
        for n in names:
            if n == "all":
                chosen += sorted(m for m in have if not split_name(m)[1])
            elif n == "real":
                chosen += sorted(m for m in have if split_name(m)[1] == "real")
            elif n != "bicubic":
                known = model_names()[1:]  # auto means nothing here: all, real do
                if n not in known:
                    raise UnknownModelError(
                        f"unknown model {n!r}; available: all, real, bicubic, {', '.join(known)}"
                    )
                if n not in have:
                    raise UnknownModelError(f"no shipped {n} weights for ×{scale}")
                chosen.append(n)
        chosen = list(dict.fromkeys(chosen))
        if not chosen and not self.weights and names != ["bicubic"]:
            scales = sorted({s for (_, s) in shipped()})
            raise UnknownModelError(
                f"no shipped model for ×{scale} (shipped scales: "
                f"{', '.join(map(str, scales))}); use -m bicubic to score bicubic alone"
            )
        methods: list[tuple[str, Callable[[], Any]]] = [
            (n, lambda n=n: load(n, scale, self.device, None, self.tile, self.precision))
            for n in chosen
        ]
        stems = [Path(w).stem for w in self.weights]
        for w in self.weights:
            # srup's header, or another project's file as spandrel reads it
            if weights_scale(w) == scale:
                # The stem, or the whole name where two files share it (x.pth, x.safetensors)
                label = Path(w).stem if stems.count(Path(w).stem) == 1 else Path(w).name
                methods.append(
                    (
                        label,
                        lambda w=w: load("auto", scale, self.device, w, self.tile, self.precision),
                    )
                )
        return methods

    def execute(self, log: Callable[[str], None] | None = None) -> BenchmarkResult:
        from srup import __version__
        from srup.data.degrade import parse

        deg = parse(self.degradation)
        for w in self.weights:  # a file no asked scale scores would vanish from the table
            own = weights_scale(w)
            if own is not None and own not in self.scales:
                raise UnknownModelError(
                    f"{w}: these weights are for ×{own}, a scale not asked for; add -s {own}"
                )
        datasets = [discover(p) for p in self.paths]
        for scale in self.scales:  # a scale with nothing to score fails before any work
            self._methods(scale)
        result = BenchmarkResult(meta=_environment(self, deg.spec(), __version__))
        for ds in datasets:
            for scale in self.scales:
                self._one(ds, scale, result, log)
        return result

    def _one(self, ds: Dataset, scale: int, result: BenchmarkResult, log) -> None:
        pairs = bm.pairs(ds, scale, degradation=self.degradation)
        outputs: dict[str, dict[str, np.ndarray]] = {name: {} for name, _, _ in pairs}

        def keep(label: str) -> Callable[[str, np.ndarray], None]:
            return lambda name, sr: outputs[name].__setitem__(label, sr)

        methods: list[tuple[str, Callable[[np.ndarray], np.ndarray]]] = [
            ("bicubic", bm.bicubic(scale))
        ]
        for label, factory in self._methods(scale):
            up = factory()
            methods.append((label, up.upscale_array))
        base = None
        for label, fn in methods:
            if log:
                log(f"{ds.name} ×{scale} {label}")
            scores = bm.evaluate(fn, pairs, scale, keep=keep(label) if self.save_images else None)
            if label == "bicubic":  # once per data set and scale: the images are the same
                _note_small(result, ds.name, scale, pairs)
            row = _summary(ds.name, scale, label, scores)
            base = row["psnr"] if base is None else base
            row["delta_psnr"] = row["psnr"] - base
            result.results.append(row)
            result.per_image += [
                {
                    "dataset": ds.name,
                    "scale": scale,
                    "model": label,
                    "image": s.name,
                    "psnr": s.psnr,
                    "ssim": s.ssim,
                    "mse": s.mse,
                    "seconds": s.seconds,
                }
                for s in scores
            ]
        if self.save_images:
            self._save(ds, scale, pairs, outputs)

    def _save(self, ds, scale, pairs, outputs) -> None:
        from srup.evaluation.compare import side_by_side
        from srup.media.pictures import Picture, write

        folder = Path(self.save_images) / ds.name / f"x{scale}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"{folder}: cannot create ({e.strerror})") from None
        for name, lr, hr in pairs:
            picture = side_by_side(lr, hr, outputs[name], scale)
            try:
                write(
                    Picture(np.asarray(picture)), folder / f"{name}.png", overwrite=self.overwrite
                )
            except OutputExistsError:
                raise OutputError(
                    f"{folder / f'{name}.png'}: exists; use --overwrite to replace it"
                ) from None


def _check_report(path: Path, overwrite: bool) -> None:
    """:class:`OutputError` unless ``path`` can take a report: it is new, or a regular file
    and ``overwrite``; never a device, pipe or folder (a regular file would replace it)."""
    check_output_file(path, overwrite)


def check_output_file(path: Path, overwrite: bool) -> None:
    """:class:`OutputError` (one line) when writing the file ``path`` would replace what
    was not to be replaced: an existing file without ``overwrite``, anything but a regular
    file (a character device, a FIFO, a folder), or a parent that is a file."""
    path = Path(path)
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        mode = None
    except NotADirectoryError:
        mode = None
    except OSError as e:
        raise OutputError(f"{path}: cannot check ({e.strerror or e})") from None
    if mode is not None:
        if not stat.S_ISREG(mode):
            raise OutputError(
                f"{path}: exists and is not a regular file; srup writes only regular files, "
                "choose another name"
            )
        if not overwrite:
            raise OutputError(f"{path}: exists; use --overwrite to replace it")
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{path}: {parent} is a file, not a folder")
            break


def saved_images_present(folder: Path, paths: list[Path], scales: list[int]) -> Path | None:
    """The first picture ``--save-images folder`` would replace for these data sets and
    scales (``folder/NAME/xS/*.png``), or None."""
    for p in paths:
        for name in dict.fromkeys((Path(p).name, Path(p).resolve().name)):
            for s in scales:
                found = sorted(Path(folder, name, f"x{s}").glob("*.png"))
                if found:
                    return found[0]
    return None


def _note_small(result: BenchmarkResult, dataset: str, scale: int, pairs: list) -> None:
    """A note naming the images on which SSIM is not defined (under its window once shaved)."""
    small = [name for name, _, hr in pairs if bm.too_small_for_ssim(hr.shape, scale)]
    if small:
        result.notes.append(
            f"{dataset} ×{scale}: SSIM is not defined on {len(small)} image"
            f"{'s' if len(small) > 1 else ''} under 11×11 pixels once {scale} are shaved from "
            f"each border ({', '.join(small[:5])}{', …' if len(small) > 5 else ''}); their "
            "PSNR counts, the mean SSIM is over the others"
        )


def _infinite(rows: list[dict[str, Any]]) -> bool:
    """Whether any row holds an infinite score."""
    return any(isinstance(v, float) and math.isinf(v) for r in rows for v in r.values())


def _defined(value: Any, missing: Any = None, infinite: bool = True) -> Any:
    """``value`` with every NaN (a score that is not defined), and every infinity when
    ``infinite``, replaced by ``missing``."""
    if isinstance(value, float) and (math.isnan(value) or (infinite and math.isinf(value))):
        return missing
    if isinstance(value, dict):
        return {k: _defined(v, missing, infinite) for k, v in value.items()}
    if isinstance(value, list):
        return [_defined(v, missing, infinite) for v in value]
    return value


def _environment(run: BenchmarkRun, degradation: str, version: str) -> dict[str, Any]:
    import torch

    from srup.devices import precision_name, resolve_device, resolve_precision

    device = resolve_device(run.device)
    return {
        "srup": version,
        "torch": torch.__version__,
        "device": str(device),
        "precision": precision_name(resolve_precision(run.precision, device)),
        "degradation": degradation,
    }


def _summary(dataset: str, scale: int, model: str, scores: list[bm.Score]) -> dict[str, Any]:
    seconds = sum(s.seconds for s in scores)
    pixels = sum(s.pixels for s in scores)
    return {
        "dataset": dataset,
        "scale": scale,
        "model": model,
        "psnr": float(np.mean([s.psnr for s in scores])),
        # Over the images SSIM is defined on (see srup.imaging.metrics); NaN when none.
        "ssim": bm.mean_defined(s.ssim for s in scores),
        "mse": float(np.mean([s.mse for s in scores])),
        "seconds": seconds,
        "mp_per_s": pixels / 1e6 / seconds if seconds > 0 else 0.0,
        "images": len(scores),
    }
