"""Acknowledging cdk-nag 3.x findings on the construct that has them, with a written reason."""

from __future__ import annotations

from collections.abc import Iterable

import aws_cdk as cdk
from constructs import IConstruct

_MIN_REASON = 25


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on ``scope`` (and its children).

    ``rule_id`` is the pack's id, e.g. ``AwsSolutions-S1`` or ``AwsSolutions-IAM5[Resource::*]``;
    ``reason`` must say why this resource may break the rule: it is the audit trail a reviewer
    reads in ``validation-report.json``.
    """
    acknowledge_rules(scope, (rule_id,), reason)


def acknowledge_rules(scope: IConstruct, rule_ids: Iterable[str], reason: str) -> None:
    """Acknowledge several findings on ``scope`` for the same ``reason`` (see
    :func:`acknowledge`), in one call: each call is two round trips to jsii, a synthesis makes
    hundreds of acknowledgements, and most come in groups (one rule in three packs, a grant's
    action groups)."""
    rule_ids = tuple(rule_ids)
    if len(reason.strip()) < _MIN_REASON:
        raise ValueError(
            f"acknowledgement of {', '.join(rule_ids)} needs a specific reason, got {reason!r}"
        )
    cdk.Validations.of(scope).acknowledge(
        *(cdk.Acknowledgment(id=rule_id, reason=reason) for rule_id in rule_ids)
    )


# Action groups that aws-cdk-lib's grant_* methods write (grant_read, grant_read_write, grant_put
# on buckets; grant_encrypt_decrypt on keys). Each acknowledgement names the actions one role got.
GRANT_ACTION_GROUPS = (
    "s3:Abort*",
    "s3:DeleteObject*",
    "s3:GetBucket*",
    "s3:GetObject*",
    "s3:List*",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
)


def acknowledge_grant_actions(scope: IConstruct, reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for the wildcard action groups of CDK's grant methods.

    Only the *actions* are acknowledged: every wildcard *resource* still needs its own
    acknowledgement (:func:`acknowledge_wildcard_resource`).
    """
    acknowledge_rules(
        scope, (f"AwsSolutions-IAM5[Action::{a}]" for a in GRANT_ACTION_GROUPS), reason
    )


# How CDK writes a string token into a ``str``. An ARN without one is already what cdk-nag
# renders; resolving it anyway cost two round trips to jsii per acknowledgement (192 of a
# default synth's requests, none of which held a token).
_TOKEN_MARK = "${Token["


def acknowledge_wildcard_resource(scope: IConstruct, resource: str, reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for one wildcard resource ARN (tokens are resolved)."""
    resolved = cdk.Stack.of(scope).resolve(resource) if _TOKEN_MARK in resource else resource
    if not isinstance(resolved, str):
        raise ValueError(f"resource ARN must resolve to a string to be acknowledged: {resolved}")
    acknowledge(scope, f"AwsSolutions-IAM5[Resource::{resolved}]", reason)


_INLINE_PACKS = ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")


def acknowledge_inline_policy(role: IConstruct) -> None:
    """Acknowledge the packs' IAMNoInlinePolicy on a role's grant-built default policy."""
    acknowledge_rules(
        role,
        (f"{pack}-IAMNoInlinePolicy" for pack in _INLINE_PACKS),
        "This policy is built by grant_* calls for this one role and is deleted with it; "
        "an inline policy can never be attached to another principal by mistake.",
    )
