"""`teardown` for the SageMaker backend: is a ledger entry still this workspace's, delete it, what else
to list.

Handed to the `teardown` step by `SageMakerBackend.remover()`; the step owns the order, the
confirmation and the ledger writes. Ownership is re-read from AWS now, never taken from the state: an entry
is deleted only while its tags say it is this workspace's (`ownership.is_ours`: managed-by, this config's
project and stage, and for an endpoint its own name), and a role or bucket only when the state also says
the tool created it. An entry whose tags say it is another's (another stage, nobody, edited by hand) is
refused: nothing is done to it and teardown exits 2. A schedule has no tags: it is ours while its target
deletes this config's endpoint and it runs as this config's scheduler role.

A bucket is emptied only under this workspace's keys (`{prefix}/{project}/{stage}/`); while it still
holds other objects (another stage's, or anything else) it is kept, and the result says so. Finished
transform jobs cannot be deleted (SageMaker keeps the record) and bill nothing: they count as gone;
running ones are stopped. Also listed, left alone: the region's other endpoints (each bills by the hour)
and, with --all, a bucket or role named in the config that the tool did not create.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from nikkei_deepar.backends.env import BackendEnv
from nikkei_deepar.backends.removal import Removed, TeardownItem
from nikkei_deepar.errors import AccessDeniedError, AwsError, BucketForbiddenError
from nikkei_deepar.ledger import Ledger, Resource
from nikkei_deepar.ownership import is_ours, mismatch, owner_note

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
            return replace(item, reason="the state does not say the tool created it")
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
        # AWS's tags decide, now: this workspace's project and stage (and, for an endpoint, its name)
        if not is_ours(tags, self.env.settings.aws.tags, endpoint=r.name if r.kind == "endpoint" else None):
            return replace(item, action="refuse", reason=f"{mismatch(r.kind, r.name, tags)}")
        if r.kind == "bucket":
            return self._inspect_bucket(r, item)
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
        role = self.iam.role_arn(self.env.settings.scheduler_role_name())
        if not found.targets(endpoint, region=self.region) or found.role_arn != role:
            return replace(
                item,
                action="refuse",
                reason=f"the state lists schedule {r.name} as the expiry of endpoint {endpoint}, but AWS "
                f"says it {found.describe_target()}: changed by someone else",
            )
        return replace(item, action="delete", reason=f"the expiry of endpoint {endpoint}")

    def _inspect_bucket(self, r: Resource, item: TeardownItem) -> TeardownItem:
        """This workspace's bucket: its keys go; the bucket goes too unless it holds other objects."""
        root = f"{self.env.settings.key_root}/"
        others, shown = self.s3.keys_outside(r.name, root)
        if others:
            examples = ", ".join(shown)
            return replace(
                item,
                action="empty",
                reason=f"this workspace's objects under s3://{r.name}/{root} are deleted; the bucket is "
                f"kept: it holds {others} object version{'s' * (others != 1)} outside them (e.g. "
                f"{examples}), another stage's or someone else's",
            )
        return replace(item, action="delete", reason=_WHY["bucket"])

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
    def delete(self, r: Resource) -> Removed:
        if r.kind == "bucket":
            return self._delete_bucket(r.name)
        if r.kind == "prefix":  # this workspace's keys in a bucket it does not own
            from nikkei_deepar.aws.s3 import split_uri

            bucket, prefix = split_uri(r.name)
            return "deleted" if self.s3.empty_bucket(bucket, prefix=prefix) else "gone"
        deleted = self._delete(r)
        return "deleted" if deleted else "gone"

    def _delete(self, r: Resource) -> bool:
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
        raise ValueError(f"no deletion for {r.kind}")

    def _delete_bucket(self, bucket: str) -> Removed:
        """This workspace's keys, then the bucket when nothing else is left in it (checked again now:
        another stage may have written since the plan)."""
        root = f"{self.env.settings.key_root}/"
        emptied = self.s3.empty_bucket(
            bucket,
            prefix=root,
            on_progress=lambda n: self.env.reporter.live(f"emptying s3://{bucket}/{root}: {n} deleted"),
        )
        if emptied:
            self.env.reporter.info(
                f"emptied s3://{bucket}/{root}: {emptied} object versions and delete markers"
            )
        others, _ = self.s3.keys_outside(bucket, root)
        if others:
            self.env.reporter.warn(
                f"bucket {bucket} kept: it still holds {others} object versions outside s3://{bucket}/{root}"
            )
            return "kept"
        return "deleted" if self.s3.delete_bucket(bucket) else "gone"

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

    def _own_keys(self, bucket: str) -> list[TeardownItem]:
        """This workspace's objects in a bucket it does not own: they go, the bucket stays. They are this
        workspace's by construction: nothing else writes under its key root."""
        root = f"{self.env.settings.key_root}/"
        try:
            keys = self.s3.keys_under(bucket, root)
        except AwsError:
            return []  # not readable: nothing of ours can be listed there either
        if not keys:
            return []
        reason = f"this workspace's {len(keys)} object{'s' * (len(keys) != 1)}; the bucket itself stays"
        return [TeardownItem("prefix", f"s3://{bucket}/{root}", "delete", reason, in_ledger=False)]

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
                items.extend(self._own_keys(aws.bucket))
        role = self.env.settings.execution_role_name()
        if ledger.resource("role", role) is None and self.iam.role_arn(role) is not None:
            items.append(
                TeardownItem(
                    "role",
                    role,
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
