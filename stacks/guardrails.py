"""The rule packs every stage is checked against at synth time."""

from __future__ import annotations

import aws_cdk as cdk
import cdk_nag

# Packs run on every stage. The platform holds ML training data and models that are often
# regulated, so it is held to the healthcare, federal and payment-card baselines as well as
# AWS's own solution checks.
PACKS = (
    cdk_nag.AwsSolutionsChecks,
    cdk_nag.HIPAASecurityChecks,
    cdk_nag.NIST80053R5Checks,
    cdk_nag.PCIDSS321Checks,
)


def add_rule_packs(scope: cdk.Stage, *, verbose: bool = False) -> None:
    """Register the rule packs on ``scope``: any unacknowledged finding fails its synthesis."""
    cdk.Validations.of(scope).add_plugins(*(pack(scope, verbose=verbose) for pack in PACKS))
