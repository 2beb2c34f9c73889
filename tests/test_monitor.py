"""Model Monitor, alarms, the dashboard and drift -> retraining, on the synthesized templates."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from mlops_constructs.monitor import BASELINE_PARAMETERS, MonitorSettings
from stacks.config import PlatformConfig, ProjectConfig, parse_config
from stacks.monitor_stack import alarm_names, monitor_settings
from stacks.topology import STAGES
from tests.conftest import MODEL_MONITOR, Synthesized, churn
from tests.templates import as_list, endpoint_template, load_handler, policy_statements

ACCOUNT = "123456789012"
JOB_TYPES = {
    "AWS::SageMaker::DataQualityJobDefinition": "DataQuality",
    "AWS::SageMaker::ModelQualityJobDefinition": "ModelQuality",
    "AWS::SageMaker::ModelBiasJobDefinition": "ModelBias",
    "AWS::SageMaker::ModelExplainabilityJobDefinition": "ModelExplainability",
}


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _job(template: dict[str, Any], kind: str) -> dict[str, Any]:
    [job] = _of_type(template, kind).values()
    return job


def _props(template: dict[str, Any], kind: str) -> dict[str, Any]:
    props: dict[str, Any] = _job(template, kind)["Properties"]
    return props


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        v["Properties"]["AlarmName"]: v
        for v in template["Resources"].values()
        if v["Type"] == "AWS::CloudWatch::Alarm"
    }


def _stack(
    synth: Synthesized, part: str, *, project: str | None = "churn", env: str = "dev"
) -> dict[str, Any]:
    """The template of a project's stack (``data``, ``catalog``, ``build``, ``deploy``), or with
    ``project=None`` of the environment's shared one (``data``, ``monitor``)."""
    stage = synth.stages[env]
    stack = getattr(stage.projects[project] if project else stage, part)
    assert stack is not None
    return synth.template_json(stack)


def _churn(config: PlatformConfig) -> ProjectConfig:
    return config.project("churn")


@pytest.fixture(scope="module")
def prod(monitor_synth: Synthesized) -> dict[str, Any]:
    return endpoint_template(monitor_synth, "mlops-dev-churn-endpoint-prod")


# --- the four monitors of a real-time endpoint -----------------------------------------------


def test_production_gets_four_daily_monitors_on_its_endpoint(prod: dict[str, Any]) -> None:
    jobs = {JOB_TYPES[v["Type"]]: k for k, v in prod["Resources"].items() if v["Type"] in JOB_TYPES}
    assert set(jobs) == set(JOB_TYPES.values())
    [endpoint_id] = _of_type(prod, "AWS::SageMaker::Endpoint")
    schedules = _of_type(prod, "AWS::SageMaker::MonitoringSchedule")
    by_name = {s["Properties"]["MonitoringScheduleName"]: s for s in schedules.values()}
    assert set(by_name) == {f"mlops-dev-churn-prod-{s}" for s in ("dq", "mq", "bias", "xai")}
    for schedule in by_name.values():
        props = schedule["Properties"]
        config = props["MonitoringScheduleConfig"]
        assert config["ScheduleConfig"] == {"ScheduleExpression": "cron(0 0 ? * * *)"}
        assert props["EndpointName"] == {"Fn::GetAtt": [endpoint_id, "EndpointName"]}
        job_id = jobs[config["MonitoringType"]]
        # Job definitions return only their ARN: the schedule repeats the name, and waits.
        assert job_id in schedule["DependsOn"]
        assert (
            config["MonitoringJobDefinitionName"]
            == prod["Resources"][job_id]["Properties"]["JobDefinitionName"]
        )


def test_monitor_jobs_are_encrypted_isolated_and_bounded(prod: dict[str, Any]) -> None:
    for kind in JOB_TYPES:
        props = _props(prod, kind)
        assert props["RoleArn"] == {"Ref": "MonitorRoleArn"}
        assert props["NetworkConfig"] == {
            "EnableInterContainerTrafficEncryption": True,
            "EnableNetworkIsolation": True,
        }
        cluster = props["JobResources"]["ClusterConfig"]
        assert cluster == {
            "InstanceCount": 1,
            "InstanceType": "ml.m5.large",
            "VolumeKmsKeyId": {"Ref": "DataKeyArn"},
            "VolumeSizeInGB": 20,
        }
        assert props["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
        output = next(v for k, v in props.items() if k.endswith("JobOutputConfig"))
        assert output["KmsKeyId"] == {"Ref": "DataKeyArn"}
        [s3] = [o["S3Output"] for o in output["MonitoringOutputs"]]
        assert s3["S3Uri"]["Fn::Join"][1][0] == {"Ref": "MonitorOutputUri"}


def test_job_definitions_are_named_after_the_version_and_the_settings(prod: dict[str, Any]) -> None:
    name = _props(prod, "AWS::SageMaker::DataQualityJobDefinition")["JobDefinitionName"]
    target, version, digest = name["Fn::Join"][1]
    assert target == "mlops-dev-churn-prod-dq"
    # The version number from .../model-package/<group>/<version>: a new version replaces the
    # immutable job definitions under new names, the same version changes nothing.
    assert version == {
        "Fn::Join": [
            "",
            ["v", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "ModelPackageArn"}]}]}],
        ]
    }
    assert digest == MonitorSettings().digest()
    assert MonitorSettings(frequency="hourly").digest() != digest
    assert MonitorSettings().digest() == MonitorSettings().digest()


def test_monitors_read_the_deployed_versions_baselines(prod: dict[str, Any]) -> None:
    conditions = prod["Conditions"]
    for name, condition in conditions.items():
        baseline = next(b for b in BASELINE_PARAMETERS if f"Has{b}" in name)
        assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": baseline}, "none"]}]}
    by_baseline = {next(b for b in BASELINE_PARAMETERS if f"Has{b}" in n): n for n in conditions}
    for parameter in BASELINE_PARAMETERS:
        # Always passed by the pipeline ("none" when the version lacks it).
        assert "Default" not in prod["Parameters"][parameter]
        assert prod["Parameters"][parameter]["AllowedPattern"].startswith("^(none|s3://")

    dq = _job(prod, "AWS::SageMaker::DataQualityJobDefinition")
    baseline = dq["Properties"]["DataQualityBaselineConfig"]
    assert baseline["ConstraintsResource"] == {"S3Uri": {"Ref": "DataQualityConstraints"}}
    assert baseline["StatisticsResource"] == {
        "Fn::If": [
            by_baseline["DataQualityStatistics"],
            {"S3Uri": {"Ref": "DataQualityStatistics"}},
            {"Ref": "AWS::NoValue"},
        ]
    }
    # A version without the baseline or config gets no such monitor (and no alarm on it).
    assert dq["Condition"] == by_baseline["DataQualityConstraints"]
    bias = _job(prod, "AWS::SageMaker::ModelBiasJobDefinition")
    assert bias["Condition"] == by_baseline["BiasConfig"]
    assert bias["Properties"]["ModelBiasAppSpecification"]["ConfigUri"] == {"Ref": "BiasConfig"}
    assert "clarify" in bias["Properties"]["ModelBiasAppSpecification"]["ImageUri"]
    xai = _job(prod, "AWS::SageMaker::ModelExplainabilityJobDefinition")
    assert xai["Condition"] == by_baseline["ExplainabilityConfig"]
    spec = xai["Properties"]["ModelExplainabilityAppSpecification"]
    assert spec["ConfigUri"] == {"Ref": "ExplainabilityConfig"}
    assert xai["Properties"]["ModelExplainabilityJobInput"]["EndpointInput"][
        "InferenceAttribute"
    ] == ("predictions[0].churn_probability")
    # Model quality runs on ground truth alone; its constraints are used when carried.
    mq = _job(prod, "AWS::SageMaker::ModelQualityJobDefinition")
    assert "Condition" not in mq
    assert mq["Properties"]["ModelQualityBaselineConfig"] == {
        "Fn::If": [
            by_baseline["ModelQualityConstraints"],
            {"ConstraintsResource": {"S3Uri": {"Ref": "ModelQualityConstraints"}}},
            {"Ref": "AWS::NoValue"},
        ]
    }
    alarms = _alarms(prod)
    assert (
        alarms["mlops-dev-churn-prod-drift-data"]["Condition"]
        == by_baseline["DataQualityConstraints"]
    )


def test_labelled_monitors_join_ground_truth_a_day_late(prod: dict[str, Any]) -> None:
    mq = _props(prod, "AWS::SageMaker::ModelQualityJobDefinition")
    spec = mq["ModelQualityAppSpecification"]
    assert spec["ProblemType"] == "BinaryClassification"
    assert "sagemaker-model-monitor-analyzer" in spec["ImageUri"]
    job_input = mq["ModelQualityJobInput"]
    assert job_input["GroundTruthS3Input"] == {"S3Uri": {"Ref": "GroundTruthUri"}}
    endpoint_input = job_input["EndpointInput"]
    # The day of captured traffic that ended 24 hours ago, whose labels have arrived.
    assert (endpoint_input["StartTimeOffset"], endpoint_input["EndTimeOffset"]) == (
        "-PT48H",
        "-PT24H",
    )
    assert endpoint_input["InferenceAttribute"] == "predictions[0].churned"
    assert endpoint_input["ProbabilityAttribute"] == "predictions[0].churn_probability"
    bias = _props(prod, "AWS::SageMaker::ModelBiasJobDefinition")["ModelBiasJobInput"]
    assert bias["GroundTruthS3Input"] == {"S3Uri": {"Ref": "GroundTruthUri"}}
    assert bias["EndpointInput"]["StartTimeOffset"] == "-PT48H"


def test_offsets_follow_frequency_and_delay() -> None:
    assert MonitorSettings(frequency="hourly", ground_truth_delay_hours=0).offsets() == (
        "-PT1H",
        "-PT0H",
    )
    assert MonitorSettings(ground_truth_delay_hours=6).offsets() == ("-PT30H", "-PT6H")
    with pytest.raises(ValueError, match="frequency"):
        MonitorSettings(frequency="weekly")
    with pytest.raises(ValueError, match="unknown monitor types"):
        MonitorSettings(types=("latency",))


def test_drift_alarms_watch_features_and_auc(prod: dict[str, Any]) -> None:
    alarms = _alarms(prod)
    data = alarms["mlops-dev-churn-prod-drift-data"]["Properties"]
    assert data["Threshold"] == 0.1
    assert data["ComparisonOperator"] == "GreaterThanThreshold"
    assert data["AlarmActions"] == [{"Ref": "AlarmTopicArn"}]
    expression, *metrics = data["Metrics"]
    assert expression["Expression"] == "MAX([prod_f0, prod_f1, prod_f2, prod_f3, prod_f4])"
    watched = {m["MetricStat"]["Metric"]["MetricName"] for m in metrics}
    assert watched == {
        f"feature_baseline_drift_{f}"
        for f in (
            "tenure_months",
            "monthly_charges",
            "total_charges",
            "support_calls",
            "contract_type",
        )
    }
    for m in metrics:
        metric = m["MetricStat"]["Metric"]
        assert metric["Namespace"] == "aws/sagemaker/Endpoints/data-metrics"
        assert {d["Name"]: d["Value"] for d in metric["Dimensions"]} == {
            "Endpoint": "mlops-dev-churn-prod",
            "MonitoringSchedule": "mlops-dev-churn-prod-dq",
        }
    quality = alarms["mlops-dev-churn-prod-drift-model-quality"]["Properties"]
    [auc] = quality["Metrics"]
    assert auc["MetricStat"]["Metric"]["MetricName"] == "auc"
    assert auc["MetricStat"]["Metric"]["Namespace"] == "aws/sagemaker/Endpoints/model-metrics"
    assert auc["MetricStat"]["Stat"] == "Minimum"
    # The project's quality gate (gate.threshold), unless monitor.quality_threshold says
    # otherwise; AUC: higher is better, so the alarm fires below it.
    assert quality["Threshold"] == _churn(PlatformConfig()).gate.threshold == 0.75
    assert quality["ComparisonOperator"] == "LessThanThreshold"
    assert quality["TreatMissingData"] == "notBreaching"


def test_health_alarms_notify_and_only_errors_and_latency_roll_back(prod: dict[str, Any]) -> None:
    alarms = _alarms(prod)
    health = {n: a["Properties"] for n, a in alarms.items() if "drift" not in n}
    assert set(health) == {
        f"mlops-dev-churn-prod-{s}" for s in ("5xx", "latency-p99", "4xx", "cpu", "memory", "disk")
    }
    for props in health.values():
        assert props["AlarmActions"] == [{"Ref": "AlarmTopicArn"}]
    # CPUUtilization is summed over vCPUs: 80% of an ml.m5.large's two is 160.
    assert health["mlops-dev-churn-prod-cpu"]["Threshold"] == 160
    assert health["mlops-dev-churn-prod-cpu"]["Namespace"] == "/aws/sagemaker/Endpoints"
    assert health["mlops-dev-churn-prod-memory"]["Threshold"] == 80
    assert health["mlops-dev-churn-prod-4xx"]["MetricName"] == "Invocation4XXErrors"
    [endpoint] = _of_type(prod, "AWS::SageMaker::Endpoint").values()
    rollback = endpoint["Properties"]["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    names = {prod["Resources"][a["AlarmName"]["Ref"]]["Properties"]["AlarmName"] for a in rollback}
    assert names == {"mlops-dev-churn-prod-5xx", "mlops-dev-churn-prod-latency-p99"}


def test_serverless_staging_has_no_monitors(monitor_synth: Synthesized) -> None:
    # Model Monitor on, but staging is serverless (the default): nothing to monitor.
    staging = endpoint_template(monitor_synth, "mlops-dev-churn-endpoint-staging")
    assert not _of_type(staging, "AWS::SageMaker::MonitoringSchedule")
    assert set(staging["Parameters"]) == {"ModelPackageArn", "ExecutionRoleArn"}


def test_realtime_staging_is_monitored_but_does_not_retrain(vpc_synth: Synthesized) -> None:
    # vpc_synth: Model Monitor on, staging real-time (VPC mode requires it).
    staging = endpoint_template(vpc_synth, "mlops-dev-churn-endpoint-staging")
    names = {
        s["Properties"]["MonitoringScheduleName"]
        for s in _of_type(staging, "AWS::SageMaker::MonitoringSchedule").values()
    }
    assert names == {f"mlops-dev-churn-staging-{s}" for s in ("dq", "mq", "bias", "xai")}
    drift = [n for n in _alarms(staging) if "drift" in n]
    assert sorted(drift) == [
        "mlops-dev-churn-staging-drift-data",
        "mlops-dev-churn-staging-drift-model-quality",
    ]
    # ml.m5.large: 2 vCPUs.
    assert _alarms(staging)["mlops-dev-churn-staging-cpu"]["Properties"]["Threshold"] == 160
    build = _stack(vpc_synth, "build")
    patterns = json.dumps(
        [
            v["Properties"]["EventPattern"]
            for v in build["Resources"].values()
            if v["Type"] == "AWS::Events::Rule"
        ]
    )
    assert "mlops-dev-churn-prod-drift-" in patterns
    # Neither staging's drift alarms nor its monitoring schedules' violations retrain.
    assert "staging" not in patterns


def test_vpc_mode_runs_monitors_in_the_vpc(vpc_synth: Synthesized) -> None:
    prod = endpoint_template(vpc_synth, "mlops-dev-churn-endpoint-prod")
    for kind in JOB_TYPES:
        network = _props(prod, kind)["NetworkConfig"]
        assert network["EnableNetworkIsolation"] is True
        vpc = network["VpcConfig"]
        assert vpc["SecurityGroupIds"] == [{"Ref": "SecurityGroupId"}]
        assert vpc["Subnets"] == [
            {"Fn::Select": [i, {"Ref": "SubnetIds"}]} for i in range(len(vpc["Subnets"]))
        ]
        assert len(vpc["Subnets"]) == 2


def test_batch_scoring_gets_the_batch_monitors(vpc_synth: Synthesized) -> None:
    batch = endpoint_template(vpc_synth, "mlops-dev-churn-monitor-batch")
    kinds = {JOB_TYPES[v["Type"]] for v in batch["Resources"].values() if v["Type"] in JOB_TYPES}
    # Clarify explains with a model; batch scoring picks its model per run.
    assert kinds == {"DataQuality", "ModelQuality", "ModelBias"}
    assert "ExplainabilityConfig" not in batch["Parameters"]
    dq = _props(batch, "AWS::SageMaker::DataQualityJobDefinition")
    assert "EndpointName" not in dq
    batch_input = dq["DataQualityJobInput"]["BatchTransformInput"]
    assert batch_input["DataCapturedDestinationS3Uri"] == {"Ref": "CaptureUri"}
    assert batch_input["DatasetFormat"] == {"Csv": {"Header": False}}
    assert "VpcConfig" in dq["NetworkConfig"]
    for schedule in _of_type(batch, "AWS::SageMaker::MonitoringSchedule").values():
        assert "EndpointName" not in schedule["Properties"]
    alarms = _alarms(batch)
    assert set(alarms) == {
        "mlops-dev-churn-batch-drift-data",
        "mlops-dev-churn-batch-drift-model-quality",
    }
    [auc] = alarms["mlops-dev-churn-batch-drift-model-quality"]["Properties"]["Metrics"]
    assert auc["MetricStat"]["Metric"]["Namespace"] == "aws/sagemaker/ModelMonitoring/model-metrics"
    assert auc["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "MonitoringSchedule", "Value": "mlops-dev-churn-batch-mq"}
    ]

    deploy = _stack(vpc_synth, "deploy")["Resources"]
    # The transform jobs capture where the monitors read.
    [scoring] = [
        v["Properties"]
        for v in deploy.values()
        if v["Type"] == "AWS::Lambda::Function"
        and v["Properties"].get("FunctionName") == "mlops-dev-churn-batch-scoring"
    ]
    assert scoring["Environment"]["Variables"]["CAPTURE_URI"] == (
        f"s3://mlops-dev-churn-artifacts-{ACCOUNT}/data-capture/batch/"
    )
    # The deploy pipeline deploys the batch monitors with production, same version.
    [pipeline] = [
        v["Properties"]
        for v in deploy.values()
        if v["Type"] == "AWS::CodePipeline::Pipeline"
        and v["Properties"]["Name"] == "mlops-dev-churn-deploy"
    ]
    [production] = [s for s in pipeline["Stages"] if s["Name"] == "Production"]
    actions = {a["Name"]: a["Configuration"] for a in production["Actions"]}
    # After the release check (tests/test_deploy_stack.py).
    assert set(actions) == {"VerifyRelease", "DeployProd", "DeployBatch"}
    assert actions["DeployBatch"]["StackName"] == "mlops-dev-churn-monitor-batch"
    overrides = json.loads(json.dumps(actions["DeployBatch"]["ParameterOverrides"]))
    assert "ModelPackageArn" in json.dumps(overrides)


# --- roles and the deploy pipeline ----------------------------------------------------------


def test_monitor_role_is_scoped_to_its_target(monitor_synth: Synthesized) -> None:
    deploy = _stack(monitor_synth, "deploy")["Resources"]
    statements = {
        s.get("Sid", str(i)): s
        for i, s in enumerate(policy_statements(deploy, "mlops-dev-churn-prod-monitor"))
    }
    metrics = statements["MonitorMetrics"]
    assert metrics["Action"] == "cloudwatch:PutMetricData"
    assert metrics["Condition"] == {"StringLike": {"cloudwatch:namespace": "aws/sagemaker/*"}}
    assert statements["ExplainabilityInvoke"]["Resource"] == (
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/mlops-dev-churn-prod"
    )
    resources = {
        r for s in statements.values() for r in as_list(s["Resource"]) if isinstance(r, str)
    }
    assert f"arn:aws:s3:::mlops-dev-churn-artifacts-{ACCOUNT}/monitoring/prod/*" in resources
    assert f"arn:aws:s3:::mlops-dev-churn-curated-{ACCOUNT}/ground-truth/prod/*" in resources
    writes = [
        r
        for s in statements.values()
        if any(a.startswith("s3:Put") for a in as_list(s["Action"]))
        for r in as_list(s["Resource"])
    ]
    assert writes == [f"arn:aws:s3:::mlops-dev-churn-artifacts-{ACCOUNT}/monitoring/prod/*"]
    # No staging monitor role: staging is serverless by default.
    assert not any(
        v["Properties"].get("RoleName") == "mlops-dev-churn-staging-monitor"
        for v in deploy.values()
        if v["Type"] == "AWS::IAM::Role"
    )


def test_deploy_role_manages_only_this_environments_monitors(monitor_synth: Synthesized) -> None:
    deploy = _stack(monitor_synth, "deploy")["Resources"]
    statements = {s.get("Sid"): s for s in policy_statements(deploy, "mlops-dev-churn-deploy-cfn")}
    monitors = statements["Monitors"]
    arn = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}"
    assert sorted(monitors["Resource"]) == sorted(
        f"{arn}:{kind}/mlops-dev-churn-prod-*"
        for kind in (
            "data-quality-job-definition",
            "model-quality-job-definition",
            "model-bias-job-definition",
            "model-explainability-job-definition",
            "monitoring-schedule",
        )
    )
    assert not any(a.startswith("iam:") for a in monitors["Action"])
    passed = statements["PassEndpointRoles"]["Resource"]
    assert any("ProdMonitorRole" in r["Fn::GetAtt"][0] for r in passed)


def test_pipeline_passes_the_versions_baselines_to_the_template(monitor_synth: Synthesized) -> None:
    deploy = _stack(monitor_synth, "deploy")["Resources"]
    [pipeline] = [
        v["Properties"]
        for v in deploy.values()
        if v["Type"] == "AWS::CodePipeline::Pipeline"
        and v["Properties"]["Name"] == "mlops-dev-churn-deploy"
    ]
    [prod] = [a for s in pipeline["Stages"] for a in s["Actions"] if a["Name"] == "DeployProd"]
    text = json.dumps(prod["Configuration"]["ParameterOverrides"])
    for name in BASELINE_PARAMETERS:
        assert f'\\"{name}\\":\\"#{{variables.{name}}}\\"' in text
    assert "GroundTruthUri" not in text  # a template default


def test_template_defaults_name_the_resources_the_deploy_stack_creates(
    vpc_synth: Synthesized,
) -> None:
    """The named parameters' defaults must match the roles, topic and locations that exist."""
    stage = vpc_synth.stages["dev"]
    deploy = _stack(vpc_synth, "deploy")["Resources"]
    monitor = _stack(vpc_synth, "monitor", project=None)["Resources"]
    roles = {v["Properties"]["RoleName"] for v in deploy.values() if v["Type"] == "AWS::IAM::Role"}
    [topic] = [
        v["Properties"]["TopicName"] for v in monitor.values() if v["Type"] == "AWS::SNS::Topic"
    ]
    artifacts = f"mlops-dev-churn-artifacts-{ACCOUNT}"
    curated = f"mlops-dev-churn-curated-{ACCOUNT}"
    assert stage.projects["churn"].data.lake.bucket_name("artifacts") == artifacts
    seen = 0
    for name in (
        "mlops-dev-churn-endpoint-staging",
        "mlops-dev-churn-endpoint-prod",
        "mlops-dev-churn-monitor-batch",
    ):
        target = name.rsplit("-", 1)[1]
        parameters = endpoint_template(vpc_synth, name)["Parameters"]
        defaults = {k: v["Default"] for k, v in parameters.items() if "Default" in v}
        for key, value in defaults.items():
            seen += 1
            if key.endswith("RoleArn"):
                assert value.startswith(f"arn:aws:iam::{ACCOUNT}:role/")
                assert value.rsplit("/", 1)[1] in roles, value
            elif key == "AlarmTopicArn":
                assert value == f"arn:aws:sns:us-east-1:{ACCOUNT}:{topic}"
            elif key == "CaptureUri":
                # Where the endpoint's data capture, or batch scoring's jobs, write.
                assert value == f"s3://{artifacts}/data-capture/{target}/"
            elif key == "MonitorOutputUri":
                assert value == f"s3://{artifacts}/monitoring/{target}/"
            else:
                assert (key, value) == ("GroundTruthUri", f"s3://{curated}/ground-truth/{target}/")
    assert seen == 3 * 6 - 1  # the batch template has no ExecutionRoleArn
    scoring = next(
        v["Properties"]["Environment"]["Variables"]
        for v in deploy.values()
        if v["Type"] == "AWS::Lambda::Function"
        and v["Properties"].get("FunctionName") == "mlops-dev-churn-batch-scoring"
    )
    batch = endpoint_template(vpc_synth, "mlops-dev-churn-monitor-batch")["Parameters"]
    assert scoring["CAPTURE_URI"] == batch["CaptureUri"]["Default"]


def test_overrides_stay_under_codepipelines_limit_for_the_longest_names() -> None:
    from mlops_constructs.deploy.templates import OVERRIDES_MAX, overrides_length

    # platform_name (20) + environment (10), VPC mode with three subnets: the longest overrides.
    overrides = {
        "ModelPackageArn": "#{variables.ModelPackageArn}",
        "DataKeyArn": "${Token[TOKEN.1]}",
        **{n: f"#{{variables.{n}}}" for n in BASELINE_PARAMETERS},
        "SubnetIds": "${Token[TOKEN.2]}",
        "SecurityGroupId": "${Token[TOKEN.3]}",
    }
    longest = {"DataKeyArn": 100, "SubnetIds": 75, "SecurityGroupId": 25}
    length = overrides_length(overrides, {n: longest.get(n, 0) for n in overrides})
    assert length < OVERRIDES_MAX, length
    # Passing the named values too (as before the template defaults) would not fit.
    prefix = "p" * 20 + "-" + "e" * 10
    named = {
        "ExecutionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{prefix}-staging-endpoint",
        "CaptureUri": f"s3://{prefix}-artifacts-{ACCOUNT}/data-capture/staging/",
        "AlarmTopicArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:{prefix}-alarms",
        "MonitorRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{prefix}-staging-monitor",
        "MonitorOutputUri": f"s3://{prefix}-artifacts-{ACCOUNT}/monitoring/staging/",
        "GroundTruthUri": f"s3://{prefix}-curated-{ACCOUNT}/ground-truth/staging/",
    }
    assert overrides_length({**overrides, **named}, longest) > OVERRIDES_MAX


def test_router_passes_exactly_the_templates_baseline_variables() -> None:
    module = load_handler("deploy_router")
    assert tuple(module.BASELINE_VARIABLES) == BASELINE_PARAMETERS
    assert module.NO_BASELINE == "none"


# --- alarms topic, pipelines and the dashboard ------------------------------------------------


def test_every_alarm_notifies_the_encrypted_alarms_topic_and_is_on_the_dashboard(
    monitor_synth: Synthesized,
) -> None:
    monitor = _stack(monitor_synth, "monitor", project=None)["Resources"]
    [topic] = [v["Properties"] for v in monitor.values() if v["Type"] == "AWS::SNS::Topic"]
    assert topic["TopicName"] == "mlops-dev-alarms"
    assert "KmsMasterKeyId" in topic
    [dashboard] = [
        v["Properties"] for v in monitor.values() if v["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    assert dashboard["DashboardName"] == "mlops-dev"
    body = json.dumps(dashboard["DashboardBody"])

    found: set[str] = set()
    templates = [_stack(monitor_synth, p) for p in ("catalog", "build", "deploy")]
    templates += [
        endpoint_template(monitor_synth, f"mlops-dev-churn-endpoint-{s}")
        for s in ("staging", "prod")
    ]
    for template in templates:
        for name, alarm in _alarms(template).items():
            found.add(name)
            assert alarm["Properties"]["AlarmActions"], name
    # The dashboard's list is built from names: it must match what the stacks create.
    project = monitor_synth.stages["dev"].config.project("churn")
    assert found == set(alarm_names(project, "mlops-dev-churn"))
    assert any("drift" in name for name in found)
    for name in found:
        assert f"alarm:{name}" in body, name
    for text in (
        "mlops-dev-churn-prod",
        "feature_baseline_drift_tenure_months",
        "model-metrics",
        "mlops-dev-churn-start-training",
    ):
        assert text in body


def test_pipeline_failures_raise_alarms(default_synth: Synthesized) -> None:
    build = _stack(default_synth, "build")["Resources"]
    alarms = _alarms({"Resources": build})
    rules = {k for k, v in build.items() if v["Type"] == "AWS::Events::Rule"}
    for name in ("mlops-dev-churn-training-failed", "mlops-dev-churn-cicd-failed"):
        props = alarms[name]["Properties"]
        assert (props["Namespace"], props["MetricName"]) == ("AWS/Events", "TriggeredRules")
        [dimension] = props["Dimensions"]
        assert dimension["Name"] == "RuleName" and dimension["Value"]["Ref"] in rules
        assert props["Threshold"] == 0
    deploy = _alarms(_stack(default_synth, "deploy"))
    assert "mlops-dev-churn-deploy-failed" in deploy
    # Events a function gave up on after its retries (a lost drift signal, a lost approval).
    for name, alarms_ in (
        ("mlops-dev-churn-start-training-dlq", alarms),
        ("mlops-dev-churn-deploy-dlq", deploy),
    ):
        props = alarms_[f"{name}-not-empty"]["Properties"]
        assert (props["Namespace"], props["MetricName"]) == (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
        )
        assert props["Dimensions"][0]["Name"] == "QueueName"
        assert props["Threshold"] == 0


def test_the_ops_key_lets_cloudwatch_alarms_use_encrypted_topics(
    default_synth: Synthesized,
) -> None:
    data = _stack(default_synth, "data", project=None)["Resources"]
    statements = [
        s
        for v in data.values()
        if v["Type"] == "AWS::KMS::Key"
        and "ops" in json.dumps(v["Properties"].get("Description", ""))
        for s in v["Properties"]["KeyPolicy"]["Statement"]
    ]
    [cloudwatch] = [s for s in statements if s.get("Sid") == "CloudWatchAlarms"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert cloudwatch["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    assert cloudwatch["Condition"]["ArnLike"] == {
        "aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:*"
    }


# --- settings that change the templates (the template app alone, without the platform) -------


def _templates(monitor: MonitorSettings | None, **kwargs: Any) -> dict[str, dict[str, Any]]:
    from mlops_constructs.deploy import RealtimeSettings, synthesize_endpoint_templates
    from mlops_constructs.monitor import MonitorImages
    from stacks.context import project_context

    folder = synthesize_endpoint_templates(
        prefix="t-dev",
        stages={"prod": RealtimeSettings()},
        context=project_context(),
        monitor=monitor,
        images=MonitorImages.for_region("eu-west-1") if monitor else None,
        **kwargs,
    )
    return {p.name: json.loads(p.read_text()) for p in folder.glob("*.json")}


def test_monitoring_off_leaves_the_endpoint_alone() -> None:
    [template] = _templates(None).values()
    assert not _of_type(template, "AWS::SageMaker::MonitoringSchedule")
    assert not any("drift" in n for n in _alarms(template))
    assert "MonitorRoleArn" not in template["Parameters"]


def test_only_the_configured_monitors_and_their_parameters() -> None:
    settings = MonitorSettings(types=("data_quality",), frequency="hourly")
    templates = _templates(settings, batch_monitor=True)
    prod = templates["t-dev-endpoint-prod.template.json"]
    assert {v["Type"] for v in prod["Resources"].values() if v["Type"] in JOB_TYPES} == {
        "AWS::SageMaker::DataQualityJobDefinition"
    }
    # No labelled monitor: no ground truth; only the baselines the monitor reads.
    assert list(prod["Parameters"]) == [
        "ModelPackageArn",
        "ExecutionRoleArn",
        "DataKeyArn",
        "CaptureUri",
        "AlarmTopicArn",
        "MonitorRoleArn",
        "MonitorOutputUri",
        "DataQualityStatistics",
        "DataQualityConstraints",
    ]
    [schedule] = _of_type(prod, "AWS::SageMaker::MonitoringSchedule").values()
    config = schedule["Properties"]["MonitoringScheduleConfig"]
    assert config["ScheduleConfig"]["ScheduleExpression"] == "cron(0 * ? * * *)"
    # The region's Model Monitor image, from the SDK's offline table.
    dq = _props(prod, "AWS::SageMaker::DataQualityJobDefinition")
    assert (
        ".dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer"
        in (dq["DataQualityAppSpecification"]["ImageUri"])
    )
    assert set(_alarms(prod)) >= {"t-dev-prod-drift-data"}
    assert "t-dev-prod-drift-model-quality" not in _alarms(prod)
    batch = templates["t-dev-monitor-batch.template.json"]
    assert "ExecutionRoleArn" not in batch["Parameters"]


def test_every_hosting_type_the_config_accepts_has_a_known_vcpu_count() -> None:
    from mlops_constructs.deploy.endpoint import vcpus
    from stacks import aws_facts

    # SageMaker's own list (botocore), so the CPU alarm of any accepted type can be built.
    counts = {t: vcpus(t) for t in aws_facts.instance_types("hosting")}
    assert counts["ml.m5.large"] == 2 and counts["ml.c5.4xlarge"] == 16
    assert counts["ml.t2.medium"] == 2
    with pytest.raises(ValueError, match="vCPU"):
        vcpus("ml.p4d.metal")


def test_the_dashboard_can_be_left_out() -> None:
    import aws_cdk as cdk
    from aws_cdk import assertions

    from stacks.context import project_context
    from stacks.data_stack import DataStack
    from stacks.monitor_stack import MonitorStack

    config = parse_config({"dashboard": False, "projects": [churn(**MODEL_MONITOR)]})
    app = cdk.App(context=project_context())
    env = cdk.Environment(account=ACCOUNT, region="us-east-1")
    environment = config.environments[0]
    data = DataStack(app, "Data", config=config, environment=environment, env=env)
    monitor = MonitorStack(
        app, "Monitor", config=config, environment=environment.name, data=data, env=env
    )
    assert monitor.dashboard is None
    template = assertions.Template.from_stack(monitor)
    template.resource_count_is("AWS::CloudWatch::Dashboard", 0)
    template.resource_properties_count_is("AWS::SNS::Topic", {"TopicName": "mlops-dev-alarms"}, 1)


_MODEL_MONITOR_TYPE = re.compile(r"^AWS::SageMaker::(\w+JobDefinition|MonitoringSchedule)$")


def test_default_configuration_uses_no_model_monitor_debugger_or_clarify(
    default_synth: Synthesized,
) -> None:
    """Model Monitor, Debugger and Clarify are closed to new AWS customers: the default
    platform creates none of their resources, in the app's stacks or in the endpoint templates
    the deploy pipeline deploys, and its training pipeline has no step or hook using them."""
    config = default_synth.stages["dev"].config
    assert config == PlatformConfig()
    project = config.project("churn")
    assert project.monitor.service == "open" and monitor_settings(project) is None
    # Every template: the stacks' (assembly-*/) and the deploy stack's asset (asset.*/).
    paths = sorted(default_synth.outdir.glob("**/*.template.json"))
    names = {p.name.removesuffix(".template.json") for p in paths}
    assert {f"mlops-dev-churn-endpoint-{s}" for s in ("staging", "prod")} <= names
    assert "mlops-dev-churn-monitor-batch" not in names
    assert set(default_synth.template_paths) < set(paths)
    for path in paths:
        template = json.loads(path.read_text())
        kinds = {v["Type"] for v in template.get("Resources", {}).values()}
        assert not {k for k in kinds if _MODEL_MONITOR_TYPE.match(k)}, path.name
        assert not any(p.startswith(("Monitor", "Ground")) for p in template.get("Parameters", {}))
        assert not set(BASELINE_PARAMETERS) & set(template.get("Parameters", {})), path.name
    # No monitor role in the deploy stack.
    deploy = _stack(default_synth, "deploy")["Resources"]
    assert not any(
        v["Properties"].get("RoleName", "").endswith("-monitor")
        for v in deploy.values()
        if v["Type"] == "AWS::IAM::Role"
    )
    # The training pipeline: no Debugger rule or hook, no Clarify job, no Model Monitor check.
    [pipeline] = [
        v["Properties"]
        for v in _stack(default_synth, "build")["Resources"].values()
        if v["Type"] == "AWS::SageMaker::Pipeline"
    ]
    body, _ = pipeline["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    definition = json.loads(body)
    steps = list(definition["Steps"])
    for condition in [s for s in steps if s["Type"] == "Condition"]:
        steps += [*condition["Arguments"]["IfSteps"], *condition["Arguments"]["ElseSteps"]]
    assert not [s["Name"] for s in steps if s["Type"] in ("QualityCheck", "ClarifyCheck")]
    [train] = [s["Arguments"] for s in steps if s["Type"] == "Training"]
    for key in ("DebugRuleConfigurations", "DebugHookConfig", "ProfilerRuleConfigurations"):
        assert key not in train
    text = json.dumps(definition).lower()
    for image in ("clarify", "model-monitor", "debugger"):
        assert image not in text


def test_without_model_monitor_alarms_dashboard_and_router_stay(
    default_synth: Synthesized,
) -> None:
    """Model Monitor is off by default (open monitoring watches instead): health and pipeline
    alarms, the dashboard and the router's baseline variables stay; the drift alarms are the
    open monitoring's, in the deploy stack."""
    monitor_off = default_synth
    assert monitor_off.violations() == []
    prod = endpoint_template(monitor_off, "mlops-dev-churn-endpoint-prod")
    assert not _of_type(prod, "AWS::SageMaker::MonitoringSchedule")
    assert not any(p.startswith(("Monitor", "Ground")) for p in prod["Parameters"])
    # Health alarms stay (of the default production's inference component: no disk metric,
    # and the alarm that wakes it up); drift alarms go.
    assert {n.rsplit("-prod-", 1)[1] for n in _alarms(prod)} == {
        "5xx",
        "latency-p99",
        "4xx",
        "cpu",
        "memory",
        "no-capacity",
    }
    deploy = _stack(monitor_off, "deploy")["Resources"]
    assert not any(
        v["Properties"].get("RoleName", "").endswith("-monitor")
        for v in deploy.values()
        if v["Type"] == "AWS::IAM::Role"
    )
    [pipeline] = [
        v["Properties"]
        for v in deploy.values()
        if v["Type"] == "AWS::CodePipeline::Pipeline"
        and v["Properties"]["Name"] == "mlops-dev-churn-deploy"
    ]
    # The router passes the baselines whatever the configuration: CodePipeline refuses
    # variables a pipeline does not declare.
    assert [v["Name"] for v in pipeline["Variables"]] == ["ModelPackageArn", *BASELINE_PARAMETERS]
    [dashboard] = [
        v["Properties"]
        for v in _stack(monitor_off, "monitor", project=None)["Resources"].values()
        if v["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    body = json.dumps(dashboard["DashboardBody"])
    assert "feature_baseline_drift" not in body and "mlops-dev-churn-prod-cpu" in body
    names = alarm_names(PlatformConfig().project("churn"), "mlops-dev-churn")
    drift = [n for n in names if "drift" in n]
    assert drift == ["mlops-dev-churn-prod-drift-data", "mlops-dev-churn-prod-drift-model-quality"]
    assert set(drift) <= set(_alarms(_stack(monitor_off, "deploy")))
    # Every alarm the stacks and templates create is named, so it is on the dashboard.
    found = {
        name
        for template in [
            *(_stack(monitor_off, p) for p in ("catalog", "build", "deploy")),
            *(endpoint_template(monitor_off, f"mlops-dev-churn-endpoint-{s}") for s in STAGES),
        ]
        for name in _alarms(template)
    }
    assert found == set(names)
    for name in names:
        assert f"alarm:{name}" in body, name


def test_every_function_logs_json_to_an_encrypted_group_with_configured_retention(
    default_synth: Synthesized, custom_synth: Synthesized, vpc_synth: Synthesized
) -> None:
    """The pack's LOG1 enforces retention and a key on every group; here: the configured
    retention, and that each function writes JSON to its own such group."""
    checked = 0
    for synth, retention in ((default_synth, 365), (custom_synth, None), (vpc_synth, 365)):
        for path in synth.template_paths:
            resources = json.loads(path.read_text())["Resources"]
            groups = {
                k: v["Properties"]
                for k, v in resources.items()
                if v["Type"] == "AWS::Logs::LogGroup"
            }
            for props in groups.values():
                assert "KmsKeyId" in props and "RetentionInDays" in props
                if retention is not None:
                    assert props["RetentionInDays"] in (retention, 90)  # 90: VPC flow logs
            for function in (
                v["Properties"] for v in resources.values() if v["Type"] == "AWS::Lambda::Function"
            ):
                checked += 1
                config = function["LoggingConfig"]
                assert config["LogFormat"] == "JSON"
                assert config["LogGroup"]["Ref"] in groups
    # trigger, champion, fingerprint, experiment tracking, model card, router, staging test,
    # release check, open monitoring, front door (on by default); custom: + batch scoring (in
    # 3 environments); VPC (Model Monitor): + batch, model import, but no open monitoring, and
    # its second project on the defaults but for its own pipeline (no Track step, so no
    # tracking function)
    assert checked == 10 + 3 * 11 + 11 + 9


def test_config_defaults_are_the_constructs_defaults() -> None:
    """stacks/config.py cannot import the construct library (app.py validates before jsii
    starts), so the defaults are written twice: they must agree."""
    from stacks.config import MONITOR_TYPES

    assert MonitorSettings().types == MONITOR_TYPES
    project = parse_config(
        {"projects": [churn(monitor={"enabled": True, "service": "model_monitor"})]}
    ).project("churn")
    assert monitor_settings(project) == MonitorSettings()
    # The default project watches its serving inputs, the constructs' default features.
    assert PlatformConfig().project("churn").monitored_features == MonitorSettings().features


def test_nobody_is_subscribed_unless_configured(default_synth: Synthesized) -> None:
    """The default configuration names no subscriber (notifications: {}): no topic of any stack
    has a subscription; config/example.yaml's are checked in tests/test_release_path.py."""
    for path in default_synth.template_paths:
        template = json.loads(path.read_text())
        types = {r["Type"] for r in template.get("Resources", {}).values()}
        assert "AWS::SNS::Subscription" not in types, path.name
