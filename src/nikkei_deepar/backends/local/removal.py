"""`teardown` for the local backend: the records and the store folder the tool made on this machine.

Handed to the `teardown` step by `LocalBackend.remover()`; the step owns the order (endpoints ->
endpoint configs -> models -> the store folder), the confirmation and the ledger writes. The store is
the backend's (`LocalBackend.root`); nothing outside it is ever touched.

Ownership, as for AWS: a ledger entry is deleted only while its record in the store still carries the
tag managed-by=nikkei-deepar (the backend writes the spec's tags into every record); a missing record is
already gone. Deletion goes through the backend's `delete_*` verbs.

What goes:
- By default, what stands for SageMaker's billed resources: endpoint, endpoint-config and model records.
  A local transform job ran to its end inside `predict` and nothing runs or bills: it counts as gone.
  The training jobs' folders (their `model.tar.gz`, metrics and logs) and the forecasts stay, as
  SageMaker keeps its S3 output: a model can be deployed again without retraining.
- With --all, the whole store folder (`shutil.rmtree`), everything in it included: only when the ledger
  says `provision` created it AND its path is exactly the backend's store (not a symbolic link). A
  store the tool did not create (see `backends/local/provision.py`) is left alone and listed.

When the config's backend is not "local", the entries of the local backend are left alone and listed:
the store they live in is the local backend's, so teardown runs with backend = "local" for them.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from nikkei_deepar.backends.local.files import NAME_RE, RECORD_FOLDERS, read_json
from nikkei_deepar.backends.removal import TeardownItem
from nikkei_deepar.errors import DataError, UsageError
from nikkei_deepar.ownership import MANAGED_BY_KEY, MANAGED_BY_VALUE, managed_by_tool, owner_note
from nikkei_deepar.state import Ledger, Resource


class LocalHosting(Protocol):
    """What the remover needs of the local backend (`LocalBackend` is one): its folder and its deletions."""

    @property
    def root(self) -> Path: ...

    def delete_endpoint(self, name: str) -> bool: ...

    def delete_endpoint_config(self, name: str) -> bool: ...

    def delete_model(self, name: str) -> bool: ...


_WHY = {
    "endpoint": "the active model: predict stops serving it",
    "endpoint-config": "no longer needed without its endpoint",
    "model": "no longer needed without its endpoint (its archive stays with its training job)",
}


class LocalRemover:
    def __init__(self, backend: LocalHosting | None, *, ledger: Ledger) -> None:
        """`backend` None: the config's backend is another one; this backend's entries are left alone."""
        self.backend = backend
        # Whether --all would delete the store, and with it whatever is left alone inside it.
        self.store_is_ours = self.backend is not None and _created_store(ledger, self.backend.root)

    # -- is the ledger entry still the tool's? ----------------------------------------------------------
    def inspect(self, r: Resource) -> TeardownItem:
        item = TeardownItem(r.kind, r.name, "leave", "", backend="local")
        if self.backend is None:
            return replace(item, reason='a local backend entry: run teardown with backend = "local"')
        if r.kind == "local-dir":
            return self._inspect_store(r, item, self.backend.root)
        if r.kind == "transform-job":
            return replace(
                item,
                action="gone",
                reason="ran to its end inside predict: nothing runs; its forecast stays in the store",
            )
        if r.kind not in _WHY:
            return replace(item, reason=f"no local teardown for a {r.kind}")
        try:
            tags = self._tags(r.kind, r.name)
        except DataError as exc:
            return replace(item, reason=f"cannot read its record ({exc.message})")
        if tags is None:
            return replace(item, action="gone", reason="not found: already deleted")
        if not managed_by_tool(tags):
            return replace(
                item,
                reason=f"in the ledger, but its record no longer says {MANAGED_BY_KEY}="
                f"{MANAGED_BY_VALUE} ({owner_note(tags)})"
                + ("; teardown --all deletes it with the store" if self.store_is_ours else ""),
            )
        return replace(item, action="delete", reason=_WHY[r.kind])

    def _inspect_store(self, r: Resource, item: TeardownItem, root: Path) -> TeardownItem:
        path = Path(r.name)
        if not r.created:
            return replace(item, reason="the ledger does not say the tool created it")
        if path != root:
            return replace(item, reason=f"not this config's local store ({root}): never deleted")
        if path.is_symlink():
            return replace(item, reason="a symbolic link now: never followed, never deleted")
        if not path.exists():
            return replace(item, action="gone", reason="not found: already deleted")
        if not path.is_dir():
            return replace(item, reason="not a folder any more: never deleted")
        files = sum(1 for p in path.rglob("*") if p.is_file())
        return replace(
            item,
            action="delete",
            reason=f"created by nikkei-deepar provision: the folder and everything in it ({files} "
            f"file{'s' * (files != 1)}: training jobs and their models, forecasts, records)",
        )

    def _tags(self, kind: str, name: str) -> dict[str, str] | None:
        """The record's tags now, or None when it does not exist (any more)."""
        assert self.backend is not None
        if not NAME_RE.fullmatch(name):
            return None  # the backend never writes such a record: it cannot be in the store
        found = read_json(self.backend.root / RECORD_FOLDERS[kind] / f"{name}.json")
        if found is None:
            return None
        return {str(k): str(v) for k, v in (found.get("tags") or {}).items()}

    # -- deletion: True when deleted now, False when it was already gone ---------------------------------
    def delete(self, r: Resource) -> bool:
        backend = self.backend
        if backend is None:
            raise ValueError("no local backend to delete from")
        if r.kind == "endpoint":
            return backend.delete_endpoint(r.name)
        if r.kind == "endpoint-config":
            return backend.delete_endpoint_config(r.name)
        if r.kind == "model":
            return backend.delete_model(r.name)
        if r.kind == "transform-job":
            return False  # nothing runs: there is nothing to stop
        if r.kind == "local-dir":
            return self._delete_store(Path(r.name), backend.root)
        raise ValueError(f"no local deletion for {r.kind}")

    def _delete_store(self, path: Path, root: Path) -> bool:
        # Checked again right before deleting: the plan may be a while old (a question was asked).
        if path != root or path.is_symlink():
            raise UsageError(
                f"{path} changed since the plan: not deleted",
                hint="run `nikkei-deepar teardown --all --dry-run` to see the plan again",
                code="local-store-changed",
            )
        if not path.exists():
            return False
        try:
            shutil.rmtree(path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise UsageError(
                f"cannot delete {exc.filename or path}: {exc.strerror}",
                hint="fix its permissions, then run teardown again: it resumes where it stopped",
                code="local-store",
            ) from None
        return True

    # -- what else is there, left alone and listed -----------------------------------------------------
    def others(self, ledger: Ledger, *, include_all: bool) -> list[TeardownItem]:
        if self.backend is None:
            return []
        root = self.backend.root
        items: list[TeardownItem] = []
        recorded = {r.name for r in ledger.live_resources("endpoint") if r.backend == "local"}
        endpoints = root / RECORD_FOLDERS["endpoint"]
        # With --all, the store item already says everything in it goes: no separate "left alone" lines.
        listed = endpoints.is_dir() and not (include_all and self.store_is_ours)
        for path in sorted(endpoints.glob("*.json")) if listed else []:
            name = path.stem
            if name in recorded or not NAME_RE.fullmatch(name):
                continue
            try:
                tags = self._tags("endpoint", name)
            except DataError:
                tags = {}
            if tags is None:  # a name reserved but not written yet: another command is creating it
                continue
            reason = f"not in the ledger ({owner_note(tags)})"
            items.append(TeardownItem("endpoint", name, "leave", reason, backend="local", in_ledger=False))
        if include_all and root.exists():
            entry = ledger.resource("local-dir", str(root))
            if entry is None or not entry.live:  # a live entry was inspected: listed already
                reason = (
                    "not created by nikkei-deepar provision (written by train/deploy before provision "
                    "ran, or someone else's): never deleted; remove it by hand if you no longer need it"
                )
                items.append(
                    TeardownItem("local-dir", str(root), "leave", reason, backend="local", in_ledger=False)
                )
        return items


def _created_store(ledger: Ledger, root: Path) -> bool:
    """The ledger says `provision` created exactly this store, and it is still a real folder."""
    entry = ledger.resource("local-dir", str(root))
    live = entry is not None and entry.live and entry.created
    return live and not root.is_symlink()
