"""What is the tool's: ownership rules, and the tag names they read, in one place.

- `is_ours(tags, wanted, endpoint=)`: whether a resource's tags say it belongs to this tool and this
  config: managed-by, this config's project and stage (OWNER_KEYS), and for an endpoint's resources that
  endpoint's name. Every ownership decision (provision adopting, deploy updating or adopting, teardown
  deleting, status reporting untracked resources, doctor) asks this one function, so what "ours" means
  changes here only.

A leaf: no network, no backend, no ledger: tags only. The tag names themselves live here too.
"""

from __future__ import annotations

MANAGED_BY_KEY = "managed-by"
MANAGED_BY_VALUE = "nikkei-deepar"
ENDPOINT_TAG_KEY = "nikkei-deepar:endpoint"
"""Tag key on every model, endpoint config and endpoint deploy creates; the value is the endpoint's name."""
OWNER_KEYS = ("project", "stage")
"""The [aws.tags] that say whose a resource is: the tool's resources are ours only when these match."""


def is_ours(tags: dict[str, str] | None, wanted: dict[str, str], *, endpoint: str | None = None) -> bool:
    """Tagged by this tool for this workspace: managed-by, and the same project and stage tags as `wanted`
    (the config's [aws.tags]); with `endpoint`, also nikkei-deepar:endpoint = that name. Other tags may
    differ (provision puts them right on what is ours). AWS's tags decide, checked before every change:
    a state that lists a resource proves nothing (a copied config, a restored file, a shared home)."""
    if not tags or tags.get(MANAGED_BY_KEY) != MANAGED_BY_VALUE:
        return False
    if any(tags.get(key) != wanted.get(key) for key in OWNER_KEYS):
        return False
    return endpoint is None or tags.get(ENDPOINT_TAG_KEY) == endpoint


def whose(tags: dict[str, str]) -> str:
    """A resource's owner tags, for messages: `project=x, stage=y` (and its endpoint tag)."""
    keys = [*OWNER_KEYS, ENDPOINT_TAG_KEY]
    return ", ".join(f"{k}={tags[k]}" for k in keys if k in tags) or "no project or stage tags"


def managed_by_tool(tags: dict[str, str] | None) -> bool:
    """Carries the tool's managed-by tag (whichever config made it)."""
    return tags is not None and tags.get(MANAGED_BY_KEY) == MANAGED_BY_VALUE


def owner_note(tags: dict[str, str]) -> str:
    """Who a resource's tags say owns it, for a "left alone" reason."""
    owner = tags.get(MANAGED_BY_KEY)
    if owner is None:
        return f"no {MANAGED_BY_KEY} tag"
    if owner == MANAGED_BY_VALUE:
        return f"tagged {MANAGED_BY_KEY}={owner} ({whose(tags)}) but not in this workspace's state"
    return f"{MANAGED_BY_KEY}={owner}"


def owner_words(tags: dict[str, str] | None) -> str:
    """Whose a resource is, as a phrase: "another workspace's (project=x, stage=prod)", "nobody's
    (no managed-by tag)", "not readable"."""
    if tags is None:
        return "its tags could not be read"
    if not managed_by_tool(tags):
        return f"not created by nikkei-deepar (no {MANAGED_BY_KEY}={MANAGED_BY_VALUE} tag)"
    return f"another workspace's ({whose(tags)})"


def adoption_note(wanted: dict[str, str]) -> str:
    """Why a resource missing from the state is recorded: the one case adoption is for."""
    return (
        f"tagged for this workspace ({whose(wanted)}) but missing from its state: an earlier run of this "
        "stage was interrupted between creating it and recording it; recording it"
    )


def mismatch(kind: str, name: str, tags: dict[str, str] | None) -> str:
    """The state names a resource that AWS's tags say is not this workspace's."""
    return f"the state lists {kind} {name} as this workspace's, but AWS says it is {owner_words(tags)}"


def mismatch_hint(kind: str, name: str) -> str:
    return (
        f"nothing was changed. If it is not this stage's: `nikkei-deepar state forget {kind} {name}`; "
        f"to take it over on purpose: `nikkei-deepar import {kind} {name}`"
    )
