"""``mlops bootstrap|deploy|diff|destroy`` (mlops_cli/deploy.py, plan.py, preflight.py).

The plans are checked against the synthesized app (the stacks each CDK pattern selects, the
endpoint stacks the pipelines deploy at run time) and the pinned CDK CLI's options; the AWS side
(credentials, deleting run-time stacks across accounts, a redeployment's name collisions) runs
against moto, with the CDK CLI replaced by a recorder.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlops_cli import cdk as cdk_runner
from mlops_cli import deploy as deploy_command
from mlops_cli import plan as plans
from mlops_cli import preflight
from mlops_cli.main import main
from mlops_cli.retained import retained
from stacks.config import PlatformConfig, parse_config
from tests.conftest import Synthesized
from tools.configurations import delivered

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "config" / "example.yaml")
MOTO_ACCOUNT = "123456789012"  # moto's, and the synth-only account of the default config


def _resolve(env: Any) -> plans.Target:
    return plans.Target(env.account or MOTO_ACCOUNT, env.region or "us-east-1")


def _commands(plan: plans.Plan) -> list[tuple[str, ...]]:
    return [step.cdk for step in plan.steps if step.cdk]


# --- the plans, from the configuration ------------------------------------------------------


def test_a_standalone_platform_is_deployed_environment_by_environment() -> None:
    config = PlatformConfig.model_validate(
        {"environments": [{"name": "dev"}, {"name": "prod", "account": "222222222222"}]}
    )
    deploy = plans.deploy(config, _resolve)
    assert [s.cdk[3] for s in deploy.steps] == ["dev/**", "prod/**"]
    assert [s.target.account for s in deploy.steps] == [MOTO_ACCOUNT, "222222222222"]
    bootstrap = plans.bootstrap(config, _resolve, plans.DEFAULT_EXECUTION_POLICY)
    assert all("--trust" not in s.cdk for s in bootstrap.steps)  # nobody deploys for them
    destroy = plans.destroy(config, _resolve)
    # Last environment first; in each, the run-time endpoint stacks before the stage.
    assert [(s.environment, bool(s.delete_stacks)) for s in destroy.steps] == [
        ("prod", True),
        ("prod", False),
        ("dev", True),
        ("dev", False),
    ]


def test_a_delivered_platform_bootstraps_each_account_once_trusting_the_tooling_one() -> None:
    config = delivered(single_account=False)
    assert config.delivery is not None
    tooling = config.delivery.tooling.account
    steps = plans.bootstrap(config, _resolve, "arn:aws:iam::aws:policy/Custom").steps
    assert [s.cdk[:2] for s in steps] == [
        ("bootstrap", f"aws://{tooling}/eu-west-1"),
        *[("bootstrap", f"aws://{e.account}/{e.region}") for e in config.environments],
    ]
    # delivered() carries a landing zone's boundary, which every bootstrap passes on.
    bounded = ("--custom-permissions-boundary", "mlops-landing-zone")
    assert steps[0].cdk[2:] == bounded  # the tooling account trusts nobody
    for step in steps[1:]:
        assert step.cdk[2:] == (
            "--trust",
            tooling,
            "--cloudformation-execution-policies",
            "arn:aws:iam::aws:policy/Custom",
            *bounded,
        )
    # All accounts the same one: bootstrapped once, with the trust.
    single = plans.bootstrap(delivered(single_account=True), _resolve, "p").steps
    assert len(single) == 1 and "--trust" in single[0].cdk


def test_a_delivered_platform_deploys_its_pipeline_then_its_source() -> None:
    deploy = plans.deploy(delivered(single_account=False), _resolve)
    assert _commands(deploy) == [
        ("deploy", "--app", "cdk.out", "Delivery", "--require-approval", "broadening")
    ]
    assert deploy.steps[-1].publish_source
    assert "prod" in deploy.notes[0] and "manual approval" in deploy.notes[0]


def test_a_delivered_platform_is_destroyed_pipeline_first_and_production_back() -> None:
    destroy = plans.destroy(delivered(single_account=False), _resolve)
    order = [(s.environment, "delete" if s.delete_stacks else s.cdk[-1]) for s in destroy.steps]
    assert order == [
        ("tooling", "DeliveryReplica*"),
        ("tooling", "Tooling/**"),
        ("prod", "delete"),
        ("prod", "prod/**"),
        ("staging", "delete"),
        ("staging", "staging/**"),
        ("dev", "dev/**"),  # the development environment serves nothing
    ]
    # The stages are destroyed from the tooling account (the bootstrap trusts it); the
    # endpoint stacks are deleted in their own account.
    deletes = [s for s in destroy.steps if s.delete_stacks]
    assert [s.target.account for s in deletes] == ["333333333333", "222222222222"]


def test_destroy_names_the_pipelines_ci_created() -> None:
    """A project that builds its own pipeline (ADR 0016): CI created it, no stack holds it, so
    destroy says it is kept and how to delete it, where teams train (delivered: development)."""
    data = delivered(single_account=False).model_dump(mode="json")
    data["projects"][0]["build"]["pipeline"] = "custom"
    notes = plans.destroy(parse_config(data), _resolve).notes
    assert notes == (
        "Kept: the pipeline mlops-dev-churn-training in aws://111111111111/eu-west-1, which the "
        "project's CI created (no idle cost). To delete it: aws sagemaker delete-pipeline "
        "--pipeline-name mlops-dev-churn-training --region eu-west-1",
    )
    assert plans.destroy(delivered(single_account=False), _resolve).notes == ()


def test_one_environment_at_a_time() -> None:
    plan = plans.destroy(delivered(single_account=False), _resolve)
    assert {s.environment for s in plans.only(plan, "prod", ["prod", "tooling"]).steps} == {"prod"}
    with pytest.raises(Exception, match="unknown environment 'qa'"):
        plans.only(plan, "qa", ["prod"])


def _run_time_stack_names(outdir: Path) -> set[str]:
    """The StackName of every CloudFormation deploy action of the platform's deploy and
    release pipelines (not the delivery pipeline's, which deploys the app's own stacks)."""
    names = set()
    for path in outdir.glob("**/*.template.json"):
        if path.name.startswith("Delivery"):
            continue
        for resource in json.loads(path.read_text()).get("Resources", {}).values():
            if resource.get("Type") != "AWS::CodePipeline::Pipeline":
                continue
            for stage in resource["Properties"]["Stages"]:
                for action in stage["Actions"]:
                    if action["ActionTypeId"]["Provider"] == "CloudFormation":
                        names.add(action["Configuration"]["StackName"])
    return names


def test_destroy_deletes_exactly_the_stacks_the_pipelines_deploy(
    default_synth: Synthesized, multi_account_synth: Synthesized
) -> None:
    for config, synth in (
        (PlatformConfig(), default_synth),
        (delivered(single_account=False), multi_account_synth),
    ):
        plan = plans.destroy(config, _resolve)
        deleted = {name for s in plan.steps for name in s.delete_stacks}
        assert deleted == _run_time_stack_names(synth.outdir)


@cache
def _cdk(*args: str) -> str:
    result = subprocess.run(
        [cdk_runner.cdk_executable(), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_option_the_plans_pass_is_one_the_pinned_cdk_cli_has() -> None:
    config = delivered(single_account=False)
    steps = [
        step
        for build in (plans.deploy, plans.diff, plans.destroy)
        for step in build(config, _resolve).steps
    ]
    steps += plans.bootstrap(config, _resolve, "p").steps
    steps += plans.deploy(PlatformConfig(), _resolve).steps
    for step in (s for s in steps if s.cdk):
        offered = set(re.findall(r"^\s+(--[a-z-]+)", _cdk(step.cdk[0], "--help"), flags=re.M))
        used = {a for a in step.cdk if a.startswith("--")}
        assert used <= offered, (step.cdk, used - offered)


def _display_names(outdir: Path) -> set[str]:
    """Every stack of the cloud assembly in ``outdir`` by the name `cdk list` prints
    (``prod/Data``), from the manifests (nested assemblies included): one CLI run less."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    names: set[str] = set()
    for artifact in manifest["artifacts"].values():
        if artifact["type"] == "aws:cloudformation:stack":
            names.add(artifact["displayName"])
        elif artifact["type"] == "cdk:cloud-assembly":
            names |= _display_names(outdir / artifact["properties"]["directoryName"])
    return names


def test_the_patterns_select_every_stack_of_their_environment(
    multi_account_synth: Synthesized,
) -> None:
    """`cdk list` over the synthesized app (offline): each pattern of the plans selects the
    stacks of its environment and only those; together they select every stack."""
    app = str(multi_account_synth.outdir)

    def listed(*patterns: str) -> set[str]:  # lines "prod/Data (mlops-prod-data)"
        return {line.split()[0] for line in _cdk("list", "--app", app, *patterns).splitlines()}

    everything = _display_names(multi_account_synth.outdir)
    assert {s.split("/")[0] for s in everything} >= {"dev", "staging", "prod", "Delivery"}
    selected: dict[str, set[str]] = {}
    for step in plans.destroy(delivered(single_account=False), _resolve, app).steps:
        if step.cdk:
            selected.setdefault(step.environment, set()).update(listed(*step.cdk[4:]))
    assert selected["prod"] == {s for s in everything if s.startswith("prod/")}
    assert {s.split("/")[0] for s in selected["tooling"]} >= {"Delivery", "Tooling"}
    assert set().union(*selected.values()) == everything


def test_the_retained_resources_are_the_stateful_ones(default_synth: Synthesized) -> None:
    kept = retained(default_synth.outdir)
    stacks = {r.stack for r in kept if r.name}
    assert "mlops-dev-churn-data" in stacks
    names = {r.name for r in kept}
    assert {"mlops-dev-churn-models", f"mlops-dev-churn-raw-{MOTO_ACCOUNT}"} <= names
    # Every fixed name comes with the command that removes it.
    assert all(r.removal for r in kept if r.name and r.resource_type != "AWS::Glue::Table")


# --- against AWS (moto) -------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """Fake credentials, moto, and the CDK CLI replaced by a recorder of its arguments."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("CONFIG", raising=False)
    calls: list[list[str]] = []
    monkeypatch.setattr(deploy_command, "run_cdk", lambda args, **_: calls.append(list(args)))
    monkeypatch.setattr(preflight, "DELETE_POLL_SECONDS", 0)
    with mock_aws():
        yield calls


def test_without_credentials_one_sentence_and_nothing_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    calls: list[list[str]] = []
    monkeypatch.setattr(deploy_command, "run_cdk", lambda args, **_: calls.append(list(args)))
    for command in ("bootstrap", "deploy", "diff", "destroy"):
        assert main([command]) == 1
        err = capsys.readouterr().err
        assert err.startswith("mlops: no AWS credentials found. Fix:"), err
        assert "Traceback" not in err and err.count("\n") == 1
    assert calls == []


def test_the_wrong_account_is_told_whose_credentials_are_needed(
    aws: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", EXAMPLE, "deploy"]) == 1
    err = capsys.readouterr().err
    assert "need credentials of account 444444444444" in err
    assert aws == []


def _endpoint_stack(name: str, region: str = "us-east-1", **credentials: str) -> None:
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    boto3.client("cloudformation", region_name=region, **credentials).create_stack(
        StackName=name, TemplateBody=json.dumps(template)
    )


def _stack_names(region: str = "us-east-1", **credentials: str) -> set[str]:
    client = boto3.client("cloudformation", region_name=region, **credentials)
    return {
        s["StackName"]
        for s in client.describe_stacks()["Stacks"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    }


def test_destroy_deletes_the_endpoint_stacks_before_the_stage(
    aws: list[list[str]], default_synth: Synthesized, capsys: pytest.CaptureFixture[str]
) -> None:
    _endpoint_stack("mlops-dev-churn-endpoint-prod")
    _endpoint_stack("unrelated")
    seen_at_destroy: list[set[str]] = []
    aws_calls = aws

    def record(args: list[str], **_: Any) -> None:
        seen_at_destroy.append(_stack_names())
        aws_calls.append(list(args))

    pytest.MonkeyPatch().setattr(deploy_command, "run_cdk", record)
    assert main(["destroy", "--yes", "--cdk-out", str(default_synth.outdir)]) == 0
    assert aws_calls == [["destroy", "--app", str(default_synth.outdir), "--force", "dev/**"]]
    assert seen_at_destroy == [{"unrelated"}]  # the endpoint stack went first
    out = capsys.readouterr().out
    assert "mlops-dev-churn-endpoint-staging: not deployed" in out
    assert "mlops-dev-churn-endpoint-prod: deleted" in out
    assert f"aws s3api delete-bucket --bucket mlops-dev-churn-raw-{MOTO_ACCOUNT}" in out


def test_destroy_reaches_a_serving_account_through_the_bootstrap_trust(
    aws: list[list[str]], multi_account_synth: Synthesized, tmp_path: Path
) -> None:
    """Run from the tooling account: the endpoint stacks in production's account are deleted
    with the CDK bootstrap's deploy role there (moto keeps each account's stacks apart)."""
    config = delivered(single_account=False).model_dump(mode="json")
    config["delivery"]["tooling"]["account"] = MOTO_ACCOUNT
    path = tmp_path / "platform.yaml"
    path.write_text(json.dumps(config))
    role = "arn:aws:iam::333333333333:role/cdk-hnb659fds-deploy-role-333333333333-eu-west-1"
    found = boto3.client("sts").assume_role(RoleArn=role, RoleSessionName="test")["Credentials"]
    prod = {
        "aws_access_key_id": found["AccessKeyId"],
        "aws_secret_access_key": found["SecretAccessKey"],
        "aws_session_token": found["SessionToken"],
    }
    _endpoint_stack("mlops-prod-churn-endpoint-prod", "eu-west-1", **prod)
    _endpoint_stack("mlops-prod-churn-endpoint-prod", "eu-west-1")  # the tooling account's twin
    app = str(multi_account_synth.outdir)
    assert main(["--config", str(path), "destroy", "--yes", "--cdk-out", app]) == 0
    assert _stack_names("eu-west-1", **prod) == set()
    assert _stack_names("eu-west-1") == {"mlops-prod-churn-endpoint-prod"}  # untouched
    assert [c[-1] for c in aws] == [
        "DeliveryReplica*",
        "Tooling/**",
        "prod/**",
        "staging/**",
        "dev/**",
    ]


def test_a_redeployment_names_what_a_teardown_kept(
    aws: list[list[str]], default_synth: Synthesized, capsys: pytest.CaptureFixture[str]
) -> None:
    app = str(default_synth.outdir)
    assert main(["deploy", "--cdk-out", app]) == 0  # nothing left behind: it deploys
    assert aws == [["deploy", "--app", app, "dev/**", "--require-approval", "broadening"]]
    bucket = f"mlops-dev-churn-raw-{MOTO_ACCOUNT}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    boto3.client("logs").create_log_group(logGroupName="/aws/lambda/mlops-dev-churn-champion")
    assert main(["deploy", "--cdk-out", app]) == 1
    err = capsys.readouterr().err
    assert f"S3 bucket {bucket} (mlops-dev-churn-data)" in err
    assert "aws logs delete-log-group --log-group-name /aws/lambda/mlops-dev-churn-champion" in err
    assert len(aws) == 1  # nothing was deployed the second time
    # Once the stack exists, it owns its bucket: no collision.
    _endpoint_stack("mlops-dev-churn-data")
    boto3.client("logs").delete_log_group(logGroupName="/aws/lambda/mlops-dev-churn-champion")
    assert main(["deploy", "--cdk-out", app]) == 0


def test_a_delivered_deploy_uploads_the_source_where_the_pipeline_reads(
    aws: list[list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = delivered(single_account=False).model_dump(mode="json")
    config["delivery"]["tooling"]["account"] = MOTO_ACCOUNT
    path = tmp_path / "platform.yaml"
    path.write_text(json.dumps(config))
    s3 = boto3.client("s3", region_name="eu-west-1")
    bucket = f"mlops-delivery-source-{MOTO_ACCOUNT}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    app = tmp_path / "app"
    app.mkdir()
    (app / "manifest.json").write_text(json.dumps({"version": "1", "artifacts": {}}))
    assert main(["--config", str(path), "deploy", "--cdk-out", str(app)]) == 0
    assert aws == [["deploy", "--app", str(app), "Delivery", "--require-approval", "broadening"]]
    body = s3.get_object(Bucket=bucket, Key="platform/source.zip")["Body"].read()
    assert body[:2] == b"PK"  # git archive's zip
    out = capsys.readouterr().out
    assert f"s3://{bucket}/platform/source.zip" in out and "deploys the tooling stage" in out


def test_bad_input_ends_in_one_message(
    aws: list[list[str]], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for argv, expected in (
        (["--config", EXAMPLE, "destroy", "--environment", "qa"], "unknown environment 'qa'"),
        (["deploy", "--cdk-out", str(tmp_path)], "no synthesized app there"),
        (["--config", str(tmp_path / "missing.yaml"), "deploy"], "configuration:"),
        (["destroy"], "confirmation"),  # not a terminal and no --yes
        (["deploy", "--bogus"], "unrecognized arguments: --bogus"),
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err, (argv, err)
    assert aws == []
