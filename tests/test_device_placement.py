"""Device placement without a GPU: PyTorch's ``meta`` device carries shapes and devices but no data,
so a constant built on the CPU and mixed into a GPU tensor fails here as it would on CUDA.

Found on a CUDA machine (scripts/check_cuda.py): make_seamless's blur mixed a CPU Gaussian into a
GPU spectrum. Only the parts that need no values can run on ``meta``; the whole engine is checked
on a GPU by scripts/check_cuda.py.
"""

import subprocess
import sys

import torch
from conftest import ROOT

from texture_addon.engine import correspondence


FOURIER_ON_META = """
import texture_addon.engine
import torch
from texture_addon.engine.pbr import WrapFilter
from texture_addon.engine.torch_import import load_deferred
load_deferred()  # the FFT's meta kernel is among what the engine's processes leave unloaded
a = torch.zeros(1, 3, 16, 12, device="meta")
for periodic in ((True, True), (False, False), (True, False)):
    out = WrapFilter(16, 12, periodic).blur(a, 2.0)
    assert out.device.type == "meta" and out.shape == a.shape, (periodic, out.device, out.shape)
print("ok")
"""


def test_fourier_blur_stays_on_the_image_device():
    # In a process of its own, so that the rest of the suite keeps the engine's deferred import.
    out = subprocess.run([sys.executable, "-c", FOURIER_ON_META], cwd=ROOT, capture_output=True, text=True,
                         timeout=180)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]


def test_gpu_gets_its_own_block_sizes():
    cpu, gpu = torch.device("cpu"), torch.device("meta")
    assert correspondence._block(1, 2, cpu) == 1
    assert correspondence._block(1, 2, gpu) == 2
    # Larger on the GPU: launches, not the heap's mmap threshold, decide there.
    assert correspondence.GPU_GATHER_CHUNK > correspondence.GATHER_CHUNK
    assert correspondence.GPU_VOTE_CHUNK > correspondence.VOTE_CHUNK
    assert correspondence.GPU_FOLD_VOTE_LIMIT > correspondence.FOLD_VOTE_LIMIT


def test_gpu_fold_vote_only_while_the_card_has_room(monkeypatch):
    """A 1024² fold peaked at 3.4 GiB on the H200; a small card must fall back to the loop."""
    cuda = torch.device("cuda")
    free = {"bytes": 100 * 2**30}
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free["bytes"], 141 * 2**30))
    assert correspondence._fold_limit(cuda) == correspondence.GPU_FOLD_VOTE_LIMIT
    free["bytes"] = 2 * 2**30  # a 4 GB laptop card with half of it in use
    limit = correspondence._fold_limit(cuda)
    assert correspondence.FOLD_VOTE_LIMIT < limit < 3 * 49 * 1024 * 1024 < correspondence.GPU_FOLD_VOTE_LIMIT
    free["bytes"] = 0
    assert correspondence._fold_limit(cuda) == correspondence.FOLD_VOTE_LIMIT  # never below the CPU's
    assert correspondence._fold_limit(torch.device("cpu")) == correspondence.FOLD_VOTE_LIMIT
