"""`require()`: skip the calling test module when the [local] extra (GluonTS, torch) is not installed,
without importing either: collecting a module must not cost each pytest worker a torch import (~3 s);
the tests that train import it when they run."""

from __future__ import annotations

import importlib.util

import pytest


def require() -> None:
    missing = [name for name in ("gluonts", "torch") if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"needs the [local] extra ({', '.join(missing)} not installed)", allow_module_level=True)
