"""`doctor`'s checks for the local backend: the [local] extra (found without importing it), the store folder.

Handed to the `doctor` step by `LocalBackend.checks()`. Reads only: nothing is created or imported.
"""

from __future__ import annotations

import os
from pathlib import Path

from nikkei_deepar.backends.checks import Check, from_error, ok, problem
from nikkei_deepar.errors import ExitCode, NikkeiError


def local_checks(root: Path) -> list[Check]:
    return [_local_extra(), _local_store(root)]


def _local_extra() -> Check:
    from nikkei_deepar.engine.loader import load_engine

    try:
        load_engine()  # find_spec only: gluonts/torch are not imported here
    except NikkeiError as exc:
        return from_error("local-extra", exc)
    return ok("local-extra", "gluonts, torch and lightning are installed (not imported)")


def _local_store(root: Path) -> Check:
    existing = root
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if root.exists() and not root.is_dir():
        return problem(
            "local-store",
            f"{root} exists but is not a folder",
            fix="move it away; the local backend keeps its models there",
            exit_code=ExitCode.USAGE,
            code="local-store-not-a-folder",
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        return problem(
            "local-store",
            f"{root}: cannot write to {existing}",
            fix="set NIKKEI_DEEPAR_HOME to a folder you can write to",
            exit_code=ExitCode.USAGE,
            code="local-store",
        )
    state = "exists" if root.is_dir() else f"not created yet; {existing} is writable"
    return ok("local-store", f"{root}: {state}")
