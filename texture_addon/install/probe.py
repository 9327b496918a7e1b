"""Ask an engine Python what it has: torch's version, CUDA/ROCm, the GPU's name.

The probe runs in the engine's interpreter (a subprocess, ``-I`` so nothing from the user's
environment leaks in) and prints one JSON line. The installer runs it on the staged environment
before switching to it: an environment whose ``import torch`` fails is never made current. Its
result is cached in ``current.json`` so the preferences can show the status line without
starting torch on every redraw.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE_SCRIPT = r'''
import json, sys
out = {"python": "%d.%d.%d" % sys.version_info[:3], "ok": False}
try:
    torch, numpy, PIL = (__import__(name) for name in ("torch", "numpy", "PIL"))  # never in Blender
    out["torch"] = torch.__version__
    out["numpy"] = numpy.__version__
    out["pillow"] = PIL.__version__
    out["cuda"] = getattr(torch.version, "cuda", None)
    out["hip"] = getattr(torch.version, "hip", None)
    out["gpu"] = None
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
    mps = getattr(torch.backends, "mps", None)
    out["mps"] = bool(mps is not None and mps.is_available())
    out["ok"] = float(torch.ones(3).sum()) == 3.0
except Exception as exc:
    out["error"] = "%s: %s" % (type(exc).__name__, exc)
print("@@PROBE@@" + json.dumps(out), flush=True)
'''
MARK = "@@PROBE@@"


def probe_env() -> dict:
    """The environment for a child that must see only its own site-packages."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def run_probe(python: str, timeout: float = 300.0) -> dict:
    """Run the probe in ``python``; always returns a dict with ``ok`` and, if not ok, ``error``.

    The timeout is generous: the first ``import torch`` from a fresh environment reads hundreds
    of MB from disk.
    """
    if not os.path.isfile(python):
        return {"ok": False, "error": f"the engine's Python is missing: {python}"}
    try:
        proc = subprocess.run([python, "-I", "-c", PROBE_SCRIPT], capture_output=True, text=True,
                              timeout=timeout, env=probe_env(), stdin=subprocess.DEVNULL,
                              creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0) if os.name == "nt" else 0)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"the engine's Python did not answer within {timeout:g} s"}
    except OSError as exc:
        return {"ok": False, "error": f"cannot run the engine's Python {python}: {exc}"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARK):
            try:
                result = json.loads(line[len(MARK):])
            except ValueError:
                break
            if not result.get("ok") and not result.get("error"):
                result["error"] = "torch does not compute correctly in the engine's Python"
            return result
    tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
    return {"ok": False, "error": f"the engine's Python failed (exit {proc.returncode}): {tail}"}


def short_gpu_name(name: str) -> str:
    """"NVIDIA GeForce RTX 4070" → "RTX 4070": the status line has little room."""
    for prefix in ("NVIDIA ", "GeForce ", "AMD "):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name.strip()


def describe_probe(probe: dict) -> str:
    """The status line: "engine ready: torch 2.13.0, CUDA 12.8, RTX 4070" / "…, CPU", or the problem."""
    if not probe.get("ok"):
        return "engine broken: " + str(probe.get("error") or "unknown error") + " (press Repair)"
    version = str(probe.get("torch") or "?").split("+", 1)[0]
    parts = [f"torch {version}"]
    if probe.get("gpu"):
        if probe.get("hip"):
            parts.append(f"ROCm {probe['hip']}".split("-", 1)[0])
        elif probe.get("cuda"):
            parts.append(f"CUDA {probe['cuda']}")
        parts.append(short_gpu_name(str(probe["gpu"])))
    elif probe.get("mps"):
        parts.append("Apple Metal")
    else:
        parts.append("CPU")
        if probe.get("cuda") or probe.get("hip"):
            kind = f"ROCm {probe['hip']}" if probe.get("hip") else f"CUDA {probe['cuda']}"
            parts[-1] = f"CPU (a {kind} build, but no GPU found)"
    return "engine ready: " + ", ".join(parts)


if __name__ == "__main__":  # pragma: no cover - manual use: python -m texture_addon.install.probe PYTHON
    print(describe_probe(run_probe(sys.argv[1] if len(sys.argv) > 1 else sys.executable)))
