"""Open monitoring (services every AWS customer has): the example's demand project uses it.

A schedule per real-time stage starts the pipeline ``<prefix>-monitoring``: Window (Lambda) ->
data run and, when labels arrived, quality run (network-isolated, encrypted processing jobs
running the platform's monitoring script) -> Publish (Lambda) -> CloudWatch metrics -> alarms
named as Model Monitor's, so retraining and the dashboard follow.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Synthesized, rule_pack_findings
from tests.templates import as_list, policy_statements, sagemaker_pipeline

ACCOUNT = "111111111111"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
PREFIX = "mlops-dev-demand"
# custom_synth's churn scores in batch, which its open monitoring watches too.
BATCH_PREFIX = "acme-ml-dev-churn"


@pytest.fixture(scope="module")
def deploy(example_synth: Synthesized) -> dict[str, Any]:
    stack = example_synth.stages["dev"].projects["demand"].deploy
    assert stack is not None
    resources: dict[str, Any] = example_synth.template_json(stack)["Resources"]
    return resources


@pytest.fixture(scope="module")
def batch_deploy(custom_synth: Synthesized) -> dict[str, Any]:
    stack = custom_synth.stages["dev"].projects["churn"].deploy
    assert stack is not None
    resources: dict[str, Any] = custom_synth.template_json(stack)["Resources"]
    return resources


def _typed(resources: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [v["Properties"] for v in resources.values() if v["Type"] == kind]


def _definition(deploy: dict[str, Any], prefix: str) -> dict[str, Any]:
    [pipeline] = [
        p for p in _typed(deploy, "AWS::SageMaker::Pipeline")
        if p["PipelineName"] == f"{prefix}-monitoring"
    ]  # fmt: skip
    body, variables = pipeline["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    assert set(variables) == {
        "DataKeyArn",
        "MonitoringFunctionArn",
        "MonitoringCodeBucket",
        "MonitoringCodeKey",
    }
    parsed: dict[str, Any] = json.loads(body)
    return parsed


@pytest.fixture(scope="module")
def definition(deploy: dict[str, Any]) -> dict[str, Any]:
    return _definition(deploy, PREFIX)


@pytest.fixture(scope="module")
def batch_definition(batch_deploy: dict[str, Any]) -> dict[str, Any]:
    return _definition(batch_deploy, BATCH_PREFIX)


def _steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    steps = {s["Name"]: s for s in definition["Steps"]}
    for gate in [s for s in definition["Steps"] if s["Type"] == "Condition"]:
        for branch in ("IfSteps", "ElseSteps"):
            steps.update({s["Name"]: s for s in gate["Arguments"][branch]})
    return steps


def test_the_pipeline_windows_monitors_and_publishes(definition: dict[str, Any]) -> None:
    steps = _steps(definition)
    assert set(steps) == {
        "Window",
        "HasData",
        "MonitorData",
        "PublishData",
        "HasLabels",
        "MonitorQuality",
        "PublishQuality",
        "WindowFailed",
        "MonitoringFailed",
    }
    assert steps["Window"]["FunctionArn"] == "${MonitoringFunctionArn}"
    assert steps["PublishQuality"]["Arguments"]["checks"] == "quality"
    assert steps["PublishData"]["Arguments"]["checks"] == "data"
    for name in ("MonitorData", "MonitorQuality"):
        job = steps[name]["Arguments"]
        assert job["NetworkConfig"]["EnableNetworkIsolation"] is True
        assert job["NetworkConfig"]["EnableInterContainerTrafficEncryption"] is True
        assert job["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == "${DataKeyArn}"
        assert job["ProcessingOutputConfig"]["KmsKeyId"] == "${DataKeyArn}"
        assert "sagemaker-scikit-learn:1.2-1" in job["AppSpecification"]["ImageUri"]
        args = job["AppSpecification"]["ContainerArguments"]
        assert args[0] == "monitor"
        assert args[args.index("--problem-type") + 1] == "regression"
        assert args[args.index("--prediction-field") + 1] == "units_sold"
        assert (
            args[args.index("--columns") + 1] == "day_of_week,temperature_c,price,promotion,holiday"
        )
    data_inputs = {i["InputName"] for i in steps["MonitorData"]["Arguments"]["ProcessingInputs"]}
    quality = steps["MonitorQuality"]["Arguments"]
    assert (
        "--ground-truth"
        not in steps["MonitorData"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    )
    assert "ground-truth" in {i["InputName"] for i in quality["ProcessingInputs"]}
    assert "ground-truth" not in data_inputs
    # The quality run reads the window whose labels have arrived, not the last window.
    capture = next(i for i in quality["ProcessingInputs"] if i["InputName"] == "capture")
    assert capture["S3Input"]["S3Uri"] == {
        "Get": "Steps.Window.OutputParameters['labelled_capture_uri']"
    }


def test_attributions_explain_the_served_model_in_its_framework_image(
    definition: dict[str, Any], deploy: dict[str, Any], example_synth: Synthesized
) -> None:
    """demand sets monitor.attributions: its data run loads the version Window names (the
    served model's artifact) in the training image and explains sampled traffic; the quality
    run does not; the function must name the artifact; an alarm watches the ranking's NDCG,
    and the build's baseline carries the version's own attributions."""
    steps = _steps(definition)
    data = steps["MonitorData"]["Arguments"]
    inputs = {i["InputName"]: i["S3Input"] for i in data["ProcessingInputs"]}
    assert inputs["model"]["S3Uri"] == {"Get": "Steps.Window.OutputParameters['model_data_uri']"}
    assert inputs["model"]["LocalPath"] == "/opt/ml/processing/model"
    args = data["AppSpecification"]["ContainerArguments"]
    assert args[args.index("--model") + 1] == "/opt/ml/processing/model"
    assert args[args.index("--entry") + 1] == "inference.py"
    assert args[args.index("--attribution-rows") + 1] == "100"
    assert args[args.index("--permutations") + 1] == "8"
    quality = steps["MonitorQuality"]["Arguments"]
    assert "model" not in {i["InputName"] for i in quality["ProcessingInputs"]}
    assert "--model" not in quality["AppSpecification"]["ContainerArguments"]
    outputs = {o["OutputName"] for o in steps["Window"]["OutputParameters"]}
    assert "model_data_uri" in outputs
    [function] = [
        f for f in _typed(deploy, "AWS::Lambda::Function")
        if f["FunctionName"] == f"{PREFIX}-monitoring-run"
    ]  # fmt: skip
    assert function["Environment"]["Variables"]["ATTRIBUTIONS"] == "true"
    alarms = {a["AlarmName"]: a for a in _typed(deploy, "AWS::CloudWatch::Alarm")}
    alarm = alarms[f"{PREFIX}-prod-drift-attribution"]
    [query] = alarm["Metrics"]
    assert query["MetricStat"]["Metric"]["MetricName"] == "AttributionNDCG"
    assert query["MetricStat"]["Stat"] == "Minimum"
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 0.9)
    assert alarm["TreatMissingData"] == "notBreaching"
    build = example_synth.stages["dev"].projects["demand"].build
    assert build is not None
    pipeline = sagemaker_pipeline(example_synth.template_json(build)["Resources"])
    body = pipeline["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"][0]
    baseline = _steps(json.loads(body))["MonitoringBaseline"]["Arguments"]
    model = next(i for i in baseline["ProcessingInputs"] if i["InputName"] == "model")
    # demand tunes (build.tuning): the model is the best candidate's, as Evaluate's.
    best = "Steps.Tune.TrainingJobSummaries[0].TrainingJobName"
    assert best in json.dumps(model["S3Input"]["S3Uri"])
    args = baseline["AppSpecification"]["ContainerArguments"]
    assert args[0] == "baseline" and args[args.index("--background-rows") + 1] == "20"
    assert args[args.index("--prediction-field") + 1] == "units_sold"


def test_no_attributions_unless_configured(
    batch_definition: dict[str, Any], batch_deploy: dict[str, Any]
) -> None:
    """custom_synth's churn leaves monitor.attributions off: no model input, no alarm."""
    for step in _steps(batch_definition).values():
        if step["Type"] == "Processing":
            assert "--model" not in step["Arguments"]["AppSpecification"]["ContainerArguments"]
    names = [a["AlarmName"] for a in _typed(batch_deploy, "AWS::CloudWatch::Alarm")]
    assert not [n for n in names if n.endswith("-drift-attribution")]
    for function in _typed(batch_deploy, "AWS::Lambda::Function"):
        assert "ATTRIBUTIONS" not in function.get("Environment", {}).get("Variables", {})


def test_the_batch_target_reads_the_files_window_lists(batch_definition: dict[str, Any]) -> None:
    """Batch scoring's runs read the manifest Window wrote of the window's transform jobs'
    files (inputs for data, ``.out`` responses for quality), in steps of their own; the
    endpoints' steps never run for it, nor its steps for an endpoint."""
    definition = batch_definition
    steps = _steps(definition)
    assert {f"{k}Batch{c}" for k in ("Monitor", "Publish") for c in ("Data", "Quality")} | {
        "HasBatchData",
        "HasBatchLabels",
    } <= set(steps)
    gates = {
        s["Name"]: s["Arguments"]["Conditions"]
        for s in definition["Steps"]
        if s["Type"] == "Condition"
    }
    is_batch = {"LeftValue": {"Get": "Parameters.Target"}, "RightValue": "batch", "Type": "Equals"}
    assert is_batch in gates["HasBatchData"] and is_batch in gates["HasBatchLabels"]
    for gate in ("HasData", "HasLabels"):
        assert {"Condition": is_batch, "Type": "Not"} in gates[gate]
    for check, source in (("Data", "capture_uri"), ("Quality", "labelled_capture_uri")):
        job = steps[f"MonitorBatch{check}"]["Arguments"]
        inputs = {i["InputName"]: i["S3Input"] for i in job["ProcessingInputs"]}
        assert inputs["capture"]["S3DataType"] == "ManifestFile"
        assert inputs["capture"]["S3Uri"] == {"Get": f"Steps.Window.OutputParameters['{source}']"}
        assert inputs["baseline"]["S3DataType"] == "S3Prefix"
        args = job["AppSpecification"]["ContainerArguments"]
        assert args[args.index("--capture-format") + 1] == "batch"
        assert job["NetworkConfig"]["EnableNetworkIsolation"] is True
        assert job["ProcessingOutputConfig"]["KmsKeyId"] == "${DataKeyArn}"
        assert steps[f"PublishBatch{check}"]["Arguments"]["checks"] == check.lower()
    assert (
        "--capture-format"
        not in steps["MonitorData"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    )
    assert "ground-truth" in {
        i["InputName"] for i in steps["MonitorBatchQuality"]["Arguments"]["ProcessingInputs"]
    }


def test_batch_scoring_captures_and_is_scheduled_and_alarmed(
    batch_deploy: dict[str, Any],
) -> None:
    """Open monitoring watches batch scoring: its jobs capture (inference ids on every
    response), a schedule starts the batch target, its drift alarms notify the topic."""
    deploy, PREFIX = batch_deploy, BATCH_PREFIX
    [scoring] = [
        f for f in _typed(deploy, "AWS::Lambda::Function")
        if f["FunctionName"] == f"{PREFIX}-batch-scoring"
    ]  # fmt: skip
    capture = f"s3://{PREFIX}-artifacts-{ACCOUNT}/data-capture/batch/"
    assert scoring["Environment"]["Variables"]["CAPTURE_URI"] == capture
    writes = [
        s for s in policy_statements(deploy, f"{PREFIX}-batch-model")
        if "s3:PutObject" in as_list(s["Action"])
    ]  # fmt: skip
    resources = json.dumps([s["Resource"] for s in writes])
    assert "/data-capture/batch/*" in resources
    schedules = {s["Name"]: s for s in _typed(deploy, "AWS::Scheduler::Schedule")}
    batch = schedules[f"{PREFIX}-batch-monitoring"]
    params = batch["Target"]["SageMakerPipelineParameters"]["PipelineParameterList"]
    assert params == [{"Name": "Target", "Value": "batch"}]
    assert (
        batch["ScheduleExpression"] == schedules[f"{PREFIX}-prod-monitoring"]["ScheduleExpression"]
    )
    alarms = {a["AlarmName"]: a for a in _typed(deploy, "AWS::CloudWatch::Alarm")}
    for kind, metric in (("data", "MaxFeatureDrift"), ("model-quality", "auc")):
        alarm = alarms[f"{PREFIX}-batch-drift-{kind}"]
        [query] = alarm["Metrics"]
        assert query["MetricStat"]["Metric"]["MetricName"] == metric
        dims = {d["Name"]: d["Value"] for d in query["MetricStat"]["Metric"]["Dimensions"]}
        assert dims == {"Project": PREFIX, "Target": "batch"}
        assert alarm["AlarmActions"] and alarm["TreatMissingData"] == "notBreaching"
        assert "docs/runbooks.md#" in alarm["AlarmDescription"]


def test_the_function_lists_batch_jobs_and_writes_only_their_manifests(
    batch_deploy: dict[str, Any],
) -> None:
    deploy, PREFIX = batch_deploy, BATCH_PREFIX
    statements = policy_statements(deploy, f"{PREFIX}-monitoring-run")
    by_sid = {s["Sid"]: s for s in statements if "Sid" in s}
    sagemaker = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}"
    assert by_sid["BatchScoringJobs"]["Action"] == "sagemaker:DescribeTransformJob"
    assert by_sid["BatchScoringJobs"]["Resource"] == f"{sagemaker}:transform-job/{PREFIX}-batch-*"
    assert by_sid["ListBatchScoringJobs"]["Action"] == "sagemaker:ListTransformJobs"
    writes = [s for s in statements if "s3:PutObject" in as_list(s["Action"])]
    assert len(writes) == 1
    assert writes[0]["Resource"] == f"arn:aws:s3:::{PREFIX}-artifacts-{ACCOUNT}/monitoring/batch/*"
    # The jobs' capture manifests are the monitors' to read, not the function's.
    reads = [s for s in statements if "s3:GetObject" in as_list(s["Action"])]
    assert "data-capture" not in json.dumps(reads)


def test_schedule_role_function_and_alarms(deploy: dict[str, Any]) -> None:
    schedules = _typed(deploy, "AWS::Scheduler::Schedule")
    # serverless staging: no capture; batch scoring: its own schedule (above)
    [schedule] = [s for s in schedules if s["Name"] != f"{PREFIX}-batch-monitoring"]
    assert schedule["Name"] == f"{PREFIX}-prod-monitoring"
    assert schedule["ScheduleExpression"] == "cron(30 1 * * ? *)"
    params = schedule["Target"]["SageMakerPipelineParameters"]["PipelineParameterList"]
    assert params == [{"Name": "Target", "Value": "prod"}]
    alarms = {a["AlarmName"]: a for a in _typed(deploy, "AWS::CloudWatch::Alarm")}

    def stat(alarm: dict[str, Any]) -> dict[str, Any]:
        [query] = alarm["Metrics"]
        result: dict[str, Any] = query["MetricStat"]
        return result

    drift = alarms[f"{PREFIX}-prod-drift-data"]
    metric = stat(drift)["Metric"]
    assert (metric["Namespace"], metric["MetricName"]) == ("MLOps/Monitoring", "MaxFeatureDrift")
    assert drift["Threshold"] == 0.25 and drift["TreatMissingData"] == "notBreaching"
    dims = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
    assert dims == {"Project": PREFIX, "Target": "prod"}
    quality = alarms[f"{PREFIX}-prod-drift-model-quality"]
    # The gate's metric and direction: RMSE above the gate's threshold.
    assert stat(quality)["Metric"]["MetricName"] == "rmse" and stat(quality)["Stat"] == "Maximum"
    assert quality["ComparisonOperator"] == "GreaterThanThreshold" and quality["Threshold"] == 55
    [function] = [
        f for f in _typed(deploy, "AWS::Lambda::Function")
        if f["FunctionName"] == f"{PREFIX}-monitoring-run"
    ]  # fmt: skip
    env = function["Environment"]["Variables"]
    assert env["ENDPOINT_NAME"] == f"{PREFIX}-{{target}}"
    assert "DEPLOYED_PARAMETER" not in env  # the Window step reads the endpoint itself
    assert env["CAPTURE_URI"] == f"s3://{PREFIX}-artifacts-{ACCOUNT}/data-capture/"
    assert env["GROUND_TRUTH_URI"] == f"s3://{PREFIX}-curated-{ACCOUNT}/ground-truth/"


def test_the_function_reads_what_the_monitored_endpoint_serves(deploy: dict[str, Any]) -> None:
    """Window reads the serving version from the endpoint (endpoint -> config -> model, or the
    model's ModelPackageArn tag), read-only and only the project's; no SSM parameter."""
    statements = policy_statements(deploy, f"{PREFIX}-monitoring-run")
    by_sid = {s["Sid"]: s for s in statements if "Sid" in s}
    sagemaker = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}"
    # Only prod is monitored (staging is serverless: nothing captured).
    assert by_sid["ServingEndpoints"]["Action"] == "sagemaker:DescribeEndpoint"
    assert by_sid["ServingEndpoints"]["Resource"] == f"{sagemaker}:endpoint/{PREFIX}-prod"
    assert by_sid["ServingConfigs"]["Action"] == "sagemaker:DescribeEndpointConfig"
    assert (
        by_sid["ServingConfigs"]["Resource"] == f"{sagemaker}:endpoint-config/{PREFIX}-endpoint-*"
    )
    assert by_sid["ServingModels"]["Action"] == ["sagemaker:DescribeModel", "sagemaker:ListTags"]
    assert by_sid["ServingModels"]["Resource"] == f"{sagemaker}:model/{PREFIX}-endpoint-*"
    actions = [a for s in statements for a in as_list(s["Action"])]
    assert not [a for a in actions if a.startswith("ssm:")]
    endpoint_actions = {"sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig"}
    assert [s for s in statements if endpoint_actions & set(as_list(s["Action"]))] == [
        by_sid["ServingEndpoints"],
        by_sid["ServingConfigs"],
    ]


def test_no_model_monitor_resource_for_open_monitoring(example_synth: Synthesized) -> None:
    stage = example_synth.stages["dev"]
    for path in example_synth.outdir.glob("asset.*/mlops-dev-demand-endpoint-*.template.json"):
        text = path.read_text()
        assert "MonitoringSchedule" not in text and "JobDefinition" not in text, path
    build = stage.projects["demand"].build
    assert build is not None
    assert "QualityCheck" not in json.dumps(example_synth.template_json(build))


def test_production_drift_retrains_through_the_guard(example_synth: Synthesized) -> None:
    """The open alarms keep Model Monitor's names: the trigger's rule matches them."""
    build = example_synth.stages["dev"].projects["demand"].build
    assert build is not None
    rules = _typed(example_synth.template_json(build)["Resources"], "AWS::Events::Rule")
    patterns = [json.dumps(r["EventPattern"]) for r in rules]
    assert any(f"{PREFIX}-prod-drift-" in p for p in patterns)


def test_in_vpc_mode_every_part_runs_in_the_vpc(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The construct on its own in a bare VPC-mode app (the platform's VPC fixtures use Model
    Monitor): jobs and function in the isolated subnets, all packs incl. MLOps VPC1 clean."""
    from pathlib import Path

    import aws_cdk as cdk

    from mlops_constructs.data import DataLake, DataLakeRef
    from mlops_constructs.monitor.open_definition import OpenMonitoringSpec
    from mlops_constructs.monitor.open_monitoring import OpenMonitoring, OpenMonitoringSettings
    from mlops_constructs.network import IsolatedNetwork
    from mlops_constructs.notifications import NotificationTopic
    from mlops_constructs.observability import retention_days
    from mlops_constructs.security import PlatformKey
    from mlops_constructs.training import ModelRegistry
    from mlops_constructs.training.definition import Attributions
    from stacks.context import project_context
    from stacks.guardrails import add_rule_packs

    outdir = tmp_path_factory.mktemp("open-vpc")
    app = cdk.App(
        outdir=str(outdir),
        context={**project_context(), "@aws-cdk/core:failSynthOnValidationErrors": False},
    )
    stage = cdk.Stage(app, "t", env=cdk.Environment(account="123456789012", region="us-east-1"))
    data = cdk.Stack(stage, "Data")
    key = PlatformKey(data, "DataKey", prefix="mlops-dev", purpose="data", description="d")
    ops = PlatformKey(data, "OpsKey", prefix="mlops-dev", purpose="ops", description="o")
    network = IsolatedNetwork(
        data,
        "Network",
        prefix="mlops-dev",
        key=ops,
        cidr="10.40.0.0/16",
        az_count=2,
        interface_services=("logs", "monitoring", "kms", "sagemaker.api", "ssm"),
        flow_log_retention=retention_days(90),
    )
    lake = DataLake(data, "Lake", key=key, bucket_name_prefix=PREFIX)
    registry = ModelRegistry(data, "Registry", name=f"{PREFIX}-models", description="m")
    monitoring = cdk.Stack(stage, "Monitoring")
    topic = NotificationTopic(
        monitoring, "Alarms", prefix="mlops-dev", name="alarms", key=ops, title="a"
    )
    OpenMonitoring(
        monitoring,
        "OpenMonitoring",
        prefix=PREFIX,
        spec=OpenMonitoringSpec(
            name="x",
            region="us-east-1",
            role_arn="",
            artifacts_bucket=lake.bucket_name("artifacts"),
            image="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
            columns=("a", "b"),
            problem_type="regression",
            prediction_field="y",
            # The data runs then load the model in its framework's image: in the VPC too.
            attributions=Attributions(prediction_field="y"),
            attribution_image=XGBOOST_IMAGE,
        ),
        settings=OpenMonitoringSettings(
            quality_metric="rmse",
            quality_threshold=3.0,
            quality_higher_is_better=False,
            attribution_threshold=0.9,
        ),
        targets=("prod",),
        lake=DataLakeRef.of(monitoring, "Lake", lake),
        registry=registry,
        ops_key=ops,
        code=Path(__file__).resolve().parent.parent / "lambda" / "monitoring_run",
        log_retention=retention_days(365),
        alarm_topic=topic.topic,
        placement=network.placement,
    )
    add_rule_packs(app, vpc_mode=True)
    app.synth()
    report = json.loads((outdir / "validation-report.json").read_text())
    assert rule_pack_findings(report.get("pluginReports", [])) == []
    template = json.loads(next(outdir.glob("assembly-t/tMonitoring*.template.json")).read_text())
    resources = template["Resources"]
    [function] = _typed(resources, "AWS::Lambda::Function")
    assert function["VpcConfig"]["SubnetIds"]
    [pipeline] = _typed(resources, "AWS::SageMaker::Pipeline")
    body, variables = pipeline["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    assert {"SubnetIds", "SecurityGroupId"} <= set(variables)
    steps = _steps(json.loads(body))
    assert steps["MonitorData"]["Arguments"]["AppSpecification"]["ImageUri"] == XGBOOST_IMAGE
    for name in ("MonitorData", "MonitorQuality"):
        job = steps[name]["Arguments"]
        assert job["NetworkConfig"]["VpcConfig"] == {
            "Subnets": ["${SubnetIds}"],
            "SecurityGroupIds": ["${SecurityGroupId}"],
        }
