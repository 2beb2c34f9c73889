"""README "Onboard a team", run: from an empty folder to the first registered version, each
command of the walk as the README shows it and in its order, with moto as AWS (the fixtures and
the ``Cloud`` builder of tests/test_cli_status.py).

The current directory is a temporary folder holding only ``config/platform.yaml``: a deployed
platform of one environment in moto's account and region, with one project already (a platform
without projects does not validate, and ``new-project --write-config`` appends to a valid file).
Each line of the README's walk runs as written (``mlops_cli.main.main``, in this process) but:

- a ``make`` line runs the ``mlops`` command ``make -n`` says it runs
  (tests/test_deploy_guide.py), ``make diff`` and ``make deploy`` with ``--dry-run`` added: they
  print their plan and touch nothing (no CDK, no CloudFormation here). The deployment is then
  what the project's stacks create that the next commands use, made in moto with the names
  mlops_cli/resources.py gives;
- what the platform does between two commands is done here, as the platform does it: EventBridge
  starts CI on the published zip, whose build records the code version and starts training
  (moto runs no build); training ends with version 1 registered as the pipeline's Register step
  records it, the champion verdict given by the platform's champion function
  (lambda/champion) against moto's registry; the approval reaches the platform's deploy router
  (lambda/deploy_router), which starts the deploy pipeline as ``approve`` says it will.

Not run here: the skeleton's own tests (tests/test_scaffold.py runs them; they really train)
and the ETL an upload starts (tests/test_etl_script.py, the catalog's tests).

``test_the_readme_walk_is_the_one_run_here`` fails when the README's walk (its first bash
block) or the generator command of its numbered list changes without this test.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shlex
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.codepipeline.models import PipelineExecution, codepipeline_backends

from mlops_cli import code
from mlops_cli.main import main
from mlops_cli.resources import ProjectPlace, place
from mlops_constructs.training.definition import (
    FINGERPRINT_METADATA,
    IMPORT_METADATA,
    RECORDED_METADATA,
)
from stacks.config import load_config
from tests.test_cli_code import deploy_lake
from tests.test_cli_release import BASELINES
from tests.test_cli_status import (
    ACCOUNT,
    REGION,
    Cloud,
    Result,
    cloud_fixture,  # noqa: F401 (the fixture cloud)
    lambda_handler,
    no_credentials_fixture,  # noqa: F401 (the fixture no_credentials)
)
from tests.test_deploy_guide import _make_dry_run

ROOT = Path(__file__).resolve().parents[1]
SECTION = "Onboard a team"

WALK = (
    "make new-project NAME=sales FRAMEWORK=sklearn PROBLEM=regression CONFIG=config/platform.yaml",
    "make diff CONFIG=config/platform.yaml",
    "make deploy CONFIG=config/platform.yaml",
    "mlops --config config/platform.yaml publish sales",
    "mlops --config config/platform.yaml upload sales data/sales-sample.csv",
    "mlops --config config/platform.yaml status sales",
    'mlops --config config/platform.yaml approve sales 1 --reason "R2 0.81 on the test split"',
)
"""The README's walk, line by line (comments left out), in the order the test runs it."""
GENERATE = (
    "python projects/sales/src/generate_data.py --rows 1500 --seed 7 --out data/sales-sample.csv"
)
"""The numbered list's first dataset, run in projects/sales/."""
R2 = 0.81  # what training measures on the test split (the approval's reason quotes it)

CONFIG = "config/platform.yaml"
PLATFORM = f"""\
# A deployed platform: one environment in moto's account, one project before the team's.
platform_name: mlops
environments:
  - name: dev
    account: "{ACCOUNT}"
    region: {REGION}
projects:
  - name: churn
    source: {{path: ml}}
    dataset:
      table_name: customers
      label: churned
      columns:
        - {{name: customer_id, type: string}}
        - {{name: tenure_months, type: int}}
        - {{name: churned, type: int}}
    problem_type: binary_classification
    framework: {{name: xgboost, version: 1.7-1}}
    serving:
      input_columns: [tenure_months]
    deploy:
      test_payloads:
        - {{content_type: text/csv, body: "12"}}
"""


def _section() -> str:
    readme = (ROOT / "README.md").read_text()
    assert f"\n## {SECTION}\n" in readme, SECTION
    return readme.split(f"\n## {SECTION}\n", 1)[1].split("\n## ", 1)[0]


def readme_walk() -> list[str]:
    """The commands of the section's first bash block, as tests/test_deploy_guide.py reads them."""
    block = re.findall(r"```bash\n(.*?)```", _section(), flags=re.S)[0]
    lines = (line.split("  #", 1)[0].strip() for line in block.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def readme_generator() -> str:
    """The generator command of the numbered list (wrapped over two lines there)."""
    found = re.search(r"`(python projects/sales/src/generate_data\.py[^`]*)`", _section())
    assert found, "the numbered list no longer shows the sample-data generator"
    return " ".join(found.group(1).split())


def test_the_readme_walk_is_the_one_run_here() -> None:
    assert readme_walk() == list(WALK)
    assert readme_generator() == GENERATE


# --------------------------------------------------------------------------------------------
# Running the README's lines


@dataclass
class Walk:
    """Runs README lines in the current directory, in order, and keeps which it ran and the
    ``mlops`` arguments each became."""

    capsys: pytest.CaptureFixture[str]
    ran: list[str] = field(default_factory=list)
    argv: list[list[str]] = field(default_factory=list)

    def run(self, line: str, *, dry_run: bool = False) -> Result:
        """``line`` as ``mlops_cli.main.main``: a ``make`` line as the ``mlops`` command
        ``make -n`` says it runs (with ``--dry-run`` added if ``dry_run``)."""
        words = shlex.split(line)
        if words[0] == "make":
            [command] = [c for c in _make_dry_run(words[1:]) if c.startswith("mlops ")]
            words = shlex.split(command)
        assert words[0] == "mlops", line
        self.ran.append(line)
        self.argv.append([*words[1:], *(["--dry-run"] if dry_run else [])])
        self.capsys.readouterr()
        exit_code = main(self.argv[-1])
        captured = self.capsys.readouterr()
        assert "Traceback" not in captured.err, captured.err
        return Result(exit_code, captured.out, captured.err)


def succeeded(result: Result) -> None:
    """Exit 0, and nothing on stderr."""
    assert result.code == 0, result
    assert result.err == "", result


# --------------------------------------------------------------------------------------------
# The steps


def new_project(walk: Walk) -> ProjectPlace:
    """``make new-project``: projects/sales/ and its entry, appended to the configuration,
    which still validates; then the numbered list's first dataset, with its generator."""
    result = walk.run(WALK[0])
    assert walk.argv[-1] == [
        *("--config", CONFIG, "new-project", "sales"),
        *("--framework", "sklearn", "--problem", "regression", "--write-config", CONFIG),
    ]
    succeeded(result)
    assert f"appended project sales to projects: of {CONFIG} (it validates)" in result.out
    text = Path(CONFIG).read_text()
    assert text.startswith(PLATFORM)  # appended: the platform's own lines are kept
    config = load_config(CONFIG)
    assert [p.name for p in config.projects] == ["churn", "sales"]
    sales = config.project("sales")
    assert (sales.source.path, sales.problem_type, sales.gate.metric) == (
        "projects/sales",
        "regression",
        "r2",
    )
    folder = Path(sales.source.path)
    for name in ("src/train.py", "src/generate_data.py", "src/mlops_kit/VERSION"):
        assert (folder / name).is_file(), name

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    python, *arguments = shlex.split(GENERATE)
    assert python == "python"
    done = subprocess.run(
        [sys.executable, *arguments],
        cwd=Path.cwd(),
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    rows = Path("data/sales-sample.csv").read_text().splitlines()
    assert rows[0] == ",".join(sales.dataset.column_names)
    assert len(rows) == 1 + 1500
    return place(config, "sales")


def dry_run_plans(walk: Walk, here: ProjectPlace) -> None:
    """``make diff`` and ``make deploy`` with --dry-run: the plan for the environment, and
    nothing created (no bucket in moto, no synthesized app here)."""
    target = f"{here.environment.name} (aws://{here.account}/{here.region})"
    for line, command in ((WALK[1], "diff"), (WALK[2], "deploy")):
        result = walk.run(line, dry_run=True)
        assert walk.argv[-1] == ["--config", CONFIG, command, "--dry-run"]
        succeeded(result)
        assert result.out.startswith(f"{command}: 1 step(s) (dry run)\n"), result.out
        assert f"{command} {target}: cdk {command} " in result.out, result.out
    assert boto3.client("s3", region_name=here.region).list_buckets()["Buckets"] == []
    assert sorted(p.name for p in Path.cwd().iterdir()) == ["config", "data", "projects"]


def deploy(cloud: Cloud, here: ProjectPlace) -> None:
    """What the project's stacks create that the walk's commands use, as they name it.

    Data stack: the environment's data key (alias), the versioned raw, curated and artifacts
    buckets encrypted with it, the registry. Build stack: the training pipeline, CI and the
    code-version parameter CI writes. Deploy stack: the deploy pipeline (the variables the router
    sends) and the router's record of the version it last started."""
    deploy_lake(here.prefix, account=here.account, region=here.region, default_encryption=True)
    cloud.group(here.model_package_group)
    cloud.training(here.training_pipeline)
    cloud.codepipeline(here.ci_pipeline)
    cloud.codepipeline(here.deploy_pipeline, variables=("ModelPackageArn", *BASELINES))
    ssm = cloud.client("ssm", here.region)
    for name, value in (("ml/code-version", "unpublished"), ("deploy/last-started", "none")):
        ssm.put_parameter(Name=f"/{here.prefix}/{name}", Value=value, Type="String")


@dataclass
class CiRun:
    """The CI run the publish started and what its build did."""

    run_id: str
    revision: str  # the zip's S3 version id
    code_version: str
    training_arn: str


def ci_starts_on_publish(
    monkeypatch: pytest.MonkeyPatch, cloud: Cloud, here: ProjectPlace
) -> list[CiRun]:
    """EventBridge and CI, which moto does not run: between publish's first two looks for the
    run, CI runs on the uploaded zip's version (moto's executions get the source revision real
    ones carry), and its build's last commands (mlops_constructs.training.cicd) record the code
    version and start training with it. Returns the runs started (filled during publish)."""
    started: list[CiRun] = []
    summary = PipelineExecution.to_summary_dict

    def with_revisions(self: Any) -> dict[str, Any]:
        return {**summary(self), "sourceRevisions": getattr(self, "source_revisions", [])}

    monkeypatch.setattr(PipelineExecution, "to_summary_dict", with_revisions)

    def between_looks(seconds: float) -> None:
        assert seconds == code.POLL_SECONDS
        if started:
            return
        versions = cloud.client("s3", here.region).list_object_versions(
            Bucket=here.bucket("artifacts"), Prefix=here.ci_source_key
        )["Versions"]
        revision = str(versions[0]["VersionId"])
        pipeline = cloud.client("codepipeline", here.region)
        run_id = pipeline.start_pipeline_execution(name=here.ci_pipeline)["pipelineExecutionId"]
        backend = codepipeline_backends[here.account][here.region]
        execution: Any = backend.pipelines[here.ci_pipeline].executions[run_id]
        execution.source_revisions = [{"actionName": "Source", "revisionId": revision}]
        # CODE_VERSION: the revision, as the buildspec's tr -c 'A-Za-z0-9._-' '-' | cut -c1-64
        code_version = re.sub(r"[^A-Za-z0-9._-]", "-", revision)[:64]
        cloud.client("ssm", here.region).put_parameter(
            Name=f"/{here.prefix}/ml/code-version",
            Value=code_version,
            Type="String",
            Overwrite=True,
        )
        training = cloud.client("sagemaker", here.region).start_pipeline_execution(
            PipelineName=here.training_pipeline,
            PipelineExecutionDisplayName=f"code-{code_version}",
            ClientRequestToken=f"code-{code_version}-1",
            PipelineParameters=[
                {"Name": "CodeVersion", "Value": code_version},
                {"Name": "TriggerReason", "Value": "code-change"},
            ],
        )
        started.append(CiRun(run_id, revision, code_version, training["PipelineExecutionArn"]))

    monkeypatch.setattr(code, "_sleep", between_looks)
    return started


def publish(walk: Walk, here: ProjectPlace, started: list[CiRun]) -> CiRun:
    """``mlops publish``: the project's folder, zipped as CI expects it, in the artifacts
    bucket; the CI run on it is named."""
    result = walk.run(WALK[3])
    succeeded(result)
    [ci] = started
    bucket, key = here.bucket("artifacts"), here.ci_source_key
    assert key == "ci/source/ml-project.zip"
    assert f"Uploaded s3://{bucket}/{key} (version {ci.revision})" in result.out
    assert f"CI run {ci.run_id}: Succeeded ({here.ci_pipeline})" in result.out
    assert f"starts {here.training_pipeline} with it" in result.out

    s3 = boto3.client("s3", region_name=here.region)
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        names = archive.namelist()
        folder = Path(here.project.source.path)
        on_disk = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        assert names == [f"{folder.as_posix()}/{name}" for name in on_disk]
        for name in (
            "src/train.py",
            "src/mlops_kit/VERSION",
            "tests/test_sales_chain.py",
            "requirements.txt",
            "requirements-dev.txt",
        ):
            assert archive.read(f"projects/sales/{name}") == (folder / name).read_bytes(), name
    return ci


def upload(walk: Walk, here: ProjectPlace) -> None:
    """``mlops upload``: the sample, its header checked, under the raw bucket's raw_prefix."""
    result = walk.run(WALK[4])
    succeeded(result)
    sample = Path("data/sales-sample.csv")
    bucket, key = here.bucket("raw"), f"{here.project.dataset.raw_prefix}sales-sample.csv"
    assert f"{sample} -> s3://{bucket}/{key} (7 columns" in result.out
    assert f"Next: each object under {here.project.dataset.raw_prefix} notifies" in result.out
    s3 = boto3.client("s3", region_name=here.region)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == sample.read_bytes()
    assert s3.head_object(Bucket=bucket, Key=key)["ServerSideEncryption"] == "aws:kms"


def _sealed(name: str) -> tuple[str, str]:
    """A sealed file's SHA-256 and S3 version, as the Fingerprint step records them."""
    return hashlib.sha256(name.encode()).hexdigest(), f"version-of-{name}"


def training_ends(cloud: Cloud, here: ProjectPlace, ci: CiRun) -> str:
    """The training run CI started ends as the platform's pipeline ends it: the champion gate
    (the platform's function, against moto's registry: the group's first version) and
    ``Register``, version 1 PendingManualApproval with the customer metadata the pipeline
    records. Returns its ARN."""
    gate = here.project.gate
    champion = lambda_handler("champion")
    champion._client.clear()  # made under this test's moto
    execution_id = ci.training_arn.rsplit("/", 1)[1]
    answer = champion.judge(
        champion.load_config(
            {
                "MODEL_PACKAGE_GROUP": here.model_package_group,
                "GATE_METRIC": gate.metric,
                "GATE_DIRECTION": "maximize" if here.project.gate_higher_is_better else "minimize",
                "CHAMPION_MARGIN": str(gate.champion_margin),
            }
        ),
        champion.parse_event({"challenger": R2, "execution_id": execution_id}),
    )
    assert (answer["passes"], answer["verdict"]) == ("true", "first"), answer
    run = f"s3://{here.bucket('artifacts')}/pipelines/{execution_id}"
    sealed = f"s3://{here.bucket('artifacts')}/sealed"
    files = {
        "model": "model.tar.gz",
        "baseline": "statistics.json",
        "evaluation": "evaluation.json",
    }
    fingerprints: dict[str, str] = {}
    for key, output in FINGERPRINT_METADATA.items():  # e.g. ModelArtifactSha256: model_sha256
        sha, version = _sealed(files[output.split("_")[0]])
        fingerprints[key] = sha if output.endswith("sha256") else version
    metadata = {
        "CodeVersion": ci.code_version,
        "DatasetManifest": f"{run}/data/manifest/manifest.json",
        "InputDataUrl": f"s3://{here.bucket('curated')}/{here.project.dataset.table_name}/",
        "PipelineExecutionArn": ci.training_arn,
        "TriggerReason": "code-change",
        "MonitoringBaseline": f"{sealed}/{fingerprints['MonitoringBaselineSha256']}/"
        "statistics.json",
        "GateMetric": gate.metric,
        "GateMetricValue": answer["challenger_value"],
        "ChampionVerdict": answer["verdict"],
        "ChampionValue": answer["champion_value"],
        "ChampionModelPackageArn": answer["champion_arn"],
        "ChampionMargin": answer["margin"],
        **fingerprints,
    }
    # A trained version records all but what only an imported one does (ADR 0021).
    assert set(metadata) == set(RECORDED_METADATA) - set(IMPORT_METADATA)
    model = f"{sealed}/{fingerprints['ModelArtifactSha256']}/model.tar.gz"
    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    arn: str = cloud.client("sagemaker", here.region).create_model_package(
        ModelPackageGroupName=here.model_package_group,
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties=metadata,
        InferenceSpecification={
            "Containers": [{"Image": image, "ModelDataUrl": model}],
            "SupportedContentTypes": ["text/csv", "application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]
    assert arn.endswith(f"/{here.model_package_group}/1")
    return arn


def status(walk: Walk, here: ProjectPlace, ci: CiRun) -> None:
    """``mlops status``: the CI run, the training run it started, version 1 pending with its
    gate metric and champion verdict, nothing served or deployed yet."""
    result = walk.run(WALK[5])
    succeeded(result)
    text = result.out
    assert text.splitlines()[0] == f"sales in dev (account {here.account}, region {here.region})"
    ci_lines = text.split(f"CI  {here.ci_pipeline}\n", 1)[1].splitlines()
    assert ci_lines[0].split()[0] == "Succeeded"
    assert ci_lines[0].endswith(f"revision {ci.revision}")
    training = text.split(f"Training  {here.training_pipeline}\n", 1)[1].splitlines()
    assert training[0].split()[0] == "Succeeded"
    assert training[0].endswith(f"code-{ci.code_version}")
    assert f"Model versions  {here.model_package_group}  (gate: r2 >= 0.5)" in text
    [v1] = [line.split() for line in text.splitlines() if line.startswith("  v")]
    assert v1[:2] == ["v1", "PendingManualApproval"]
    assert "r2 0.81 (pass)  champion first" in text
    assert f"dev/prod     {here.endpoint('prod')}     no endpoint yet" in text
    assert f"Deployment  {here.deploy_pipeline}\n  no runs yet" in text
    assert "Alarms  dev: 0" in text


def approve(
    walk: Walk, cloud: Cloud, here: ProjectPlace, arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``mlops approve``: version 1 Approved with the reason; what it says follows does: the
    approval's state change reaches the deploy router, which starts the deploy pipeline."""
    result = walk.run(WALK[6])
    succeeded(result)
    reason = shlex.split(WALK[6])[-1]
    described = cloud.client("sagemaker", here.region).describe_model_package(ModelPackageName=arn)
    assert (described["ModelApprovalStatus"], described["ApprovalDescription"]) == (
        "Approved",
        reason,
    )
    assert result.out.splitlines() == [
        f"approved v1 of {here.model_package_group} (r2 0.81, champion first; was "
        "PendingManualApproval)",
        f"next: the deploy router starts {here.deploy_pipeline} with ModelPackageArn={arn}: "
        "Staging -> TestStaging -> Approve (the approver) -> Production",
        "follow it: mlops status sales",
    ]

    router = lambda_handler("deploy_router")
    for name, value in {
        "MODEL_PACKAGE_GROUP": here.model_package_group,
        "DEPLOY_PIPELINE": here.deploy_pipeline,
        "DEPLOYED_PARAMETER": f"/{here.prefix}/deploy/last-started",
    }.items():
        monkeypatch.setenv(name, value)
    router._client.clear()  # made under this test's moto
    event = {
        "id": "approval-of-v1",
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Model Package State Change",
        "account": here.account,
        "region": here.region,
        "detail": {
            "ModelPackageGroupName": here.model_package_group,
            "ModelPackageArn": arn,
            "ModelPackageVersion": 1,
            "ModelApprovalStatus": "Approved",
        },
    }
    assert router.handler(event, None)["status"] == "started"
    assert cloud.executions(here.deploy_pipeline) == [
        {"ModelPackageArn": arn, **dict.fromkeys(BASELINES, "none")}
    ]


# --------------------------------------------------------------------------------------------
# The walk


def test_onboard_a_team_from_an_empty_folder_to_the_first_approved_version(
    cloud: Cloud,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "platform"
    (folder / "config").mkdir(parents=True)
    (folder / CONFIG).write_text(PLATFORM)
    monkeypatch.chdir(folder)
    walk = Walk(capsys)

    here = new_project(walk)
    dry_run_plans(walk, here)
    deploy(cloud, here)
    started = ci_starts_on_publish(monkeypatch, cloud, here)
    ci = publish(walk, here, started)
    upload(walk, here)
    arn = training_ends(cloud, here, ci)
    status(walk, here, ci)
    approve(walk, cloud, here, arn, monkeypatch)

    assert walk.ran == readme_walk()
