"""Work is never lost silently: the checkpoint of a run, and the rules around it.

A run refuses to replace an existing output or checkpoint unless ``overwrite``
(``--overwrite``); ``resume`` checks the checkpoint (srup's record in its header, the step,
the model and scale) and refuses to go on when an option that shapes the result has changed
since (``--lr``, ``--batch-size``, the data, …), naming each, unless ``allow_changes``
(``--allow-changes``: then the changes are listed in the summary's notes): :func:`preflight`.
An error, Ctrl-C or SIGTERM during the run saves a checkpoint first (:func:`save_on_failure`,
:class:`TermSignal`: SIGTERM then goes on to the handler that was there before, so the CLI
exits 143 and a bare process dies of the signal, as it would have), and weights that
diverged to NaN are never written (:func:`check_finite`).
"""

from __future__ import annotations

import contextlib
import copy
import json
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from srup.errors import BadWeightsError, InvalidArgument, OutputError
from srup.models.weights import load_into, load_state, read_metadata, save_state
from srup.training.config import TrainConfig, changed_options

__all__ = ["Best", "Checkpoint", "TermSignal", "check_finite", "preflight", "save_on_failure"]


@dataclass
class Best:
    """The best validation so far: its PSNR and a copy of the weights that scored it."""

    psnr: float
    state: dict


class Checkpoint:
    """The resumable state of a run, in ``<output>.ckpt.safetensors``.

    Its header holds one record, ``srup_checkpoint``: JSON with the step reached, the best
    validation PSNR, the seconds spent and the run's config; its tensors are the model
    (``model.*``), the best weights so far (``best.*``) and Adam's state (``optim.N.*``)."""

    KEY = "srup_checkpoint"

    def __init__(self, output: Path) -> None:
        self.path = output.with_name(output.name + ".ckpt.safetensors")

    def save(self, net, opt, step: int, best: Best | None, meta: dict) -> None:
        """Write the checkpoint (atomically: a failed write keeps the previous one)."""
        tensors = {f"model.{k}": v for k, v in net.state_dict().items()}
        tensors.update({f"best.{k}": v for k, v in (best.state if best else {}).items()})
        opt_state = opt.state_dict()
        for idx, st in opt_state["state"].items():
            for k, v in st.items():
                tensors[f"optim.{idx}.{k}"] = v if hasattr(v, "shape") else _scalar(v)
        meta = dict(meta, step=step, best_psnr=best.psnr if best else -1.0)
        save_state(self.path, tensors, {self.KEY: json.dumps(meta)})

    def record(self) -> dict:
        """The checked ``srup_checkpoint`` record, from the header alone (no tensors read):
        :class:`~srup.errors.BadWeightsError` when it is missing, not JSON, or its step,
        best PSNR, seconds or config do not parse."""
        header = read_metadata(self.path)
        if self.KEY not in header:
            raise BadWeightsError(
                f"{self.path}: not a srup training checkpoint (its header has no "
                f"{self.KEY} record); start afresh with --overwrite instead of --resume"
            )
        try:
            meta = json.loads(header[self.KEY])
        except ValueError as e:
            raise BadWeightsError(
                f"{self.path}: its {self.KEY} record is not valid JSON ({e})"
            ) from None
        if not isinstance(meta, dict):
            raise BadWeightsError(f"{self.path}: its {self.KEY} record is not a JSON object")
        step = meta.get("step")
        if type(step) is not int or step < 0:
            raise BadWeightsError(
                f"{self.path}: the checkpoint's step {step!r} is not a whole number ≥ 0"
            )
        for key in ("best_psnr", "seconds"):
            value = meta.get(key, 0.0)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise BadWeightsError(f"{self.path}: the checkpoint's {key} {value!r} is no number")
        config = meta.get("config")
        if not isinstance(config, dict) or not all(k in config for k in ("model", "scale")):
            raise BadWeightsError(f"{self.path}: the checkpoint records no run config")
        return meta

    def load(self, net, opt, total: int) -> tuple[int, Best | None, dict]:
        """Restore ``net`` and ``opt``; returns (step, best, record). Every mismatch is a
        one-line :class:`~srup.errors.BadWeightsError`, and nothing is changed until all of
        the checkpoint has been checked."""
        meta = self.record()
        step = meta["step"]
        if step > total:
            raise BadWeightsError(
                f"{self.path}: the checkpoint is at step {step}, past this run's last "
                f"({total}); raise --max-steps or --epochs"
            )
        tensors, _ = load_state(self.path)
        model_state = _prefixed(tensors, "model.")
        best_state = _prefixed(tensors, "best.")
        load_into(copy.deepcopy(net), model_state, self.path)  # checked before net changes
        if best_state:
            load_into(copy.deepcopy(net), best_state, self.path)
        params = list(net.parameters())
        state: dict = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, idx, name = ([*key.split(".", 2), "", ""])[:3]
                if not idx.isdecimal() or int(idx) >= len(params) or not name:
                    raise BadWeightsError(
                        f"{self.path}: optimiser tensor {key} does not belong to this model"
                    )
                # Adam's moments have their parameter's shape; its step count is a scalar.
                want = (1,) if name == "step" else tuple(params[int(idx)].shape)
                got = (value.numel(),) if name == "step" else tuple(value.shape)
                if got != want:
                    raise BadWeightsError(
                        f"{self.path}: optimiser tensor {key} has shape {tuple(value.shape)}, "
                        f"not {want}"
                    )
                state.setdefault(int(idx), {})[name] = value
        self._check_optimiser(state, len(params), step)
        opt_state = opt.state_dict()
        opt_state["state"] = state
        load_into(net, model_state, self.path)
        opt.load_state_dict(opt_state)
        best = Best(float(meta["best_psnr"]), best_state) if best_state else None
        return step, best, meta

    # Adam's state per parameter: its step count and its two moments.
    ADAM_STATE = ("step", "exp_avg", "exp_avg_sq")

    def _check_optimiser(self, state: dict, n_params: int, step: int) -> None:
        """:class:`~srup.errors.BadWeightsError` naming the first optimiser tensor missing:
        a parameter with part of Adam's state, or (past step 0, when Adam has taken a step)
        any parameter without it; resuming with fresh moments would silently change the run."""
        for idx in range(n_params):
            have = state.get(idx, {})
            if not have and step == 0:
                continue
            missing = [name for name in self.ADAM_STATE if name not in have]
            if missing:
                raise BadWeightsError(
                    f"{self.path}: the checkpoint lacks the optimiser tensor "
                    f"optim.{idx}.{missing[0]} (at step {step}); it is damaged or not "
                    "srup's; start afresh with --overwrite instead of --resume"
                )


def _scalar(v: object):
    import torch

    return torch.tensor(v)


def _prefixed(tensors: dict, prefix: str) -> dict:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def preflight(cfg: TrainConfig, output: Path, ckpt: Checkpoint) -> tuple[dict | None, list]:
    """What must hold before any data is read: the output may be written, and a resume has
    a checkpoint of this run. Returns the checkpoint's record (None when not resuming) and
    the notes to pass on."""
    if not output.parent.is_dir():
        raise OutputError(f"{output.parent}: output folder does not exist")
    if not cfg.resume:
        if not cfg.overwrite:
            for path in (output, ckpt.path):
                if path.exists():
                    hint = " or --resume to continue its run" if ckpt.path.exists() else ""
                    raise OutputError(f"{path}: exists; use --overwrite to replace it{hint}")
        return None, []
    if not ckpt.path.is_file():
        raise OutputError(f"--resume: no checkpoint at {ckpt.path}")
    record = ckpt.record()
    saved = record["config"]
    if saved.get("model") != cfg.model or saved.get("scale") != cfg.scale:
        raise InvalidArgument(
            f"--resume: {ckpt.path} is a run of {saved.get('model')} ×{saved.get('scale')}, "
            f"not {cfg.model} ×{cfg.scale}"
        )
    if saved.get("input_space", "Y") != cfg.input_space:
        raise InvalidArgument(
            f"--resume: {ckpt.path} is a run on --input {str(saved.get('input_space')).lower()}"
        )
    changed = changed_options(saved, cfg)
    if changed and not cfg.allow_changes:
        raise InvalidArgument(
            f"--resume: options changed since the checkpoint: {'; '.join(changed)}; repeat "
            "the checkpoint's, or pass --allow-changes to go on with these"
        )
    notes = [f"resumed with changed options: {'; '.join(changed)}"] if changed else []
    return record, notes


def save_on_failure(
    rank: int, completed: int, start: int, save: Callable[[int], None], error: BaseException
) -> None:
    """Save the steps done before ``error`` goes on; a failure to save is added to its
    notes rather than hiding it."""
    if rank != 0 or completed <= start:
        return
    try:
        save(completed)
    except Exception as e:  # the first error is the one to report
        error.add_note(f"the checkpoint could not be saved either: {e}")


def check_finite(state: dict, step: int) -> None:
    """Refuse to write weights holding NaN or ±Inf (a diverged run): they would load as
    black pictures, and srup refuses to load them (:class:`~srup.errors.BadWeightsError`
    there as here)."""
    import torch

    for key, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise BadWeightsError(
                f"training diverged: tensor {key} holds NaN or infinite values after step "
                f"{step}; start again with a lower --lr (or --loss l1)"
            )


class TermSignal:
    """SIGTERM, caught for the length of a ``with`` block on rank 0: the step under way ends,
    the run saves a checkpoint, and :meth:`pass_on` then hands the signal to the handler that
    was there before (the CLI's: exit 143), or to the default (death). An ignored SIGTERM
    stays ignored; off the main thread signals cannot be caught."""

    def __init__(self, catch: bool) -> None:
        self.catch = catch
        self.signum: int | None = None  # the signal received, None while none came
        self._old: object = None
        self._installed = False

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.signum = signum

    def __enter__(self) -> TermSignal:
        if self.catch and signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN:
            with contextlib.suppress(ValueError):
                self._old = signal.signal(signal.SIGTERM, self._on_signal)
                self._installed = True
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._installed:  # None: a handler from outside Python, which the default stands for
            signal.signal(signal.SIGTERM, signal.SIG_DFL if self._old is None else self._old)

    def pass_on(self) -> None:
        """Raise the signal received again, now that the work is saved."""
        if self.signum is not None:
            signal.raise_signal(self.signum)
