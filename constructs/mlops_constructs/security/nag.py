"""Acknowledging cdk-nag 3.x findings on the construct that has them, with a written reason.

Acknowledgements are recorded here and handed to aws-cdk-lib later, in one call per construct:
each hand-over is two round trips to jsii, and a construct collects several (one per grant
helper that touched a role): 207 calls on 49 constructs in the default synthesis.

Call :func:`apply_acknowledgements` once the constructs are built and before the app (or a
stage, as CDK Pipelines does when a stage is added) is synthesized: ``build_app`` and the
endpoint template apps do. Whatever is still recorded at synthesis is handed over by a node
validation (:class:`_Apply`, on every app :func:`stacks.guardrails.add_rule_packs` checks and on
the first construct acknowledged since the last hand-over), which aws-cdk-lib runs before it
writes templates and runs the rule packs. That works too, but the stack trace aws-cdk-lib keeps
with each acknowledgement (in the assembly's ``*.metadata.json``) then names jsii's temporary
folder, a random name: a synthesis whose output is compared should hand them over itself.
"""

from __future__ import annotations

from collections.abc import Iterable

import aws_cdk as cdk
import jsii
from constructs import IConstruct, IValidation

from mlops_constructs.arns import holds_token

_MIN_REASON = 25

# Acknowledgements not yet handed to aws-cdk-lib: per construct (by identity), in the order they
# were made.
_pending: dict[IConstruct, list[cdk.Acknowledgment]] = {}


def apply_acknowledgements() -> None:
    """Hands every recorded acknowledgement to aws-cdk-lib (its construct's metadata), one call
    per construct, in the order they were made."""
    recorded = list(_pending.items())
    _pending.clear()
    for scope, acknowledgements in recorded:
        cdk.Validations.of(scope).acknowledge(*acknowledgements)


@jsii.implements(IValidation)
class _Apply:
    """A node validation that hands the recorded acknowledgements over: aws-cdk-lib validates
    the construct tree before it writes templates and runs the rule packs."""

    def validate(self) -> list[str]:
        apply_acknowledgements()
        return []


def apply_at_synthesis(scope: IConstruct) -> None:
    """Hands the recorded acknowledgements over when ``scope``'s app is synthesized."""
    scope.node.add_validation(_Apply())


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on ``scope`` (and its children).

    ``rule_id`` is the pack's id, e.g. ``AwsSolutions-S1`` or ``AwsSolutions-IAM5[Resource::*]``;
    ``reason`` must say why this resource may break the rule: it is the audit trail a reviewer
    reads in ``validation-report.json``.
    """
    acknowledge_rules(scope, (rule_id,), reason)


def acknowledge_rules(scope: IConstruct, rule_ids: Iterable[str], reason: str) -> None:
    """Acknowledge several findings on ``scope`` for the same ``reason`` (see
    :func:`acknowledge`), handed over with the construct's others at synthesis."""
    rule_ids = tuple(rule_ids)
    if len(reason.strip()) < _MIN_REASON:
        raise ValueError(
            f"acknowledgement of {', '.join(rule_ids)} needs a specific reason, got {reason!r}"
        )
    if not _pending:
        apply_at_synthesis(scope)
    _pending.setdefault(scope, []).extend(
        cdk.Acknowledgment(id=rule_id, reason=reason) for rule_id in rule_ids
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


def acknowledge_wildcard_resource(scope: IConstruct, resource: str, reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for one wildcard resource ARN (tokens are resolved). An ARN
    without a token is already what cdk-nag renders: resolving it anyway cost two round trips to
    jsii per acknowledgement (192 of a default synth's requests, none of which held a token)."""
    resolved = cdk.Stack.of(scope).resolve(resource) if holds_token(resource) else resource
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
