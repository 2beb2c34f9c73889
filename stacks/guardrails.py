"""The rule packs every stage is checked against at synth time."""

from __future__ import annotations

import aws_cdk as cdk
import cdk_nag

from mlops_constructs.security.ml_pack import MLOpsChecks
from mlops_constructs.security.nag import apply_at_synthesis
from stacks import builtin_check

# Packs run on every stage. The platform holds ML training data and models that are often
# regulated, so it is held to the healthcare, federal and payment-card baselines as well as
# AWS's own solution checks.
PACKS = (
    cdk_nag.AwsSolutionsChecks,
    cdk_nag.HIPAASecurityChecks,
    cdk_nag.NIST80053R5Checks,
    cdk_nag.PCIDSS321Checks,
)


def add_rule_packs(scope: cdk.Stage, *, vpc_mode: bool = False, verbose: bool = False) -> None:
    """Register the generic packs and the MLOps pack on ``scope``.

    Any unacknowledged finding fails its synthesis. cdk-nag 3 packs check the whole app they are
    synthesized in, so the app registers them once, not once per stage. On an app, the built-in
    CloudFormation check's engine started by :func:`stacks.builtin_check.start` follows them,
    where aws-cdk-lib would have put its own.
    """
    cdk.Validations.of(scope).add_plugins(
        *(pack(scope, verbose=verbose) for pack in PACKS),
        MLOpsChecks(scope, vpc_mode=vpc_mode, verbose=verbose),
    )
    apply_at_synthesis(scope)  # the acknowledgements made under it, before the packs read them
    if isinstance(scope, cdk.App):
        builtin_check.register(scope)


def rule_packs_id(*, vpc_mode: bool = False) -> str:
    """What :func:`add_rule_packs` checks, as a memo key's part (the endpoint templates are
    memoized after their packs passed): the packs, in order, and the MLOps pack's option. The
    packs' code is keyed apart: cdk-nag's version, and the MLOps pack's source with its package."""
    packs = ",".join(f"{pack.__module__}.{pack.__qualname__}" for pack in (*PACKS, MLOpsChecks))
    return f"{packs};vpc_mode={vpc_mode}"
