"""One BLAS thread around the numpy DeepAR: faster here, and the same bits whatever the machine's core count.

numpy's wheels bundle OpenBLAS, which splits every matrix product over all cores. For DeepAR's small
products (a few hundred paths x a few hundred gates) waking threads costs more than it saves: 400 paths
of 17 steps took 40-70 ms on one thread and 110-310 ms on two on this kind of 2-core machine. And
OpenBLAS sums in another order when it splits a product, so the same seed gave other last digits with
another thread count: pinned, a forecast is the same bits in every process.

`one_blas_thread()` sets OpenBLAS's thread count to 1 for the block and puts it back after, through the
library's own `*_set_num_threads` entry point (what threadpoolctl does, without the dependency). It
looks only for the OpenBLAS a numpy wheel bundles (numpy.libs/, numpy/.dylibs/); with another BLAS
(a conda MKL build, say) it does nothing. Standard library and numpy's location only; no I/O besides
opening that already-loaded library.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_PREFIXES = ("scipy_openblas", "openblas")  # numpy >= 2 bundles scipy-openblas; older wheels openblas
_SUFFIXES = ("64_", "_64_", "")
_Functions = tuple[Any, Any]  # (get, set): ctypes function pointers
_found: list[_Functions | None] = []


def _openblas() -> _Functions | None:
    """(get, set) of numpy's bundled OpenBLAS thread count, or None; looked up once."""
    if _found:
        return _found[0]
    functions = None
    spec = importlib.util.find_spec("numpy")
    if spec is not None and spec.origin is not None:
        package = Path(spec.origin).parent
        candidates = [*package.parent.glob("numpy.libs/*openblas*"), *package.glob(".dylibs/*openblas*")]
        for path in sorted(candidates):
            functions = _entry_points(path)
            if functions is not None:
                break
    _found.append(functions)
    return functions


def _entry_points(path: Path) -> _Functions | None:
    try:
        library = ctypes.CDLL(str(path))
    except OSError:
        return None
    for prefix in _PREFIXES:
        for suffix in _SUFFIXES:
            get = getattr(library, f"{prefix}_get_num_threads{suffix}", None)
            put = getattr(library, f"{prefix}_set_num_threads{suffix}", None)
            if get is not None and put is not None:
                get.restype, get.argtypes = ctypes.c_int, []
                put.restype, put.argtypes = None, [ctypes.c_int]
                return get, put
    return None


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """numpy's matrix products on one thread inside the block (nothing changes if its BLAS is not found)."""
    functions = _openblas()
    if functions is None:
        yield
        return
    get, put = functions
    before = int(get())
    put(1)
    try:
        yield
    finally:
        put(before)
