"""What a backend is given by the command it serves: settings, tool home, progress output, AWS.

Deliberately not the whole command context: a backend cannot reach the step's other collaborators (the
ledger among them: what a backend needs of it is passed in, what it creates is handed back), and a test
can build one from these four things. `aws` is built on first use (`aws_factory`), and the same
`AwsServices` is handed out every time (the context caches it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nikkei_deepar.aws.services import AwsServices
    from nikkei_deepar.config import Settings
    from nikkei_deepar.output import Reporter


@dataclass(frozen=True)
class BackendEnv:
    settings: Settings
    home: Path  # the tool's home: caches (instance prices)
    workspace_dir: Path  # this workspace's folder on this machine (the local backend's root is in it)
    reporter: Reporter
    aws_factory: Callable[[], AwsServices]

    @property
    def aws(self) -> AwsServices:
        return self.aws_factory()
