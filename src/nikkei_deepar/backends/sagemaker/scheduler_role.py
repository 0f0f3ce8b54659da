"""`provision`'s plan for the scheduler role: the role EventBridge Scheduler deletes expired endpoints as.

Planned only when endpoints expire (`[endpoint] expires_after` is not "off"; serverless endpoints have no
expiry by default). The role `[aws] scheduler_role_name` may be assumed by scheduler.amazonaws.com for
schedules of this account only (aws:SourceAccount), and its one inline policy allows
sagemaker:DeleteEndpoint on the configured endpoint's ARN (policy.py). Ownership as for the execution
role: created and recorded by the tool, or tagged as the tool's (adopted); a role of that name the tool
did not make is used as it is, checked (it must trust the scheduler) and never modified. Changing
`[endpoint] name` makes the next provision rewrite the policy for the new endpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nikkei_deepar.backends.plan import DONE, Action, Applied, PlanItem
from nikkei_deepar.config import Settings
from nikkei_deepar.errors import ExitCode
from nikkei_deepar.ledger import Ledger, Resource
from nikkei_deepar.ownership import (
    adoption_note,
    is_ours,
    managed_by_tool,
    mismatch,
    mismatch_hint,
    owner_words,
    whose,
)

if TYPE_CHECKING:
    from nikkei_deepar.aws.iam import IamGateway, Role

PURPOSE = "endpoint-expiry"
_FOREIGN = "not created by nikkei-deepar: used as it is, never modified"


def role_description(endpoint: str) -> str:
    return (
        f"Run by EventBridge Scheduler to delete the SageMaker endpoint {endpoint} when it expires "
        "(nikkei-deepar), created by `nikkei-deepar provision`"
    )


class SchedulerRolePlan:
    def __init__(
        self,
        settings: Settings,
        *,
        iam: IamGateway,
        account: str,
        region: str,
    ) -> None:
        self.name = settings.scheduler_role_name()
        self.explicit = settings.aws.scheduler_role_name is not None
        self.endpoint = settings.endpoint.name
        self.wanted = settings.endpoint.expiry() is not None
        self.tags = settings.resource_tags()
        self.project_tags = settings.aws.tags
        self.iam, self.account, self.region = iam, account, region

    def _item(self, key: str, action: Action, detail: str, *, owned: bool, **kw: Any) -> PlanItem:
        resource = f"scheduler-role.{key}" if key else "scheduler-role"
        return PlanItem(resource, self.name, action, detail, owned=owned, **kw)

    def trust(self) -> dict[str, Any]:
        from nikkei_deepar.backends.sagemaker.policy import scheduler_trust_policy

        return scheduler_trust_policy(self.account)

    def policy(self) -> dict[str, Any]:
        from nikkei_deepar.backends.sagemaker.policy import scheduler_policy

        return scheduler_policy(endpoint=self.endpoint, region=self.region, account=self.account)

    def plan(self, ledger: Ledger) -> list[PlanItem]:
        from nikkei_deepar.backends.sagemaker.policy import (
            SCHEDULER_POLICY_NAME,
            SCHEDULER_PRINCIPAL,
            same_policy,
        )

        if not self.wanted:
            return []
        iam, name = self.iam, self.name
        policy_text = f"{SCHEDULER_POLICY_NAME}: sagemaker:DeleteEndpoint on endpoint {self.endpoint} only"
        trust_text = f"trusted by {SCHEDULER_PRINCIPAL} of account {self.account} only"

        def put_policy() -> Applied:
            iam.put_inline_policy(name, SCHEDULER_POLICY_NAME, self.policy())
            return DONE

        role = iam.get_role(name)
        if role is None:
            return [
                self._item(
                    "",
                    "create",
                    f"run by EventBridge Scheduler to delete expired endpoints, {trust_text}",
                    owned=True,
                    apply=self._create,
                ),
                self._item("inline-policy", "create", policy_text, owned=True, apply=put_policy),
            ]
        recorded = ledger.created("role", name)
        if is_ours(role.tags, self.project_tags):
            if recorded:
                items = [self._item("", "ok", f"this workspace's ({whose(role.tags)})", owned=True)]
            else:
                note = adoption_note(self.project_tags)
                adopt = lambda: self._record_role(role.arn, True)  # noqa: E731
                items = [self._item("", "adopt", note, owned=True, apply=adopt)]
        elif recorded:
            return [
                PlanItem(
                    "scheduler-role",
                    name,
                    "problem",
                    f"{mismatch('role', name, role.tags)}; {mismatch_hint('role', name)}",
                    owned=False,
                    exit_code=ExitCode.USAGE,
                    code="not-ours",
                )
            ]
        elif not self.explicit:
            return [
                self._item(
                    "",
                    "problem",
                    f"IAM role {name} (this endpoint's default expiry role name) exists but is "
                    f"{owner_words(role.tags)}: nothing changed",
                    owned=False,
                    exit_code=ExitCode.USAGE,
                    code="role-name-taken",
                )
            ]
        else:
            return self._foreign(role)
        if same_policy(role.trust_policy, self.trust()):
            items.append(self._item("trust-policy", "ok", trust_text, owned=True))
        else:
            items.append(
                self._item(
                    "trust-policy",
                    "fix",
                    f"trust policy was edited: will restore {trust_text}",
                    owned=True,
                    apply=self._restore_trust,
                )
            )
        current = iam.inline_policy(name, SCHEDULER_POLICY_NAME)
        if same_policy(current, self.policy()):
            items.append(self._item("inline-policy", "ok", policy_text, owned=True))
        else:
            why = "missing" if current is None else "edited (or [endpoint] name or the region changed)"
            items.append(
                self._item(
                    "inline-policy",
                    "fix",
                    f"{SCHEDULER_POLICY_NAME} {why}: will restore it",
                    owned=True,
                    apply=put_policy,
                )
            )
        wrong = {k: v for k, v in self.tags.items() if role.tags.get(k) != v}
        if wrong:
            shown = ", ".join(f"{k}={v}" for k, v in wrong.items())
            items.append(
                self._item(
                    "tags",
                    "fix",
                    f"tags missing or changed: will set {shown}",
                    owned=True,
                    apply=self._retag,
                )
            )
        return items

    def _foreign(self, role: Role) -> list[PlanItem]:
        """`[aws] scheduler_role_name` names a role that is not this workspace's: used as it is, never
        modified; one of another workspace only while it already may delete this config's endpoint."""
        from nikkei_deepar.backends.sagemaker.policy import (
            SCHEDULER_PRINCIPAL,
            scheduler_grants,
            trusts_service,
            uncovered,
        )

        items = [self._item("", "use", f"{owner_words(role.tags)}: {_FOREIGN}", owned=False)]
        if trusts_service(role.trust_policy, SCHEDULER_PRINCIPAL):
            items.append(self._item("trust-policy", "ok", f"trusts {SCHEDULER_PRINCIPAL}", owned=False))
        else:
            items.append(
                self._item(
                    "trust-policy",
                    "problem",
                    f"IAM role {role.name} does not trust {SCHEDULER_PRINCIPAL}, so endpoints cannot expire "
                    "with it: set [aws] scheduler_role_name to another name (provision creates it)",
                    owned=False,
                    exit_code=ExitCode.USAGE,
                    code="scheduler-role-trust",
                )
            )
        needed = scheduler_grants(endpoint=self.endpoint, region=self.region, account=self.account)
        why = uncovered(lambda: self.iam.policy_documents(role.name), needed)
        if why is None:
            items.append(self._item("permissions", "ok", f"may delete endpoint {self.endpoint}", owned=False))
            return items
        if managed_by_tool(role.tags):
            items.append(
                self._item(
                    "permissions",
                    "problem",
                    f"IAM role {role.name} is {owner_words(role.tags)} and {why}: endpoint {self.endpoint} "
                    "could not expire with it; remove [aws] scheduler_role_name (the default, "
                    f"{self.endpoint}-scheduler, is this endpoint's own) or name a role that grants it",
                    owned=False,
                    exit_code=ExitCode.USAGE,
                    code="role-not-covering",
                )
            )
        else:
            items.append(self._item("permissions", "report", f"{why}; not changed", owned=False))
        return items

    def _restore_trust(self) -> Applied:
        self.iam.update_trust_policy(self.name, self.trust())
        return DONE

    def _retag(self) -> Applied:
        self.iam.tag_role(self.name, self.tags)
        return DONE

    def _create(self) -> Applied:
        description = role_description(self.endpoint)
        # tagged in the same call: recognisable as the tool's from its first instant
        arn = self.iam.create_role(
            self.name, trust_policy=self.trust(), tags=self.tags, description=description
        )
        return self._record_role(arn, False)

    def _record_role(self, arn: str, adopted: bool) -> Applied:
        role = Resource(
            kind="role", name=self.name, arn=arn, created=True, adopted=adopted, extra={"purpose": PURPOSE}
        )
        return Applied(recorded=(role,))
