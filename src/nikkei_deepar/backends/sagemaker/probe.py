"""`status`'s probe for the SageMaker backend: do recorded resources exist in AWS, and what they look like.

Handed to the `status` step by `SageMakerBackend.probe()`; the step owns the ledger's view, drift, the
result and its lines; `backends/probe.py` the protocol. Resources are "ours" per `ownership.is_ours`.

Read-only: only describe/list/head/get calls; a probe never creates, changes or deletes anything, in AWS
or in the ledger.
"""

from __future__ import annotations

from typing import Any

from nikkei_deepar.backends.env import BackendEnv
from nikkei_deepar.backends.probe import HOSTING_KINDS
from nikkei_deepar.errors import AwsError, BucketForbiddenError
from nikkei_deepar.ledger import Ledger, Resource
from nikkei_deepar.ownership import is_ours


class AwsProbe:
    backend = "sagemaker"

    def __init__(self, env: BackendEnv) -> None:
        self.env = env
        self.sm = env.aws.sagemaker
        self.wanted = env.settings.aws.tags

    def exists(self, r: Resource) -> bool | None:
        if r.kind in HOSTING_KINDS:
            return self.sm.arn_of(r.kind, r.name) is not None
        if r.kind == "transform-job":
            return self.sm.describe_transform_job(r.name) is not None
        if r.kind == "role":
            return self.env.aws.iam.role_arn(r.name) is not None
        if r.kind == "schedule":  # gone once it has run: ActionAfterCompletion DELETE
            return self.env.aws.scheduler.get_expiry(r.name) is not None
        if r.kind == "bucket":
            try:
                return self.env.aws.s3.bucket_region(r.name) is not None
            except BucketForbiddenError:
                return True  # it exists; this caller may not look inside
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
        aws = self.env.settings.aws
        if aws.bucket and ("bucket", aws.bucket) not in known:
            s3 = self.env.aws.s3
            try:
                tags = s3.bucket_tags(aws.bucket) if s3.bucket_region(aws.bucket) is not None else None
            except AwsError:  # another account's bucket, or no s3:GetBucketTagging: not ours to report
                tags = None
            if is_ours(tags, self.wanted):
                found.append(("bucket", aws.bucket))
        role = self.env.settings.execution_role_name()
        if ("role", role) not in known:
            iam = self.env.aws.iam
            if iam.role_arn(role) is not None and is_ours(iam.role_tags(role), self.wanted):
                found.append(("role", role))
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
