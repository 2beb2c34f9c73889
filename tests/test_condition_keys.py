"""Every condition of every policy the platform writes can hold: each condition key is one that a
request for each action of its statement carries, and each action exists (IAM's service
reference, as the simulator reads it: tests/iam_sim/reference.py).

IAM evaluates a condition on a key the request lacks as not matching (a negated operator as
matching): a grant that never works, or a deny that never holds, and nothing tells. cfn-lint
checks that actions exist, not which keys they carry; checkov checks neither; the simulations
(tests/test_isolation.py, test_governance.py, ...) see it only for the requests they ask. This
reads every statement of every template, stacks and endpoint templates alike: identity, trust,
key, bucket, topic, queue, bus, API and model package group policies.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Synthesized
from tests.iam_sim.reference import Finding, inapplicable_keys, statements

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
