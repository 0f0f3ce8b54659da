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
    """Tagged by this tool for this config: managed-by, and the same project and stage tags as `wanted`
    (the config's [aws.tags]); with `endpoint`, also nikkei-deepar:endpoint = that name. Other tags may
    differ (provision puts them right on what is ours). Two configs that differ in their stage never own
    each other's resources, even when they share a ledger (every config in one folder does)."""
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
        return (
            f"tagged {MANAGED_BY_KEY}={owner} but not recorded here: another config's, or an interrupted run"
        )
    return f"{MANAGED_BY_KEY}={owner}"
