"""A pipeline the team owns (``build.pipeline: custom``, ADR 0016), proved offline end to end.

vpc_synth's second project (TEAM_PIPELINE) builds its training pipeline with its own module.
What must hold, each tested here on the synthesized templates:

- the platform synthesizes no pipeline for it; its CI builds the definition with the team's
  code, and only a second build that runs the platform's code (``<prefix>-ml-pipeline-check``)
  checks it, creates or updates it and starts it;
- the context CI passes to both is the synthesized one (role, key, functions, VPC), in the
  format the checker and the kit read;
- the definition a scaffolded project's module builds from that context passes the check, and
  every request its steps make is allowed to the project's pipeline role (IAM simulation over
  the synthesized policies);
- each non-compliant definition is refused twice: by the check, with a finding naming the
  step and the rule, and, if the check were bypassed, by IAM at run time (the request the
  offending step makes is denied);
- no other role of the environment may create or update the pipeline, and the check's role
  may pass no other role.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlops_constructs.security import pipeline_rules
from mlops_constructs.training import cicd
from tests.conftest import TEAM_PIPELINE, Synthesized
from tests.iam_sim import Decision, Request, simulate
from tests.test_governance import Governance, load

ROOT = Path(__file__).resolve().parent.parent
PREFIX = f"mlops-dev-{TEAM_PIPELINE}"
OTHER = "mlops-dev-churn"
PIPELINE = f"{PREFIX}-training"
PIPELINE_ROLE = f"{PREFIX}-sagemaker-pipeline"
CHECK_ROLE = f"{PREFIX}-ml-pipeline-check"
BUILD_ROLE = f"{PREFIX}-ml-build"
SAGEMAKER = "sagemaker.amazonaws.com"
UPSERT = ("sagemaker:CreatePipeline", "sagemaker:UpdatePipeline")
# A request: (role name, action, resource, condition keys).
Ask = tuple[str, str, str, tuple[tuple[str, Any], ...]]


def _resources(synth: Synthesized, project: str, kind: str) -> dict[str, dict[str, Any]]:
    stack = synth.stages["dev"].projects[project].build
    assert stack is not None
    resources = synth.template_json(stack)["Resources"]
    return {k: r for k, r in resources.items() if r["Type"] == kind}


def _buildspec(project: dict[str, Any]) -> str:
    spec = project["Properties"]["Source"]["BuildSpec"]
    if isinstance(spec, dict):  # Fn::Join around tokens: the literal parts are the commands
        spec = "".join(p if isinstance(p, str) else "<token>" for p in spec["Fn::Join"][1])
    return str(spec)


def _projects(synth: Synthesized) -> dict[str, dict[str, Any]]:
    found = _resources(synth, TEAM_PIPELINE, "AWS::CodeBuild::Project")
    return {r["Properties"]["Name"]: r for r in found.values()}


# --- what is synthesized --------------------------------------------------------------------


def test_no_pipeline_is_synthesized_for_the_team(vpc_synth: Synthesized) -> None:
    assert not _resources(vpc_synth, TEAM_PIPELINE, "AWS::SageMaker::Pipeline")
    # churn's training pipeline, and its import pipeline (ADR 0021)
    assert len(_resources(vpc_synth, "churn", "AWS::SageMaker::Pipeline")) == 2


def test_ci_checks_after_the_team_build(vpc_synth: Synthesized) -> None:
    (pipeline,) = _resources(vpc_synth, TEAM_PIPELINE, "AWS::CodePipeline::Pipeline").values()
    stages = {s["Name"]: s["Actions"] for s in pipeline["Properties"]["Stages"]}
    assert list(stages) == ["Source", "TestAndTrain", "CheckPipeline"]
    (build,), (check,) = stages["TestAndTrain"], stages["CheckPipeline"]
    assert build["OutputArtifacts"] == [{"Name": "Definition"}]
    assert check["InputArtifacts"] == build["OutputArtifacts"]
    projects = _projects(vpc_synth)
    logical = {json.dumps({"Ref": k}): r["Properties"]["Name"] for k, r in _resources(
        vpc_synth, TEAM_PIPELINE, "AWS::CodeBuild::Project").items()}  # fmt: skip
    assert logical[json.dumps(check["Configuration"]["ProjectName"])] == CHECK_ROLE
    assert set(projects) == {BUILD_ROLE, CHECK_ROLE}


def test_the_team_build_builds_and_starts_nothing(vpc_synth: Synthesized) -> None:
    team = _buildspec(_projects(vpc_synth)[BUILD_ROLE])
    assert 'python -m mlops_kit.pipeline --module \\"pipeline/definition.py\\"' in team
    for command in ("start-pipeline-execution", "put-parameter", "create-pipeline", "update-"):
        assert command not in team


def test_the_check_runs_before_the_upsert_and_the_start(vpc_synth: Synthesized) -> None:
    commands = json.loads(_buildspec(_projects(vpc_synth)[CHECK_ROLE]).replace("<token>", "R"))[
        "phases"
    ]["build"]["commands"]
    order = [
        next(i for i, c in enumerate(commands) if marker in c)
        for marker in ("pipeline_rules.py --definition", "update-pipeline", "put-parameter",
                       "start-pipeline-execution")
    ]  # fmt: skip
    assert order == sorted(order), commands
    # Neither the team's code nor its requirements run here: no install, no pytest, no kit.
    assert not any("pip install" in c or "pytest" in c or "mlops_kit" in c for c in commands)


def test_the_check_is_the_platform_file_as_it_is(vpc_synth: Synthesized) -> None:
    variables = _projects(vpc_synth)[CHECK_ROLE]["Properties"]["Environment"][
        "EnvironmentVariables"
    ]
    (rules,) = [v["Value"] for v in variables if v["Name"] == "PIPELINE_RULES"]
    key = json.dumps(rules).split("/")[-1].split('"')[0]
    asset = next(vpc_synth.outdir.glob(f"asset.{key}"))
    assert asset.read_bytes() == cicd.PIPELINE_RULES.read_bytes()


# --- the context, resolved as CloudFormation would --------------------------------------------


@dataclass
class Team:
    governance: Governance
    context: pipeline_rules.PipelineContext
    context_json: str
    buildspecs: dict[str, dict[str, Any]]  # by project name, intrinsics resolved


@pytest.fixture(scope="module")
def team(vpc_synth: Synthesized) -> Team:
    g = load(vpc_synth)
    build = vpc_synth.stages["dev"].projects[TEAM_PIPELINE].build
    assert build is not None
    stack = g.inventory.stack(build.stack_name)
    values, buildspecs = {}, {}
    for name, project in _projects(vpc_synth).items():
        properties = project["Properties"]
        (value,) = [
            v["Value"]
            for v in properties["Environment"]["EnvironmentVariables"]
            if v["Name"] == "MLOPS_PIPELINE_CONTEXT"
        ]
        values[name] = g.inventory.resolve(value, stack)
        buildspecs[name] = json.loads(g.inventory.resolve(properties["Source"]["BuildSpec"], stack))
    assert values[BUILD_ROLE] == values[CHECK_ROLE]  # one context for the build and the check
    text = values[CHECK_ROLE]
    return Team(g, pipeline_rules.PipelineContext.from_json(text), text, buildspecs)


def test_the_context_is_the_synthesized_one(team: Team) -> None:
    g, context = team.governance, team.context
    subnets, groups = g.job_network(PREFIX)
    assert context.role_arn == g.roles[PIPELINE_ROLE].arn
    assert context.kms_key_arn == g.shared_key("data")
    assert (tuple(context.subnets), tuple(context.security_groups)) == (subnets, groups)
    assert context.pipeline_name == PIPELINE
    assert context.model_package_group == f"{PREFIX}-models"
    assert context.fingerprint_function_arn.endswith(f":function:{PREFIX}-fingerprint")
    assert context.champion_function_arn.endswith(f":function:{PREFIX}-champion")
    assert context.artifacts_bucket == f"{PREFIX}-artifacts-{g.inventory.account}"
    assert context.monitoring_code_uri and context.monitoring_code_uri.endswith(".py")


# --- IAM: who may create, update and start the pipeline ----------------------------------------


def test_only_the_check_creates_updates_and_passes_the_role(team: Team) -> None:
    g = team.governance
    account, region = g.inventory.account, g.inventory.region
    arn = f"arn:aws:sagemaker:{region}:{account}:pipeline/{PIPELINE}"
    other = f"arn:aws:sagemaker:{region}:{account}:pipeline/{OTHER}-training"
    passed = (("iam:PassedToService", SAGEMAKER),)
    allowed: list[Ask] = [(CHECK_ROLE, a, arn, ()) for a in UPSERT]
    allowed += [(CHECK_ROLE, "iam:PassRole", g.roles[PIPELINE_ROLE].arn, passed)]
    allowed += [(CHECK_ROLE, "sagemaker:StartPipelineExecution", arn, ())]
    denied: list[Ask] = [
        (role, a, arn, ()) for role in sorted(g.roles) if role != CHECK_ROLE for a in UPSERT
    ]
    denied += [(CHECK_ROLE, a, other, ()) for a in UPSERT]
    denied += [
        (CHECK_ROLE, "iam:PassRole", g.roles[role].arn, passed)
        for role in (
            f"{OTHER}-sagemaker-pipeline",
            CHECK_ROLE,
            BUILD_ROLE,
            f"{PREFIX}-prod-endpoint",
        )
        if role in g.roles
    ]
    denied += [(CHECK_ROLE, "iam:PassRole", g.roles[PIPELINE_ROLE].arn,
                (("iam:PassedToService", "lambda.amazonaws.com"),))]  # fmt: skip
    denied += [(BUILD_ROLE, "sagemaker:StartPipelineExecution", arn, ())]
    decisions = _decisions(g, allowed + denied)
    wrong = [
        f"{ask[0]} {ask[1]} {ask[2]}: {d.result}"
        for ask, d, expected in zip(
            allowed + denied, decisions, [True] * len(allowed) + [False] * len(denied), strict=True
        )
        if d.allowed != expected
    ]
    assert not wrong, "\n".join(wrong)


# --- a scaffolded team's definition: the check and IAM agree ----------------------------------


def _run(commands: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``commands`` as CodeBuild runs a phase: one bash, stopping at the first failure."""
    script = "set -e\n" + "\n".join(commands)
    # ``python`` is this test's interpreter, as it is the build's, where the requirements are.
    path = f"{Path(sys.executable).parent}:{env.get('PATH', os.environ['PATH'])}"
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, env={**os.environ, **env, "PATH": path},
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def _team_build(team: Team, folder: Path) -> subprocess.CompletedProcess[str]:
    """The team build's commands after the code upload (which needs AWS): the kit check, the
    definition, the code version, exactly as synthesized."""
    commands = team.buildspecs[BUILD_ROLE]["phases"]["build"]["commands"]
    start = next(i for i, c in enumerate(commands) if c.startswith("mkdir"))
    env = {"CODEBUILD_SRC_DIR": str(folder), "CODE_VERSION": "c0ffee",
           "MLOPS_PIPELINE_CONTEXT": team.context_json}  # fmt: skip
    return _run(commands[start:], folder, env)


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project ``mlops new-project --pipeline custom`` wrote (its module builds the pipeline)."""
    from mlops_cli.main import main as mlops

    folder = tmp_path_factory.mktemp("team") / TEAM_PIPELINE
    assert mlops(["new-project", TEAM_PIPELINE, "--framework", "sklearn", "--problem",
                  "regression", "--pipeline", "custom", "--dir", str(folder)]) == 0  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def definition(team: Team, scaffolded: Path) -> dict[str, Any]:
    """The definition the scaffolded module builds from the synthesized context, built by the
    synthesized team build's own commands."""
    built = _team_build(team, scaffolded)
    assert built.returncode == 0, built.stderr
    output = scaffolded / cicd.TEAM_OUTPUT
    assert (output / "code-version").read_text() == "c0ffee"
    result: dict[str, Any] = json.loads((output / "definition.json").read_text())
    return result


def test_a_project_on_an_older_kit_is_told_to_upgrade(team: Team, tmp_path: Path) -> None:
    old = tmp_path / "old"
    (old / "src").mkdir(parents=True)
    shutil.copytree(ROOT / "kit" / "versions" / "1.1.0" / "mlops_kit", old / "src" / "mlops_kit")
    ran = _team_build(team, old)
    assert ran.returncode == 2
    assert "Fix: mlops upgrade-project" in ran.stdout
    assert not (old / cicd.TEAM_OUTPUT / "definition.json").exists()


# A stand-in for the AWS CLI in the check's build: it copies the checker where ``s3 cp`` is
# asked for it, answers describe-pipeline with "not found" (a first run), and logs every call.
FAKE_AWS = """#!/bin/bash
echo "$*" >> "$AWS_CALLS"
case "$1 $2" in
  "s3 cp") cp "$RULES_FILE" "$4" ;;
  "sagemaker describe-pipeline") exit 254 ;;
esac
"""


def _check(team: Team, folder: Path, definition: dict[str, Any]) -> tuple[int, str, list[str]]:
    """The check's build commands, as synthesized, on ``definition``: its exit code, output
    and the AWS CLI calls it made."""
    (folder / "definition.json").write_text(json.dumps(definition))
    (folder / "code-version").write_text("c0ffee")
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "aws").write_text(FAKE_AWS)
    (bin_dir / "aws").chmod(0o755)
    calls = folder / "calls.log"
    calls.write_text("")
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "AWS_CALLS": str(calls),
        "RULES_FILE": str(cicd.PIPELINE_RULES),
        "PIPELINE_RULES": "s3://assets/rules.py",
        "MLOPS_PIPELINE_CONTEXT": team.context_json,
    }
    ran = _run(team.buildspecs[CHECK_ROLE]["phases"]["build"]["commands"], folder, env)
    return ran.returncode, ran.stdout + ran.stderr, calls.read_text().splitlines()


def test_the_check_creates_and_starts_a_compliant_definition(
    team: Team, definition: dict[str, Any], tmp_path: Path
) -> None:
    code, output, calls = _check(team, tmp_path, definition)
    assert code == 0, output
    assert "complies with the platform's rules" in output
    verbs = [" ".join(c.split()[:2]) for c in calls]
    assert verbs == ["s3 cp", "sagemaker describe-pipeline", "sagemaker create-pipeline",
                     "ssm put-parameter", "sagemaker start-pipeline-execution"]  # fmt: skip
    create = calls[2]
    assert f"--pipeline-name {PIPELINE}" in create
    assert f"--role-arn {team.context.role_arn}" in create
    assert "--pipeline-definition file://definition.json" in create
    assert "Name=CodeVersion,Value=c0ffee" in calls[4]


def test_the_check_refuses_a_broken_definition_before_any_upsert(
    team: Team, definition: dict[str, Any], tmp_path: Path
) -> None:
    broken = deepcopy(definition)
    step = _approved(broken, team.context)
    code, output, calls = _check(team, tmp_path, broken)
    assert code == 1
    assert f"Pipeline {PIPELINE}: 1 finding, not upserted" in output
    assert f"{step}:" in output and "PL9 ModelApprovalStatus" in output
    assert [c.split()[:2] for c in calls] == [["s3", "cp"]]  # nothing created, updated or started


def _s3_prefix(value: Any, parameters: dict[str, Any]) -> str | None:
    """The literal start of an S3 location in a definition (a string, a parameter's default or
    a Std:Join's leading literals); None for a value only the run knows (a step's output)."""
    if isinstance(value, str):
        return value.strip('"') if value.strip('"').startswith("s3://") else None
    if isinstance(value, dict) and "Get" in value:
        name = str(value["Get"]).removeprefix("Parameters.")
        return _s3_prefix(parameters.get(name), parameters) if name in parameters else None
    if isinstance(value, dict) and "Std:Join" in value:
        join = value["Std:Join"]
        literal = []
        for part in join["Values"]:
            start = _s3_prefix(part, parameters) if not isinstance(part, str) else part
            if start is None:
                break
            literal.append(start)
        text = join["On"].join(literal)
        return text if text.startswith("s3://") else None
    return None


def _job_asks(step: dict[str, Any], context: pipeline_rules.PipelineContext) -> list[Ask]:
    """The requests SageMaker makes as the pipeline's role to run one job step."""
    args = step["Arguments"]
    arn = f"arn:aws:sagemaker:{context.region}:{context.account}"
    if step["Type"] == "Training":
        action, resource = "sagemaker:CreateTrainingJob", f"{arn}:training-job/pipelines-e1-x"
        volume = args.get("ResourceConfig", {}).get("VolumeKmsKeyId")
        output = args.get("OutputDataConfig", {}).get("KmsKeyId")
        network, vpc = args, args.get("VpcConfig")
    else:
        action, resource = "sagemaker:CreateProcessingJob", f"{arn}:processing-job/pipelines-e1-x"
        volume = args["ProcessingResources"]["ClusterConfig"].get("VolumeKmsKeyId")
        output = args.get("ProcessingOutputConfig", {}).get("KmsKeyId")
        network = args.get("NetworkConfig", {})
        vpc = network.get("VpcConfig")
    keys: dict[str, Any] = {
        "sagemaker:VolumeKmsKeyArn": volume,
        "sagemaker:OutputKmsKeyArn": output,
        "sagemaker:NetworkIsolation": str(network.get("EnableNetworkIsolation", False)).lower(),
        "sagemaker:InterContainerTrafficEncryption": str(
            network.get("EnableInterContainerTrafficEncryption", False)
        ).lower(),
    }
    if vpc:
        keys["sagemaker:VpcSubnets"] = list(vpc["Subnets"])
        keys["sagemaker:VpcSecurityGroupIds"] = list(vpc["SecurityGroupIds"])
    passed = (("iam:PassedToService", SAGEMAKER),)
    return [
        (PIPELINE_ROLE, action, resource, tuple((k, v) for k, v in keys.items() if v)),
        (PIPELINE_ROLE, "iam:PassRole", args["RoleArn"], passed),
    ]


def _s3_asks(step: dict[str, Any], parameters: dict[str, Any], key: str) -> list[Ask]:
    """Reading a job's inputs and writing its outputs, where the definition names them."""
    args = step["Arguments"]
    reads = [i["S3Input"]["S3Uri"] for i in args.get("ProcessingInputs", []) if "S3Input" in i]
    reads += [c["DataSource"]["S3DataSource"]["S3Uri"] for c in args.get("InputDataConfig", [])]
    writes = [o["S3Output"]["S3Uri"] for o in args.get("ProcessingOutputConfig", {}).get(
        "Outputs", [])]  # fmt: skip
    writes += [args["OutputDataConfig"]["S3OutputPath"]] if "OutputDataConfig" in args else []
    sse = (("s3:x-amz-server-side-encryption", "aws:kms"),
           ("s3:x-amz-server-side-encryption-aws-kms-key-id", key))  # fmt: skip
    asks: list[Ask] = []
    for uris, action, context in ((reads, "s3:GetObject", ()), (writes, "s3:PutObject", sse)):
        for uri in uris:
            prefix = _s3_prefix(uri, parameters)
            if prefix is not None:
                path = prefix.removeprefix("s3://").rstrip("/")
                target = path if "/" in path and path.endswith(".py") else f"{path}/e1/part"
                asks.append((PIPELINE_ROLE, action, f"arn:aws:s3:::{target}", context))
    return asks


def requests_of(definition: dict[str, Any], context: pipeline_rules.PipelineContext) -> list[Ask]:
    """Every request the pipeline role makes to run ``definition``: its jobs (with the condition
    keys SageMaker sets from their settings), the role they pass, the S3 locations they read
    and write, the functions its Lambda steps invoke and the version its registration creates."""
    parameters = {p["Name"]: p.get("DefaultValue") for p in definition.get("Parameters", [])}
    asks: list[Ask] = []
    for step in pipeline_rules.pipeline_steps(definition):
        kind = step["Type"]
        if kind in ("Training", "Processing", "QualityCheck", "ClarifyCheck"):
            asks += _job_asks(step, context) + _s3_asks(step, parameters, context.kms_key_arn)
        elif kind in ("Transform", "Model"):
            job = "transform-job" if kind == "Transform" else "model"
            resource = f"arn:aws:sagemaker:{context.region}:{context.account}:{job}/x"
            asks.append(
                (
                    PIPELINE_ROLE,
                    f"sagemaker:Create{kind.replace('Transform', 'TransformJob')}",
                    resource,
                    (),
                )
            )
        elif kind == "Lambda":
            asks.append((PIPELINE_ROLE, "lambda:InvokeFunction", step["FunctionArn"], ()))
        elif kind == "RegisterModel":
            args = step["Arguments"]
            group = args["ModelPackageGroupName"]
            package = (
                f"arn:aws:sagemaker:{context.region}:{context.account}:model-package/{group}/1"
            )
            status = args.get("ModelApprovalStatus")
            keys = (("sagemaker:ModelApprovalStatus", status),) if isinstance(status, str) else ()
            asks.append((PIPELINE_ROLE, "sagemaker:CreateModelPackage", package, keys))
    return asks


def _decisions(g: Governance, asks: list[Ask]) -> list[Decision]:
    from tests.test_governance import Ask as GovernanceAsk

    requests: list[Request] = [
        g.request(g.roles[role], GovernanceAsk(role, action, resource, context))
        for role, action, resource, context in asks
    ]
    identity = {r.arn: list(r.policies) for r in g.roles.values()}
    return simulate(requests, identity, g.policies, g.inventory.account)


def test_the_scaffolded_definition_passes_the_check(
    team: Team, definition: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    assert pipeline_rules.check_definition(definition, team.context) == []
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(definition))
    monkeypatch.setenv("MLOPS_PIPELINE_CONTEXT", team.context_json)
    assert pipeline_rules.main(["--definition", str(path)]) == 0
    assert "complies with the platform's rules" in capsys.readouterr().out
    kinds = {s["Type"] for s in pipeline_rules.pipeline_steps(definition)}
    assert {"Processing", "Training", "Lambda", "RegisterModel", "Condition"} <= kinds
    # Like the standard's, each run is a trial of the pipeline's experiment (SDK default).
    assert definition["PipelineExperimentConfig"] == {
        "ExperimentName": {"Get": "Execution.PipelineName"},
        "TrialName": {"Get": "Execution.PipelineExecutionId"},
    }


def test_every_request_of_the_scaffolded_definition_is_allowed(
    team: Team, definition: dict[str, Any]
) -> None:
    asks = requests_of(definition, team.context)
    actions = {a[1] for a in asks}
    assert {"sagemaker:CreateTrainingJob", "sagemaker:CreateProcessingJob", "s3:PutObject",
            "s3:GetObject", "lambda:InvokeFunction", "sagemaker:CreateModelPackage",
            "iam:PassRole"} <= actions  # fmt: skip
    denied = [
        f"{a[1]} {a[2]} {dict(a[3])}: {d.result}"
        for a, d in zip(asks, _decisions(team.governance, asks), strict=True)
        if not d.allowed
    ]
    assert not denied, "\n".join(denied)


# Each case breaks one rule of the scaffolded definition: (rule the check names, what it does).
OTHER_KEY = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"


def _step(definition: dict[str, Any], kind: str, index: int = 0) -> dict[str, Any]:
    return [s for s in pipeline_rules.pipeline_steps(definition) if s["Type"] == kind][index]


def _other(name: str) -> str:
    return name.replace(PREFIX, OTHER)


def _processing_output(d: dict[str, Any]) -> dict[str, Any]:
    output: dict[str, Any] = _step(d, "Processing")["Arguments"]["ProcessingOutputConfig"]
    return output


def _no_volume_key(d: dict[str, Any], c: pipeline_rules.PipelineContext) -> str:
    step = _step(d, "Training")
    del step["Arguments"]["ResourceConfig"]["VolumeKmsKeyId"]
    return str(step["Name"])


def _other_output_key(d: dict[str, Any], c: pipeline_rules.PipelineContext) -> str:
    _processing_output(d)["KmsKeyId"] = OTHER_KEY
    return str(_step(d, "Processing")["Name"])


def _no_isolation(d: dict[str, Any], c: pipeline_rules.PipelineContext) -> str:
    step = _step(d, "Training")
    step["Arguments"]["EnableNetworkIsolation"] = False
    return str(step["Name"])


def _no_traffic_encryption(d: dict[str, Any], c: pipeline_rules.PipelineContext) -> str:
    step = _step(d, "Processing", 1)
    step["Arguments"]["NetworkConfig"]["EnableInterContainerTrafficEncryption"] = False
    return str(step["Name"])


def _outside_the_vpc(d: dict[str, Any], c: pipeline_rules.PipelineContext) -> str:
    step = _step(d, "Training")
    del step["Arguments"]["VpcConfig"]
    return str(step["Name"])


def _foreign_subnet(d: dict[str, Any], c: pipeline_rules.PipelineContext) -> str:
    step = _step(d, "Processing")
    step["Arguments"]["NetworkConfig"]["VpcConfig"]["Subnets"].append("subnet-0123456789abcdef0")
    return str(step["Name"])


def _other_role(d: dict[str, Any], c: pipeline_rules.PipelineContext) -> str:
    step = _step(d, "Processing")
    step["Arguments"]["RoleArn"] = _other(c.role_arn)
    return str(step["Name"])


def _other_projects_bucket(d: dict[str, Any], c: pipeline_rules.PipelineContext) -> str:
    _processing_output(d)["Outputs"][0]["S3Output"]["S3Uri"] = (
        f"s3://{_other(c.artifacts_bucket)}/exfiltrated"
    )
    return str(_step(d, "Processing")["Name"])


def _writes_curated_data(d: dict[str, Any], c: pipeline_rules.PipelineContext) -> str:
    _processing_output(d)["Outputs"][0]["S3Output"]["S3Uri"] = f"s3://{c.curated_bucket}/x"
    return str(_step(d, "Processing")["Name"])


def _foreign_function(d: dict[str, Any], c: pipeline_rules.PipelineContext) -> str:
    step = _step(d, "Lambda")
    step["FunctionArn"] = _other(step["FunctionArn"])
    return str(step["Name"])


def _approved(d: dict[str, Any], c: pipeline_rules.PipelineContext) -> str:
    step = _step(d, "RegisterModel")
    step["Arguments"]["ModelApprovalStatus"] = "Approved"
    return str(step["Name"])


def _other_group(d: dict[str, Any], c: pipeline_rules.PipelineContext) -> str:
    step = _step(d, "RegisterModel")
    step["Arguments"]["ModelPackageGroupName"] = _other(c.model_package_group)
    return str(step["Name"])


def _transform(d: dict[str, Any], c: pipeline_rules.PipelineContext) -> str:
    d["Steps"].append({"Name": "Score", "Type": "Transform", "Arguments": {}})
    return "Score"


BROKEN: dict[str, tuple[str, Callable[[dict[str, Any], pipeline_rules.PipelineContext], str]]] = {
    "volume not encrypted": ("PL1", _no_volume_key),
    "outputs under another key": ("PL2", _other_output_key),
    "inter-container traffic in clear": ("PL3", _no_traffic_encryption),
    "network isolation off": ("PL4", _no_isolation),
    "outside the VPC": ("PL5", _outside_the_vpc),
    "a subnet outside the project's": ("PL5", _foreign_subnet),
    "another project's role": ("PL6", _other_role),
    "writes another project's bucket": ("PL7", _other_projects_bucket),
    "writes the curated data": ("PL7", _writes_curated_data),
    "invokes another project's function": ("PL8", _foreign_function),
    "registers an approved version": ("PL9", _approved),
    "registers in another project's group": ("PL10", _other_group),
    "a step the role is not granted": ("PL12", _transform),
}


@dataclass
class Refusal:
    step: str
    findings: list[pipeline_rules.Finding]
    requests: list[Ask]  # what the broken definition asks that the compliant one does not
    decisions: list[Decision]


@pytest.fixture(scope="module")
def refusals(team: Team, definition: dict[str, Any]) -> dict[str, Refusal]:
    """Every broken definition: the check's findings, and IAM's decisions on the requests the
    broken step makes (one simulation for all)."""
    compliant = {json.dumps(a) for a in requests_of(definition, team.context)}
    cases = {}
    for name, (_, breaks) in BROKEN.items():
        broken = deepcopy(definition)
        step = breaks(broken, team.context)
        findings = pipeline_rules.check_definition(broken, team.context)
        new = [a for a in requests_of(broken, team.context) if json.dumps(a) not in compliant]
        cases[name] = Refusal(step, findings, new, [])
    asks = [a for case in cases.values() for a in case.requests]
    decisions = _decisions(team.governance, asks)
    for case in cases.values():
        case.decisions, decisions = decisions[: len(case.requests)], decisions[len(case.requests) :]
    return cases


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_definition_is_refused_by_the_check_and_by_iam(
    refusals: dict[str, Refusal], case: str
) -> None:
    rule, _ = BROKEN[case]
    refusal = refusals[case]
    assert [(f.step, f.rule) for f in refusal.findings] == [(refusal.step, rule)]
    report = pipeline_rules.report(refusal.findings, PIPELINE)
    assert f"{refusal.step}:" in report and rule in report and "Fix:" in report
    # Bypassing the check does not help: the request the broken step makes is denied.
    assert refusal.requests, "the broken setting changes no request"
    allowed = [
        f"{a[1]} {a[2]}"
        for a, d in zip(refusal.requests, refusal.decisions, strict=True)
        if d.allowed
    ]
    assert not allowed, allowed
