"""moto evaluates no policy condition, so the TLS-only statement `provision` puts in the bucket policy
(Deny s3:* unless aws:SecureTransport) would deny every object GET/PUT on a provisioned bucket. The tool
always speaks TLS to AWS, so requests to moto count as TLS: statements conditioned on
aws:SecureTransport are skipped when moto checks a bucket policy.

One copy, used by the tests (conftest's autouse fixture) and by scripts/gen_samples.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def tls_aware(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap moto's `FakeBucket.get_permission` so that TLS-conditioned statements are skipped."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return original(self, action, resource)
        document = json.loads(self.policy)
        statements = document.get("Statement", [])
        statements = [statements] if isinstance(statements, dict) else statements
        kept = [s for s in statements if "aws:SecureTransport" not in json.dumps(s.get("Condition", {}))]
        if len(kept) == len(statements):
            return original(self, action, resource)
        if not kept:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**document, "Statement": kept})).is_action_permitted(action, resource)

    return get_permission
