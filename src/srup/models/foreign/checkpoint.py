"""Reading another project's weights file without running anything in it.

A ``.pth``/``.ckpt`` file is a pickle (inside a zip archive since PyTorch 1.6, bare before),
and a pickle can name any Python callable to run while it loads. So a file is read in two
steps, each an allow-list:

1. **Before anything is unpickled**, its pickle is walked opcode by opcode
   (:mod:`pickletools`, which only parses) and every global it names is checked against
   :data:`ALLOWED_GLOBALS`: containers, PyTorch's tensor and storage rebuilders, and dtypes.
   A file naming anything else (``os.system``, ``builtins.eval``, a model class) is
   refused, naming the global, and nothing of it has run.
2. Then it is loaded by ``torch.load(weights_only=True)``, PyTorch's own restricted
   unpickler, which refuses what it does not know as well.

The list is spandrel's restricted unpickler's (``spandrel.__helpers.unpickler``) plus
``_rebuild_parameter`` and the dtypes PyTorch writes for ``nn.Parameter`` values, so a
file passes only where both would take it. TorchScript archives (``.pt`` files with code in
them) are refused: loading one runs its code. ``.safetensors`` holds no code and is read as
it is (:func:`srup.models.weights.load_state`, which also refuses NaN/Inf and odd dtypes).
"""

from __future__ import annotations

import io
import os
import pickletools
import warnings
import zipfile
from pathlib import Path
from typing import IO, TYPE_CHECKING

from srup.errors import BadWeightsError

if TYPE_CHECKING:
    import torch

__all__ = ["ALLOWED_GLOBALS", "SUFFIXES", "file_kind", "read_state_dict", "unsafe_globals"]

SUFFIXES = (".safetensors", ".pth", ".ckpt", ".pt", ".bin")

ALLOWED_GLOBALS = frozenset(
    {
        ("collections", "OrderedDict"),
        ("typing", "OrderedDict"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_parameter"),
        ("torch", "BFloat16Storage"),
        ("torch", "HalfStorage"),
        ("torch", "FloatStorage"),
        ("torch", "DoubleStorage"),
        ("torch", "IntStorage"),
        ("torch", "LongStorage"),
        ("torch", "ByteStorage"),
        ("torch", "BoolStorage"),
        ("torch", "bfloat16"),
        ("torch", "float16"),
        ("torch", "float32"),
        ("torch", "float64"),
        ("torch", "int64"),
        ("torch", "int32"),
        ("torch", "uint8"),
        ("torch", "bool"),
    }
)
# Tensor element types PyTorch can store but srup cannot run: named as such, not as code.
_UNRUNNABLE = ("float8", "complex", "cfloat", "cdouble", "chalf", "float4", "uint1")
_STORAGE_KINDS = {"ComplexFloatStorage": "complex64", "ComplexDoubleStorage": "complex128"}
# PyTorch writes float8 tensors with these (safe, but not on spandrel's list).
_UNRUNNABLE_COMPANIONS = {"torch._utils._rebuild_tensor_v3", "torch.storage.UntypedStorage"}
_STRINGS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"}
_STRINGS |= {"STRING", "BINSTRING", "SHORT_BINSTRING"}
_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}
_GETS = {"GET", "BINGET", "LONG_BINGET"}
# A state dict's pickle holds names and tensor references, kilobytes; the tensors are
# elsewhere in the archive. More is a decompression bomb, not weights.
MAX_PICKLE_BYTES = 64 << 20
MAX_OPCODES = 5_000_000
_LEGACY_PICKLES = 5  # magic number, protocol, system info, the object, storage keys


def _refuse_dtypes(path: Path, bad: list[str]) -> None:
    """One accurate line for a pickle whose only unknown globals are tensor element types
    srup cannot run (float8 kinds, complex) and what PyTorch writes with them: weights of
    the wrong type, not code. The names are compared as text; nothing is looked up."""
    kinds = set()
    for name in set(bad):
        module, _, kind = name.rpartition(".")
        if name in _UNRUNNABLE_COMPANIONS:
            continue
        if module != "torch" or not (kind.startswith(_UNRUNNABLE) or kind in _STORAGE_KINDS):
            return
        kinds.add(_STORAGE_KINDS.get(kind, kind))
    if kinds:
        raise BadWeightsError(
            f"{path}: holds {', '.join(sorted(kinds))} tensors, which srup cannot run; weights "
            "must be float32, float16, bfloat16 or float64 (convert them, e.g. to float32)"
        )


def unsafe_globals(stream: IO[bytes], pickles: int = 1) -> list[str]:
    """The globals named by the next ``pickles`` pickles in ``stream`` that are not in
    :data:`ALLOWED_GLOBALS`, as ``module.name``, found without unpickling anything.

    ``GLOBAL``/``INST`` carry their names; ``STACK_GLOBAL`` takes the two strings pushed
    before it (directly or from the memo): a ``STACK_GLOBAL`` whose names are not two such
    strings is reported as ``<computed>``, as is anything that does not parse. Raises
    nothing: a stream that is not a pickle is one ``<not a pickle: …>`` entry."""
    bad: list[str] = []
    for _ in range(pickles):
        if not stream.read(1):
            break  # the file holds fewer pickles: a plain one rather than PyTorch's legacy
        stream.seek(-1, io.SEEK_CUR)
        try:
            bad += _pickle_globals(stream)
        except Exception as e:  # pickletools raises ValueError and others on garbage
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            bad.append(f"<not a pickle: {reason}>")
            break
    return bad


def _pickle_globals(stream: IO[bytes]) -> list[str]:
    """The disallowed globals of the one pickle at ``stream``'s position (see
    :func:`unsafe_globals`). ``pushed`` follows what the last opcodes put on the stack: the
    string, or None for anything else, so that a ``STACK_GLOBAL`` is checked only when its
    two operands are known strings."""
    bad: list[str] = []
    pushed: list[str | None] = []
    memo: dict[object, str | None] = {}
    for count, (op, arg, _pos) in enumerate(pickletools.genops(stream)):
        if count > MAX_OPCODES:
            bad.append("<more opcodes than a state dict has>")
            break
        del pushed[:-2]  # a STACK_GLOBAL reads the last two; the rest is never read
        name = op.name
        if name in _STRINGS:
            pushed.append(str(arg))
        elif name in _PUTS:
            memo[arg] = pushed[-1] if pushed else None
        elif name == "MEMOIZE":
            memo[len(memo)] = pushed[-1] if pushed else None
        elif name in _GETS:
            pushed.append(memo.get(arg))
        elif name in ("EXT1", "EXT2", "EXT4"):  # a global by copyreg's extension code
            bad.append(f"<extension code {arg}>")
            pushed.append(None)
        elif name in ("GLOBAL", "INST"):
            module, _, attr = str(arg).partition(" ")
            if (module, attr) not in ALLOWED_GLOBALS:
                bad.append(f"{module}.{attr}")
        elif name == "STACK_GLOBAL":
            module, attr = pushed[-2:] if len(pushed) >= 2 else [None, None]
            if module is None or attr is None:
                bad.append("<a computed global>")
            elif (module, attr) not in ALLOWED_GLOBALS:
                bad.append(f"{module}.{attr}")
            pushed.append(None)
        elif name not in ("FRAME", "PROTO"):
            pushed.append(None)
    return bad


def file_kind(path: Path) -> str:
    """What ``path`` holds, from its first bytes: ``safetensors``, ``zip-pickle`` (PyTorch's
    format since 1.6), ``torchscript`` (a zip with code), ``pickle`` (PyTorch's legacy
    format) or ``unknown``."""
    with open(path, "rb") as f:
        head = f.read(16)
    size = int.from_bytes(head[:8], "little")
    if len(head) >= 9 and head[8:9] == b"{" and 0 < size <= path.stat().st_size - 8:
        return "safetensors"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except Exception:  # zipfile raises BadZipFile, UnicodeDecodeError, ValueError, …
            return "unknown"
        if any(n.endswith(("/constants.pkl", "/code/")) or "/code/" in n for n in names):
            return "torchscript"
        return "zip-pickle"
    if head.startswith(b"\x80"):
        return "pickle"
    return "unknown"


def _check_pickles(path: Path, kind: str) -> None:
    """Refuse ``path`` when its pickle names a global outside :data:`ALLOWED_GLOBALS`."""
    if kind == "zip-pickle":
        try:
            with zipfile.ZipFile(path) as z:
                infos = z.infolist()
                # PyTorch's reader finds names case-insensitively: every spelling counts.
                pickles = [i for i in infos if i.filename.lower().endswith("data.pkl")]
                odd = any("\0" in i.filename for i in infos)
                big = any(i.file_size > MAX_PICKLE_BYTES for i in pickles)
                one = len(pickles) == 1 and not odd and not big
                data = z.read(pickles[0]) if one else None
        except Exception as e:  # zipfile raises BadZipFile, UnicodeDecodeError, zlib.error, …
            raise BadWeightsError(f"{path}: a damaged zip archive ({type(e).__name__})") from None
        if data is None:
            raise BadWeightsError(
                f"{path}: not a PyTorch weights archive (one data.pkl of at most "
                f"{MAX_PICKLE_BYTES >> 20} MiB, names without NUL)"
            )
        bad = unsafe_globals(io.BytesIO(data))
    else:
        with open(path, "rb") as f:
            bad = unsafe_globals(f, _LEGACY_PICKLES)
    if bad:
        _refuse_dtypes(path, bad)
        shown = ", ".join(sorted(set(bad))[:3])
        # A class (Conv2d, a model's own) rather than a function: a whole model was pickled.
        whole = any(name.rpartition(".")[2][:1].isupper() for name in bad)
        hint = "; save the model's state_dict() instead" if whole else ""
        raise BadWeightsError(
            f"{path}: refused, its pickle names {shown}, which a weights file has no use for "
            f"(loading it could run code); only tensors and plain containers are read{hint}"
        )


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, object]:
    """The state dict in a weights file of another project: ``.safetensors``, or a
    ``.pth``/``.ckpt``/``.bin`` pickle read as the module doc says, on the CPU. Nested
    dictionaries (``params_ema``, ``state_dict``) are returned as they are.

    Raises :class:`~srup.errors.BadWeightsError`, one line, for a missing or unreadable
    file, a TorchScript archive, a pickle naming anything but tensors and containers, a
    file that is not weights at all, and tensors srup must not run (:func:`_check_stored`)."""
    import torch

    from srup.models.weights import load_state

    path = Path(path)
    if not path.is_file():
        raise BadWeightsError(f"{path}: weights file not found")
    try:
        kind = file_kind(path)
    except OSError as e:
        raise BadWeightsError(f"{path}: cannot read ({e.strerror or e})") from None
    if kind == "safetensors":
        return dict(load_state(path)[0])
    if kind == "torchscript":
        raise BadWeightsError(
            f"{path}: a TorchScript archive, which runs its own code when loaded; srup loads "
            "state dicts only (.safetensors, or .pth/.ckpt holding tensors)"
        )
    if kind == "unknown":
        what = "empty" if path.stat().st_size == 0 else "damaged, truncated or not weights"
        raise BadWeightsError(
            f"{path}: neither a PyTorch checkpoint nor safetensors ({what}); srup reads "
            ".safetensors, .pth, .ckpt and .bin weights files"
        )
    _check_pickles(path, kind)
    try:
        with warnings.catch_warnings():  # its note on pickle protocols is not the user's
            warnings.simplefilter("ignore")
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises UnpicklingError, RuntimeError, EOFError, …
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if reason.startswith("Weights only load failed"):
            # Its advice (weights_only=False) is the one thing not to do with such a file.
            reason = "PyTorch's safe loader found more than tensors and containers in it"
        raise BadWeightsError(f"{path}: cannot read weights ({reason[:200]})") from None
    if not isinstance(loaded, dict):
        raise BadWeightsError(f"{path}: holds a {type(loaded).__name__}, not a state dict")
    _check_stored(path, loaded)
    return loaded


def _tensors(state: dict[object, object], prefix: str = "") -> dict[str, torch.Tensor]:
    """Every tensor in ``state`` and the dictionaries nested in it, by dotted name;
    TypeError for a key that is not a string."""
    import torch

    found: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if not isinstance(key, str):  # spandrel reads keys as names
            raise TypeError(key)
        if isinstance(value, torch.Tensor):
            found[f"{prefix}{key}"] = value
        elif isinstance(value, dict):
            found |= _tensors(value, f"{prefix}{key}.")
    return found


def _check_stored(path: Path, state: dict[object, object]) -> None:
    """Refuse a tensor that is not stored as it claims (a value expanded to billions of
    elements by its strides: checking or copying it would fill the memory), then what
    :func:`srup.models.weights.check_tensors` refuses in srup's own files (dtypes srup
    cannot run, NaN or ±Inf). A safetensors file stores every value, and its reader checks
    the rest."""
    from srup.models.weights import check_tensors

    try:
        tensors = _tensors(state)
    except TypeError:
        raise BadWeightsError(f"{path}: its state dict has keys that are not names") from None
    for key, value in tensors.items():
        stored = value.untyped_storage().nbytes()
        if value.numel() and stored < value.numel() * value.element_size():
            raise BadWeightsError(
                f"{path}: tensor {key} claims {value.numel()} values but stores "
                f"{stored} bytes (expanded by its strides); not weights as saved"
            )
    check_tensors(path, tensors)
