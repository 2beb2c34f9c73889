"""The build layer's constructs, each in a bare stack: ModelRegistry, TrainingPipeline (the
standard definition, built with the sagemaker SDK offline, and a team's own), ExperimentTracking,
TrainingTrigger, ModelCards, ModelImport and MlCiCd. The functions are the library's own: no
``code`` is passed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm

from mlops_constructs import memo, sdk_process
from mlops_constructs.data.lake import DataLakeRef
from mlops_constructs.functions import function_code
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.training.cards import ModelCards
from mlops_constructs.training.cicd import GitSource, MlCiCd, TeamDefinition
from mlops_constructs.training.definition import (
    PipelineImages,
    PipelineSpec,
    QualityGate,
    build_definition,
)
from mlops_constructs.training.model_import import ImportedServing, ModelImport
from mlops_constructs.training.pipeline import TrainingPipeline
from mlops_constructs.training.registry import ModelRegistry
from mlops_constructs.training.tracking import ExperimentTracking, MlflowSettings
from mlops_constructs.training.trigger import TrainingTrigger

Statements = Callable[[dict[str, Any], str], list[dict[str, Any]]]
FunctionFiles = Callable[[str, dict[str, Any], str], dict[str, bytes]]

ACCOUNT = "111111111111"
ENV = cdk.Environment(account=ACCOUNT, region="us-east-1")
MONTH = logs.RetentionDays.ONE_MONTH
XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
SPEC = PipelineSpec(
    name="ignored",  # the construct names its pipeline
    region="us-east-1",
    artifacts_bucket=f"p-dev-artifacts-{ACCOUNT}",
    input_data_uri=f"s3://p-dev-curated-{ACCOUNT}/churn/",
    model_package_group="p-dev-models",
    images=PipelineImages(training=XGBOOST, serving=XGBOOST, processing=SKLEARN),
    monitoring_baseline=False,
)
READER = "arn:aws:iam::222222222222:role/p-prod-promote"


class Project:
    """A project's stateful parts in a bare stack: its keys, its lake (by name) and registry."""

    def __init__(self, stack: cdk.Stack) -> None:
        self.stack = stack
        self.data = PlatformKey(stack, "Data", prefix="p-dev", purpose="data", description="d")
        self.ops = PlatformKey(stack, "Ops", prefix="p-dev", purpose="ops", description="o")
        self.lake = DataLakeRef(
            stack, "Lake", bucket_name_prefix="p-dev", key=self.data, raw_prefix="incoming/"
        )
        self.registry = ModelRegistry(stack, "Registry", name="p-dev-models", description="d")
        self.code_version = ssm.StringParameter(
            stack, "CodeVersion", parameter_name="/p-dev/code-version", string_value="none"
        )

    def training(self, *, custom: bool = False) -> TrainingPipeline:
        return TrainingPipeline(
            self.stack,
            "Training",
            prefix="p-dev",
            spec=SPEC,
            lake=self.lake,
            registry=self.registry,
            ops_key=self.ops,
            log_retention=MONTH,
            custom_definition=custom,
        )


def _registries(app: cdk.App) -> None:
    stack = cdk.Stack(app, "Registries", env=ENV)
    shared = ModelRegistry(
        stack, "Shared", name="p-dev-models", description="d", readers=[READER], listers=[READER]
    )
    ModelRegistry(stack, "Own", name="p-dev-other", description="d")
    for name, grant in (
        ("p-dev-sagemaker-pipeline", shared.grant_register),
        ("p-dev-approver", lambda r: shared.grant_approve(r, recorded_metadata=["CodeVersion"])),
        (
            "p-dev-model-card",
            lambda r: shared.grant_write_cards(r, recorded_metadata=["CodeVersion"]),
        ),
    ):
        grant(iam.Role(stack, name, role_name=name, assumed_by=iam.AccountRootPrincipal()))


def _standard(app: cdk.App) -> None:
    """The standard training pipeline and everything built on it, in one project's stack."""
    project = Project(cdk.Stack(app, "Training", env=ENV))
    stack, training = project.stack, project.training()
    dead_letters = sqs.Queue(stack, "DeadLetters")
    TrainingTrigger(
        stack,
        "Trigger",
        prefix="p-dev",
        training=training,
        data_key=project.data,
        ops_key=project.ops,
        input_data_uri=SPEC.input_data_uri,
        code_version_parameter=project.code_version,
        new_data=events.Rule(stack, "Curated", event_pattern=events.EventPattern(source=["x"])),
        etl_job_name="p-dev-raw-to-curated",
        log_retention=MONTH,
    )
    ModelCards(stack, "Cards", prefix="p-dev", registry=project.registry, ops_key=project.ops,
               log_retention=MONTH, dead_letters=dead_letters, intended_use="u", owner="o")  # fmt: skip
    ModelImport(
        stack,
        "Import",
        prefix="p-dev",
        training=training,
        lake=project.lake,
        code_version_parameter=project.code_version,
        project="churn",
        serving=ImportedServing(framework="xgboost", framework_version="1.7-1"),
        max_artifact_bytes=1 << 30,
        ops_key=project.ops,
        log_retention=MONTH,
        dead_letters=dead_letters,
    )
    MlCiCd(stack, "CiCd", prefix="p-dev", lake=project.lake, ops_key=project.ops,
           training=training, log_retention=MONTH, code_version_parameter=project.code_version)  # fmt: skip


def _team(app: cdk.App) -> None:
    """A team's own pipeline (no definition here, no SDK), from a git repository."""
    project = Project(cdk.Stack(app, "Team", env=ENV))
    training = project.training(custom=True)
    MlCiCd(
        project.stack,
        "CiCd",
        prefix="p-dev",
        lake=project.lake,
        ops_key=project.ops,
        training=training,
        log_retention=MONTH,
        code_version_parameter=project.code_version,
        git=GitSource(
            connection_arn=f"arn:aws:codeconnections:us-east-1:{ACCOUNT}:connection/abc",
            repository="acme/churn",
        ),
        team=TeamDefinition(module="pipeline/definition.py", context=training.context("churn")),
    )


def _tracking(app: cdk.App) -> None:
    project = Project(cdk.Stack(app, "Tracking", env=ENV))
    ExperimentTracking(
        project.stack,
        "Tracking",
        prefix="p-dev",
        lake=project.lake,
        gate=QualityGate(),
        report_section="binary_classification_metrics",
        ops_key=project.ops,
        log_retention=MONTH,
        mlflow=MlflowSettings(),
    )


class Built:
    """The module's cloud assembly: its folder (the functions' packages) and templates."""

    def __init__(self, directory: str, templates: dict[str, dict[str, Any]]) -> None:
        self.directory = directory
        self.templates = templates


@pytest.fixture(scope="module")
def built(feature_flags: dict[str, Any]) -> Built:
    app = cdk.App(context=feature_flags)
    for build in (_registries, _standard, _team, _tracking):
        build(app)
    assembly = app.synth()
    names = ("Registries", "Training", "Team", "Tracking")
    return Built(assembly.directory, {n: assembly.get_stack_by_name(n).template for n in names})


def _of(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r.get("Properties", {}) for r in template["Resources"].values() if r["Type"] == kind]


def _named(template: dict[str, Any], kind: str, key: str, name: str) -> dict[str, Any]:
    [found] = [p for p in _of(template, kind) if p.get(key) == name]
    return found


def _function(template: dict[str, Any], name: str) -> dict[str, Any]:
    return _named(template, "AWS::Lambda::Function", "FunctionName", name)


def _library_handler(name: str) -> dict[str, bytes]:
    return {"handler.py": (function_code(name) / "handler.py").read_bytes()}  # type: ignore[arg-type]


# --- the registry --------------------------------------------------------------------------------


def test_a_registry_is_retained_and_shared_with_exact_roles_only(built: Built) -> None:
    template = built.templates["Registries"]
    groups = {
        r["Properties"]["ModelPackageGroupName"]: r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::SageMaker::ModelPackageGroup"
    }
    assert {g["DeletionPolicy"] for g in groups.values()} == {"Retain"}
    assert "ModelPackageGroupPolicy" not in groups["p-dev-other"]["Properties"]
    policy = groups["p-dev-models"]["Properties"]["ModelPackageGroupPolicy"]
    reads, lists = policy["Statement"]
    assert reads["Principal"] == {"AWS": ["arn:aws:iam::222222222222:root"]}
    assert reads["Condition"] == {"ArnEquals": {"aws:PrincipalArn": [READER]}}
    assert reads["Action"] == ["sagemaker:DescribeModelPackage"]
    assert lists["Action"] == ["sagemaker:ListModelPackages"]


def _update(statements: list[dict[str, Any]]) -> dict[str, Any]:
    [update] = [s for s in statements if "sagemaker:UpdateModelPackage" in s["Action"]]
    return update


def test_registering_approving_and_writing_cards_are_held_apart_by_iam(
    built: Built, statements: Statements
) -> None:
    template = built.templates["Registries"]
    pipeline = statements(template, "p-dev-sagemaker-pipeline")
    [register] = [s for s in pipeline if "sagemaker:CreateModelPackage" in s["Action"]]
    assert register["Condition"] == {
        "StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}
    }
    assert not [s for s in pipeline if "sagemaker:UpdateModelPackage" in s["Action"]]
    approve = _update(statements(template, "p-dev-approver"))["Condition"]
    assert approve["StringEquals"] == {"sagemaker:ModelApprovalStatus": ["Approved", "Rejected"]}
    assert approve["Null"]["sagemaker:CustomerMetadataProperties/CodeVersion"] == "true"
    cards = _update(statements(template, "p-dev-model-card"))["Condition"]
    assert set(cards) == {"Null"}
    assert cards["Null"]["sagemaker:ModelApprovalStatus"] == "true"


# --- the training pipeline ------------------------------------------------------------------------


def test_the_pipeline_runs_as_its_own_role_with_the_librarys_functions(
    built: Built, packaged: FunctionFiles
) -> None:
    template = built.templates["Training"]
    pipeline = _named(template, "AWS::SageMaker::Pipeline", "PipelineName", "p-dev-training")
    body, variables = pipeline["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    # The deploy-time values: the data key and the step functions of this construct.
    assert sorted(variables) == [
        "ChampionFunctionArn",
        "DataKeyArn",
        "FingerprintFunctionArn",
        "TrackingFunctionArn",
    ]
    steps = [step["Name"] for step in json.loads(body)["Steps"]]
    assert steps[:4] == ["Preprocess", "Train", "Evaluate", "Champion"]
    for function, folder in (
        ("p-dev-champion", "champion"),
        ("p-dev-fingerprint", "fingerprint"),
        ("p-dev-experiment-tracking", "experiment_tracking"),
    ):
        assert packaged(built.directory, template, function) == _library_handler(folder)
        properties = _function(template, function)
        assert (properties["Runtime"], properties["Architectures"]) == ("python3.14", ["arm64"])
        assert "KmsKeyArn" in properties and properties["LoggingConfig"]["LogFormat"] == "JSON"


def test_the_pipeline_role_passes_itself_only_and_creates_guarded_jobs(
    built: Built, statements: Statements
) -> None:
    by_sid = {
        s.get("Sid"): s for s in statements(built.templates["Training"], "p-dev-sagemaker-pipeline")
    }
    passes = by_sid["PassOwnRoleToJobs"]
    assert passes["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    assert len(passes["Resource"]) == 1
    guarded = by_sid["GuardedJobs"]
    assert "sagemaker:CreateTrainingJob" in guarded["Action"]
    assert set(guarded["Condition"]["StringEquals"]) >= {
        "sagemaker:VolumeKmsKeyArn",
        "sagemaker:OutputKmsKeyArn",
    }
    assert {"ChampionStep", "FingerprintStep", "TrackStep"} <= set(by_sid)
    # Nothing in VPC mode without a placement: no network interfaces.
    assert not [a for s in by_sid.values() for a in s["Action"] if a.startswith("ec2:")]


def test_a_teams_pipeline_is_left_to_ci_with_the_same_role_and_functions(built: Built) -> None:
    template = built.templates["Team"]
    assert not _of(template, "AWS::SageMaker::Pipeline")
    functions = {f["FunctionName"] for f in _of(template, "AWS::Lambda::Function")}
    assert functions == {"p-dev-champion", "p-dev-fingerprint"}  # no Track step
    [pipeline] = _of(template, "AWS::CodePipeline::Pipeline")
    stages = [s["Name"] for s in pipeline["Stages"]]
    assert stages == ["Source", "TestAndTrain", "CheckPipeline"]
    source = pipeline["Stages"][0]["Actions"][0]["ActionTypeId"]
    assert source["Provider"] == "CodeStarSourceConnection"
    # The check, not the team's build, may upsert and start the pipeline.
    projects = {p["Name"] for p in _of(template, "AWS::CodeBuild::Project")}
    assert projects == {"p-dev-ml-build", "p-dev-ml-pipeline-check"}
    assert not [r for r in _of(template, "AWS::Events::Rule") if "aws.s3" in str(r)]


# --- experiment tracking ------------------------------------------------------------------------


def test_tracking_writes_its_projects_records_and_its_mlflow_server(
    built: Built, statements: Statements, packaged: FunctionFiles
) -> None:
    template = built.templates["Tracking"]
    name = "p-dev-experiment-tracking"
    assert packaged(built.directory, template, name) == _library_handler("experiment_tracking")
    properties = _function(template, name)
    assert properties["ReservedConcurrentExecutions"] == 2 and properties["Timeout"] == 300
    variables = properties["Environment"]["Variables"]
    assert variables["MLFLOW_TRACKING_SERVER_ARN"].endswith(":mlflow-tracking-server/p-dev-mlflow")
    by_sid = {s.get("Sid"): s for s in statements(template, name)}
    assert by_sid["RunRecords"]["Resource"] == [
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:experiment-trial-component/p-dev-*"
    ]
    assert by_sid["MlflowRuns"]["Resource"] == [variables["MLFLOW_TRACKING_SERVER_ARN"]]
    [server] = _of(template, "AWS::SageMaker::MlflowTrackingServer")
    assert server["TrackingServerName"] == "p-dev-mlflow"
    assert server["AutomaticModelRegistration"] is False and server["TrackingServerSize"] == "Small"
    store = statements(template, "p-dev-mlflow")
    assert [r for s in store for r in s["Resource"] if "s3:::" in str(r)] == [
        f"arn:aws:s3:::p-dev-artifacts-{ACCOUNT}/mlflow/*",
        f"arn:aws:s3:::p-dev-artifacts-{ACCOUNT}",
    ]


def test_an_mlflow_server_size_is_one_of_three() -> None:
    with pytest.raises(ValueError, match="Small, Medium or Large"):
        MlflowSettings(size="Huge")


# --- the training trigger, model cards, model import, CI/CD --------------------------------------


def test_the_trigger_guards_starts_with_an_encrypted_table_and_dead_letters(
    built: Built, packaged: FunctionFiles
) -> None:
    template = built.templates["Training"]
    name = "p-dev-start-training"
    assert packaged(built.directory, template, name) == _library_handler("start_training")
    variables = _function(template, name)["Environment"]["Variables"]
    assert variables["LOCK_TABLE"] == "p-dev-training-guard"
    assert variables["DEBOUNCE_SECONDS"] == "900" and variables["MAX_EXECUTIONS_PER_DAY"] == "4"
    table = _named(template, "AWS::DynamoDB::GlobalTable", "TableName", "p-dev-training-guard")
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["SSESpecification"]["SSEType"] == "KMS"
    queue = _named(template, "AWS::SQS::Queue", "QueueName", "p-dev-start-training-dlq")
    assert "KmsMasterKeyId" in queue and queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    patterns = [r["EventPattern"] for r in _of(template, "AWS::Events::Rule")]
    assert {"prefix": "p-dev-prod-drift-"} in [
        p for r in patterns for p in r.get("detail", {}).get("alarmName", [])
    ]
    [manual] = [p for p in patterns if p.get("detail-type") == ["Retrain Requested"]]
    assert manual["detail"] == {"pipeline": ["p-dev-training"]}


def test_model_cards_follow_the_registrys_state_changes(
    built: Built, packaged: FunctionFiles
) -> None:
    template = built.templates["Training"]
    name = "p-dev-model-card"
    assert packaged(built.directory, template, name) == _library_handler("model_card")
    variables = _function(template, name)["Environment"]["Variables"]
    assert variables["RISK_RATING"] == "unknown" and variables["WRITER_ROLE_NAME"] == name
    [rule] = [
        r for r in _of(template, "AWS::Events::Rule")
        if r["EventPattern"].get("detail-type") == ["SageMaker Model Package State Change"]
    ]  # fmt: skip
    assert rule["EventPattern"]["detail"] == {"ModelPackageGroupName": ["p-dev-models"]}
    [target] = rule["Targets"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2 and "DeadLetterConfig" in target


def test_an_import_is_its_own_pipeline_as_the_training_role(
    built: Built, packaged: FunctionFiles
) -> None:
    template = built.templates["Training"]
    name = "p-dev-model-import"
    assert packaged(built.directory, template, name) == _library_handler("model_import")
    properties = _function(template, name)
    assert properties["ReservedConcurrentExecutions"] == 2 and properties["Timeout"] == 900
    assert properties["Environment"]["Variables"]["EXPECTED_FRAMEWORK"] == "xgboost"
    pipelines = {p["PipelineName"]: p for p in _of(template, "AWS::SageMaker::Pipeline")}
    assert pipelines["p-dev-import"]["RoleArn"] == pipelines["p-dev-training"]["RoleArn"]
    objects = [
        r["EventPattern"]["detail"] for r in _of(template, "AWS::Events::Rule")
        if r["EventPattern"].get("detail-type") == ["Object Created"]
    ]  # fmt: skip
    assert {"bucket": {"name": [f"p-dev-artifacts-{ACCOUNT}"]},
            "object": {"key": [{"wildcard": "imports/*/import.json"}]}} in objects  # fmt: skip


def test_ci_tests_packages_and_trains_but_reads_no_data(
    built: Built, statements: Statements
) -> None:
    template = built.templates["Training"]
    [pipeline] = _of(template, "AWS::CodePipeline::Pipeline")
    assert pipeline["Name"] == "p-dev-ml-cicd" and pipeline["PipelineType"] == "V2"
    assert [s["Name"] for s in pipeline["Stages"]] == ["Source", "TestAndTrain"]
    [project] = _of(template, "AWS::CodeBuild::Project")
    assert project["Environment"]["PrivilegedMode"] is False and "EncryptionKey" in project
    group = _named(template, "AWS::Logs::LogGroup", "LogGroupName", "/p-dev/codebuild/ml")
    assert "KmsKeyId" in group
    for role in ("p-dev-ml-build", "p-dev-ml-cicd"):
        [deny] = [s for s in statements(template, role) if s.get("Sid") == "CiReadsNoData"]
        assert deny["Effect"] == "Deny"
        assert deny["Resource"] == [f"arn:aws:s3:::p-dev-artifacts-{ACCOUNT}/pipelines/*/data/*"]
    [upload] = [
        r["EventPattern"] for r in _of(template, "AWS::Events::Rule")
        if r["EventPattern"].get("detail", {}).get("object") == {"key": ["ci/source/ml-project.zip"]}
    ]  # fmt: skip
    assert upload["source"] == ["aws.s3"]


def test_bad_props_are_refused(feature_flags: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="framework and its version, or the serving image"):
        ImportedServing(framework="xgboost")
    project = Project(cdk.Stack(cdk.App(context=feature_flags), "S", env=ENV))
    dead_letters = sqs.Queue(project.stack, "DeadLetters")
    with pytest.raises(ValueError, match="risk_rating 'severe'"):
        ModelCards(project.stack, "Cards", prefix="p-dev", registry=project.registry,
                   ops_key=project.ops, log_retention=MONTH, dead_letters=dead_letters,
                   intended_use="u", owner="o", risk_rating="severe")  # fmt: skip
    with pytest.raises(ValueError, match="not with a team's"):
        ModelImport(project.stack, "Import", prefix="p-dev", training=project.training(custom=True),
                    lake=project.lake, code_version_parameter=project.code_version,
                    project="churn", serving=ImportedServing(image=XGBOOST),
                    max_artifact_bytes=1, ops_key=project.ops, log_retention=MONTH,
                    dead_letters=dead_letters)  # fmt: skip


def test_a_definition_still_being_built_is_read_when_the_template_is_written(
    feature_flags: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a first synth the SDK's process builds the definition while the app goes on (ADR
    0029): the pipeline asks for it as it is built and reads it, once, when its template is
    written; the template holds the same definition."""
    reads: list[str] = []
    ask = sdk_process.ask

    def ask_now_read_later(function: Callable[..., str], *arguments: Any) -> memo.Later:
        def read() -> str:
            reads.append(function.__name__)
            return ask(function, *arguments).get()

        return memo.Later(read)

    monkeypatch.setattr(sdk_process, "ask", ask_now_read_later)
    monkeypatch.setenv("MLOPS_SYNTH_CACHE", "off")  # every value is asked for
    app = cdk.App(context=feature_flags)
    training = Project(cdk.Stack(app, "Late", env=ENV)).training()
    assert reads == []  # asked, not read: the app goes on building
    template = app.synth().get_stack_by_name("Late").template
    assert reads == ["_build_definition"]
    [pipeline] = _of(template, "AWS::SageMaker::Pipeline")
    body, _ = pipeline["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    monkeypatch.undo()
    assert body == training.definition == build_definition(training.spec)
    assert reads == ["_build_definition"]  # the construct's value is the one read
