"""Device and precision choice: CUDA, then MPS, then CPU."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from srup.errors import DeviceError, DeviceMemoryError, UnsupportedPrecision

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = [
    "PRECISIONS",
    "auto_precision",
    "device_constant",
    "exact_numerics",
    "int8_engine",
    "out_of_memory",
    "out_of_memory_as_error",
    "precision_name",
    "release_cached_memory",
    "require_int8",
    "resolve_device",
    "resolve_precision",
    "tf32_switches",
    "upload",
]

# int8: oneDNN's int8 convolutions, CPU only, for calibrated weight sets (srup.models.int8);
# asked for by name only, never by auto.
PRECISIONS = ("auto", "fp32", "fp16", "bf16", "int8")
_SUPPORTED = {"cpu": {"fp32", "bf16"}, "cuda": {"fp32", "fp16", "bf16"}, "mps": {"fp32", "fp16"}}


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` → the first of cuda, mps, cpu that is present; otherwise the asked device,
    or :class:`DeviceError` when it is absent."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DeviceError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError("--device cuda: no CUDA GPU is available here; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(
                f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) are present"
            )
    elif device.type == "mps" and not _mps_available():
        raise DeviceError("--device mps: Apple MPS is not available here; use --device cpu")
    elif device.type not in _SUPPORTED:
        raise DeviceError(f"unsupported device {name!r}; use auto, cpu, cuda or mps")
    return device


def upload(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """``array`` on ``device``, without making the host wait: on CUDA through page-locked
    memory and an asynchronous copy (a plain copy from pageable memory waits until the
    device has finished all queued work, so the host could never run ahead of it; torch's
    pinned-memory cache keeps the buffer until the copy is done)."""
    import torch

    tensor = torch.from_numpy(array)
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is a failed allocation: Python's MemoryError, CUDA's
    ``torch.OutOfMemoryError``, or the plain RuntimeError that torch's CPU allocator, MPS
    and page-locked host memory raise."""
    import torch

    if isinstance(error, (MemoryError, torch.OutOfMemoryError)):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text
    )


@contextmanager
def out_of_memory_as_error(device: torch.device) -> Iterator[None]:
    """Inside, a failed allocation of torch's (a RuntimeError: CUDA's OutOfMemoryError, the
    CPU allocator's, MPS's, page-locked memory's) comes out as one
    :class:`~srup.errors.DeviceMemoryError` naming ``device``: the one place the runtime
    translates them, so that a batch reports it for its file and goes on. Other errors, and
    NumPy's own MemoryError, go through as they are."""
    try:
        yield
    except RuntimeError as e:
        if not out_of_memory(e):
            raise
        raise DeviceMemoryError(f"out of memory on {device}") from None


def release_cached_memory(device: torch.device) -> None:
    """Give the allocator's cached blocks on ``device`` back, so that a retry after running
    out of memory can use them in other sizes."""
    import torch

    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()


def device_constant(maxsize: int) -> Callable[[Callable[..., torch.Tensor]], Callable]:
    """Cache a function that builds a constant tensor on a device (padding indices, resize
    matrices, biases): built once per argument tuple, not launched or uploaded on every
    call, and built outside inference mode, since the cache outlives the call that filled
    it and an inference tensor could not be saved for a later training step's backward."""

    def wrap(build: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        @functools.lru_cache(maxsize=maxsize)
        @functools.wraps(build)
        def cached(*args: object) -> torch.Tensor:
            import torch

            with torch.inference_mode(False):
                return build(*args)

        return cached

    return wrap


def tf32_switches() -> list[tuple[object, str, object]]:
    """PyTorch's switches that let float32 convolutions and matrix products run as TF32 on
    a GPU, each as (owner, attribute, the value that turns TF32 off)."""
    import torch

    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    conv = getattr(cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        # PyTorch 2.9 and later keep one flag per backend and operator, and once a caller
        # has set one of them (as PyTorch's notes advise), reading the old allow_tf32
        # raises ("a mix of the legacy and new APIs"): srup reads and writes only these.
        # Convolutions and matrix products ask for their own operator's flag, so they run
        # whatever the old flags would say.
        return [(conv, "fp32_precision", "ieee"), (matmul, "fp32_precision", "ieee")]
    return [(cudnn, "allow_tf32", False), (matmul, "allow_tf32", False)]


@contextmanager
def exact_numerics(device: torch.device, dtype: torch.dtype) -> Iterator[None]:
    """While srup runs on a GPU, float32 means float32: TF32 off (PyTorch lets cuDNN
    convolutions use it by default), in fp16 and bf16 too, where the bicubic path that
    carries the picture stays float32 (an H100 profile showed it on a TF32 kernel). In fp32
    cuDNN also picks deterministic algorithms rather than timing a fastest one per shape.
    The caller's settings come back afterwards, set through the same API they were read
    from, when the last of srup's runs in any thread ends; on the CPU nothing changes."""
    import torch

    if device.type != "cuda":
        yield
        return
    cudnn = torch.backends.cudnn
    switches = tf32_switches()
    if dtype == torch.float32:
        switches += [(cudnn, "benchmark", False), (cudnn, "deterministic", True)]
    _hold(switches)
    try:
        yield
    finally:
        _release(switches)


# PyTorch's switches are process-wide, and upscales may run in several threads at once (a
# server, a batch beside a video): each switch is set by the first run that needs it and
# given back by the last, so no run's exit turns TF32 on under another still running, and
# the caller gets back what it had before the first.
_switch_lock = threading.Lock()
_held: dict[tuple[int, str], list] = {}  # (id(owner), name) → [runs holding it, caller's value]


def _hold(switches: list[tuple[object, str, object]]) -> None:
    with _switch_lock:
        for owner, name, value in switches:
            entry = _held.setdefault((id(owner), name), [0, getattr(owner, name)])
            entry[0] += 1
            setattr(owner, name, value)


def _release(switches: list[tuple[object, str, object]]) -> None:
    with _switch_lock:
        for owner, name, _value in reversed(switches):
            entry = _held[(id(owner), name)]
            entry[0] -= 1
            if entry[0] == 0:
                setattr(owner, name, entry[1])
                del _held[(id(owner), name)]


def auto_precision(device: torch.device) -> str:
    """The precision ``auto`` means on ``device``: fp32 on every CPU, fp16 on GPUs, unless
    ``SRUP_PRECISION`` names another (the test suite runs under each to show that no test
    of an exact property leans on ``auto``).

    On the CPU only fp32 gives the same pixels whatever the tile size and whatever the CPU,
    and bf16 does not pay for giving that up: emulated it is 2–9× slower, and with native
    bf16 (AVX-512 BF16 on an AMD EPYC) FSRCNN and ESPCN, the models auto picks, took
    0.96–1.16× of fp32's time (benchmarks/precision.py). So the CPU's bf16 support plays no
    part in the choice. Nor does int8: it is asked for by name only (srup.models.int8)."""
    forced = os.environ.get("SRUP_PRECISION", "auto")
    if forced == "int8":
        raise DeviceError("SRUP_PRECISION=int8: auto never means int8; ask --precision int8")
    if forced != "auto":
        return forced
    return "fp32" if device.type == "cpu" else "fp16"


def precision_name(dtype: torch.dtype) -> str:
    """``torch.float32`` → ``fp32`` and so on (``torch.qint8`` → ``int8``)."""
    import torch

    return {
        torch.float32: "fp32",
        torch.float16: "fp16",
        torch.bfloat16: "bf16",
        torch.qint8: "int8",
    }[dtype]


def int8_engine() -> bool:
    """Whether this torch build runs oneDNN's int8 convolutions on the CPU (quantized engine
    ``onednn``, or ``x86``, which dispatches to it)."""
    import torch

    return bool({"onednn", "x86"} & set(torch.backends.quantized.supported_engines))


def require_int8(device: torch.device) -> None:
    """:class:`~srup.errors.UnsupportedPrecision` where int8 cannot run: off the CPU, or
    without oneDNN's int8 convolutions."""
    if device.type != "cpu":
        raise UnsupportedPrecision(
            f"precision int8 runs on the CPU only, not on {device.type}; use --device cpu"
        )
    if not int8_engine():
        raise UnsupportedPrecision(
            "precision int8 needs oneDNN's int8 convolutions, which this torch build lacks "
            "(torch.backends.quantized.supported_engines has neither onednn nor x86); use fp32"
        )


def resolve_precision(name: str, device: torch.device) -> torch.dtype:
    """``auto`` → :func:`auto_precision`; otherwise the asked precision if the device
    supports it. bf16 changes Set5 PSNR by at most 0.02 dB (benchmarks/precision.py).
    ``int8`` → ``torch.qint8`` (the network's learned layers in int8, around them float32:
    :mod:`srup.models.int8`) on a CPU with oneDNN's int8 convolutions, else
    :class:`~srup.errors.UnsupportedPrecision`; auto never means it."""
    import torch

    if name == "auto":
        name = auto_precision(device)
    if name not in PRECISIONS:
        raise DeviceError(f"unknown precision {name!r}; use one of {', '.join(PRECISIONS)}")
    if name == "int8":
        require_int8(device)
        return torch.qint8
    if name not in _SUPPORTED[device.type]:
        raise DeviceError(
            f"precision {name} is not supported on {device.type}; "
            f"use one of {', '.join(sorted(_SUPPORTED[device.type]))}"
        )
    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[name]
