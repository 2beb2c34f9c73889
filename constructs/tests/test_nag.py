"""Acknowledgements: a wildcard resource is named as cdk-nag renders it, tokens resolved; they are
handed to aws-cdk-lib in one call per construct, and at the latest when the app is synthesized."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cdk_nag
import pytest
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_constructs.security.nag import (
    acknowledge,
    acknowledge_rules,
    acknowledge_wildcard_resource,
    apply_acknowledgements,
)

REASON = "A reason long enough to be read in the validation report."


def _acknowledged(scope: Construct) -> dict[str, Any]:
    """The ids and reasons acknowledged on ``scope`` (its construct metadata)."""
    return dict(_entries(scope))


def _entries(scope: Construct) -> list[tuple[str, str]]:
    """The (id, reason) entries of ``scope``'s metadata, in order."""
    return [
        item
        for entry in scope.node.metadata
        if entry.type == "aws:cdk:acknowledged-rules"
        for item in entry.data.items()
    ]


def _scope() -> Construct:
    stack = cdk.Stack(
        cdk.App(), "S", env=cdk.Environment(account="111111111111", region="eu-west-1")
    )
    return Construct(stack, "Role")


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:s3:::bucket/*",
        # A token that resolves to that string (CDK folds a join of literals).
        cdk.Fn.join("", ["arn:aws:s3:::", "bucket/*"]),
    ],
)
def test_the_acknowledgement_names_the_resolved_arn(resource: str) -> None:
    scope = _scope()
    acknowledge_wildcard_resource(scope, resource, REASON)
    apply_acknowledgements()
    # aws-cdk-lib stores a bare (not plugin-namespaced) id under "Annotation::".
    assert _acknowledged(scope) == {
        "Annotation::AwsSolutions-IAM5[Resource::arn:aws:s3:::bucket/*]": REASON
    }


def test_a_token_known_only_at_deployment_is_refused() -> None:
    scope = _scope()
    with pytest.raises(ValueError, match="must resolve to a string"):
        acknowledge_wildcard_resource(scope, cdk.Fn.import_value("BucketArn") + "/*", REASON)


def test_acknowledgements_wait_for_the_hand_over_then_keep_their_order() -> None:
    role, other = _scope(), _scope()
    acknowledge(role, "AwsSolutions-IAM5[Action::s3:List*]", REASON)
    acknowledge_rules(other, ("AwsSolutions-L1",), REASON + " Other.")
    acknowledge_rules(role, ("HIPAA.Security-LambdaDLQ", "AwsSolutions-SQS3"), REASON + " Two.")
    assert _entries(role) == [] and _entries(other) == []  # recorded, not handed over yet
    apply_acknowledgements()
    assert _entries(role) == [
        ("Annotation::AwsSolutions-IAM5[Action::s3:List*]", REASON),
        ("Annotation::HIPAA.Security-LambdaDLQ", REASON + " Two."),
        ("Annotation::AwsSolutions-SQS3", REASON + " Two."),
    ]
    assert _entries(other) == [("Annotation::AwsSolutions-L1", REASON + " Other.")]
    apply_acknowledgements()  # nothing recorded twice
    assert len(_entries(role)) == 3


def test_an_acknowledgement_not_handed_over_holds_at_synthesis(tmp_path: Path) -> None:
    """A pack registered without stacks.guardrails (a forker's app): the node validation added
    with the first acknowledgement hands it over before the pack reports. Without the
    acknowledgement the same bucket is a finding (the control)."""
    findings = {}
    for acknowledged in (False, True):
        outdir = tmp_path / str(acknowledged)
        app = cdk.App(
            outdir=str(outdir), context={"@aws-cdk/core:failSynthOnValidationErrors": False}
        )
        cdk.Validations.of(app).add_plugins(cdk_nag.AwsSolutionsChecks(app))
        bucket = s3.CfnBucket(cdk.Stack(app, "S"), "Bucket")
        if acknowledged:
            acknowledge_rules(bucket, ("AwsSolutions-S1", "AwsSolutions-S10"), REASON)
        app.synth()
        report = json.loads((outdir / "validation-report.json").read_text())
        findings[acknowledged] = {
            v["ruleName"]
            for plugin in report["pluginReports"]
            for v in plugin["violations"]
            if not v.get("acknowledgement") and not v.get("acknowledged")
        }
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= findings[False]
    assert not {"AwsSolutions-S1", "AwsSolutions-S10"} & findings[True]
