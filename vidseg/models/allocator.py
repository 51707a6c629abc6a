"""Keeping glibc from handing a model thread's memory back to the OS after every frame.

A model step allocates and frees the same large tensors every frame. In the main
thread glibc keeps that memory for reuse; in any other thread (where the pipeline runs the
model) glibc's per-thread heaps give freed pages back to the kernel as soon as their top grows
past a small threshold, and the next frame faults them in again: measured ~1,300 page faults per
frame at image size 256, each page zeroed by the kernel, and none in the main thread.
Fixed thresholds stop that. It is a process-wide setting, so jobs call :func:`keep_freed_memory`
when they start (never at import); elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

# mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Free memory at the top of a heap is kept up to this size instead of being given back.
TRIM_THRESHOLD = 1 << 30
# Blocks up to this size come from the heaps (glibc's largest allowed value on 64-bit), so they
# are reused; larger ones are mapped and unmapped each time.
MMAP_THRESHOLD = 32 << 20

_done = False


def keep_freed_memory() -> bool:
    """Set glibc's trim and mmap thresholds for a long-running job (once); True when applied.

    The process then keeps its peak heap for reuse, as the main thread's heap does anyway.
    """
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt): nothing to tune
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    if not ok:
        log.debug("mallopt refused the thresholds; freed memory may be returned to the OS every frame")
    _done = ok
    return ok
