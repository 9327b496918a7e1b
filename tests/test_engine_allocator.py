"""The engine keeps freed heap memory between iterations (glibc's top pad), set once on import."""

from __future__ import annotations

import ctypes
import platform
import sys

import pytest

import texture_addon.engine  # noqa: F401  (importing the engine is what sets the pad)
from texture_addon.engine import allocator


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="mallopt is glibc's; elsewhere the engine leaves the allocator alone")
def test_engine_import_sets_the_heap_top_pad():
    assert allocator._done, "importing texture_addon.engine did not set glibc's top pad"
    # mallinfo2's keepcost/arena cannot show the pad directly; setting it again must still be accepted
    libc = ctypes.CDLL("libc.so.6")
    assert libc.mallopt(-2, allocator.TOP_PAD_BYTES) == 1
    assert allocator.keep_freed_memory() is True  # idempotent
