"""srup's numerics on a GPU: TF32 off while it runs, whichever of PyTorch's APIs the caller
used to set it, and the caller's flags back afterwards, readable as before.

PyTorch's TF32 flags are process-wide and its two APIs guard each other (reading the old one
after a caller set the new one raises), so each case runs in a fresh interpreter. The flags
exist on CPU-only builds too: no GPU is needed to check them.
"""

import json
import subprocess
import sys

import pytest
import torch

PER_BACKEND = hasattr(getattr(torch.backends.cudnn, "conv", None), "fp32_precision")

CALLERS = {
    "untouched": "",
    "legacy API": "torch.backends.cudnn.allow_tf32 = True\n"
    "torch.backends.cuda.matmul.allow_tf32 = True",
    "matmul precision": "torch.set_float32_matmul_precision('high')",
    "per-backend API": "torch.backends.cudnn.conv.fp32_precision = 'tf32'\n"
    "torch.backends.cuda.matmul.fp32_precision = 'tf32'",
    "global API": "torch.backends.fp32_precision = 'tf32'",
}
NEW_API = {"per-backend API", "global API"}

READERS = [
    "torch.backends.cudnn.allow_tf32",
    "torch.backends.cuda.matmul.allow_tf32",
    "torch.get_float32_matmul_precision()",
    "torch.backends.cudnn.benchmark",
    "torch.backends.cudnn.deterministic",
]
if PER_BACKEND:
    READERS += [
        "torch.backends.fp32_precision",
        "torch.backends.cudnn.fp32_precision",
        "torch.backends.cudnn.conv.fp32_precision",
        "torch.backends.cudnn.rnn.fp32_precision",
        "torch.backends.cuda.matmul.fp32_precision",
    ]

PRELUDE = """
import json, threading
import torch
from srup.devices import exact_numerics

def flags():
    seen = {}
    for reader in READERS:
        try:
            seen[reader] = repr(eval(reader))
        except RuntimeError:  # PyTorch refusing a legacy read after a new-API write
            seen[reader] = "raises"
    return seen

exec(CALLER)
torch.backends.cudnn.benchmark = True
states = {"before": flags()}
cuda = torch.device("cuda")
"""

ONE_RUN_AT_A_TIME = """
with exact_numerics(cuda, torch.float32):
    states["fp32"] = flags()
states["after fp32"] = flags()
with exact_numerics(cuda, torch.float16):
    states["fp16"] = flags()
states["after fp16"] = flags()
with exact_numerics(torch.device("cpu"), torch.float32):
    states["cpu"] = flags()
"""

# Thread A (fp32) starts, B (fp16) starts, A ends while B still runs, then B ends.
TWO_THREADS = """
a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

def a():
    with exact_numerics(cuda, torch.float32):
        a_in.set()
        b_in.wait()
    a_out.set()

def b():
    a_in.wait()
    with exact_numerics(cuda, torch.float16):
        b_in.set()
        a_out.wait()
        states["b after a left"] = flags()

threads = [threading.Thread(target=f) for f in (a, b)]
for t in threads:
    t.start()
for t in threads:
    t.join()
states["after both"] = flags()
"""


def flag_states(caller: str, runs: str = ONE_RUN_AT_A_TIME) -> dict[str, dict[str, str]]:
    code = f"READERS = {READERS!r}\nCALLER = {caller!r}\n{PRELUDE}{runs}"
    code += "print(json.dumps(states))\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def tf32_off(flags: dict[str, str]) -> bool:
    """What PyTorch's GPU convolutions and matrix products consult says float32."""
    if PER_BACKEND:
        readers = (
            "torch.backends.cudnn.conv.fp32_precision",
            "torch.backends.cuda.matmul.fp32_precision",
        )
        return all(flags[r] == "'ieee'" for r in readers)
    readers = ("torch.backends.cudnn.allow_tf32", "torch.backends.cuda.matmul.allow_tf32")
    return all(flags[r] == "False" for r in readers)


@pytest.mark.parametrize("caller", list(CALLERS))
def test_a_gpu_runs_without_tf32_and_gives_the_callers_flags_back_as_they_were(caller):
    if caller in NEW_API and not PER_BACKEND:
        pytest.skip(f"torch {torch.__version__} has no per-backend TF32 flags")
    states = flag_states(CALLERS[caller])
    before = states["before"]
    assert states["after fp32"] == before and states["after fp16"] == before
    assert states["cpu"] == before
    # fp32 and the float32 bicubic of an fp16 run: no TF32, whatever the caller allowed.
    assert tf32_off(states["fp32"]) and tf32_off(states["fp16"])
    # fp32 also promises the same sums at every call: deterministic algorithms; fp16
    # promises no exactness across shapes, so the algorithms stay the caller's choice.
    fp32, fp16 = states["fp32"], states["fp16"]
    assert fp32["torch.backends.cudnn.deterministic"] == "True"
    assert fp32["torch.backends.cudnn.benchmark"] == "False"
    assert fp16["torch.backends.cudnn.benchmark"] == "True"


def test_runs_in_two_threads_keep_tf32_off_until_the_last_ends_then_give_the_flags_back():
    states = flag_states(CALLERS["legacy API"], TWO_THREADS)
    assert tf32_off(states["b after a left"])
    assert states["after both"] == states["before"]
