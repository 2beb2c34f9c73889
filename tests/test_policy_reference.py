"""Every statement of every policy the platform writes can apply: each action exists, each
condition key is one that a request for each of its actions carries, and each action can act
on one of its resources (IAM's service reference, as the simulator reads it:
tests/iam_sim/reference.py).

IAM evaluates a condition on a key the request lacks as not matching (a negated operator as
matching), and a statement whose ARNs are of no type its action acts on as not there: a grant
that never works, or a deny that never holds, and nothing tells. cfn-lint checks that actions
exist, not which keys they carry or what they act on (its resource check, I3510, is
informational and cannot read CDK's joined ARNs); checkov checks neither; the simulations
(tests/test_isolation.py, test_governance.py, ...) see it only for the requests they ask. The
keys are read from every statement of every template, stacks and endpoint templates alike
(identity, trust, key, bucket, topic, queue, bus, API and model package group policies); the
resources from the roles', trust and resource policies with their ARNs resolved
(tests/iam_sim's Estate).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Synthesized
from tests.iam_sim import Estate, as_list
from tests.iam_sim.reference import (
    Finding,
    arns_meet,
    inapplicable_keys,
    statements,
    unreachable_resources,
)

SYNTHS = (
    "default_synth",
    "monitor_synth",
    "custom_synth",
    "vpc_synth",
    "example_synth",
    "multi_account_synth",
    "single_account_synth",
    "vpc_cross_region_synth",
)


def _findings(synth: Synthesized) -> tuple[int, list[str]]:
    """How many statements of ``synth``'s templates have conditions, and what in them IAM would
    never evaluate as written (template, logical id, Sid: action, key, why)."""
    conditioned, found = 0, []
    for path in sorted(synth.outdir.glob("**/*.template.json")):
        template = json.loads(path.read_text())
        for logical_id, resource in template.get("Resources", {}).items():
            for statement in statements(resource.get("Properties", {})):
                conditioned += "Condition" in statement
                found += [
                    f"{path.relative_to(synth.outdir)} {logical_id} {statement.get('Sid', '')}: "
                    f"{f.action} {f.key} ({f.why})"
                    for f in inapplicable_keys(statement)
                ]
    return conditioned, found


@pytest.mark.parametrize("which", SYNTHS)
def test_every_condition_key_applies_to_its_actions(
    which: str, request: pytest.FixtureRequest
) -> None:
    conditioned, found = _findings(request.getfixturevalue(which))
    assert conditioned > 20  # the templates' statements were read (each has dozens)
    assert found == []


def _statement(action: str | list[str], **condition: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": "*", "Condition": condition}


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        # s3:prefix is a key of ListBucket only: this deny would never stop a GetObject.
        (
            _statement("s3:GetObject", StringNotLike={"s3:prefix": "team/*"}),
            [Finding("s3:GetObject", "s3:prefix", "not a key of s3:GetObject")],
        ),
        (_statement("s3:ListBucket", StringNotLike={"s3:prefix": "team/*"}), []),
        # A wildcard names every action it matches; each must carry the key.
        (
            _statement(
                "sagemaker:UpdateModelPackag*",
                StringEquals={"sagemaker:ModelApprovalStatus": "Approved"},
            ),
            [],
        ),
        (
            _statement("kms:Describe*", ArnLike={"kms:EncryptionContext:aws:logs:arn": "arn:*"}),
            [
                Finding(
                    "kms:Describe*",
                    "kms:EncryptionContext:aws:logs:arn",
                    "not a key of kms:DescribeCustomKeyStores, kms:DescribeKey",
                )
            ],
        ),
        (
            _statement(
                ["s3:PutObject", "s3:PutObjectAcl"],
                StringEquals={"s3:x-amz-server-side-encryption": "aws:kms"},
            ),
            [
                Finding(
                    "s3:PutObjectAcl",
                    "s3:x-amz-server-side-encryption",
                    "not a key of s3:PutObjectAcl",
                )
            ],
        ),
        # A key with a variable part (kms:EncryptionContext:<key>), in any case.
        (_statement("kms:Decrypt", ArnLike={"KMS:EncryptionContext:aws:logs:arn": "arn:*"}), []),
        (
            _statement(
                ["kms:Decrypt", "kms:DescribeKey"],
                ArnLike={"kms:EncryptionContext:aws:logs:arn": "arn:*"},
            ),
            [
                Finding(
                    "kms:DescribeKey",
                    "kms:EncryptionContext:aws:logs:arn",
                    "not a key of kms:DescribeKey",
                )
            ],
        ),
        # Global keys hold for every action, but for the tag keys IAM lists per action.
        (
            _statement(
                "s3:GetObject", StringEquals={"aws:SourceAccount": "1", "aws:PrincipalArn": "a"}
            ),
            [],
        ),
        (
            _statement("s3:GetObject", StringEquals={"aws:RequestTag/team": "a"}),
            [Finding("s3:GetObject", "aws:RequestTag/team", "not a key of s3:GetObject")],
        ),
        (_statement("sagemaker:CreateModel", StringEquals={"aws:RequestTag/team": "a"}), []),
        # Actions IAM does not have.
        (
            _statement("sagemakr:CreateModel"),
            [Finding("sagemakr:CreateModel", "", "no such service")],
        ),
        (_statement("s3:GetObjekt"), [Finding("s3:GetObjekt", "", "no such action")]),
        # A NotAction statement names no actions: only global keys can condition it.
        (
            {
                "Effect": "Deny",
                "NotAction": "s3:GetObject",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            [],
        ),
        (
            {
                "Effect": "Deny",
                "NotAction": "s3:GetObject",
                "Condition": {"StringEquals": {"s3:prefix": "a"}},
            },
            [Finding("s3:GetObject", "s3:prefix", "a NotAction statement with a service key")],
        ),
    ],
)
def test_the_check_finds_what_iam_would_never_evaluate(
    statement: dict[str, Any], expected: list[Finding]
) -> None:
    assert inapplicable_keys(statement) == expected


def test_statements_are_found_wherever_a_template_holds_them() -> None:
    """In a role's trust and inline policies, a key policy, and a policy given as a JSON string
    (an API's resource policy); a mapping that only looks like one is not taken apart."""
    trust = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "x"}}
    inline = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    api = {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "*"}
    properties = {
        "AssumeRolePolicyDocument": {"Statement": [trust]},
        "Policies": [{"PolicyDocument": {"Statement": [inline]}}],
        "Policy": json.dumps({"Statement": [api]}),
        "Tags": [{"Key": "Effect", "Value": "Action"}],
    }
    assert list(statements(properties)) == [trust, inline, api]


# Grants aws-cdk-lib writes on ARNs for actions that take no resource: they never apply there,
# and nothing of the platform needs them.
ACCEPTED = {
    "ssm:DescribeParameters": "aws-cdk-lib's StringParameter.grant_read grants it on the "
    "parameter; the platform reads its parameters with GetParameter only",
    "codestar-connections:UseConnection": "aws-cdk-lib's connection source action grants it "
    "on the connection, whose ARN is codeconnections' (another service prefix); the platform "
    "grants codeconnections:UseConnection beside it (mlops_constructs.connections)",
    "cloudformation:ValidateTemplate": "aws-cdk-lib's CloudFormation deploy action grants it on "
    "the stack, and the release stages' action roles mirror that action's grants "
    "(deploy/release_target.py); CodePipeline deploys without it",
}


def _unreachable(synth: Synthesized) -> frozenset[tuple[str, str, str]]:
    """(policy, action, why) of every statement action that can act on none of its resources,
    in the roles', trust and resource policies of ``synth``, their ARNs resolved."""
    return _unreachable_in(synth.outdir)


@functools.cache  # two tests read the example's and custom_synth's
def _unreachable_in(outdir: Path) -> frozenset[tuple[str, str, str]]:
    estate = Estate.of_assembly(outdir)
    documents = [
        *((policy, document) for r in estate.roles().values() for policy, document in r.policies),
        *estate.resource_policies().items(),
        *estate.trust_policies().items(),
    ]
    return frozenset(
        (where, finding.action, finding.why)
        for where, document in documents
        for statement in as_list(document.get("Statement", []))
        for finding in unreachable_resources(statement)
    )


@pytest.mark.parametrize("which", SYNTHS)
def test_every_action_can_act_on_its_resources(which: str, request: pytest.FixtureRequest) -> None:
    found = _unreachable(request.getfixturevalue(which))
    assert sorted(f for f in found if f[1] not in ACCEPTED) == []


def test_the_accepted_grants_are_still_written(
    example_synth: Synthesized, custom_synth: Synthesized
) -> None:
    """A reason that no longer applies goes (the example has parameter grants and release
    stages' deployments, custom_synth a git connection source)."""
    found = _unreachable(example_synth) | _unreachable(custom_synth)
    assert {action for _, action, _ in found} == set(ACCEPTED)


@pytest.mark.parametrize(
    ("action", "resource", "expected"),
    [
        ("s3:GetObject", "arn:aws:s3:::b/*", []),
        (
            "s3:GetObject",
            "arn:aws:s3:::b",
            [Finding("s3:GetObject", "", "acts on no resource of these")],
        ),
        # A wildcard action applies when one of its actions does (ListBucket here).
        ("s3:List*", "arn:aws:s3:::b", []),
        (
            "sagemaker:ListModelPackages",
            "arn:aws:sagemaker:r:1:model-package-group/g",
            [Finding("sagemaker:ListModelPackages", "", "acts on no resource of these")],
        ),
        ("sagemaker:ListModelPackages", "arn:aws:sagemaker:r:1:model-package/g/*", []),
        (
            "ssm:DescribeParameters",
            "arn:aws:ssm:r:1:parameter/p",
            [Finding("ssm:DescribeParameters", "", "takes no resource, only *")],
        ),
        ("ssm:DescribeParameters", "*", []),
        ("logs:PutLogEvents", "arn:aws:logs:r:1:log-group:g:*", []),
    ],
)
def test_the_check_finds_actions_on_the_wrong_kind_of_resource(
    action: str, resource: str, expected: list[Finding]
) -> None:
    statement = {"Effect": "Allow", "Action": [action], "Resource": [resource]}
    assert unreachable_resources(statement) == expected


def test_two_arns_meet_where_some_arn_matches_both() -> None:
    assert arns_meet("arn:aws:logs:r:1:log-group:g:*", "arn:aws:logs:*:*:log-group:*:log-stream:*")
    assert arns_meet("arn:aws:s3:::b?", "arn:aws:s3:::*")
    assert not arns_meet("arn:aws:s3:::b", "arn:aws:s3:::*/*")
    assert not arns_meet(
        "arn:aws:sagemaker:r:1:model-package-group/g", "arn:aws:sagemaker:*:*:model-package/*"
    )
