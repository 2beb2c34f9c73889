"""The release pipeline of one project in the tooling account (ADR 0011): ``ReleasePipeline`` on
its own, in a small app (not wired into the platform's app yet).

A tooling account (444444444444) releases to staging (222222222222, tested) and production
(333333333333, approved first); and the same with every account the tooling account's (its
ARNs written with the partition as a token, as the platform's stacks write them). Each action of
a serving stage runs with that stage's action role; the artifact bucket and key admit exactly
those roles, by account principal narrowed with ``aws:PrincipalArn``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns

from mlops_constructs.deploy.release import ReleasePipeline, ReleaseStage
from mlops_constructs.security.nag import acknowledge_inline_policy
from stacks.context import project_context
from stacks.guardrails import add_rule_packs
from tests.conftest import rule_pack_findings
from tests.templates import cfn_lint, flat_arn
from tests.test_guardrails import _checkov_failures

ROOT = Path(__file__).resolve().parent.parent
TOOLING = "444444444444"
REGION = "eu-west-1"
NAME = "mlops-churn-release"
PACKAGE = "#{variables.ModelPackageArn}"
TOPOLOGIES = {
    "multi": {"staging": "222222222222", "prod": "333333333333"},
    "single": {"staging": TOOLING, "prod": TOOLING},
}
# The single-account topology writes its ARNs with the partition as a token
# (``arn:${AWS::Partition}:...``), as the platform's stacks do; the other literally.
PARTITIONS = {"multi": "aws", "single": cdk.Aws.PARTITION}


def _template_body(*parameters: str) -> dict[str, Any]:
    """A minimal endpoint-like template taking ``parameters``."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {p: {"Type": "String", "Description": p} for p in parameters},
        "Resources": {
            "Model": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {
                    "Type": "String",
                    "Value": {"Fn::Sub": "${ModelPackageArn} ${ModelDataUrl} ${DataKeyArn}"},
                },
            }
        },
    }


def _templates(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for environment, kind in (("staging", "staging"), ("prod", "prod")):
        body = _template_body("ModelPackageArn", "ModelDataUrl", "DataKeyArn")
        (folder / f"mlops-{environment}-churn-endpoint-{kind}.template.json").write_text(
            json.dumps(body)
        )
    return folder


def _stage(
    environment: str, account: str, *, test: bool, approval: bool, partition: str = "aws"
) -> ReleaseStage:
    prefix = f"mlops-{environment}-churn"
    functions = f"arn:{partition}:lambda:{REGION}:{account}:function:{prefix}"
    return ReleaseStage(
        environment=environment,
        account=account,
        region=REGION,
        prefix=prefix,
        kind=environment,
        action_role_arn=f"arn:{partition}:iam::{account}:role/{prefix}-release-action",
        cfn_role_arn=f"arn:{partition}:iam::{account}:role/{prefix}-deploy-cfn",
        promote_function_arn=f"{functions}-promote",
        test_function_arn=f"{functions}-staging-test" if test else None,
        approval=approval,
    )


def _stages(accounts: dict[str, str], partition: str = "aws") -> list[ReleaseStage]:
    return [
        _stage("staging", accounts["staging"], test=True, approval=False, partition=partition),
        _stage("prod", accounts["prod"], test=False, approval=True, partition=partition),
    ]


def _app(outdir: Path) -> tuple[cdk.App, cdk.Stack]:
    context = {**project_context(), "@aws-cdk/core:failSynthOnValidationErrors": False}
    app = cdk.App(outdir=str(outdir), context=context)
    stack = cdk.Stack(app, "Release", env=cdk.Environment(account=TOOLING, region=REGION))
    return app, stack


@dataclass
class Release:
    construct: ReleasePipeline
    stages: list[ReleaseStage]  # as expected in the template: the partition written out
    outdir: Path
    template: dict[str, Any]
    report: dict[str, Any]

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.template["Resources"].items() if r["Type"] == type_}

    def pipeline(self) -> dict[str, Any]:
        [pipeline] = self.resources("AWS::CodePipeline::Pipeline").values()
        props: dict[str, Any] = pipeline["Properties"]
        return props

    def stage(self, name: str) -> dict[str, Any]:
        stages: list[dict[str, Any]] = self.pipeline()["Stages"]
        [stage] = [s for s in stages if s["Name"] == name]
        return stage

    def role_policy(self, role_name: str) -> list[dict[str, Any]]:
        """The statements of the inline policies of the role named ``role_name``."""
        [role_id] = [
            k
            for k, r in self.resources("AWS::IAM::Role").items()
            if r["Properties"].get("RoleName") == role_name
        ]
        return [
            s
            for p in self.resources("AWS::IAM::Policy").values()
            if {"Ref": role_id} in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]
        ]


def _synthesize(outdir: Path, accounts: dict[str, str], partition: str) -> Release:
    app, stack = _app(outdir / "cdk.out")
    add_rule_packs(app)
    release = ReleasePipeline(
        stack,
        "Release",
        name=NAME,
        templates_dir=_templates(outdir / "templates"),
        stages=_stages(accounts, partition),
        approval_topic=sns.Topic.from_topic_arn(
            stack, "Approvals", f"arn:aws:sns:{REGION}:{TOOLING}:mlops-churn-approvals"
        ),
    )
    # The grantees of the grant methods: an approver persona and the router's role.
    for name, grant in (("approver", release.grant_approve), ("router", release.grant_start)):
        role = iam.Role(
            stack,
            name.title(),
            role_name=f"mlops-churn-{name}",
            assumed_by=iam.AccountRootPrincipal(),
        )
        grant(role)
        acknowledge_inline_policy(role)
    app.synth()
    out = outdir / "cdk.out"
    report_file = out / "validation-report.json"
    return Release(
        construct=release,
        stages=_stages(accounts),
        outdir=out,
        template=json.loads((out / "Release.template.json").read_text()),
        report=json.loads(report_file.read_text()) if report_file.exists() else {},
    )


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Release]:
    """Both topologies, each synthesized once for the module."""
    return {
        topology: _synthesize(
            tmp_path_factory.mktemp(topology), TOPOLOGIES[topology], PARTITIONS[topology]
        )
        for topology in sorted(TOPOLOGIES)
    }


@pytest.fixture(scope="module", params=sorted(TOPOLOGIES))
def release(request: pytest.FixtureRequest, releases: dict[str, Release]) -> Release:
    return releases[str(request.param)]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _action_roles(release: Release) -> list[str]:
    return sorted(s.action_role_arn for s in release.stages)


def _roots(release: Release) -> list[str]:
    return sorted({f"arn:aws:iam::{s.account}:root" for s in release.stages})


# --- the rule packs -------------------------------------------------------------------------------


def test_no_unacknowledged_rule_pack_findings(release: Release) -> None:
    assert release.report["title"] == "Validation Report"  # the packs ran and reported
    assert rule_pack_findings(release.report["pluginReports"]) == []


# --- shape ----------------------------------------------------------------------------------------


def test_stages_and_actions_run_in_promotion_order(release: Release) -> None:
    pipeline = release.pipeline()
    assert pipeline["Name"] == NAME
    assert pipeline["PipelineType"] == "V2" and pipeline["ExecutionMode"] == "SUPERSEDED"
    order = [
        (stage["Name"], [(a["Name"], a["RunOrder"]) for a in stage["Actions"]])
        for stage in pipeline["Stages"]
    ]
    assert order == [
        ("Source", [("Templates", 1)]),
        ("Staging", [("Promote", 1), ("Deploy", 2), ("Test", 3)]),
        ("ApproveProd", [("Approve", 1)]),
        ("Prod", [("Promote", 1), ("Deploy", 2)]),
    ]
    providers = {
        (stage["Name"], a["Name"]): a["ActionTypeId"]["Provider"]
        for stage in pipeline["Stages"]
        for a in stage["Actions"]
    }
    assert providers == {
        ("Source", "Templates"): "S3",
        ("Staging", "Promote"): "Lambda",
        ("Staging", "Deploy"): "CloudFormation",
        ("Staging", "Test"): "Lambda",
        ("ApproveProd", "Approve"): "Manual",
        ("Prod", "Promote"): "Lambda",
        ("Prod", "Deploy"): "CloudFormation",
    }
    # Started by the router only, with the version to release.
    [source] = release.stage("Source")["Actions"]
    assert source["Configuration"]["PollForSourceChanges"] is False
    assert pipeline["Variables"] == [
        {
            "Name": "ModelPackageArn",
            "DefaultValue": "none",
            "Description": "The approved model package version to release (set by the router)",
        }
    ]


def test_every_action_of_a_stage_runs_with_that_stages_action_role(release: Release) -> None:
    for stage in release.stages:
        actions = release.stage(stage.title)["Actions"]
        assert {flat_arn(a["RoleArn"]) for a in actions} == {stage.action_role_arn}
        functions = {
            a["Name"]: flat_arn(a["Configuration"]["FunctionName"])
            for a in actions
            if a["ActionTypeId"]["Provider"] == "Lambda"
        }
        expected = {"Promote": f"{stage.prefix}-promote"}
        if stage.test_function_arn:
            expected["Test"] = f"{stage.prefix}-staging-test"
        # A function name: CodePipeline invokes it in the account of the action's role.
        assert functions == expected


def test_promote_hands_the_stage_local_model_to_the_deployment(release: Release) -> None:
    for stage in release.stages:
        actions = {a["Name"]: a for a in release.stage(stage.title)["Actions"]}
        promote, deploy = actions["Promote"], actions["Deploy"]
        assert promote["Namespace"] == f"Promote{stage.title}"
        assert json.loads(promote["Configuration"]["UserParameters"]) == {
            "model_package_arn": PACKAGE
        }
        config = deploy["Configuration"]
        # CloudFormation deploys with the stage's deployment role, in the stage's account.
        assert flat_arn(config["RoleArn"]) == stage.cfn_role_arn
        assert config["ActionMode"] == "CREATE_UPDATE" and "Capabilities" not in config
        assert config["StackName"] == f"{stage.prefix}-endpoint-{stage.kind}"
        assert config["TemplatePath"] == (
            f"Templates::{stage.prefix}-endpoint-{stage.kind}.template.json"
        )
        assert deploy["InputArtifacts"] == [{"Name": "Templates"}]
        # The promoted copy and this account's data key come from Promote's output variables.
        assert json.loads(config["ParameterOverrides"]) == {
            "ModelDataUrl": f"#{{Promote{stage.title}.model_data_url}}",
            "DataKeyArn": f"#{{Promote{stage.title}.data_key_arn}}",
            "ModelPackageArn": PACKAGE,
        }


def test_staging_tests_its_endpoint(release: Release) -> None:
    [test] = [a for a in release.stage("Staging")["Actions"] if a["Name"] == "Test"]
    assert json.loads(test["Configuration"]["UserParameters"]) == {
        "endpoint_name": "mlops-staging-churn-staging",
        "model_package_arn": PACKAGE,
        "max_latency_ms": 2000,
    }


def test_production_waits_for_a_person(release: Release) -> None:
    [approval] = release.stage("ApproveProd")["Actions"]
    config = approval["Configuration"]
    assert config["NotificationArn"] == f"arn:aws:sns:{REGION}:{TOOLING}:mlops-churn-approvals"
    assert PACKAGE in config["CustomData"] and "mlops-prod-churn-prod" in config["CustomData"]
    assert release.construct.approval_arns == [
        f"{release.construct.pipeline_arn}/ApproveProd/Approve"
    ]


# --- artifacts, cross-account ---------------------------------------------------------------------


def test_own_artifact_bucket_and_key(release: Release) -> None:
    store = release.pipeline()["ArtifactStore"]
    [(bucket_id, bucket)] = [
        (k, b)
        for k, b in release.resources("AWS::S3::Bucket").items()
        if b["Properties"]["BucketName"] == f"{NAME}-artifacts-{TOOLING}"
    ]
    [(key_id, key)] = release.resources("AWS::KMS::Key").items()
    assert store["Location"] == {"Ref": bucket_id}
    assert store["EncryptionKey"] == {"Id": {"Fn::GetAtt": [key_id, "Arn"]}, "Type": "KMS"}
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain" and bucket["DeletionPolicy"] == "Retain"
    props = bucket["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    [encryption] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {
        "Fn::GetAtt": [key_id, "Arn"]
    }
    assert props["LoggingConfiguration"]["LogFilePrefix"] == f"s3/{NAME}/artifacts/"
    [rule] = props["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 30
    [policy] = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in release.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    [tls] = [s for s in policy if s["Effect"] == "Deny"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def _conditions(statement: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A statement's conditions, each ARN as written in the template (partition resolved)."""
    return {
        operator: {
            key: [flat_arn(v) for v in value] if isinstance(value, list) else flat_arn(value)
            for key, value in keys.items()
        }
        for operator, keys in statement["Condition"].items()
    }


def _artifact_policies(release: Release) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    [bucket_id] = [
        k
        for k, b in release.resources("AWS::S3::Bucket").items()
        if b["Properties"]["BucketName"].startswith(f"{NAME}-artifacts-")
    ]
    [bucket_policy] = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in release.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    [key] = release.resources("AWS::KMS::Key").values()
    return bucket_policy, key["Properties"]["KeyPolicy"]["Statement"]


def test_artifacts_admit_exactly_the_action_roles_by_account_and_principal_arn(
    release: Release,
) -> None:
    """The action roles read the templates (the Deploy action signs CloudFormation a URL to
    it); nobody else of another account is admitted, and no policy names a role as principal:
    S3 and KMS refuse a role that does not exist yet."""
    bucket_policy, key_policy = _artifact_policies(release)
    [read] = [s for s in bucket_policy if s["Effect"] == "Allow"]
    assert read["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert flat_arn(read["Resource"]).endswith("/*")
    assert sorted(_as_list(read["Principal"]["AWS"])) == _roots(release)
    assert _conditions(read) == {"ArnEquals": {"aws:PrincipalArn": _action_roles(release)}}
    assert len(key_policy) == 2
    admin, decrypt = key_policy
    # CDK's default: the tooling account administers its key through IAM.
    assert admin["Principal"] == {"AWS": f"arn:aws:iam::{TOOLING}:root"}
    assert "Condition" not in admin and admin["Action"] == "kms:*"
    assert decrypt["Action"] == "kms:Decrypt"
    assert sorted(_as_list(decrypt["Principal"]["AWS"])) == _roots(release)
    assert _conditions(decrypt) == {
        "ArnEquals": {"aws:PrincipalArn": _action_roles(release)},
        "StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"},
    }
    # CloudFormation's deployment roles read no artifact: they appear in no resource policy.
    text = json.dumps([bucket_policy, key_policy])
    assert not any(s.cfn_role_arn in text for s in release.stages)


def _principals(node: Any) -> Iterator[tuple[str, list[Any]]]:
    if isinstance(node, dict):
        principal = node.get("Principal")
        if isinstance(principal, dict):
            yield from ((kind, _as_list(v)) for kind, v in principal.items())
        for value in node.values():
            yield from _principals(value)
    elif isinstance(node, list):
        for item in node:
            yield from _principals(item)


def test_no_policy_names_a_principal_twice_or_a_role_of_another_account(release: Release) -> None:
    principals = list(_principals(release.template["Resources"]))
    assert principals
    for _, values in principals:
        written = [json.dumps(v, sort_keys=True) for v in values]
        assert len(written) == len(set(written)), written
    named = [flat_arn(v) for kind, values in principals if kind == "AWS" for v in values]
    assert not [p for p in named if ":role/" in p], named


def test_the_pipeline_role_assumes_exactly_the_action_roles(release: Release) -> None:
    template = release.template
    statements = release.role_policy(NAME)
    [assume] = [s for s in statements if s["Action"] == "sts:AssumeRole"]
    resources = _as_list(assume["Resource"])
    literal = sorted(flat_arn(r) for r in resources if "Fn::GetAtt" not in json.dumps(r))
    assert literal == sorted(set(_action_roles(release)))
    # The rest: the roles CDK creates in this account for the source and approval actions,
    # which trust this pipeline's role only.
    [pipeline_role] = [
        k
        for k, r in release.resources("AWS::IAM::Role").items()
        if r["Properties"].get("RoleName") == NAME
    ]
    local = [r["Fn::GetAtt"][0] for r in resources if isinstance(r, dict) and "Fn::GetAtt" in r]
    assert len(local) == 2
    for role_id in local:
        [trust] = template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"][
            "Statement"
        ]
        assert trust["Principal"] == {"AWS": {"Fn::GetAtt": [pipeline_role, "Arn"]}}
    # No other policy of the template lets anything assume a role.
    others = [
        s
        for p in release.resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "sts:AssumeRole" in _as_list(s["Action"])
    ]
    assert others == [assume]
    # The pipeline's role is CodePipeline's only.
    role = template["Resources"][pipeline_role]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "codepipeline.amazonaws.com"},
        }
    ]


# --- grants ---------------------------------------------------------------------------------------


def test_grants_approve_only_the_approval_and_start_only_this_pipeline(release: Release) -> None:
    pipeline_arn = f"arn:aws:codepipeline:{REGION}:{TOOLING}:{NAME}"
    approver = release.role_policy("mlops-churn-approver")
    by_action = {json.dumps(sorted(_as_list(s["Action"]))): s for s in approver}
    approve = by_action[json.dumps(["codepipeline:PutApprovalResult"])]
    assert [flat_arn(r) for r in _as_list(approve["Resource"])] == [
        f"{pipeline_arn}/ApproveProd/Approve"
    ]
    status = by_action[
        json.dumps(
            sorted(
                [
                    "codepipeline:GetPipeline",
                    "codepipeline:GetPipelineExecution",
                    "codepipeline:GetPipelineState",
                    "codepipeline:ListActionExecutions",
                    "codepipeline:ListPipelineExecutions",
                ]
            )
        )
    ]
    assert [flat_arn(r) for r in _as_list(status["Resource"])] == [pipeline_arn]
    assert len(approver) == 2
    [start] = release.role_policy("mlops-churn-router")
    assert start["Action"] == "codepipeline:StartPipelineExecution"
    assert flat_arn(start["Resource"]) == pipeline_arn


# --- linters --------------------------------------------------------------------------------------


def test_cfn_lint_and_checkov_are_clean(releases: dict[str, Release], tmp_path: Path) -> None:
    """Both topologies' templates, in one run of each tool."""
    templates = []
    for topology, release in releases.items():
        template = tmp_path / topology / "Release.template.json"
        template.parent.mkdir()
        template.write_text((release.outdir / "Release.template.json").read_text())
        templates.append(str(template))
    assert cfn_lint(templates) == ""
    # The access-log bucket does not log into itself (tests/checkov_skips.yaml explains the
    # same finding on the platform's other log buckets); nothing else.
    assert sorted((c, r.split(".")[1]) for c, r, _ in _checkov_failures(tmp_path)) == sorted(
        ("CKV_AWS_18", _logical_id(release, f"{NAME}-logs-{TOOLING}"))
        for release in releases.values()
    )


def _logical_id(release: Release, bucket_name: str) -> str:
    [found] = [
        k
        for k, b in release.resources("AWS::S3::Bucket").items()
        if b["Properties"]["BucketName"] == bucket_name
    ]
    return found


# --- why the grants are written by hand -----------------------------------------------------------


def test_cdk_alone_would_name_the_action_role_as_a_principal(tmp_path: Path) -> None:
    """The canary of the module docstring: given the artifact bucket itself, CDK's CloudFormation
    action grants a role of another account by naming its ARN in the bucket and key policies
    (which S3 and KMS refuse while the role does not exist). If this ever fails, CDK changed and
    ReleasePipeline may hand the pipeline its bucket directly."""
    from aws_cdk import aws_codepipeline as codepipeline
    from aws_cdk import aws_codepipeline_actions as actions
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_s3 as s3

    app, stack = _app(tmp_path)
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    bucket = s3.Bucket(stack, "Bucket", encryption_key=key)
    source = codepipeline.Artifact("Templates")
    role_arn = "arn:aws:iam::222222222222:role/mlops-staging-churn-release-action"
    role = iam.Role.from_role_arn(stack, "ActionRole", role_arn, mutable=False)
    codepipeline.Pipeline(
        stack,
        "Pipeline",
        artifact_bucket=bucket,
        stages=[
            codepipeline.StageProps(
                stage_name="Source",
                actions=[
                    actions.S3SourceAction(
                        action_name="Templates", bucket=bucket, bucket_key="t.zip", output=source
                    )
                ],
            ),
            codepipeline.StageProps(
                stage_name="Staging",
                actions=[
                    actions.CloudFormationCreateUpdateStackAction(
                        action_name="Deploy",
                        stack_name="s",
                        template_path=source.at_path("t.json"),
                        admin_permissions=False,
                        role=role,
                        deployment_role=iam.Role.from_role_arn(
                            stack, "Cfn", "arn:aws:iam::222222222222:role/cfn", mutable=False
                        ),
                        account="222222222222",
                    )
                ],
            ),
        ],
    )
    template = app.synth().get_stack_by_name("Release").template
    named = [
        flat_arn(v)
        for kind, values in _principals(template["Resources"])
        if kind == "AWS"
        for v in values
    ]
    assert named.count(role_arn) == 2  # the bucket's policy and the key's
    assert "arn:aws:iam::222222222222:role/cfn" not in named  # CDK grants a given one nothing


# --- refused configurations -----------------------------------------------------------------------


def _refusal(tmp_path: Path, stages: list[ReleaseStage], templates: Path | None = None) -> str:
    _, stack = _app(tmp_path / "cdk.out")
    with pytest.raises(ValueError) as raised:
        ReleasePipeline(
            stack,
            "Release",
            name=NAME,
            templates_dir=templates or _templates(tmp_path / "templates"),
            stages=stages,
        )
    return str(raised.value)


def test_stages_are_checked_and_every_problem_named(tmp_path: Path) -> None:
    staging, prod = _stages(TOPOLOGIES["multi"])
    bad = replace(
        prod,
        region="eu-central-1",
        action_role_arn=staging.action_role_arn,
        cfn_role_arn="mlops-prod-churn-deploy-cfn",
        promote_function_arn=staging.promote_function_arn,
        parameter_overrides={"ModelDataUrl": "s3://elsewhere/model.tar.gz"},
        kind="production",
    )
    message = _refusal(tmp_path, [staging, bad, replace(staging, account="2222")])
    for expected in (
        "stage 'prod': the kind must be one of staging, prod",
        f"stage 'prod': the action role {staging.action_role_arn} is not in the account "
        "333333333333",
        "stage 'prod': the cfn role 'mlops-prod-churn-deploy-cfn' is not an IAM role ARN",
        f"stage 'prod': the promote function {staging.promote_function_arn} is not in 333333333333",
        "stage 'prod': the pipeline passes ModelDataUrl itself",
        "stage 'staging': listed twice",
        "stage 'staging': the account must be 12 digits, not '2222'",
    ):
        assert expected in message, message


def test_templates_must_take_exactly_what_the_pipeline_passes(tmp_path: Path) -> None:
    stages = _stages(TOPOLOGIES["multi"])
    folder = _templates(tmp_path / "templates")
    staging = folder / "mlops-staging-churn-endpoint-staging.template.json"
    staging.write_text(json.dumps(_template_body("ModelPackageArn", "ModelDataUrl", "CaptureUri")))
    stages[0] = replace(stages[0], parameter_overrides={"AlarmTopicArn": "arn:aws:sns:x"})
    assert _refusal(tmp_path, stages, folder) == (
        "stage 'staging': mlops-staging-churn-endpoint-staging.template.json has no parameter "
        "AlarmTopicArn; needs CaptureUri, which nothing passes"
    )
    staging.unlink()
    assert _refusal(tmp_path, stages, folder).startswith(f"stage 'staging': no template {staging}")


def test_overrides_must_fit_codepipeline(tmp_path: Path) -> None:
    staging, prod = _stages(TOPOLOGIES["multi"])
    folder = tmp_path / "templates"
    names = [f"Parameter{i}" for i in range(12)]
    _templates(folder)
    (folder / "mlops-staging-churn-endpoint-staging.template.json").write_text(
        json.dumps(_template_body("ModelPackageArn", "ModelDataUrl", "DataKeyArn", *names))
    )
    overrides = {n: "x" * 60 for n in names}
    message = _refusal(tmp_path, [replace(staging, parameter_overrides=overrides), prod], folder)
    assert message.startswith(
        "mlops-staging-churn-endpoint-staging: the Deploy action's parameter overrides take up to 1"
    ), message
    assert "over CodePipeline's 1000" in message


def test_only_a_pipeline_with_an_approval_grants_approving(tmp_path: Path) -> None:
    staging, _ = _stages(TOPOLOGIES["multi"])
    _, stack = _app(tmp_path / "cdk.out")
    release = ReleasePipeline(
        stack, "Release", name=NAME, templates_dir=_templates(tmp_path / "t"), stages=[staging]
    )
    assert release.approval_arns == []
    with pytest.raises(ValueError, match="has no approval"):
        release.grant_approve(iam.Role(stack, "Approver", assumed_by=iam.AccountRootPrincipal()))
