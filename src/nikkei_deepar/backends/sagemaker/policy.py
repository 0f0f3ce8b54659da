"""IAM and bucket policy documents, built from the settings. Pure: no network, no boto3.

The execution role gets exactly what a DeepAR training job, an endpoint and a batch transform need
(AWS-FACTS.md, IAM section) and nothing else: no `*` actions, every resource scoped to the bucket, its
prefixes, the region's DeepAR repository, SageMaker's own log groups and the configured KMS key.
`Resource: "*"` appears only where the action does not support resource-level permissions.

`canonical()` puts a policy in a comparable form (IAM hands documents back with single strings where we
wrote lists, in another order), so provision can tell an edited policy from an unchanged one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from nikkei_deepar.images import deepar_repository_arn, partition

VERSION = "2012-10-17"
SAGEMAKER_PRINCIPAL = "sagemaker.amazonaws.com"
INLINE_POLICY_NAME = "nikkei-deepar-execution"
SCHEDULER_PRINCIPAL = "scheduler.amazonaws.com"
SCHEDULER_POLICY_NAME = "nikkei-deepar-expiry"
TLS_SID = "DenyInsecureTransport"

_KEY_ID_RE = re.compile(r"^(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


def trust_policy(*, account: str, region: str) -> dict[str, Any]:
    """Only SageMaker may assume the execution role, and only on behalf of this account's SageMaker in
    this region (aws:SourceAccount, aws:SourceArn): another account's SageMaker cannot be made to use it
    (the confused-deputy problem)."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": SAGEMAKER_PRINCIPAL},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account},
                    "ArnLike": {"aws:SourceArn": f"arn:{partition(region)}:sagemaker:{region}:{account}:*"},
                },
            }
        ],
    }


def role_description(tags: dict[str, str]) -> str:
    """The execution role's description: whose it is. IAM allows only Latin-1 text there, so a tag value
    outside it (e.g. Japanese) is left to the role's tags, which allow it."""

    def plain(key: str) -> str:
        value = tags.get(key, "-")
        return (
            value
            if all(c in "\t\n\r" or 0x20 <= ord(c) <= 0x7E or 0xA1 <= ord(c) <= 0xFF for c in value)
            else "(see tags)"
        )

    return (
        f"SageMaker execution role for nikkei-deepar (project {plain('project')}, "
        f"stage {plain('stage')}), created by `nikkei-deepar provision`"
    )


def trusts_sagemaker(document: dict[str, Any]) -> bool:
    """Whether a trust policy lets sagemaker.amazonaws.com call sts:AssumeRole (needed to use the role)."""
    return trusts_service(document, SAGEMAKER_PRINCIPAL)


def trusts_service(document: dict[str, Any], service: str) -> bool:
    """Whether a trust policy lets `service` (e.g. scheduler.amazonaws.com) call sts:AssumeRole."""
    for statement in _statements(document):
        if statement.get("Effect") != "Allow":
            continue
        actions = _as_list(statement.get("Action"))
        if not any(a in {"sts:AssumeRole", "sts:*", "*"} for a in actions):
            continue
        principal = statement.get("Principal")
        services = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
        if service in services:
            return True
    return False


def scheduler_trust_policy(account: str) -> dict[str, Any]:
    """Only EventBridge Scheduler, and only for schedules in `account`, may assume the expiry role (the
    aws:SourceAccount condition keeps another account's schedules from using it: the confused deputy)."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": SCHEDULER_PRINCIPAL},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
            }
        ],
    }


def endpoint_arn(endpoint: str, *, region: str, account: str) -> str:
    """A SageMaker endpoint's ARN. SageMaker writes resource names in ARNs in lower case, and IAM compares
    ARNs case-sensitively, so the name is lowered here."""
    return f"arn:{partition(region)}:sagemaker:{region}:{account}:endpoint/{endpoint.lower()}"


def scheduler_policy(*, endpoint: str, region: str, account: str) -> dict[str, Any]:
    """The expiry role's inline policy: delete this one endpoint, nothing else (no Describe, no wildcard)."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "DeleteThisEndpoint",
                "Effect": "Allow",
                "Action": "sagemaker:DeleteEndpoint",
                "Resource": endpoint_arn(endpoint, region=region, account=account),
            }
        ],
    }


def kms_key_arn(key: str, *, region: str, account: str) -> str:
    """A key id, key ARN, alias name or alias ARN -> the ARN to put in a policy's Resource.

    Anything else (a wildcard, a junk value) is refused: in a Resource it would widen the policy. The
    config refuses such values first; this is the last line."""
    if any(c in key for c in "*?$"):
        raise ValueError(f"refusing a KMS key with a wildcard or variable in the execution policy: {key!r}")
    if key.startswith("arn:") and ":kms:" in key and (":key/" in key or ":alias/" in key):
        return key
    if key.startswith("alias/"):
        return f"arn:{partition(region)}:kms:{region}:{account}:{key}"
    if _KEY_ID_RE.fullmatch(key):
        return f"arn:{partition(region)}:kms:{region}:{account}:key/{key}"
    raise ValueError(f"not a KMS key ARN, alias or key id: {key!r}")


def _kms_statement(key: str, *, region: str, account: str) -> dict[str, Any]:
    arn = kms_key_arn(key, region=region, account=account)
    actions = ["kms:CreateGrant", "kms:Decrypt", "kms:GenerateDataKey"]
    if ":alias/" not in arn:
        return {"Sid": "UseConfiguredKmsKey", "Effect": "Allow", "Action": actions, "Resource": arn}
    # An alias is not a key: IAM matches the key behind it through the kms:ResourceAliases condition.
    alias = arn.split(":", 5)[5]
    key_arns = arn.rsplit(":", 1)[0] + ":key/*"
    return {
        "Sid": "UseConfiguredKmsKey",
        "Effect": "Allow",
        "Action": actions,
        "Resource": key_arns,
        "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": alias}},
    }


def execution_policy(
    *, bucket: str, prefix: str, key_root: str, region: str, account: str, kms_key: str | None = None
) -> dict[str, Any]:
    """The execution role's inline policy, for one workspace.

    S3 layout, as the steps use it, under the workspace's `key_root` (`{prefix}/{project}/{stage}`):
    channels under `data/` (prepare), training output (model.tar.gz) under `output/` (train; endpoints and
    transforms load the model from there, so it is readable too), and each batch forecast's input and
    output under `predict/{job}/input/` and `predict/{job}/output/` (predict --batch). Another stage's
    keys are neither readable nor writable. Data and models written before workspaces existed (directly
    under `{prefix}/data/` and `{prefix}/output/`) stay readable, so a model deployed then can be
    deployed again.
    """
    if any(c in value for value in (prefix, key_root) for c in "*?$"):
        raise ValueError(
            f"refusing a prefix with a wildcard or variable in the execution policy: {key_root!r}"
        )
    part = partition(region)
    bucket_arn = f"arn:{part}:s3:::{bucket}"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ListOwnPrefix",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [f"{prefix}/*"]}},
        },
        {
            "Sid": "ReadInputs",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": [
                f"{bucket_arn}/{key_root}/data/*",
                f"{bucket_arn}/{key_root}/output/*",
                f"{bucket_arn}/{key_root}/predict/*/input/*",
                f"{bucket_arn}/{prefix}/data/*",  # written before workspaces existed
                f"{bucket_arn}/{prefix}/output/*",
            ],
        },
        {
            "Sid": "WriteOutputs",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": [f"{bucket_arn}/{key_root}/output/*", f"{bucket_arn}/{key_root}/predict/*/output/*"],
        },
        {
            "Sid": "PullDeepArImage",
            "Effect": "Allow",
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Resource": deepar_repository_arn(region),
        },
        {
            "Sid": "EcrLogin",
            "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken",
            # ecr:GetAuthorizationToken supports no resource-level permissions: AWS requires "*".
            "Resource": "*",
        },
        {
            "Sid": "WriteSageMakerLogs",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:DescribeLogStreams",
                "logs:PutLogEvents",
            ],
            "Resource": f"arn:{part}:logs:{region}:{account}:log-group:/aws/sagemaker/*",
        },
        {
            "Sid": "PublishMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            # cloudwatch:PutMetricData supports no resource-level permissions: AWS requires "*".
            "Resource": "*",
        },
    ]
    if kms_key:
        statements.append(_kms_statement(kms_key, region=region, account=account))
    return {"Version": VERSION, "Statement": statements}


# -- what a role someone else manages allows ------------------------------------------------------------
def missing_grants(documents: list[dict[str, Any]], needed: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (action, resource ARN) pairs of `needed` that `documents` (a role's inline and attached
    policies) do not allow: allowed means an Allow statement whose Action (or NotAction) and Resource (or
    NotResource) match, with IAM's wildcards, and no Deny statement without a condition that matches.

    Conditions are not evaluated (an Allow with a condition counts, a conditional Deny does not apply):
    this answers "does this policy mean to grant it", for roles the tool will not modify."""
    return [(action, resource) for action, resource in needed if not _allows(documents, action, resource)]


def uncovered(
    read_documents: Callable[[], list[dict[str, Any]]], needed: list[tuple[str, str]]
) -> str | None:
    """Why a role the tool will not modify does not grant `needed`, in words for a message ("its policies
    do not allow ACTION on ARN (and N more)", or "its policies could not be read (CODE)" when reading them
    fails); None when it grants all of it. `read_documents` reads the role's policies."""
    from nikkei_deepar.errors import AwsError

    try:
        missing = missing_grants(read_documents(), needed)
    except AwsError as exc:
        return f"its policies could not be read ({exc.code})"
    if not missing:
        return None
    (action, resource), more = missing[0], len(missing) - 1
    return f"its policies do not allow {action} on {resource}" + (f" (and {more} more)" if more else "")


def _allows(documents: list[dict[str, Any]], action: str, resource: str) -> bool:
    allowed = False
    for document in documents:
        for statement in _statements(document):
            if not (_matches_action(statement, action) and _matches_resource(statement, resource)):
                continue
            effect = statement.get("Effect")
            if effect == "Deny" and not statement.get("Condition"):
                return False
            if effect == "Allow":
                allowed = True
    return allowed


def _matches_action(statement: dict[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(_glob(p, action, fold=True) for p in _as_list(statement["NotAction"]))
    return any(_glob(p, action, fold=True) for p in _as_list(statement.get("Action")))


def _matches_resource(statement: dict[str, Any], resource: str) -> bool:
    if "NotResource" in statement:
        return not any(_glob(p, resource) for p in _as_list(statement["NotResource"]))
    return any(_glob(p, resource) for p in _as_list(statement.get("Resource")))


def _glob(pattern: Any, value: str, *, fold: bool = False) -> bool:
    """IAM's wildcards: `*` any run of characters (across `/` and `:` too), `?` one character."""
    if not isinstance(pattern, str):
        return False
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.IGNORECASE if fold else 0) is not None


def execution_grants(*, bucket: str, key_root: str, region: str) -> list[tuple[str, str]]:
    """What a SageMaker execution role must allow for a workspace writing under `key_root` of `bucket`:
    read its channels, models and batch inputs, write its models and batch outputs, list the bucket."""
    bucket_arn = f"arn:{partition(region)}:s3:::{bucket}"
    root = f"{bucket_arn}/{key_root}"
    return [
        ("s3:ListBucket", bucket_arn),
        ("s3:GetObject", f"{root}/data/x"),
        ("s3:GetObject", f"{root}/output/x"),
        ("s3:GetObject", f"{root}/predict/x/input/x"),
        ("s3:PutObject", f"{root}/output/x"),
        ("s3:PutObject", f"{root}/predict/x/output/x"),
    ]


def scheduler_grants(*, endpoint: str, region: str, account: str) -> list[tuple[str, str]]:
    """What an expiry role must allow: delete this config's endpoint."""
    return [("sagemaker:DeleteEndpoint", endpoint_arn(endpoint, region=region, account=account))]


def tls_only_statement(bucket: str, *, region: str) -> dict[str, Any]:
    """Deny every request to the bucket that does not use TLS."""
    bucket_arn = f"arn:{partition(region)}:s3:::{bucket}"
    return {
        "Sid": TLS_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def with_tls_only(existing: dict[str, Any] | None, bucket: str, *, region: str) -> dict[str, Any]:
    """The bucket policy with our TLS statement added or restored; other statements are kept as they are."""
    ours = tls_only_statement(bucket, region=region)
    others = [s for s in _statements(existing or {}) if s.get("Sid") != TLS_SID]
    return {"Version": (existing or {}).get("Version", VERSION), "Statement": [*others, ours]}


def has_tls_only(policy: dict[str, Any] | None, bucket: str, *, region: str) -> bool:
    ours = canonical({"Statement": [tls_only_statement(bucket, region=region)]})["Statement"][0]
    return any(canonical({"Statement": [s]})["Statement"][0] == ours for s in _statements(policy or {}))


def canonical(document: dict[str, Any] | str) -> dict[str, Any]:
    """A comparable form: JSON parsed, one-element lists and plain strings unified, actions and
    resources sorted, statements sorted."""
    doc = json.loads(document) if isinstance(document, str) else document
    statements = []
    for statement in _statements(doc):
        norm: dict[str, Any] = {}
        for key, value in statement.items():
            if key in {"Action", "NotAction", "Resource", "NotResource"}:
                norm[key] = sorted(_as_list(value))
            elif key in {"Principal", "Condition"}:
                norm[key] = _canonical_tree(value)
            else:
                norm[key] = value
        statements.append(norm)
    statements.sort(key=lambda s: json.dumps(s, sort_keys=True))
    return {"Version": doc.get("Version", VERSION), "Statement": statements}


def same_policy(a: dict[str, Any] | str | None, b: dict[str, Any] | str | None) -> bool:
    if a is None or b is None:
        return a is b
    return canonical(a) == canonical(b)


def _canonical_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical_tree(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = [_canonical_tree(v) for v in value]
        return items[0] if len(items) == 1 else sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    raw = document.get("Statement", [])
    return [raw] if isinstance(raw, dict) else [s for s in raw if isinstance(s, dict)]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
