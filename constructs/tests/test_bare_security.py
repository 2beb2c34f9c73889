"""PlatformKey, Personas and Auditor, each in a bare stack of its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.personas import Auditor, Personas

Statements = Callable[[dict[str, Any], str], list[dict[str, Any]]]

ACCOUNT = "111111111111"
ENV = cdk.Environment(account=ACCOUNT, region="us-east-1")
APPROVERS = "arn:aws:iam::222222222222:role/approvers"
USER = f"arn:aws:iam::{ACCOUNT}:role/p-dev-worker"
GRANTER = f"arn:aws:iam::{ACCOUNT}:role/p-dev-jobs"


@pytest.fixture(scope="module")
def templates(feature_flags: dict[str, Any]) -> dict[str, dict[str, Any]]:
    app = cdk.App(context=feature_flags)
    plain = cdk.Stack(app, "Key", env=ENV)
    PlatformKey(plain, "Key", prefix="p-dev", purpose="data", description="Data")
    used = cdk.Stack(app, "UsedKey", env=ENV)
    key = PlatformKey(
        used,
        "Key",
        prefix="p-dev",
        purpose="ops",
        description="Ops",
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    key.allow_roles([USER, USER], [GRANTER])
    key.allow_cloudwatch_logs()
    key.allow_cloudwatch_logs()
    personas = Personas(
        cdk.Stack(app, "Personas", env=ENV),
        "Personas",
        prefix="p-dev",
        principals={"approver": [APPROVERS], "operator": ["333333333333"]},
    )
    personas.trust_studio("data-scientist")
    audited = cdk.Stack(app, "Auditor", env=ENV)
    Auditor(
        audited,
        "Auditor",
        prefix="p-dev",
        principals=[],
        trail_bucket=s3.Bucket(audited, "Trail"),
        trail_key=PlatformKey(audited, "Ops", prefix="p-dev", purpose="ops", description="o"),
    )
    assembly = app.synth()
    return {
        name: assembly.get_stack_by_name(name).template
        for name in ("Key", "UsedKey", "Personas", "Auditor")
    }


def _one(template: dict[str, Any], kind: str) -> dict[str, Any]:
    resource: dict[str, Any]
    [resource] = [r for r in template["Resources"].values() if r["Type"] == kind]
    return resource


def _sids(key: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in key["Properties"]["KeyPolicy"]["Statement"]}


def test_a_key_rotates_is_retained_and_is_used_by_nobody_yet(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["Key"]
    key = _one(template, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["Properties"]["PendingWindowInDays"] == 30
    assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"
    alias = _one(template, "AWS::KMS::Alias")
    assert alias["Properties"]["AliasName"] == "alias/p-dev-data"
    statements = _sids(key)
    assert set(statements) == {"KeyAdministration", "KeyPolicyByDeploymentOrBreakGlass"}
    admin = statements["KeyAdministration"]["Action"]
    assert not {"kms:Decrypt", "kms:Encrypt", "kms:CreateGrant", "kms:PutKeyPolicy"} & set(admin)
    policy = statements["KeyPolicyByDeploymentOrBreakGlass"]
    assert policy["Action"] == "kms:PutKeyPolicy"
    [deployer, root] = policy["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    assert deployer.endswith(f":role/cdk-hnb659fds-cfn-exec-role-{ACCOUNT}-us-east-1")
    assert root.endswith(f":iam::{ACCOUNT}:root")


def test_a_key_admits_exactly_the_roles_named_once_each(
    templates: dict[str, dict[str, Any]],
) -> None:
    key = _one(templates["UsedKey"], "AWS::KMS::Key")
    assert key["DeletionPolicy"] == "Delete"
    statements = _sids(key)
    use = statements["UseByPlatformRoles"]
    assert use["Condition"] == {"ArnEquals": {"aws:PrincipalArn": [USER]}}
    assert "kms:CreateGrant" not in use["Action"]
    grants = statements["GrantsForAwsResourcesOfPlatformRoles"]
    assert grants["Condition"] == {
        "Bool": {"kms:GrantIsForAWSResource": "true"},
        "ArnEquals": {"aws:PrincipalArn": [GRANTER]},
    }
    # CloudWatch Logs once, however often it is asked for; for this account's log groups.
    logs = statements["CloudWatchLogs"]
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    context = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert context.endswith(f":logs:us-east-1:{ACCOUNT}:log-group:*")
    # Only actions whose requests carry an encryption context: DescribeKey's never does.
    assert sorted(logs["Action"]) == [
        "kms:Decrypt*",
        "kms:Encrypt*",
        "kms:GenerateDataKey*",
        "kms:ReEncrypt*",
    ]


def _roles(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["RoleName"]: r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Role"
    }


def test_personas_are_four_named_roles_without_permissions(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["Personas"]
    roles = _roles(template)
    assert sorted(roles) == [
        "p-dev-approver",
        "p-dev-data-producer",
        "p-dev-data-scientist",
        "p-dev-operator",
    ]
    assert {r["MaxSessionDuration"] for r in roles.values()} == {3600}
    assert not [r for r in template["Resources"].values() if "Policy" in r["Type"]]
    trust = {n: r["AssumeRolePolicyDocument"]["Statement"] for n, r in roles.items()}
    assert trust["p-dev-approver"][0]["Principal"] == {"AWS": APPROVERS}
    [operator] = trust["p-dev-operator"]
    assert operator["Principal"] == {"AWS": "arn:aws:iam::333333333333:root"}
    # Nobody named: the account's administrators decide (its root).
    [producer] = trust["p-dev-data-producer"]
    assert producer["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    # Studio's apps run as the data scientist: SageMaker of this account, its source identity.
    studio = trust["p-dev-data-scientist"][-1]
    assert studio["Sid"] == "StudioApps"
    assert studio["Action"] == ["sts:AssumeRole", "sts:SetSourceIdentity"]
    assert studio["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}


def test_an_unknown_persona_is_refused(feature_flags: dict[str, Any]) -> None:
    stack = cdk.Stack(cdk.App(context=feature_flags), "S", env=ENV)
    with pytest.raises(ValueError, match=r"unknown personas \['admin'\]"):
        Personas(stack, "Personas", prefix="p-dev", principals={"admin": [APPROVERS]})


def test_the_auditor_reads_the_trail_roles_and_registries_only(
    templates: dict[str, dict[str, Any]], statements: Statements
) -> None:
    template = templates["Auditor"]
    assert list(_roles(template)) == ["p-dev-auditor"]
    found = statements(template, "p-dev-auditor")
    actions = {a for s in found for a in s["Action"]}
    verbs = ("Get", "List", "Describe", "Lookup", "Decrypt")
    assert all(a.split(":")[1].startswith(verbs) for a in actions), sorted(actions)
    by_sid = {s.get("Sid"): s for s in found}
    assert by_sid["WhoMayDoWhat"]["Resource"] == [f"arn:aws:iam::{ACCOUNT}:role/p-dev-*"]
    assert by_sid["Registries"]["Resource"] == [
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package-group/p-dev-*",
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/p-dev-*",
    ]
    # The trail's log files only, not the whole bucket.
    [trail] = [s for s in found if "s3:GetObject*" in s["Action"]]
    assert trail["Resource"][-1]["Fn::Join"][1][-1] == "/cloudtrail/*"
