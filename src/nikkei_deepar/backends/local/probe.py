"""`status`'s probe for the local backend: do the records in the store exist, and what they look like.

Handed to the `status` step by `LocalBackend.probe()`. Read-only: file reads only; a probe never
creates, changes or deletes anything, in the store or in the ledger.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nikkei_deepar.backends.local.files import RECORD_FOLDERS, read_json
from nikkei_deepar.backends.probe import HOSTING_KINDS
from nikkei_deepar.errors import DataError
from nikkei_deepar.ledger import Ledger, Resource
from nikkei_deepar.ownership import is_ours


class LocalProbe:
    backend = "local"

    def __init__(self, root: Path, *, wanted: dict[str, str]) -> None:
        self.root = root
        self.wanted = wanted

    def _record_path(self, kind: str, name: str) -> Path | None:
        folder = RECORD_FOLDERS.get(kind)
        if folder is None or "/" in name or name in {"", ".", ".."}:
            return None
        return self.root / folder / f"{name}.json"

    def exists(self, r: Resource) -> bool | None:
        if r.kind == "local-dir":
            return Path(r.name).is_dir()
        path = self._record_path(r.kind, r.name)
        return None if path is None else path.is_file()

    def untracked(self, ledger: Ledger) -> list[tuple[str, str]]:
        """(kind, name) of the store's records that carry this tool's tags but are not live in the ledger."""
        known = {(r.kind, r.name) for r in ledger.live_resources() if r.backend == "local"}
        found = []
        for kind in HOSTING_KINDS:
            folder = self.root / RECORD_FOLDERS[kind]
            for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
                if (kind, path.stem) in known:
                    continue
                try:
                    record = read_json(path) or {}
                except DataError:
                    continue
                tags = {str(k): str(v) for k, v in (record.get("tags") or {}).items()}
                if is_ours(tags, self.wanted):
                    found.append((kind, path.stem))
        return found

    def variant(self, config_name: str) -> dict[str, Any] | None:
        path = self._record_path("endpoint-config", config_name)
        record = read_json(path) if path is not None else None
        if not record:
            return None
        serverless = record.get("serverless")
        if serverless:
            return {"serverless": True, **serverless}
        return {
            "serverless": False,
            "instance_type": record.get("instance_type"),
            "instance_count": record.get("instance_count", 1),
        }
