"""StudioDomain in a bare stack, in the subnets of an IsolatedNetwork of its own."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs

from mlops_constructs.network.isolated import IsolatedNetwork
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.studio import HIDDEN_APPS, StudioDomain, StudioUser

ACCOUNT = "111111111111"
ENV = cdk.Environment(account=ACCOUNT, region="us-east-1")
SCIENTIST = f"arn:aws:iam::{ACCOUNT}:role/p-dev-data-scientist"
ALICE = StudioUser(name="alice", execution_role_arn=SCIENTIST, tags={"owner": "alice"})


def _domain(stack: cdk.Stack, **settings: Any) -> StudioDomain:
    key = PlatformKey(stack, "Data", prefix="p-dev", purpose="data", description="d")
    network = IsolatedNetwork(
        stack,
        "Network",
        prefix="p-dev",
        key=key,
        cidr="10.0.0.0/16",
        interface_services=[],
        flow_log_retention=logs.RetentionDays.ONE_WEEK,
    )
    return StudioDomain(
        stack,
        "Studio",
        name="p-dev-studio",
        key=key.key,
        placement=network.placement,
        endpoints=network.endpoint_security_group,
        **{"users": [ALICE], **settings},
    )


@pytest.fixture(scope="module")
def template(feature_flags: dict[str, Any]) -> dict[str, Any]:
    app = cdk.App(context=feature_flags)
    stack = cdk.Stack(app, "Studio", env=ENV)
    studio = _domain(stack)
    scientist = iam.Role.from_role_name(stack, "Scientist", "p-dev-data-scientist")
    studio.grant_use(scientist, ["alice"])
    synthesized: dict[str, Any] = app.synth().get_stack_by_name("Studio").template
    return synthesized


def _of(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def test_the_domain_is_vpc_only_encrypted_and_without_docker(template: dict[str, Any]) -> None:
    [domain] = _of(template, "AWS::SageMaker::Domain")
    assert domain["DomainName"] == "p-dev-studio"
    assert domain["AuthMode"] == "IAM" and domain["AppNetworkAccessType"] == "VpcOnly"
    assert "KmsKeyId" in domain and len(domain["SubnetIds"]) == 2
    settings = domain["DomainSettings"]
    assert settings["DockerSettings"] == {"EnableDockerAccess": "DISABLED"}
    assert settings["ExecutionRoleIdentityConfig"] == "USER_PROFILE_NAME"
    user = domain["DefaultUserSettings"]
    assert user["SharingSettings"] == {"NotebookOutputOption": "Disabled"}
    assert user["StudioWebPortalSettings"]["HiddenAppTypes"] == list(HIDDEN_APPS)
    idle = user["JupyterLabAppSettings"]["AppLifecycleManagement"]["IdleSettings"]
    assert idle["LifecycleManagement"] == "ENABLED"
    assert idle["IdleTimeoutInMinutes"] == idle["MaxIdleTimeoutInMinutes"] == 60


def test_the_default_role_can_do_nothing_and_each_profile_runs_as_its_own(
    template: dict[str, Any],
) -> None:
    [default] = [
        logical_id
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Role" and r["Properties"]["RoleName"] == "p-dev-studio-default"
    ]
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        assert not [p for p in _of(template, kind) if {"Ref": default} in p.get("Roles", [])]
    [profile] = _of(template, "AWS::SageMaker::UserProfile")
    assert profile["UserProfileName"] == "alice"
    assert profile["UserSettings"] == {"ExecutionRole": SCIENTIST}
    assert profile["Tags"] == [{"Key": "owner", "Value": "alice"}]


def test_the_apps_reach_the_endpoints_on_https_only(template: dict[str, Any]) -> None:
    groups = {g["GroupName"]: g for g in _of(template, "AWS::EC2::SecurityGroup")}
    apps = groups["p-dev-studio"]
    [out] = [e for e in apps["SecurityGroupEgress"] if "CidrIp" in e]
    assert (out["FromPort"], out["ToPort"]) == (443, 443)
    https = [i for i in _of(template, "AWS::EC2::SecurityGroupIngress") if i.get("FromPort") == 443]
    assert len(https) == 2  # the workloads' and the domain's, into the endpoints' group


def test_a_role_opens_its_own_profiles_only(template: dict[str, Any]) -> None:
    [policy] = _of(template, "AWS::IAM::ManagedPolicy")
    assert policy["ManagedPolicyName"] == "p-dev-data-scientist-studio"
    assert policy["Roles"] == ["p-dev-data-scientist"]
    by_sid = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert "sagemaker:CreatePresignedDomainUrl" in by_sid["OpenOwnProfiles"]["Action"]
    own = by_sid["OwnPrivateSpaces"]["Condition"]
    assert own["StringEquals"] == {"sagemaker:SpaceSharingType": "Private"}
    assert own["StringEqualsIfExists"] == {"sagemaker:RemoteAccess": "DISABLED"}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"users": [ALICE, ALICE]}, "valid and unique"),
        ({"users": [StudioUser(name="Alice Smith", execution_role_arn=SCIENTIST)]}, "valid"),
        ({"idle_timeout_minutes": 30}, "idle timeout 30 min"),
        ({"space_storage_gb": (200, 100)}, "space storage"),
    ],
)
def test_bad_settings_are_refused(
    feature_flags: dict[str, Any], settings: dict[str, Any], message: str
) -> None:
    stack = cdk.Stack(cdk.App(context=feature_flags), "S", env=ENV)
    with pytest.raises(ValueError, match=message):
        _domain(stack, **settings)


def test_grants_name_profiles_of_the_domain_and_roles_by_name(
    feature_flags: dict[str, Any],
) -> None:
    stack = cdk.Stack(cdk.App(context=feature_flags), "S", env=ENV)
    studio = _domain(stack)
    known = iam.Role.from_role_name(stack, "Known", "p-dev-operator")
    with pytest.raises(ValueError, match=r"not in the domain: \['bob'\]"):
        studio.grant_use(known, ["bob"])
    unnamed = iam.Role(stack, "Unnamed", assumed_by=iam.AccountRootPrincipal())
    with pytest.raises(ValueError, match="a role of a known name"):
        studio.grant_use(unnamed, ["alice"])
