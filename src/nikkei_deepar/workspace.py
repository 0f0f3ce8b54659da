"""The workspace: one project and stage, the unit that owns state and AWS resources.

A config names its workspace with `[aws.tags] project` and `stage` (default nikkei-deepar / dev). Two
configs of one workspace share its state and its resources; two workspaces never do, whatever folder or
home they run from: the state lives under the tool's home keyed by the workspace, default resource names
carry it (`{project}-{stage}` endpoint, `{project}-{stage}-sagemaker` execution role), and the S3 keys
a workspace writes start with `{prefix}/{project}/{stage}/`. Ownership is what AWS's tags say (the
`project` and `stage` tags on a resource), checked before every change: see `ownership.py`.

A leaf: names and paths only, no I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

DEFAULT_PROJECT = "nikkei-deepar"
DEFAULT_STAGE = "dev"
WORKSPACES = "workspaces"  # under the tool's home: workspaces/<project>/<stage>/
_IAM_UNSAFE = re.compile(r"[^A-Za-z0-9_+=,.@-]+")
_MAX_SEGMENT = 100  # a folder name or key segment: long tag values are shortened with a hash


@dataclass(frozen=True)
class Workspace:
    project: str
    stage: str

    @classmethod
    def of(cls, tags: Mapping[str, str]) -> Workspace:
        """The workspace a config's `[aws.tags]` name (absent tags: the defaults' project, no stage)."""
        return cls(project=tags.get("project", DEFAULT_PROJECT), stage=tags.get("stage", ""))

    @property
    def label(self) -> str:
        """For people: `project/stage`."""
        return f"{self.project}/{self.stage or '(no stage)'}"

    def folder(self, home: Path) -> Path:
        """Where this workspace's local state lives: `<home>/workspaces/<project>/<stage>/`."""
        return home / WORKSPACES / _segment(self.project) / _segment(self.stage)

    def key_root(self, prefix: str) -> str:
        """The S3 key prefix every object of this workspace is written under (no trailing slash)."""
        parts = [p for p in (prefix.strip("/"), _segment(self.project), _segment(self.stage)) if p]
        return "/".join(parts)

    def role_name(self, suffix: str) -> str:
        """A default IAM role name for this workspace, e.g. `nikkei-deepar-dev-sagemaker` (IAM's
        characters, at most 64; a long one keeps a hash of the whole so two workspaces never share it)."""
        base = _IAM_UNSAFE.sub("-", f"{self.project}-{self.stage}" if self.stage else self.project).strip("-")
        name = f"{base}-{suffix}"
        if len(name) <= 64:
            return name
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        return f"{base[: 64 - len(suffix) - 10]}-{digest}-{suffix}"


def _segment(value: str) -> str:
    """A tag value as one folder name or key segment: percent-encoded where a path would split or
    hide it (`/`, `..`, spaces), shortened with a hash when long; "_" for an empty value."""
    if not value:
        return "_"
    safe = quote(value, safe="-_.@+=:,")
    if safe in {".", ".."}:
        safe = safe.replace(".", "%2E")
    if len(safe) > _MAX_SEGMENT:
        safe = safe[: _MAX_SEGMENT - 9] + "-" + hashlib.sha256(value.encode()).hexdigest()[:8]
    return safe
