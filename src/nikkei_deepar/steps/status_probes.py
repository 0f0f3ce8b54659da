"""`status`'s probes: asking AWS or the local store whether recorded resources exist, and what they look like.

Used by `steps/status.py`, which owns the step (the ledger's view, drift, the result and its lines). A probe
answers three questions for one backend: does this ledger resource still exist where it lives, which
resources carry this tool's tags (managed-by=nikkei-deepar and this config's project/stage tags) but are
not live in the ledger, and what does an endpoint config serve (instance type and count, or serverless).
`make_probe` picks `AwsProbe` (SageMaker, IAM, S3) or `LocalProbe` (the local backend's store).

Read-only: only describe/list/head/get calls and file reads; a probe never creates, changes or deletes
anything, in AWS, in the store or in the ledger.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from nikkei_deepar.context import Context
from nikkei_deepar.errors import AwsError, NikkeiError
from nikkei_deepar.state import Ledger, Resource
from nikkei_deepar.steps.provision import is_ours

if TYPE_CHECKING:
    from nikkei_deepar.backends.base import Backend

SAGEMAKER_KINDS = ("endpoint", "endpoint-config", "model")
# The local store's layout for the records that stand for SageMaker's resources (backends/local.py).
_LOCAL_FOLDERS = {
    "endpoint": "endpoints",
    "endpoint-config": "endpoint-configs",
    "model": "models",
    "transform-job": "transforms",
}


class Probe(Protocol):
    """One backend's answers: does it exist, what else is ours, what does an endpoint config say."""

    backend: str  # the backend name the resources it finds are recorded under

    def exists(self, r: Resource) -> bool | None: ...

    def untracked(self, ledger: Ledger) -> list[tuple[str, str]]: ...

    def variant(self, config_name: str) -> dict[str, Any] | None: ...


def make_probe(ctx: Context, backend: Backend) -> Probe:
    if backend.name == "sagemaker":
        return AwsProbe(ctx)
    from nikkei_deepar.backends.local import LocalBackend

    if isinstance(backend, LocalBackend):
        return LocalProbe(ctx, backend.store)
    raise NikkeiError(f"status: no probe for backend {backend.name!r}")  # pragma: no cover


class AwsProbe:
    backend = "sagemaker"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.sm = ctx.gateway("sagemaker")
        self.wanted = ctx.settings.aws.tags

    def exists(self, r: Resource) -> bool | None:
        if r.kind in SAGEMAKER_KINDS:
            return self.sm.arn_of(r.kind, r.name) is not None
        if r.kind == "transform-job":
            return self.sm.describe_transform_job(r.name) is not None
        if r.kind == "role":
            return self.ctx.gateway("iam").role_arn(r.name) is not None
        if r.kind == "schedule":  # gone once it has run: ActionAfterCompletion DELETE
            return self.ctx.gateway("scheduler").get_expiry(r.name) is not None
        if r.kind == "bucket":
            try:
                return self.ctx.gateway("s3").bucket_region(r.name) is not None
            except AwsError as exc:
                if exc.code == "bucket-forbidden":
                    return True  # it exists; this caller may not look inside
                raise
        return None

    def untracked(self, ledger: Ledger) -> list[tuple[str, str]]:
        """(kind, name) of what carries this tool's tags but is not live in the ledger."""
        known = {(r.kind, r.name) for r in ledger.live_resources() if r.backend == "sagemaker"}
        found: list[tuple[str, str]] = []
        listings = {
            "endpoint": self.sm.endpoint_arns(),
            "endpoint-config": self.sm.endpoint_config_arns(),
            "model": self.sm.model_arns(),
        }
        for kind, arns in listings.items():
            for name, arn in sorted(arns.items()):
                if (kind, name) not in known and is_ours(self.sm.tags_of(arn), self.wanted):
                    found.append((kind, name))
        aws = self.ctx.settings.aws
        if aws.bucket and ("bucket", aws.bucket) not in known:
            s3 = self.ctx.gateway("s3")
            try:
                tags = s3.bucket_tags(aws.bucket) if s3.bucket_region(aws.bucket) is not None else None
            except AwsError:  # another account's bucket, or no s3:GetBucketTagging: not ours to report
                tags = None
            if is_ours(tags, self.wanted):
                found.append(("bucket", aws.bucket))
        if ("role", aws.role_name) not in known:
            iam = self.ctx.gateway("iam")
            if iam.role_arn(aws.role_name) is not None and is_ours(iam.role_tags(aws.role_name), self.wanted):
                found.append(("role", aws.role_name))
        return found

    def variant(self, config_name: str) -> dict[str, Any] | None:
        raw = self.sm.describe_endpoint_config(config_name)
        variants = (raw or {}).get("ProductionVariants") or []
        if not variants:
            return None
        first = variants[0]
        serverless = first.get("ServerlessConfig")
        if serverless:
            return {
                "serverless": True,
                "memory_mb": serverless.get("MemorySizeInMB"),
                "max_concurrency": serverless.get("MaxConcurrency"),
            }
        return {
            "serverless": False,
            "instance_type": first.get("InstanceType"),
            "instance_count": first.get("InitialInstanceCount", 1),
        }


class LocalProbe:
    backend = "local"

    def __init__(self, ctx: Context, store: Path) -> None:
        self.store = store
        self.wanted = ctx.settings.aws.tags

    def _record_path(self, kind: str, name: str) -> Path | None:
        folder = _LOCAL_FOLDERS.get(kind)
        if folder is None or "/" in name or name in {"", ".", ".."}:
            return None
        return self.store / folder / f"{name}.json"

    def exists(self, r: Resource) -> bool | None:
        if r.kind == "local-dir":
            return Path(r.name).is_dir()
        path = self._record_path(r.kind, r.name)
        return None if path is None else path.is_file()

    def untracked(self, ledger: Ledger) -> list[tuple[str, str]]:
        """(kind, name) of the store's records that carry this tool's tags but are not live in the ledger."""
        from nikkei_deepar.backends.local_files import read_json
        from nikkei_deepar.errors import DataError

        known = {(r.kind, r.name) for r in ledger.live_resources() if r.backend == "local"}
        found = []
        for kind in SAGEMAKER_KINDS:
            folder = self.store / _LOCAL_FOLDERS[kind]
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
        from nikkei_deepar.backends.local_files import read_json

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
