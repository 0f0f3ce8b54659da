"""Where DeepAR runs: one `Backend` interface (backends/base.py), one implementation per place.

`create_backend(ctx)` picks the implementation named by `settings.backend`; the steps only ever see
the interface. Implementations are imported on demand, so choosing one never imports the other's
dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nikkei_deepar.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from nikkei_deepar.backends.base import Backend
    from nikkei_deepar.context import Context


def create_backend(ctx: Context) -> Backend:
    kind = ctx.settings.backend
    if kind == "sagemaker":
        from nikkei_deepar.backends.sagemaker import SageMakerBackend

        return SageMakerBackend(
            ctx.settings,
            gateway=ctx.gateway,
            region=lambda: ctx.aws.region_name,
            role_arn=lambda: execution_role_arn(ctx),
        )
    if kind == "local":
        # cheap: gluonts/torch are imported only by the verbs that train or predict
        from nikkei_deepar.backends.local import LocalBackend

        return LocalBackend(ctx.home / "local", reporter=ctx.reporter, seed=ctx.settings.training.seed)
    raise UsageError(
        f"backend = {kind!r} is not available in this version yet",
        hint='set backend = "sagemaker" in the config',
    )


def execution_role_arn(ctx: Context) -> str:
    """The SageMaker execution role: the one `provision` recorded, else the configured name looked up."""
    name = ctx.settings.aws.role_name
    recorded = ctx.store.load().resource("role", name)
    if recorded is not None and recorded.live and recorded.arn:
        return recorded.arn
    arn = ctx.gateway("iam").role_arn(name)
    if arn is None:
        raise NotFoundError(
            f"IAM role {name!r} does not exist",
            hint="run `nikkei-deepar provision` to create it, or set [aws] role_name to an existing role",
        )
    return str(arn)
