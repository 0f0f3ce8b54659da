"""`teardown` for the SageMaker backend: is a ledger entry still the tool's, delete it, what else to list.

Handed to the `teardown` step by `SageMakerBackend.remover()`; the step owns the order, the
confirmation and the ledger writes. Ownership is re-read from AWS now (the ledger alone is not trusted):
an entry is deleted only while its tags still say it is this config's (`ownership.is_ours`: managed-by,
this config's project and stage, and for an endpoint its own name; the ledger is shared by every config
in a folder), and a role or bucket only when the ledger also says the tool created it. Finished
transform jobs cannot be deleted (SageMaker keeps the record) and bill nothing: they count as gone;
running ones are stopped. Also listed, left alone: the region's other endpoints (each bills by the
hour) and, with --all, a bucket or role named in the config that the tool did not create.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from nikkei_deepar.backends.env import BackendEnv
from nikkei_deepar.backends.removal import TeardownItem
from nikkei_deepar.errors import AccessDeniedError, AwsError, BucketForbiddenError
from nikkei_deepar.ledger import Ledger, Resource
from nikkei_deepar.ownership import (
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    is_ours,
    managed_by_tool,
    owner_note,
    whose,
)

if TYPE_CHECKING:
    from nikkei_deepar.aws.iam import IamGateway
    from nikkei_deepar.aws.s3 import S3Gateway
    from nikkei_deepar.aws.sagemaker import SageMakerGateway


class AwsRemover:
    def __init__(self, env: BackendEnv) -> None:
        self.env = env
        self.region = env.aws.region_name
        self.sm: SageMakerGateway = env.aws.sagemaker
        self.iam: IamGateway = env.aws.iam
        self.s3: S3Gateway = env.aws.s3

    # -- is the ledger entry still the tool's? ----------------------------------------------------------
    def inspect(self, r: Resource) -> TeardownItem:
        item = TeardownItem(r.kind, r.name, "leave", "", backend=r.backend)
        if r.kind in {"role", "bucket"} and not r.created:
            return replace(item, reason="the ledger does not say the tool created it")
        if r.kind not in {"role", "bucket"} and r.region and r.region != self.region:
            return replace(item, reason=f"in {r.region}: run teardown with --region {r.region}")
        if r.kind == "schedule":
            return self._inspect_schedule(r, item)
        try:
            tags = self._tags(r)
        except (BucketForbiddenError, AccessDeniedError) as exc:
            return replace(item, reason=f"cannot read it ({exc.code})")
        if tags is None:
            return replace(item, action="gone", reason="not found: already deleted")
        if not managed_by_tool(tags):
            return replace(
                item,
                reason=f"in the ledger, but its tags no longer say {MANAGED_BY_KEY}="
                f"{MANAGED_BY_VALUE} ({owner_note(tags)})",
            )
        # the ledger is shared by every config in the folder: only this config's project and stage (and,
        # for an endpoint, its name) make a resource this teardown's to delete
        if not is_ours(tags, self.env.settings.aws.tags, endpoint=r.name if r.kind == "endpoint" else None):
            return replace(item, reason=f"another config's: {whose(tags)}")
        if r.kind == "transform-job":
            status = (self.sm.describe_transform_job(r.name) or {}).get("TransformJobStatus")
            if status != "InProgress":
                return replace(
                    item,
                    action="gone",
                    reason=f"finished ({status}): nothing bills; SageMaker keeps "
                    "the job record, which cannot be deleted",
                )
            return replace(item, action="stop", reason="running: stopping it ends the charge")
        return replace(item, action="delete", reason=_WHY.get(r.kind, "created by nikkei-deepar"))

    def _inspect_schedule(self, r: Resource, item: TeardownItem) -> TeardownItem:
        """Schedules carry no tags: ours is the one that still deletes the endpoint the ledger names."""
        found = self.env.aws.scheduler.get_expiry(r.name)
        if found is None:
            return replace(item, action="gone", reason="not found: already deleted (or it ran)")
        endpoint = r.endpoint or ""
        if not found.deletes(endpoint, region=self.region):
            return replace(
                item, reason=f"no longer the expiry of endpoint {endpoint}: changed by someone else"
            )
        return replace(item, action="delete", reason=f"the expiry of endpoint {endpoint}")

    def _tags(self, r: Resource) -> dict[str, str] | None:
        """The resource's tags now, or None when it does not exist any more."""
        if r.kind == "role":
            return None if self.iam.role_arn(r.name) is None else self.iam.role_tags(r.name)
        if r.kind == "bucket":
            return None if self.s3.bucket_region(r.name) is None else self.s3.bucket_tags(r.name)
        if r.kind == "transform-job":
            found = self.sm.describe_transform_job(r.name)
            return None if found is None else self.sm.tags_of(str(found["TransformJobArn"]))
        arn = self.sm.arn_of(r.kind, r.name)
        return None if arn is None else self.sm.tags_of(arn)

    # -- deletion: True when deleted now, False when it was already gone ---------------------------------
    def delete(self, r: Resource) -> bool:
        if r.kind == "endpoint":
            return self.sm.delete_endpoint(r.name)
        if r.kind == "endpoint-config":
            return self.sm.delete_endpoint_config(r.name)
        if r.kind == "model":
            return self.sm.delete_model(r.name)
        if r.kind == "transform-job":
            return self.sm.stop_transform_job_if_running(r.name)
        if r.kind == "role":
            return self.iam.delete_role(r.name)
        if r.kind == "schedule":
            return bool(self.env.aws.scheduler.delete_expiry(r.name))
        if r.kind == "bucket":
            emptied = self.s3.empty_bucket(
                r.name, on_progress=lambda n: self.env.reporter.live(f"emptying bucket {r.name}: {n} deleted")
            )
            if emptied:
                self.env.reporter.info(
                    f"emptied bucket {r.name}: {emptied} object versions and delete markers"
                )
            return self.s3.delete_bucket(r.name)
        raise ValueError(f"no deletion for {r.kind}")

    # -- what else is there, left alone and listed -----------------------------------------------------
    def others(self, ledger: Ledger, *, include_all: bool) -> list[TeardownItem]:
        items: list[TeardownItem] = []
        recorded = {r.name for r in ledger.live_resources("endpoint")}
        for name, arn in sorted(self.sm.endpoint_arns().items()):
            if name not in recorded:
                reason = f"not in the ledger ({owner_note(self.sm.tags_of(arn))}); it bills by the hour"
                items.append(TeardownItem("endpoint", name, "leave", reason, in_ledger=False))
        if include_all:
            items.extend(self._configured_foreign(ledger))
        return items

    def _configured_foreign(self, ledger: Ledger) -> list[TeardownItem]:
        """A bucket / role named in the config that the tool did not create: say it is left alone."""
        aws = self.env.settings.aws
        items: list[TeardownItem] = []
        bucket_recorded = ledger.resource("bucket", aws.bucket) if aws.bucket else None
        if aws.bucket and bucket_recorded is None:
            try:
                exists = self.s3.bucket_region(aws.bucket) is not None
            except AwsError:
                exists = True  # another account's bucket: certainly not ours to delete
            if exists:
                items.append(
                    TeardownItem(
                        "bucket",
                        aws.bucket,
                        "leave",
                        "named in the config but not created by "
                        "nikkei-deepar (an existing bucket): never deleted",
                        in_ledger=False,
                    )
                )
        if ledger.resource("role", aws.role_name) is None and self.iam.role_arn(aws.role_name) is not None:
            items.append(
                TeardownItem(
                    "role",
                    aws.role_name,
                    "leave",
                    "named in the config but not created by nikkei-deepar (an existing role): never deleted",
                    in_ledger=False,
                )
            )
        return items


_WHY = {
    "endpoint": "bills every hour it exists",
    "endpoint-config": "no longer needed without its endpoint",
    "model": "no longer needed without its endpoint",
    "role": "created by nikkei-deepar provision (inline policies first)",
    "bucket": "created by nikkei-deepar provision: every object version and delete marker, then the bucket",
}
