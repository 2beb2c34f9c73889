"""SageMaker Studio (``studio``; ADR 0022): a domain per environment where teams train, VpcOnly
in the isolated network, encrypted with the data key, idle apps shut down, one user profile per
configured user running as its project's persona role, which alone may open it.

Synthesized once here (``synth``): VPC mode, two projects (churn trains, sales only holds data)
and three users: alice (churn data scientist), bob (sales data scientist) and carol (churn
approver). The rule packs run in the synthesis; cfn-lint and checkov run on the stacks Studio
adds or changes; who may open which profile and what Studio's apps may do is simulated offline
over the synthesized policies (``tests/iam_sim``).
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.config import (
    ConfigError,
    PlatformConfig,
    StudioConfig,
    StudioUserConfig,
    parse_config,
    studio_environments,
    studio_personas,
)
from tests.conftest import Synthesized, synthesize
from tests.iam_sim import (
    Inventory,
    Request,
    Role,
    environments_of_assembly,
    session_request,
    simulate,
)
from tests.templates import cfn_lint
from tests.test_guardrails import SKIPS_FILE, _checkov_failures
from tools.configurations import CHURN, EXAMPLE_YAML, churn, delivered
from tools.idle_cost import report_for_templates

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT, REGION = "111111111111", "eu-west-1"
PREFIX = "mlops-dev"
USERS = [
    {"name": "alice", "project": "churn"},
    {"name": "bob", "project": "sales", "persona": "data-scientist"},
    {"name": "carol", "project": "churn", "persona": "approver"},
]
# Whose role each profile runs as (and which role alone may open it).
OWNERS = {
    "alice": f"{PREFIX}-churn-data-scientist",
    "bob": f"{PREFIX}-sales-data-scientist",
    "carol": f"{PREFIX}-churn-approver",
}
PERSONAS = ("approver", "data-scientist", "data-producer", "operator")


def studio_data(**studio: Any) -> dict[str, Any]:
    """The module's configuration, ``studio`` merged into its studio block."""
    no_deploy = {**CHURN["deploy"], "enabled": False, "staging": {"hosting": "realtime"}}
    return {
        "environments": [{"name": "dev", "account": ACCOUNT, "region": REGION}],
        "network": {"vpc_mode": True},
        "studio": {"enabled": True, "users": USERS, **studio},
        "projects": [
            churn(deploy=no_deploy),
            churn(name="sales", build={"enabled": False}, deploy=no_deploy),
        ],
    }


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(parse_config(studio_data()), tmp_path_factory.mktemp("studio"))


def _stack_template(synth: Synthesized, name: str) -> dict[str, Any]:
    [stack] = [s for s in synth.stages["dev"].stacks if s.stack_name == name]
    return synth.template_json(stack)


def _typed(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == kind}


def _output(synth: Synthesized, value: dict[str, Any]) -> Any:
    """What a weak cross-stack reference (Fn::GetStackOutput) in the studio stack stands for."""
    reference = value["Fn::GetStackOutput"]
    template = _stack_template(synth, reference["StackName"])
    return template["Outputs"][reference["OutputName"]]["Value"]


@pytest.fixture(scope="module")
def studio(synth: Synthesized) -> dict[str, Any]:
    return _stack_template(synth, f"{PREFIX}-studio")


# -- the stack and the domain --------------------------------------------------------------------


def test_the_studio_stack_follows_the_access_stacks(synth: Synthesized) -> None:
    stage = synth.stages["dev"]
    assert stage.studio is not None and stage.studio.stack_name == f"{PREFIX}-studio"
    after = {s.stack_name for s in stage.studio.dependencies}
    assert {f"{PREFIX}-churn-access", f"{PREFIX}-sales-access", f"{PREFIX}-data"} <= after
    assert stage.stacks[-1] is stage.studio
    text = json.dumps(synth.template_json(stage.studio))
    assert "Fn::ImportValue" not in text  # weak references only; roles by their names


def test_the_domain_is_vpc_only_encrypted_and_stops_idle_apps(
    synth: Synthesized, studio: dict[str, Any]
) -> None:
    [domain] = _typed(studio, "AWS::SageMaker::Domain").values()
    [(group_id, _)] = _typed(studio, "AWS::EC2::SecurityGroup").items()
    group = {"Fn::GetAtt": [group_id, "GroupId"]}
    assert (domain["DomainName"], domain["AuthMode"]) == (f"{PREFIX}-studio", "IAM")
    assert domain["AppNetworkAccessType"] == "VpcOnly"
    data = _stack_template(synth, f"{PREFIX}-data")
    [key_id] = [k for k in _typed(data, "AWS::KMS::Key") if k.startswith("DataKey")]
    assert _output(synth, domain["KmsKeyId"]) == {"Fn::GetAtt": [key_id, "Arn"]}
    isolated = {k for k in _typed(data, "AWS::EC2::Subnet") if "isolated" in k}
    assert {_output(synth, s)["Ref"] for s in domain["SubnetIds"]} == isolated
    [vpc_id] = _typed(data, "AWS::EC2::VPC")
    assert _output(synth, domain["VpcId"]) == {"Ref": vpc_id}
    settings = domain["DefaultUserSettings"]
    assert settings["SecurityGroups"] == [group]
    assert domain["DomainSettings"] == {
        "SecurityGroupIds": [group],
        "DockerSettings": {"EnableDockerAccess": "DISABLED"},
        "ExecutionRoleIdentityConfig": "USER_PROFILE_NAME",
    }
    idle = {
        "IdleSettings": {
            "LifecycleManagement": "ENABLED",
            "IdleTimeoutInMinutes": 60,
            "MinIdleTimeoutInMinutes": 60,
            "MaxIdleTimeoutInMinutes": 60,
        }
    }
    for app in ("JupyterLabAppSettings", "CodeEditorAppSettings"):
        assert settings[app] == {"AppLifecycleManagement": idle}, app  # no images, no scripts
    assert settings["SharingSettings"] == {"NotebookOutputOption": "Disabled"}
    assert set(settings["StudioWebPortalSettings"]["HiddenAppTypes"]) == {
        "JupyterServer",
        "TensorBoard",
        "RStudioServerPro",
        "DetailedProfiler",
        "Canvas",
    }
    assert "KernelGatewayAppSettings" not in settings and "DefaultSpaceSettings" not in domain


def test_the_default_execution_role_may_do_nothing(studio: dict[str, Any]) -> None:
    [domain] = _typed(studio, "AWS::SageMaker::Domain").values()
    role_id = domain["DefaultUserSettings"]["ExecutionRole"]["Fn::GetAtt"][0]
    role = studio["Resources"][role_id]["Properties"]
    assert role["RoleName"] == f"{PREFIX}-studio-default"
    assert "Policies" not in role and "ManagedPolicyArns" not in role
    attached = [
        p
        for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        for p in _typed(studio, kind).values()
        if {"Ref": role_id} in p.get("Roles", [])
    ]
    assert attached == []


def test_the_security_group_reaches_the_vpc_endpoints_only(
    synth: Synthesized, studio: dict[str, Any]
) -> None:
    [(group_id, group)] = _typed(studio, "AWS::EC2::SecurityGroup").items()
    me = {"Fn::GetAtt": [group_id, "GroupId"]}
    assert group["GroupName"] == f"{PREFIX}-studio" and "SecurityGroupIngress" not in group
    assert [(e["CidrIp"], e["FromPort"], e["ToPort"]) for e in group["SecurityGroupEgress"]] == [
        ("0.0.0.0/0", 443, 443)
    ]
    rules = {
        (kind, json.dumps(p["GroupId"], sort_keys=True), p.get("FromPort"), p.get("ToPort"))
        for kind in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress")
        for p in _typed(studio, kind).values()
        if p.get("SourceSecurityGroupId", p.get("DestinationSecurityGroupId")) == me
    }
    [endpoints] = [
        p["GroupId"]
        for p in _typed(studio, "AWS::EC2::SecurityGroupIngress").values()
        if p["GroupId"] != me
    ]
    data = _stack_template(synth, f"{PREFIX}-data")
    [endpoints_id] = [k for k in _typed(data, "AWS::EC2::SecurityGroup") if "Endpoints" in k]
    assert _output(synth, endpoints) == {"Fn::GetAtt": [endpoints_id, "GroupId"]}
    mine = json.dumps(me, sort_keys=True)
    assert rules == {
        ("AWS::EC2::SecurityGroupIngress", mine, 0, 65535),
        ("AWS::EC2::SecurityGroupEgress", mine, 0, 65535),
        ("AWS::EC2::SecurityGroupIngress", json.dumps(endpoints, sort_keys=True), 443, 443),
    }


def test_studio_adds_the_endpoints_its_apps_call(synth: Synthesized) -> None:
    """The SageMaker API and runtime, and STS (the SageMaker SDK's role and region look-ups)."""
    data = _stack_template(synth, f"{PREFIX}-data")
    endpoints = _typed(data, "AWS::EC2::VPCEndpoint")
    for service in ("SagemakerApi", "SagemakerRuntime", "Sts"):
        assert any(k.startswith(f"NetworkVpc{service}") for k in endpoints), service


def test_one_profile_per_user_running_as_its_persona_role(
    synth: Synthesized, studio: dict[str, Any]
) -> None:
    [domain_id] = _typed(studio, "AWS::SageMaker::Domain")
    typed = _typed(studio, "AWS::SageMaker::UserProfile").values()
    profiles = {p["UserProfileName"]: p for p in typed}
    assert set(profiles) == set(OWNERS)
    access = [_stack_template(synth, f"{PREFIX}-{p}-access") for p in ("churn", "sales")]
    roles = {p["RoleName"] for t in access for p in _typed(t, "AWS::IAM::Role").values()}
    for name, profile in profiles.items():
        assert profile["DomainId"] == {"Fn::GetAtt": [domain_id, "DomainId"]}
        role = profile["UserSettings"]["ExecutionRole"]
        assert role == f"arn:aws:iam::{ACCOUNT}:role/{OWNERS[name]}" and OWNERS[name] in roles
        assert profile["UserSettings"] == {"ExecutionRole": role}  # the domain's settings
        tags = {t["Key"]: t["Value"] for t in profile["Tags"]}
        user = next(u for u in USERS if u["name"] == name)
        assert (tags["project"], tags["persona"]) == (
            user["project"],
            user.get("persona", "data-scientist"),
        )


def _trust(synth: Synthesized, project: str, persona: str) -> list[dict[str, Any]]:
    template = _stack_template(synth, f"{PREFIX}-{project}-access")
    [role] = [
        p
        for p in _typed(template, "AWS::IAM::Role").values()
        if p["RoleName"] == f"{PREFIX}-{project}-{persona}"
    ]
    statements: list[dict[str, Any]] = role["AssumeRolePolicyDocument"]["Statement"]
    return statements


def test_only_persona_roles_with_profiles_trust_sagemaker(synth: Synthesized) -> None:
    """SageMaker of this account and region only (the confused deputy), which may set the
    session's source identity (the profile's name: the audit trail names the person)."""
    studio_roles = set(OWNERS.values())
    for project in ("churn", "sales"):
        for persona in PERSONAS:
            statements = _trust(synth, project, persona)
            humans = [s for s in statements if "AWS" in s["Principal"]]
            assert humans == [
                {
                    "Action": "sts:AssumeRole",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                }
            ]
            services = [s for s in statements if s not in humans]
            if f"{PREFIX}-{project}-{persona}" not in studio_roles:
                assert services == [], (project, persona)
                continue
            assert services == [
                {
                    "Sid": "StudioApps",
                    "Effect": "Allow",
                    "Principal": {"Service": "sagemaker.amazonaws.com"},
                    "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": ACCOUNT},
                        "ArnLike": {"aws:SourceArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:*"},
                    },
                }
            ]


# -- what the roles may do (offline IAM simulation) ------------------------------------------------

SESSION = "studio-test"


@dataclasses.dataclass(frozen=True)
class Estate:
    inventory: Inventory
    roles: dict[str, Role]
    policies: dict[str, dict[str, Any]]
    domain: str
    key: str

    def arn(self, resource: str, name: str) -> str:
        return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{resource}/{self.domain}/{name}"


@pytest.fixture(scope="module")
def estate(synth: Synthesized) -> Estate:
    inventory = Inventory(environments_of_assembly(synth.outdir)["dev"])
    [(stack, domain_id, _)] = list(inventory.resources_of_type("AWS::SageMaker::Domain"))
    [key] = [
        inventory.arn_of(s, logical_id)
        for s, logical_id, _ in inventory.resources_of_type("AWS::KMS::Key")
        if logical_id.startswith("DataKey")
    ]
    roles = {r.name: r for r in inventory.roles().values()}
    policies = {**inventory.resource_policies(), **inventory.trust_policies()}
    return Estate(inventory, roles, policies, inventory.studio_domain_id(stack, domain_id), key)


def _decide(estate: Estate, asks: list[tuple[str, str, str, dict[str, str]]]) -> list[bool]:
    """Each (role name, action, resource, context): allowed? With the resource's policy (the
    data key's) where it has one; no decision may ignore a context key."""
    requests = [
        session_request(
            estate.roles[role],
            ACCOUNT,
            SESSION,
            action=action,
            resource=resource,
            context=context.items(),
            resource_policy=resource if resource in estate.policies else None,
        )
        for role, action, resource, context in asks
    ]
    identity = {r.arn: list(r.policies) for r in estate.roles.values()}
    decisions = simulate(requests, identity, estate.policies, ACCOUNT)
    for ask, decision in zip(asks, decisions, strict=True):
        assert decision.error is None and not decision.ignored_context_keys, (ask, decision)
    return [d.allowed for d in decisions]


def test_each_role_opens_its_own_profiles_only(estate: Estate) -> None:
    """A data scientist of churn opens alice's profile, not bob's (sales) nor carol's (churn's
    approver); every persona role of both projects, each profile."""
    roles = [f"{PREFIX}-{p}-{persona}" for p in ("churn", "sales") for persona in PERSONAS]
    asks: list[tuple[str, str, str, dict[str, str]]] = [
        (role, action, estate.arn("user-profile", profile), {})
        for role in roles
        for profile in OWNERS
        for action in ("sagemaker:CreatePresignedDomainUrl", "sagemaker:DescribeUserProfile")
    ]
    allowed = {
        (role, resource.rsplit("/", 1)[1])
        for (role, _, resource, _), ok in zip(asks, _decide(estate, asks), strict=True)
        if ok
    }
    assert allowed == {(owner, profile) for profile, owner in OWNERS.items()}


def test_studio_apps_stay_in_their_own_private_spaces(estate: Estate) -> None:
    """As alice's execution role: her private spaces (no remote access) and JupyterLab or Code
    Editor apps in them, nothing of bob's, no shared space, no other app type, nothing that
    would change the domain, its profiles, images or lifecycle configurations."""
    ds = f"{PREFIX}-churn-data-scientist"
    mine, bobs = estate.arn("user-profile", "alice"), estate.arn("user-profile", "bob")

    def owned(owner: str, sharing: str = "Private", **more: str) -> dict[str, str]:
        return {
            "sagemaker:OwnerUserProfileArn": owner,
            "sagemaker:SpaceSharingType": sharing,
            **more,
        }

    space, app = estate.arn("space", "alice-lab"), estate.arn("app", "alice-lab/{}/default")
    local = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
    domain = f"{local}:domain/{estate.domain}"
    remote = "sagemaker:RemoteAccess"
    cases = [
        (True, "CreateSpace", space, owned(mine, **{remote: "DISABLED"})),
        (True, "DeleteSpace", space, owned(mine)),
        (True, "CreateApp", app.format("JupyterLab"), owned(mine)),
        (True, "CreateApp", app.format("CodeEditor"), owned(mine)),
        (True, "DeleteApp", app.format("JupyterLab"), owned(mine)),
        (True, "DescribeDomain", domain, {}),
        (True, "ListSpaces", "*", {}),
        (False, "CreateSpace", space, owned(mine, **{remote: "ENABLED"})),
        (False, "CreateSpace", space, owned(mine, "Shared")),
        (False, "CreateSpace", space, owned(bobs)),
        (False, "DeleteSpace", estate.arn("space", "bob-lab"), owned(bobs)),
        (False, "DeleteApp", estate.arn("app", "bob-lab/JupyterLab/default"), owned(bobs)),
        (False, "CreateApp", app.format("JupyterLab"), owned(mine, "Shared")),
        (False, "CreateApp", estate.arn("app", "alice/Canvas/default"), owned(mine)),
        (False, "CreateApp", estate.arn("app", "alice/JupyterServer/default"), owned(mine)),
        (False, "UpdateDomain", domain, {}),
        (False, "UpdateUserProfile", mine, {}),
        (False, "CreateUserProfile", estate.arn("user-profile", "mallory"), {}),
        (False, "CreateImage", f"{local}:image/mine", {}),
        (False, "CreateStudioLifecycleConfig", f"{local}:studio-lifecycle-config/boot", {}),
    ]
    asks = [(ds, f"sagemaker:{action}", res, ctx) for _, action, res, ctx in cases]
    decided = _decide(estate, asks)
    wrong = [case[:3] for case, ok in zip(cases, decided, strict=True) if ok != case[0]]
    assert wrong == []


GRANT = {"kms:GrantIsForAWSResource": "true"}


def test_profile_roles_grant_the_data_key_to_their_spaces_volumes(estate: Estate) -> None:
    """Profile roles create grants of the data key for AWS resources (their spaces' volumes);
    a persona without a profile does not, nor a grant for anything else."""
    grant = GRANT
    for_anything = {"kms:GrantIsForAWSResource": "false"}
    asks = [
        (f"{PREFIX}-{role}", "kms:CreateGrant", estate.key, context)
        for role, context in (
            ("churn-data-scientist", grant),
            ("churn-approver", grant),
            ("churn-data-scientist", for_anything),
            ("churn-operator", grant),
            ("sales-approver", grant),
        )
    ]
    assert _decide(estate, asks) == [True, True, False, False, False]


def test_the_deployment_role_creates_the_home_with_the_data_key(estate: Estate) -> None:
    """The CDK deployment role creates the home file system's grants and data keys (through
    SageMaker and EFS); an account administrator still cannot use the key."""
    anything = (
        (
            "AdministratorAccess",
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            },
        ),
    )
    deployer = f"cdk-hnb659fds-cfn-exec-role-{ACCOUNT}-{REGION}"
    others = {
        n: Role(n, f"arn:aws:iam::{ACCOUNT}:role/{n}", "outside", n, (), anything)
        for n in (deployer, "Administrator")
    }
    via_efs = {
        "kms:ViaService": f"elasticfilesystem.{REGION}.amazonaws.com",
        "aws:ViaAWSService": "true",
    }
    requests = [
        session_request(
            others[n],
            ACCOUNT,
            SESSION,
            action=a,
            resource=estate.key,
            context=c.items(),
            resource_policy=estate.key,
        )
        for n in (deployer, "Administrator")
        for a, c in (("kms:CreateGrant", GRANT), ("kms:GenerateDataKeyWithoutPlaintext", via_efs))
    ]
    identity = {r.arn: list(r.policies) for r in others.values()}
    decided = [d.allowed for d in simulate(requests, identity, estate.policies, ACCOUNT)]
    assert decided == [True, True, False, False]


def test_only_sagemaker_of_this_account_assumes_a_profile_role(estate: Estate) -> None:
    role = estate.roles[f"{PREFIX}-churn-data-scientist"]
    producer = estate.roles[f"{PREFIX}-churn-data-producer"]
    app = f"arn:aws:sagemaker:{REGION}:{{}}:app/{estate.domain}/alice-lab/JupyterLab/default"

    def assume(target: Role, account: str) -> Request:
        return Request(
            principal="sagemaker.amazonaws.com",
            action="sts:AssumeRole",
            resource=target.arn,
            context=(("aws:SourceAccount", account), ("aws:SourceArn", app.format(account))),
            resource_policy=target.arn,
        )

    requests = [assume(role, ACCOUNT), assume(role, "222222222222"), assume(producer, ACCOUNT)]
    decided = [d.allowed for d in simulate(requests, {}, estate.policies, ACCOUNT)]
    assert decided == [True, False, False]


# -- rule packs, cfn-lint, checkov -----------------------------------------------------------------


def test_no_unacknowledged_rule_pack_findings(synth: Synthesized) -> None:
    assert synth.report["title"] == "Validation Report"
    assert synth.violations() == []


def _changed_templates(synth: Synthesized) -> list[Path]:
    """The stacks Studio adds or changes: the studio stack, the data stack (endpoints, key
    policy) and the projects' access stacks (trust, key grants)."""
    names = [f"{PREFIX}-{s}" for s in ("studio", "data", "churn-access", "sales-access")]
    stacks = [s for s in synth.stages["dev"].stacks if s.stack_name in names]
    assert len(stacks) == len(names)
    return [next(synth.outdir.glob(f"**/{s.artifact_id}.template.json")) for s in stacks]


def test_cfn_lint_clean(synth: Synthesized) -> None:
    assert cfn_lint(_changed_templates(synth)) == ""


def test_checkov_clean_but_for_listed_skips(synth: Synthesized, tmp_path: Path) -> None:
    for template in _changed_templates(synth):
        (tmp_path / template.name).write_text(template.read_text())
    skips = [s for s in yaml.safe_load(SKIPS_FILE.read_text())["skips"] if not s.get("delivery")]
    failures = _checkov_failures(tmp_path)
    unexplained = [
        f
        for f in failures
        if not any(f[0] == s["check"] and f[1].endswith(s["resource"]) for s in skips)
    ]
    assert unexplained == []
    assert not [f for f in failures if "Studio" in f[2]]  # the studio stack needs no skip


# -- idle cost -------------------------------------------------------------------------------------


def test_make_cost_prices_the_domain_and_its_profiles(studio: dict[str, Any]) -> None:
    """The domain $0 plus its home EFS at 1 GB per profile; each profile one space's 5 GB volume
    (eu-west-1 prices); the apps bill only while they run and say when they stop."""
    report = report_for_templates({"studio": studio}, region=REGION)
    assert report.unknown_types == {}
    lines = {line.resource_type: line for line in report.lines}
    domain = lines["AWS::SageMaker::Domain"]
    assert domain.monthly_usd == pytest.approx(3 * 1.0 * 0.33)
    profiles = [p for p in report.lines if p.resource_type == "AWS::SageMaker::UserProfile"]
    assert [p.monthly_usd for p in profiles] == [pytest.approx(5 * 0.154)] * 3
    assert all("stopped after 60 idle minutes" in p.how for p in profiles)
    assert report.total == pytest.approx(3 * 0.33 + 3 * 5 * 0.154)
    assert any(n.startswith("SageMaker Studio: the domain costs nothing") for n in report.notes)


# -- configuration ---------------------------------------------------------------------------------


def test_studio_is_off_by_default_and_changes_nothing() -> None:
    config = PlatformConfig()
    assert config.studio == StudioConfig() and not config.studio.enabled
    assert studio_environments(config) == ()
    assert studio_personas(config, "dev", "churn") == ()


def test_studio_goes_where_teams_train() -> None:
    """Every environment of a platform deployed on its own; a delivered platform's development
    environment only (its serving environments train nothing)."""
    config = parse_config(studio_data())
    assert studio_environments(config) == ("dev",)
    assert studio_personas(config, "dev", "churn") == ("data-scientist", "approver")
    assert studio_personas(config, "dev", "sales") == ("data-scientist",)
    data = delivered(single_account=False).model_dump(mode="json")
    data["network"]["vpc_mode"] = True
    for project in data["projects"]:
        project["deploy"]["staging"]["hosting"] = "realtime"
    data["studio"] = {"enabled": True, "users": [{"name": "alice", "project": "churn"}]}
    config = parse_config(data)
    assert studio_environments(config) == ("dev",)
    assert studio_personas(config, "prod", "churn") == ()


BAD: list[tuple[str, dict[str, Any], str]] = [
    (
        "studio without VPC mode",
        {"studio": {"enabled": True}},
        "studio.enabled: a Studio domain always needs a VPC, and the platform runs it VpcOnly "
        "in its isolated subnets (no internet), which exist only in VPC mode; network.vpc_mode "
        "is false. Fix: set network.vpc_mode: true",
    ),
    (
        "unknown project",
        studio_data(users=[{"name": "alice", "project": "fraud"}]),
        "studio.users[0] ('alice'): project 'fraud' is not configured. Fix: use one of the "
        "names under projects (churn, sales)",
    ),
    (
        "data producer",
        studio_data(users=[{"name": "dan", "project": "churn", "persona": "data-producer"}]),
        "studio.users[0].persona: a data producer writes raw data and reads nothing back",
    ),
    (
        "access list spelling of a persona",
        studio_data(users=[{"name": "al", "project": "churn", "persona": "data_scientists"}]),
        "studio.users[0].persona: 'data_scientists' is not a persona that works in Studio (the "
        "role's spelling: 'data-scientist'). Fix: use one of data-scientist, approver, operator",
    ),
    (
        "profile name SageMaker refuses",
        studio_data(users=[{"name": "alice.smith", "project": "churn"}]),
        "studio.users[0].name: 'alice.smith' cannot name a Studio user profile. Fix: use 1-63 "
        "letters, digits and hyphens",
    ),
    (
        "profile name ending in a hyphen",
        studio_data(users=[{"name": "alice-", "project": "churn"}]),
        "studio.users[0].name: 'alice-' cannot name a Studio user profile",
    ),
    (
        "one user twice",
        studio_data(users=[USERS[0], {**USERS[0], "persona": "approver"}]),
        "studio.users: Studio users ['alice'] named twice",
    ),
    (
        "idle timeout below SageMaker's minimum",
        studio_data(idle_timeout_minutes=30),
        "studio.idle_timeout_minutes: 30 minutes is outside what SageMaker's idle shutdown "
        "accepts (60 to 525,600). Fix: use e.g. 60",
    ),
    (
        "idle timeout above a year",
        studio_data(idle_timeout_minutes=525_601),
        "studio.idle_timeout_minutes: 525601 minutes is outside",
    ),
    (
        "unknown environment",
        studio_data(environments=["qa"]),
        "studio.environments names ['qa'], which are not configured. Fix: use the names under "
        "environments (dev)",
    ),
    (
        "misspelt key",
        studio_data(idle_timeout=60),
        "studio.idle_timeout: unknown key. Fix: did you mean 'idle_timeout_minutes'?",
    ),
]


@pytest.mark.parametrize(("case", "data", "message"), BAD, ids=[c[0] for c in BAD])
def test_bad_studio_configuration_names_field_and_fix(
    case: str, data: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(data, source="config.yaml")
    text = str(err.value)
    assert text.startswith("config.yaml: invalid configuration\n") and message in text, text
    assert "Fix:" in text and "Traceback" not in text


def test_a_serving_environment_gets_no_studio() -> None:
    data = delivered(single_account=False).model_dump(mode="json")
    data["network"]["vpc_mode"] = True
    for project in data["projects"]:
        project["deploy"]["staging"]["hosting"] = "realtime"
    data["studio"] = {"enabled": True, "environments": ["dev", "prod"]}
    with pytest.raises(ConfigError) as err:
        parse_config(data, source="config.yaml")
    assert "studio.environments names ['prod'], where a delivered platform only serves" in str(
        err.value
    )


def test_the_example_shows_every_studio_key() -> None:
    """config/example.yaml's studio block is off (its network is not VPC mode) and shows the
    defaults; its commented user entry, uncommented, is valid with VPC mode on."""
    text = EXAMPLE_YAML.read_text()
    example = yaml.safe_load(text)
    assert example["studio"] == StudioConfig().model_dump(mode="json")
    block = re.search(r"^  users: \[\].*\n((?:  # .*\n)+)", text, re.MULTILINE)
    assert block is not None, "no commented user entry under studio"
    users = yaml.safe_load("\n".join(line[4:] for line in block[1].splitlines()))
    assert {k for user in users for k in user} == set(StudioUserConfig.model_fields)
    example["network"]["vpc_mode"] = True
    for project in example["projects"]:
        project.setdefault("deploy", {}).setdefault("staging", {})["hosting"] = "realtime"
    example["studio"] = {**example["studio"], "enabled": True, "users": users}
    config = parse_config(example)
    assert studio_environments(config) == ("dev",)


def test_the_readme_example_is_valid() -> None:
    readme = (ROOT / "README.md").read_text()
    [block] = [b for b in re.findall(r"```yaml\n(.*?)```", readme, re.S) if "studio:" in b]
    data = {**studio_data(), **yaml.safe_load(block)}
    config = parse_config(data)
    assert config.studio.enabled and studio_environments(config) == ("dev",)
