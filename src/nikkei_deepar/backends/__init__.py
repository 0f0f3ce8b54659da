"""Where DeepAR runs: one `Backend` interface (backends/base.py), one package per place.

`create_backend` is the only registry: it maps a backend's name to its package (`backends/sagemaker/`,
`backends/local/`), each owning its jobs, hosting, provisioning, removal, status probe and doctor checks.
A new backend is one package plus one branch here. Packages are imported on demand, so choosing one
never imports the other's dependencies.

The shared vocabulary the packages speak lives beside this file and imports nothing backend-specific:
`base` (the interface, specs and states), `plan` (provision), `removal` (teardown), `probe` (status),
`checks` (doctor), `env` (what a backend is given).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from nikkei_deepar.backends.env import BackendEnv
from nikkei_deepar.errors import UsageError

if TYPE_CHECKING:
    from nikkei_deepar.aws.services import AwsServices
    from nikkei_deepar.backends.base import Backend
    from nikkei_deepar.config import Settings
    from nikkei_deepar.output import Reporter


class UnknownBackendError(UsageError):
    """No backend of that name in this version (a config value, or a ledger entry from a newer version)."""


def create_backend(
    settings: Settings,
    *,
    home: Path,
    workspace_dir: Path,
    reporter: Reporter,
    aws: Callable[[], AwsServices],
    name: str | None = None,
) -> Backend:
    """The backend named `name` (default: the config's `backend`), given what it may use.

    `aws` is called only when the backend first needs AWS, so a local command never builds a session.
    """
    env = BackendEnv(
        settings=settings, home=home, workspace_dir=workspace_dir, reporter=reporter, aws_factory=aws
    )
    kind = name or settings.backend
    if kind == "sagemaker":
        from nikkei_deepar.backends.sagemaker import SageMakerBackend

        return SageMakerBackend(env)
    if kind == "local":
        # cheap: gluonts/torch are imported only by the verbs that train or predict
        from nikkei_deepar.backends.local import LocalBackend

        return LocalBackend.for_env(env)
    raise UnknownBackendError(
        f"backend = {kind!r} is not available in this version yet",
        hint='set backend = "sagemaker" in the config',
    )
