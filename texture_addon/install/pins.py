"""What the engine environment holds, which PyTorch build to fetch, and how big that is.

The pins live here, once: the installer reads them, and a test checks that ``requirements.txt``
(the developers' environment) pins the same torch, numpy and pillow, so the engine that artists
install is the one the test suite runs. numpy 1.26 has no wheels for Python ≥ 3.13 (Blender 5.1
and later), so the numpy pin carries an environment marker and pip picks the line for the Python
that runs Blender.
"""

from __future__ import annotations

import platform
import sys

from ..contract.protocol import TORCH_VERSION  # the one place the tested torch version is written

TORCH_REQUIREMENT = f"torch=={TORCH_VERSION}"
#: Installed after torch, from the package index pip is configured with.
OTHER_REQUIREMENTS: tuple[str, ...] = (
    'numpy==1.26.4; python_version < "3.13"',
    'numpy==2.3.5; python_version >= "3.13"',
    "pillow==13.0.0",
)
ENGINE_REQUIREMENTS: tuple[str, ...] = (TORCH_REQUIREMENT, *OTHER_REQUIREMENTS)

#: PyTorch's own index of CPU-only wheels. On Linux the package index serves the CUDA build
#: (gigabytes); on Windows and macOS its wheels have no CUDA anyway, so "CPU only" changes nothing.
CPU_INDEX_URL = "https://download.pytorch.org/whl/cpu"

#: (identifier, name, description) for the preferences' EnumProperty.
BUILDS: tuple[tuple[str, str, str], ...] = (
    ("AUTO", "Automatic", "What the package index serves for this computer: on Linux the NVIDIA "
                          "CUDA build (large), on Windows and macOS the standard build"),
    ("CPU", "CPU Only", "The CPU-only build: much smaller on Linux; no NVIDIA GPU acceleration"),
    ("CUSTOM", "Custom Index URL", "A PyTorch wheel index of your choice, e.g. for a specific "
                                   "CUDA or an AMD ROCm build (see pytorch.org)"),
)
BUILD_IDS = frozenset(b[0] for b in BUILDS)

# Approximate sizes in MB: (download, on disk), torch and its dependencies plus numpy and pillow.
# Measured for Linux CPU (wheel 192 MB, environment 994 MB); the others from the sizes of the
# published wheels. None: it depends on the index.
_SIZES: dict[tuple[str, str], tuple[int, int] | None] = {
    ("AUTO", "linux-x86_64"): (3000, 6500),
    ("AUTO", "windows"): (260, 1100),
    ("AUTO", "macos"): (90, 400),
    ("CPU", "linux-x86_64"): (230, 1000),
    ("CPU", "linux-aarch64"): (170, 700),
    ("CPU", "windows"): (260, 1100),
    ("CPU", "macos"): (90, 400),
}
#: Free disk space asked for beyond the estimate (pip's temporary files, the probe's caches).
MARGIN_MB = 300
#: Assumed when the size is unknown (a custom index): about what a CUDA build takes.
UNKNOWN_DISK_MB = 7000


def platform_key(system: str | None = None, machine: str | None = None) -> str:
    """"linux-x86_64", "linux-aarch64", "windows", "macos" or "other", for the size table."""
    system = system or sys.platform
    machine = (machine or platform.machine()).lower()
    if system.startswith("win"):
        return "windows"
    if system == "darwin":
        return "macos"
    if system.startswith("linux"):
        return "linux-aarch64" if machine in ("aarch64", "arm64") else "linux-x86_64" if machine in ("x86_64", "amd64") else "other"
    return "other"


def torch_index_args(build: str, custom_url: str = "", system: str | None = None) -> list[str]:
    """Extra pip arguments for installing torch with the chosen build.

    Only the torch step gets them: numpy and pillow come from the index pip is configured with,
    because PyTorch's indexes do not carry every pinned version of them.
    """
    if build not in BUILD_IDS:
        raise ValueError(f"unknown PyTorch build {build!r}; expected one of {sorted(BUILD_IDS)}")
    system = system or sys.platform
    if build == "CPU":
        return [] if system == "darwin" else ["--index-url", CPU_INDEX_URL]
    if build == "CUSTOM":
        url = custom_url.strip()
        if not url:
            raise ValueError("the PyTorch build is 'Custom Index URL' but no URL is set: enter one "
                             "(e.g. a CUDA or ROCm index from pytorch.org) or choose Automatic")
        if not url.startswith(("https://", "http://", "file://")):
            raise ValueError(f"the custom index URL must start with https://, http:// or file://: {url}")
        return ["--index-url", url]
    return []


def download_estimate(build: str, system: str | None = None, machine: str | None = None) -> tuple[int, int] | None:
    """(download MB, disk MB) for ``build`` on this platform, or None when unknown (custom index)."""
    key = platform_key(system, machine)
    if build == "CPU" and key == "macos":
        build = "AUTO"
    return _SIZES.get((build, key))


def size_text(build: str, system: str | None = None, machine: str | None = None) -> str:
    """The sentence shown before Install: e.g. "downloads about 230 MB, uses about 1.0 GB of disk"."""
    sizes = download_estimate(build, system, machine)
    if sizes is None:
        return ("download size depends on the index: CUDA builds are about 3 GB, ROCm builds "
                "about 4 GB (and twice that on disk)")
    down, disk = sizes
    return f"downloads about {_mb(down)}, uses about {_mb(disk)} of disk"


def required_free_mb(build: str, system: str | None = None, machine: str | None = None) -> int:
    """Free space needed in the engine folder before starting (download + disk + margin)."""
    sizes = download_estimate(build, system, machine)
    disk, down = (sizes[1], sizes[0]) if sizes else (UNKNOWN_DISK_MB, 0)
    return disk + down + MARGIN_MB


def _mb(value: int) -> str:
    return f"{value / 1000:.1f} GB" if value >= 1000 else f"{value} MB"
