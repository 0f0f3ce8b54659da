"""`provision` for the local backend: the store folder everything local lives in, created or checked.

Handed to the `provision` step by `LocalBackend.provisioner()`. One plan item, for the
backend's store folder (`LocalBackend.store`, `<tool home>/local/` by default: the path is taken from
the backend, never recomputed here). `plan()` only looks at the disk; `apply` creates the folder and
records it in the ledger at once (a `local-dir` resource, backend "local", `created`), so
`teardown --all` can remove it and nothing else.

A folder that is there but not in the ledger:
- empty: adopted (recorded as the tool's). Nothing in it can be anyone else's, and it is what a run
  interrupted between creating the folder and writing the ledger leaves behind.
- holding only the backend's own top-level folders (`data/`, `jobs/`, `models/`, ...: what `prepare`
  leaves when it runs before provision, the documented order): adopted too.
- holding anything else: used as it is, not recorded. A folder has no tag to prove who made it, and it may
  hold what `train`/`deploy` wrote before `provision` ever ran, or someone else's files. teardown
  still removes the tool's own records in it (endpoints, configs, models: each in the ledger and
  tagged), but `teardown --all` never deletes the folder itself: the user removes it by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nikkei_deepar.backends.local.files import STORE_ENTRIES
from nikkei_deepar.backends.plan import Action, Applied, PlanItem
from nikkei_deepar.errors import ExitCode, UsageError
from nikkei_deepar.ledger import Ledger, Resource

KIND = "local-dir"
_WHAT = "the local store: training jobs and their models, endpoint records, forecasts"


class LocalProvisioner:
    def __init__(self, root: Path) -> None:
        self.root = root

    def target(self) -> dict[str, Any]:
        return {"backend": "local", "store": str(self.root)}

    def plan(self, ledger: Ledger) -> list[PlanItem]:
        name, root = str(self.root), self.root
        recorded = ledger.created(KIND, name)
        if root.is_symlink():
            return [self._item("use", f"a symbolic link to {root.resolve()}: {_NOT_OURS}", owned=False)]
        if root.exists() and not root.is_dir():
            return [
                self._item(
                    "problem",
                    f"{root} exists but is not a folder: the local backend keeps its files there",
                    owned=False,
                    exit_code=ExitCode.USAGE,
                    code="local-store-not-a-folder",
                )
            ]
        if not root.exists():
            gone = " (the ledger recorded it, but it is gone: creating it again)" if recorded else ""
            return [self._item("create", _WHAT + gone, owned=True, apply=self._create)]
        if recorded:
            return [self._item("ok", "created by nikkei-deepar provision", owned=True)]
        entries = {entry.name for entry in root.iterdir()}
        if not entries:
            detail = "empty and missing from the ledger (an earlier run was interrupted?): recording it"
            return [self._item("adopt", detail, owned=True, apply=self._adopt)]
        if entries <= STORE_ENTRIES:
            # `prepare` (or train) ran before provision, as the documented order allows: the store holds
            # only the backend's own folders, so it is the tool's.
            detail = "holds only the tool's own folders (prepare ran first): recording it"
            return [self._item("adopt", detail, owned=True, apply=self._adopt)]
        return [self._item("use", f"already holds files: {_NOT_OURS}", owned=False)]

    def _item(self, action: Action, detail: str, *, owned: bool, **kw: Any) -> PlanItem:
        return PlanItem(KIND, str(self.root), action, detail, owned=owned, **kw)

    def _create(self) -> Applied:
        try:
            self.root.mkdir(parents=True)
        except FileExistsError:
            raise UsageError(
                f"{self.root} appeared while provision was running",
                hint="run `nikkei-deepar provision` again: it will check the existing folder",
                code="local-conflict",
            ) from None
        except OSError as exc:
            raise UsageError(
                f"cannot create the local store {self.root}: {exc.strerror}",
                hint="set NIKKEI_DEEPAR_HOME to a folder you can write to",
                code="local-store",
            ) from None
        return self._recorded(adopted=False)

    def _adopt(self) -> Applied:
        return self._recorded(adopted=True)

    def _recorded(self, *, adopted: bool) -> Applied:
        resource = Resource(kind=KIND, name=str(self.root), backend="local", created=True, adopted=adopted)
        return Applied(recorded=(resource,))


_NOT_OURS = "not created by nikkei-deepar provision: used as it is; teardown --all never deletes the folder"
