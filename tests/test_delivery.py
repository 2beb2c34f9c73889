"""The platform delivered by its own pipeline (issue 15): CDK Pipelines in the tooling account.

Two topologies of config/example.yaml: four accounts (tooling, dev, staging, prod) and the same
with a single account. Both synthesize through the same code path, pass the rule packs,
cfn-lint and checkov, and name no principal twice in any policy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
import yaml

from stacks.config import PlatformConfig
from tests.conftest import FAR_REGION, Synthesized, delivered
from tests.templates import balanced_parts, cfn_lint, flat_arn
from tests.test_guardrails import SKIPS_FILE, _checkov_failures

ROOT = Path(__file__).resolve().parent.parent
TOOLING = "444444444444"
ACCOUNTS = {"dev": "111111111111", "staging": "222222222222", "prod": "333333333333"}
REGION = "eu-west-1"
BOOTSTRAP = "cdk-hnb659fds"


def _template(synth: Synthesized) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((synth.outdir / "Delivery.template.json").read_text())
    return data


def _resources(template: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == type_]


def _stages(synth: Synthesized) -> list[dict[str, Any]]:
    [pipeline] = _resources(_template(synth), "AWS::CodePipeline::Pipeline")
    stages: list[dict[str, Any]] = pipeline["Stages"]
    return stages


def _role(kind: str, account: str) -> str:
    return f"arn:aws:iam::{account}:role/{BOOTSTRAP}-{kind}-role-{account}-{REGION}"


@pytest.fixture(scope="module", params=["multi_account_synth", "single_account_synth"])
def synth(request: pytest.FixtureRequest) -> Synthesized:
    result: Synthesized = request.getfixturevalue(request.param)
    return result


def _accounts(synth: Synthesized) -> dict[str, str]:
    """Each environment's account in this topology."""
    return {name: stage.account for name, stage in synth.stages.items()}  # type: ignore[misc]


def _wave_accounts(synth: Synthesized) -> dict[str, str]:
    """Each wave's account: the environments', and the tooling account's release stacks."""
    return {**_accounts(synth), "Tooling": TOOLING}


def test_the_pipeline_tests_then_updates_itself_then_deploys_in_promotion_order(
    synth: Synthesized,
) -> None:
    template = _template(synth)
    [pipeline] = _resources(template, "AWS::CodePipeline::Pipeline")
    assert pipeline["Name"] == "mlops-platform" and pipeline["PipelineType"] == "V2"
    assert [s["Name"] for s in _stages(synth)] == [
        "Source",
        "Build",
        "UpdatePipeline",  # self-mutation, before anything is deployed
        "Assets",
        "Tooling",  # the release pipelines (tests/test_release_path.py)
        "dev",
        "staging",
        "prod",
    ]
    # The synth step runs the README's commands on a clean checkout, as CI does.
    projects = _resources(template, "AWS::CodeBuild::Project")
    [synth_project] = [p for p in projects if "make test" in p["Source"]["BuildSpec"]]
    spec = json.loads(synth_project["Source"]["BuildSpec"])
    assert spec["phases"]["build"]["commands"] == [
        "make test",
        "make synth CONFIG=config/example.yaml",
    ]
    assert spec["phases"]["install"]["runtime-versions"] == {"python": "3.12", "nodejs": "20"}
    assert synth_project["Environment"]["EnvironmentVariables"] == [
        {"Name": "CI", "Type": "PLAINTEXT", "Value": "true"}
    ]
    assert synth_project["TimeoutInMinutes"] == 90
    # No Docker anywhere: no privileged build.
    assert not any(p["Environment"].get("PrivilegedMode") for p in projects)


def test_source_is_s3_or_a_connection_never_codecommit(synth: Synthesized) -> None:
    [source] = _stages(synth)[0]["Actions"]
    assert source["ActionTypeId"]["Provider"] == "S3"
    assert source["Configuration"]["S3ObjectKey"] == "platform/source.zip"
    assert "codecommit" not in json.dumps(_template(synth)).lower()


def test_production_waits_for_a_person_and_nothing_else_does(synth: Synthesized) -> None:
    for stage in _stages(synth)[4:]:
        manual = [a for a in stage["Actions"] if a["ActionTypeId"]["Category"] == "Approval"]
        if stage["Name"] != "prod":
            assert manual == [], stage["Name"]
            continue
        [approval] = manual
        deploys = [a for a in stage["Actions"] if a["ActionTypeId"]["Provider"] == "CloudFormation"]
        assert deploys and all(a["RunOrder"] > approval["RunOrder"] for a in deploys)


def test_each_wave_deploys_into_its_own_account_through_its_bootstrap_roles(
    synth: Synthesized,
) -> None:
    accounts = _wave_accounts(synth)
    for stage in _stages(synth)[4:]:
        account = accounts[stage["Name"]]
        deploys = [a for a in stage["Actions"] if a["ActionTypeId"]["Provider"] == "CloudFormation"]
        assert {flat_arn(a["RoleArn"]) for a in deploys} == {_role("deploy", account)}
        # The change sets are created with the account's CloudFormation execution role.
        assert {
            flat_arn(a["Configuration"]["RoleArn"])
            for a in deploys
            if "RoleArn" in a["Configuration"]
        } == {_role("cfn-exec", account)}
        names = {a["Configuration"]["StackName"] for a in deploys}
        prefix = "mlops-" if stage["Name"] == "Tooling" else f"mlops-{stage['Name']}-"
        assert names and all(n.startswith(prefix) for n in names)


def test_target_accounts_read_artifacts_by_exact_role(synth: Synthesized) -> None:
    """The artifact bucket and its key admit exactly the environments' deploy roles (not their
    accounts' roots); the asset step assumes exactly their file-publishing roles."""
    template = _template(synth)
    deployers = {_role("deploy", a) for a in _wave_accounts(synth).values()}
    key_policy = _resources(template, "AWS::KMS::Key")[0]["KeyPolicy"]["Statement"]
    principals = {flat_arn(p) for s in key_policy for p in _as_list(s["Principal"].get("AWS"))}
    assert principals == deployers | {f"arn:aws:iam::{TOOLING}:root"}
    bucket_principals = {
        flat_arn(p)
        for policy in _resources(template, "AWS::S3::BucketPolicy")
        for s in policy["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow" and isinstance(s["Principal"], dict)
        for p in _as_list(s["Principal"].get("AWS"))
    }
    assert bucket_principals == deployers
    publishers = {
        flat_arn(r)
        for policy in _resources(template, "AWS::IAM::Policy")
        for s in policy["PolicyDocument"]["Statement"]
        if s["Action"] == "sts:AssumeRole"
        for r in _as_list(s["Resource"])
        if "file-publishing" in flat_arn(r)
    }
    assert publishers == {_role("file-publishing", a) for a in _wave_accounts(synth).values()}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _principal_lists(node: Any) -> Iterator[list[Any]]:
    if isinstance(node, dict):
        principal = node.get("Principal")
        if isinstance(principal, dict):
            yield from (v for v in principal.values() if isinstance(v, list))
        for value in node.values():
            yield from _principal_lists(value)
    elif isinstance(node, list):
        for item in node:
            yield from _principal_lists(item)


def test_no_policy_names_a_principal_twice(synth: Synthesized) -> None:
    """A real failure of a public reference when stages share an account: every template of
    the topology, the stages' included."""
    paths = [synth.outdir / "Delivery.template.json", *synth.template_paths]
    # dev: shared 2, churn's data, catalog, build, access; staging and prod: shared 2, churn's
    # data, deploy, access (they only serve); tooling: churn's release stack.
    assert len(paths) == 1 + (2 + 4) + 2 * (2 + 3) + 1
    for path in paths:
        for principals in _principal_lists(json.loads(path.read_text())):
            written = [json.dumps(p, sort_keys=True) for p in principals]
            assert len(written) == len(set(written)), (path.name, written)


def test_rule_packs_are_clean(synth: Synthesized) -> None:
    assert synth.report["title"] == "Validation Report"
    assert synth.violations() == []


@dataclass(frozen=True)
class Linted:
    """What the linters read: ``cfn_lint``'s templates, and the folder checkov reads whole."""

    cfn_lint: list[Path]
    checkov: Path


@pytest.fixture(scope="module")
def linted(
    multi_account_synth: Synthesized,
    single_account_synth: Synthesized,
    vpc_cross_region_synth: Synthesized,
    tmp_path_factory: pytest.TempPathFactory,
) -> Linted:
    """cfn-lint: both delivery stacks, the production stage and the tooling stage. checkov (the
    folder): the delivery stacks, and in VPC mode with production in another region the
    delivery stack with its cross-region stores and its replica there, and the tooling stages'
    stacks (the release pipelines' replicas there included). The other stages are the same
    constructs as example_synth's and default_synth's, which test_guardrails lints."""
    root = tmp_path_factory.mktemp("delivery-linted")
    templates = []
    for name, synth in (("multi", multi_account_synth), ("single", single_account_synth)):
        delivery = root / name / "Delivery.template.json"
        delivery.parent.mkdir()
        delivery.write_text((synth.outdir / "Delivery.template.json").read_text())
        templates.append(delivery)
    # The production stage (a serving environment) and the tooling stage (the release stacks).
    templates += [
        p
        for p in multi_account_synth.template_paths
        if p.parent.name in ("assembly-prod", "assembly-Tooling")
    ]
    far = vpc_cross_region_synth
    far_templates = [
        p
        for p in far.template_paths
        if (p.parent.name == "assembly-prod" and ("Data" in p.name or "Deploy" in p.name))
        or (p.parent.name == "assembly-Tooling" and FAR_REGION.replace("-", "") in p.name)
    ]
    for name in ("Delivery", f"DeliveryReplica{FAR_REGION}"):
        copy = root / "far" / f"{name}.template.json"
        copy.parent.mkdir(exist_ok=True)
        copy.write_text((far.outdir / f"{name}.template.json").read_text())
        far_templates.append(copy)
    tooling = root / "tooling"
    tooling.mkdir()
    for path in (*templates, *far_templates):
        if path.parent.name == "assembly-Tooling":
            (tooling / path.name).write_text(path.read_text())
    return Linted(cfn_lint=templates, checkov=root)


# cfn-lint reads them in two parts of about the same size, one test each, so that no test takes
# 10 s (12.8 s as one, on a slower machine; test_guardrails does the same).
CFN_LINT_PARTS = 2


@pytest.mark.parametrize("part", range(CFN_LINT_PARTS))
def test_cfn_lint_is_clean(linted: Linted, part: int) -> None:
    """cfn-lint over a part of its templates (see ``linted``)."""
    assert cfn_lint(balanced_parts(linted.cfn_lint, CFN_LINT_PARTS)[part]) == ""


def test_checkov_is_clean_but_for_listed_skips(linted: Linted) -> None:
    """One run of checkov over the folder (see ``linted``): what it fails is exactly the listed
    delivery skips."""
    failures = _checkov_failures(linted.checkov)
    skips = [s for s in yaml.safe_load(SKIPS_FILE.read_text())["skips"] if s.get("delivery")]
    explained = {(s["check"], s["resource"]) for s in skips}
    assert {(check, resource.split(".")[-1]) for check, resource, _ in failures} == explained


def test_single_account_is_the_same_code_path(
    single_account_synth: Synthesized, multi_account_synth: Synthesized
) -> None:
    assert set(_accounts(single_account_synth).values()) == {TOOLING}
    assert _accounts(multi_account_synth) == ACCOUNTS
    assert [s["Name"] for s in _stages(single_account_synth)] == [
        s["Name"] for s in _stages(multi_account_synth)
    ]


def test_a_connection_source_is_a_codeconnections_action() -> None:
    """The other source, on a small app: the pipeline alone, with one empty environment."""
    from stacks.context import project_context
    from stacks.delivery_stack import DeliveryStack

    config = delivered(single_account=False)
    assert config.delivery is not None
    connection = (
        "arn:aws:codeconnections:eu-west-1:444444444444:connection/"
        + "0" * 8
        + ("-0000" * 3 + "-" + "0" * 12)
    )
    delivery = config.delivery.model_copy(
        update={
            "source": config.delivery.source.model_copy(
                update={"connection_arn": connection, "repository": "my-org/mlops"}
            )
        }
    )
    config = config.model_copy(update={"delivery": delivery})
    app = cdk.App(context=project_context())
    stack = DeliveryStack(app, "Delivery", config=config)
    stages = {}
    for name, account in {**ACCOUNTS, "Tooling": TOOLING}.items():
        stage = cdk.Stage(app, name, env=cdk.Environment(account=account, region=REGION))
        cdk.CfnResource(cdk.Stack(stage, "Empty"), "Topic", type="AWS::SNS::Topic")
        stages[name] = stage
    tooling = stages.pop("Tooling")
    stack.deliver(stages, tooling)
    template = app.synth().get_stack_by_name(stack.stack_name).template
    pipeline = next(
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CodePipeline::Pipeline"
    )
    [source] = pipeline["Stages"][0]["Actions"]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"]["ConnectionArn"] == connection
    assert source["Configuration"]["FullRepositoryId"] == "my-org/mlops"
    buckets = [
        r["Properties"]["BucketName"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::S3::Bucket"
    ]
    assert buckets and not any("-source-" in b for b in buckets)  # no source bucket


def test_example_is_delivered_by_the_pipeline() -> None:
    config: PlatformConfig = delivered(single_account=False)
    assert config.delivery is not None
    assert config.delivery.order == ("dev", "staging", "prod")


# --- promotion: the serving environments read the development environment's sealed versions --


def _stage_template(synth: Synthesized, environment: str, stack: str) -> dict[str, Any]:
    """A stack of an environment's stage: ``data`` (shared) or ``churn-<part>``."""
    stage = synth.stages[environment]
    if stack == "data":
        return synth.template_json(stage.data)
    project, part = stack.split("-")
    return synth.template_json(getattr(stage.projects[project], part))


def _promoters(synth: Synthesized) -> list[str]:
    accounts = _accounts(synth)
    return sorted(
        f"arn:aws:iam::{accounts[e]}:role/mlops-{e}-churn-promote" for e in ("staging", "prod")
    )


def _statement(template: dict[str, Any], type_: str, sid: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = []
    for props in _resources(template, type_):
        document = props.get("PolicyDocument") or props.get("KeyPolicy") or {}
        found += [s for s in document.get("Statement", []) if s.get("Sid") == sid]
    [statement] = found
    return statement


def test_development_admits_exactly_the_promotion_roles(synth: Synthesized) -> None:
    """Registry, sealed files and data key of the development environment: the serving
    environments' promotion roles by ARN (the principal is their account: a policy may not
    name a role that does not exist yet), nothing else, read only."""
    promoters = _promoters(synth)
    accounts = sorted({f"arn:aws:iam::{a.split(':')[4]}:root" for a in promoters})
    data = _stage_template(synth, "dev", "churn-data")
    [group] = _resources(data, "AWS::SageMaker::ModelPackageGroup")
    # The registry admits the other release roles too (tests/test_release_path.py).
    [read] = [
        s for s in group["ModelPackageGroupPolicy"]["Statement"] if s["Sid"] == "ReleaseReads"
    ]
    assert read["Action"] == ["sagemaker:DescribeModelPackage"]
    assert set(promoters) < set(read["Condition"]["ArnEquals"]["aws:PrincipalArn"])
    assert set(accounts) <= {flat_arn(p) for p in _as_list(read["Principal"]["AWS"])}
    sealed = _statement(data, "AWS::S3::BucketPolicy", "PromotionReadsSealedFiles")
    assert sealed["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert flat_arn(sealed["Resource"]).endswith("/sealed/*")
    assert sealed["Condition"] == {"ArnEquals": {"aws:PrincipalArn": promoters}}
    key = _statement(
        _stage_template(synth, "dev", "data"), "AWS::KMS::Key",
        "PromotionDecryptsSealedFiles",
    )  # fmt: skip
    assert key["Action"] == "kms:Decrypt"
    assert key["Condition"]["ArnEquals"] == {"aws:PrincipalArn": promoters}
    assert key["Condition"]["StringEquals"] == {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}


def test_serving_environments_promote_from_development(synth: Synthesized) -> None:
    dev = _accounts(synth)["dev"]
    for environment in ("staging", "prod"):
        deploy = _stage_template(synth, environment, "churn-deploy")
        [function] = [
            f
            for f in _resources(deploy, "AWS::Lambda::Function")
            if f["FunctionName"] == f"mlops-{environment}-churn-promote"
        ]
        variables = function["Environment"]["Variables"]
        assert flat_arn(variables["SOURCE_MODEL_PACKAGE_GROUP_ARN"]) == (
            f"arn:aws:sagemaker:{REGION}:{dev}:model-package-group/mlops-dev-churn-models"
        )
        assert variables["SOURCE_BUCKET"] == f"mlops-dev-churn-artifacts-{dev}"
        assert variables["SEALED_PREFIX"] == "sealed/"
        # Only this environment's promotion role may seal here, besides the fingerprint step.
        data = _stage_template(synth, environment, "churn-data")
        writers = _statement(data, "AWS::S3::BucketPolicy", "SealedVersionsWriter")
        assert sorted(
            flat_arn(a) for a in writers["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
        )[-1].endswith(f"mlops-{environment}-churn-promote")
    # The development environment promotes (and serves) nothing and seals by its fingerprint
    # step only.
    assert synth.stages["dev"].projects["churn"].deploy is None
    writers = _statement(_stage_template(synth, "dev", "churn-data"), "AWS::S3::BucketPolicy",
                         "SealedVersionsWriter")  # fmt: skip
    assert [
        flat_arn(a) for a in _as_list(writers["Condition"]["ArnNotEquals"]["aws:PrincipalArn"])
    ] == [f"arn:aws:iam::{dev}:role/mlops-dev-churn-fingerprint"]
