"""IAM gateway: the SageMaker execution role, its trust policy, inline policy and tags.

Methods are named by intent. "Not found" is a normal answer (None / False). `delete_role` first removes
what IAM refuses to delete a role with (inline policies, attached managed policies, instance profiles).
IAM is global: the region does not matter here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import botocore.exceptions as bx

from nikkei_deepar.aws.errors import aws_errors, error_code
from nikkei_deepar.aws.session import AwsClients
from nikkei_deepar.errors import AwsError


@dataclass(frozen=True)
class Role:
    name: str
    arn: str
    trust_policy: dict[str, Any]
    tags: dict[str, str]


def _document(raw: Any) -> dict[str, Any]:
    """IAM returns policy documents URL-encoded; botocore usually decodes them already."""
    if isinstance(raw, dict):
        return raw
    parsed: dict[str, Any] = json.loads(unquote(str(raw)))
    return parsed


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


class IamGateway:
    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    @property
    def client(self) -> Any:
        return self._clients.client("iam")

    def _is_missing(self, exc: Any) -> bool:
        return error_code(exc) == "NoSuchEntity"

    # -- reads -------------------------------------------------------------------------------------
    def get_role(self, name: str) -> Role | None:
        with aws_errors(f"reading IAM role {name}"):
            try:
                found = self.client.get_role(RoleName=name)["Role"]
            except bx.ClientError as exc:
                if self._is_missing(exc):
                    return None
                raise
        return Role(
            name=name,
            arn=str(found["Arn"]),
            trust_policy=_document(found.get("AssumeRolePolicyDocument", "{}")),
            tags=self.role_tags(name),
        )

    def role_arn(self, name: str) -> str | None:
        """The role's ARN, or None when it does not exist (one call: no tags, no policies)."""
        with aws_errors(f"reading IAM role {name}"):
            try:
                return str(self.client.get_role(RoleName=name)["Role"]["Arn"])
            except bx.ClientError as exc:
                if self._is_missing(exc):
                    return None
                raise

    def role_tags(self, name: str) -> dict[str, str]:
        tags: dict[str, str] = {}
        with aws_errors(f"listing the tags of IAM role {name}"):
            try:
                kwargs: dict[str, Any] = {"RoleName": name}
                while True:
                    page = self.client.list_role_tags(**kwargs)
                    tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
                    if not page.get("IsTruncated"):
                        break
                    kwargs["Marker"] = page["Marker"]
            except bx.ClientError as exc:
                if self._is_missing(exc):
                    return {}
                raise
        return tags

    def inline_policy(self, role: str, policy_name: str) -> dict[str, Any] | None:
        with aws_errors(f"reading inline policy {policy_name} of IAM role {role}"):
            try:
                found = self.client.get_role_policy(RoleName=role, PolicyName=policy_name)
            except bx.ClientError as exc:
                if self._is_missing(exc):
                    return None
                raise
        return _document(found["PolicyDocument"])

    def inline_policy_names(self, role: str) -> list[str]:
        with aws_errors(f"listing inline policies of IAM role {role}"):
            return self._inline_policy_names(role)

    def attached_policy_arns(self, role: str) -> list[str]:
        with aws_errors(f"listing managed policies attached to IAM role {role}"):
            return self._attached_policy_arns(role)

    def policy_documents(self, role: str) -> list[dict[str, Any]]:
        """Every permissions policy of the role: its inline policies and the default version of each
        managed policy attached to it (what a role the tool does not manage may do is read from these)."""
        documents: list[dict[str, Any]] = []
        with aws_errors(f"reading the policies of IAM role {role}"):
            for name in self._inline_policy_names(role):
                found = self.client.get_role_policy(RoleName=role, PolicyName=name)
                documents.append(_document(found["PolicyDocument"]))
            for arn in self._attached_policy_arns(role):
                policy = self.client.get_policy(PolicyArn=arn)["Policy"]
                version = self.client.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
                documents.append(_document(version["PolicyVersion"]["Document"]))
        return documents

    def _inline_policy_names(self, role: str) -> list[str]:
        names: list[str] = []
        for page in self.client.get_paginator("list_role_policies").paginate(RoleName=role):
            names.extend(page.get("PolicyNames", []))
        return names

    def _attached_policy_arns(self, role: str) -> list[str]:
        arns: list[str] = []
        for page in self.client.get_paginator("list_attached_role_policies").paginate(RoleName=role):
            arns.extend(p["PolicyArn"] for p in page.get("AttachedPolicies", []))
        return arns

    # -- changes -----------------------------------------------------------------------------------
    def create_role(
        self, name: str, *, trust_policy: dict[str, Any], tags: dict[str, str], description: str
    ) -> str:
        """Create the role with its tags in the same call (so it is recognisable from the first instant);
        returns its ARN."""
        with aws_errors(f"creating IAM role {name}"):
            try:
                found = self.client.create_role(
                    **create_role_request(name, trust_policy=trust_policy, tags=tags, description=description)
                )
            except bx.ClientError as exc:
                if error_code(exc) == "EntityAlreadyExists":
                    raise AwsError(
                        f"IAM role {name} appeared while provision was running",
                        hint="run `nikkei-deepar provision` again: it will check the existing role",
                        code="aws-conflict",
                    ) from None
                raise
        return str(found["Role"]["Arn"])

    def update_trust_policy(self, name: str, trust_policy: dict[str, Any]) -> None:
        with aws_errors(f"updating the trust policy of IAM role {name}"):
            self.client.update_assume_role_policy(**update_trust_request(name, trust_policy))

    def put_inline_policy(self, role: str, policy_name: str, document: dict[str, Any]) -> None:
        with aws_errors(f"writing inline policy {policy_name} of IAM role {role}"):
            self.client.put_role_policy(**put_role_policy_request(role, policy_name, document))

    def tag_role(self, name: str, tags: dict[str, str]) -> None:
        with aws_errors(f"tagging IAM role {name}"):
            self.client.tag_role(**tag_role_request(name, tags))

    def delete_role(self, name: str) -> bool:
        """Inline policies, managed policy attachments and instance profiles first, then the role.
        True when deleted now, False when it was already gone."""
        with aws_errors(f"deleting IAM role {name}"):
            try:
                for policy_name in self._inline_policy_names(name):
                    self.client.delete_role_policy(RoleName=name, PolicyName=policy_name)
                for arn in self._attached_policy_arns(name):
                    self.client.detach_role_policy(RoleName=name, PolicyArn=arn)
                paginator = self.client.get_paginator("list_instance_profiles_for_role")
                for page in paginator.paginate(RoleName=name):
                    for profile in page.get("InstanceProfiles", []):
                        self.client.remove_role_from_instance_profile(
                            InstanceProfileName=profile["InstanceProfileName"], RoleName=name
                        )
                self.client.delete_role(RoleName=name)
            except bx.ClientError as exc:
                if self._is_missing(exc):
                    return False
                raise
        return True

    def can_pass_role(self, principal_arn: str, role_arn: str, *, service: str) -> str:
        """Whether `principal_arn` may iam:PassRole `role_arn` to `service`, by IAM's policy simulator:
        "allowed", "implicitDeny" or "explicitDeny"."""
        with aws_errors("simulating iam:PassRole"):
            answer = self.client.simulate_principal_policy(
                PolicySourceArn=principal_arn,
                ActionNames=["iam:PassRole"],
                ResourceArns=[role_arn],
                ContextEntries=[
                    {
                        "ContextKeyName": "iam:PassedToService",
                        "ContextKeyValues": [service],
                        "ContextKeyType": "string",
                    }
                ],
            )
        results = answer.get("EvaluationResults") or [{}]
        return str(results[0].get("EvalDecision", "implicitDeny"))


Gateway = IamGateway  # the name before gateways were typed; prefer IamGateway


# -- the requests provision sends, built here so the request plan checks exactly these -------------------
def create_role_request(
    name: str, *, trust_policy: dict[str, Any], tags: dict[str, str], description: str
) -> dict[str, Any]:
    return {
        "RoleName": name,
        "AssumeRolePolicyDocument": json.dumps(trust_policy),
        "Description": description[:1000],
        "Tags": _tag_list(tags),
    }


def update_trust_request(name: str, trust_policy: dict[str, Any]) -> dict[str, Any]:
    return {"RoleName": name, "PolicyDocument": json.dumps(trust_policy)}


def put_role_policy_request(role: str, policy_name: str, document: dict[str, Any]) -> dict[str, Any]:
    return {"RoleName": role, "PolicyName": policy_name, "PolicyDocument": json.dumps(document)}


def tag_role_request(name: str, tags: dict[str, str]) -> dict[str, Any]:
    return {"RoleName": name, "Tags": _tag_list(tags)}
