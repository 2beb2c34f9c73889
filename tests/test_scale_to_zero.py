"""ModelEndpoint with ``ScaleToZeroSettings``: an inference component on an endpoint that scales
to zero instances (docs/decisions/0014-scale-to-zero.md), under every rule pack and cfn-lint."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from mlops_constructs.data import DataLake, DataLakeRef
from mlops_constructs.deploy import (
    EndpointRole,
    ModelEndpoint,
    ScaleToZeroSettings,
    capture_prefix,
)
from mlops_constructs.notifications import NotificationTopic
from mlops_constructs.runbooks import Runbook
from mlops_constructs.security import PlatformKey
from stacks.app_builder import project_context
from stacks.config import ConfigError, parse_config
from stacks.guardrails import add_rule_packs
from tests.conftest import churn, rule_pack_findings
from tests.templates import cfn_lint

ENV = cdk.Environment(account="123456789012", region="us-east-1")
SHARED = "mlops-dev"
PROJECT = "mlops-dev-churn"
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-dev-churn-models/3"
CFN_LINT = [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", "--"]
HOSTING = ScaleToZeroSettings(max_instances=3, copy_cpu_cores=1, copy_memory_mb=2048)


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    outdir: Path = tmp_path_factory.mktemp("scale-to-zero")
    app = cdk.App(
        outdir=str(outdir),
        context={**project_context(), "@aws-cdk/core:failSynthOnValidationErrors": False},
    )
    stage = cdk.Stage(app, "t", env=ENV)
    data = cdk.Stack(stage, "Data")
    key = PlatformKey(data, "DataKey", prefix=SHARED, purpose="data", description="d")
    lake = DataLake(data, "Lake", key=key, bucket_name_prefix=PROJECT)
    hosting = cdk.Stack(stage, "Hosting")
    ref = DataLakeRef.of(hosting, "Lake", lake)
    role = EndpointRole(hosting, "Role", prefix=PROJECT, stage="prod", lake=ref).role
    topic = NotificationTopic(hosting, "Alarms", prefix=SHARED, name="alarms", key=key, title="a")
    ModelEndpoint(
        hosting,
        "Prod",
        prefix=PROJECT,
        stage="prod",
        model_package_arn=PACKAGE,
        role=role,
        key_arn=key.key_arn,
        capture_uri=ref.artifacts.s3_url_for_object(capture_prefix("prod")),
        alarm_topic=topic.topic,
        hosting=HOSTING,
    )
    add_rule_packs(app)
    app.synth()
    report = json.loads((outdir / "validation-report.json").read_text())
    template_file = next(outdir.glob("assembly-t/tHosting*.template.json"))
    report["cfn_lint"] = cfn_lint([template_file])
    return json.loads(template_file.read_text())["Resources"], report


def _typed(resources: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [v["Properties"] for v in resources.values() if v["Type"] == kind]


def _one(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    found = _typed(resources, kind)
    assert len(found) == 1, (kind, found)
    return found[0]


def test_rule_packs_and_cfn_lint_find_nothing(synth: Any) -> None:
    _, report = synth
    assert rule_pack_findings(report["pluginReports"]) == []
    assert report["cfn_lint"] == ""


def test_config_scales_instances_to_zero_encrypted_isolated_and_captures_nothing(
    synth: Any,
) -> None:
    resources, _ = synth
    config = _one(resources, "AWS::SageMaker::EndpointConfig")
    (variant,) = config["ProductionVariants"]
    assert "ModelName" not in variant  # the model is the component's
    assert variant["ManagedInstanceScaling"] == {
        "Status": "ENABLED",
        "MinInstanceCount": 0,
        "MaxInstanceCount": 3,
    }
    assert variant["RoutingConfig"] == {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.m5.large", 1)
    assert "KmsKeyId" in config and config["EnableNetworkIsolation"] is True
    assert "ExecutionRoleArn" in config
    # The front door captures what an endpoint of components serves (ADR 0033).
    assert "DataCaptureConfig" not in config


def test_model_is_isolated_and_serves_the_package(synth: Any) -> None:
    resources, _ = synth
    model = _one(resources, "AWS::SageMaker::Model")
    assert model["EnableNetworkIsolation"] is True
    assert model["Containers"] == [{"ModelPackageName": PACKAGE}]


def test_component_rolls_out_copy_by_copy_and_rolls_back_on_alarms(synth: Any) -> None:
    resources, _ = synth
    component = _one(resources, "AWS::SageMaker::InferenceComponent")
    assert component["InferenceComponentName"] == "mlops-dev-churn-prod"
    assert component["VariantName"] == "AllTraffic"
    spec = component["Specification"]
    assert "Ref" in spec["ModelName"] or "Fn::GetAtt" in spec["ModelName"]
    assert spec["ComputeResourceRequirements"] == {
        "NumberOfCpuCoresRequired": 1,
        "MinMemoryRequiredInMb": 2048,
    }
    assert component["RuntimeConfig"] == {"CopyCount": 1}
    deployment = component["DeploymentConfig"]
    assert deployment["RollingUpdatePolicy"]["MaximumBatchSize"] == {
        "Type": "COPY_COUNT",
        "Value": 1,
    }
    assert deployment["RollingUpdatePolicy"]["WaitIntervalInSeconds"] == 300
    names = [
        resources[a["AlarmName"]["Ref"]]["Properties"]["AlarmName"]
        for a in deployment["AutoRollbackConfiguration"]["Alarms"]
    ]
    assert names == ["mlops-dev-churn-prod-5xx", "mlops-dev-churn-prod-latency-p99"]
    endpoint = _one(resources, "AWS::SageMaker::Endpoint")
    assert "DeploymentConfig" not in endpoint  # the config never changes with a version


def test_copies_scale_between_zero_and_max(synth: Any) -> None:
    resources, _ = synth
    target = _one(resources, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["ResourceId"] == "inference-component/mlops-dev-churn-prod"
    assert target["ScalableDimension"] == "sagemaker:inference-component:DesiredCopyCount"
    # ml.m5.large: 2 vCPUs, 1 core a copy: 2 copies an instance, 3 instances.
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 6)
    policies = {
        p["PolicyType"]: p for p in _typed(resources, "AWS::ApplicationAutoScaling::ScalingPolicy")
    }
    tracking = policies["TargetTrackingScaling"]["TargetTrackingScalingPolicyConfiguration"]
    assert (
        tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
        == "SageMakerInferenceComponentInvocationsPerCopy"
    )
    step = policies["StepScaling"]["StepScalingPolicyConfiguration"]
    assert step["AdjustmentType"] == "ChangeInCapacity"
    assert step["StepAdjustments"] == [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]


def test_no_capacity_alarm_starts_a_copy_and_notifies_nobody(synth: Any) -> None:
    resources, _ = synth
    alarms = {a["AlarmName"]: a for a in _typed(resources, "AWS::CloudWatch::Alarm")}
    wake = alarms["mlops-dev-churn-prod-no-capacity"]
    assert wake["MetricName"] == "NoCapacityInvocationFailures"
    assert wake["Dimensions"] == [
        {"Name": "InferenceComponentName", "Value": "mlops-dev-churn-prod"}
    ]
    assert wake["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    # Its own runbook section (tests/test_runbooks.py counts on this link).
    assert wake["AlarmDescription"].endswith(
        "Runbook: docs/runbooks.md#" + Runbook.ENDPOINT_NO_CAPACITY.value
    )
    (action,) = wake["AlarmActions"]
    assert "Ref" in action  # the step policy, not a topic
    step_id = action["Ref"]
    assert resources[step_id]["Type"] == "AWS::ApplicationAutoScaling::ScalingPolicy"
    # Rollback and health alarms watch the component and notify the topic.
    assert sorted(alarms) == sorted(
        f"mlops-dev-churn-prod-{s}"
        for s in ("5xx", "latency-p99", "4xx", "cpu", "memory", "no-capacity")
    )
    cpu = alarms["mlops-dev-churn-prod-cpu"]
    assert (cpu["Namespace"], cpu["MetricName"], cpu["Threshold"]) == (
        "/aws/sagemaker/InferenceComponents",
        "CPUUtilizationNormalized",
        80,
    )
    assert alarms["mlops-dev-churn-prod-5xx"]["Dimensions"] == wake["Dimensions"]


def test_settings_reject_what_the_option_cannot_do() -> None:
    assert HOSTING.copies_per_instance == 2
    assert ScaleToZeroSettings(copy_cpu_cores=4, instance_type="ml.m5.large").max_copies == 2


# -- configuration ------------------------------------------------------------------------------


def _config(deploy: dict[str, Any], **sections: Any) -> Any:
    return parse_config({"projects": [churn(deploy=deploy)], **sections}, source="config.yaml")


def test_scale_to_zero_is_a_hosting_of_either_stage_and_runs_in_vpc_mode() -> None:
    both = {"staging": {"hosting": "scale_to_zero"}, "production": {"hosting": "scale_to_zero"}}
    config = _config({**both, "front_door": {"enabled": True}}, network={"vpc_mode": True})
    deploy = config.projects[0].deploy
    assert (deploy.staging.hosting, deploy.production.hosting) == ("scale_to_zero",) * 2


@pytest.mark.parametrize(
    ("deploy", "message"),
    [
        (
            {"production": {"hosting": "scale_to_zero", "min_instances": 1}},
            "deploy.production: min_instances does not apply to hosting: scale_to_zero, whose "
            "minimum is 0 instances. Fix: remove min_instances, or use hosting: realtime",
        ),
        (
            {"production": {"hosting": "always_on"}},
            "hosting: 'always_on' is not one of 'realtime', 'scale_to_zero' or 'serverless'. "
            "Fix: use one of them",
        ),
    ],
)
def test_what_scale_to_zero_cannot_do_is_refused(deploy: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        _config(deploy)
    assert message in str(err.value)


def test_a_monitored_scale_to_zero_production_needs_its_capturing_front_door() -> None:
    deploy = {"production": {"hosting": "scale_to_zero"}, "front_door": {"enabled": False}}
    with pytest.raises(ConfigError) as err:
        _config(deploy)
    assert (
        "deploy.production.hosting is scale_to_zero, whose traffic only the front door "
        "captures" in str(err.value)
    )
    assert "Fix: set deploy.front_door.enabled: true, or monitor.enabled: false" in str(err.value)
    # Unmonitored, nothing reads a capture: the front door may stay off.
    unmonitored = churn(deploy=deploy, monitor={"enabled": False})
    config = parse_config({"projects": [unmonitored]}, source="config.yaml")
    assert config.projects[0].deploy.front_door.enabled is False


def test_only_a_production_behind_its_front_door_is_captured() -> None:
    from stacks.topology import captured, open_targets

    both = {"staging": {"hosting": "scale_to_zero"}, "production": {"hosting": "scale_to_zero"}}
    project = _config({**both, "front_door": {"enabled": True}}).projects[0]
    assert [captured(project, s) for s in ("staging", "prod")] == [False, True]
    assert open_targets(project) == ["prod"]
    realtime = _config({"staging": {"hosting": "realtime"}}).projects[0]
    assert open_targets(realtime) == ["staging", "prod"]  # their configs capture
    serverless = _config({}).projects[0]
    assert [captured(serverless, s) for s in ("staging", "prod")] == [False, True]


def test_model_monitor_is_refused_with_scale_to_zero() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(
            {
                "projects": [
                    churn(
                        deploy={"production": {"hosting": "scale_to_zero"}},
                        monitor={"service": "model_monitor"},
                    )
                ]
            },
            source="config.yaml",
        )
    assert "Fix: use monitor.service: open, or hosting: realtime" in str(err.value)


# -- the platform with scale_to_zero staging and production ------------------------------------


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.conftest import synthesize

    config = parse_config(
        {
            "projects": [
                churn(
                    deploy={
                        "staging": {"hosting": "scale_to_zero"},
                        "production": {"hosting": "scale_to_zero"},
                        "front_door": {"enabled": True},
                    }
                )
            ]
        }
    )
    return synthesize(config, tmp_path_factory.mktemp("platform-s2z"))


def _deploy_resources(platform: Any) -> dict[str, Any]:
    [path] = [p for p in platform.template_paths if "churnDeploy" in p.name]
    resources: dict[str, Any] = json.loads(path.read_text())["Resources"]
    return resources


def test_platform_passes_every_rule_pack_and_cfn_lint(platform: Any) -> None:
    from tests.templates import endpoint_template

    assert platform.violations() == []
    templates = [
        p for p in platform.outdir.glob("asset.*/*.template.json") if "endpoint-" in p.name
    ]
    assert len(templates) == 2
    for name in ("mlops-dev-churn-endpoint-staging", "mlops-dev-churn-endpoint-prod"):
        resources = endpoint_template(platform, name)["Resources"]
        types = {r["Type"] for r in resources.values()}
        assert "AWS::SageMaker::InferenceComponent" in types
    assert cfn_lint(templates) == ""


def test_deploy_role_may_manage_exactly_the_two_components(platform: Any) -> None:
    from tests.templates import as_list, policy_statements

    statements = policy_statements(_deploy_resources(platform), "mlops-dev-churn-deploy-cfn")
    [components] = [s for s in statements if s.get("Sid") == "InferenceComponents"]
    assert sorted(as_list(components["Action"])) == [
        "sagemaker:AddTags",
        "sagemaker:CreateInferenceComponent",
        "sagemaker:DeleteInferenceComponent",
        "sagemaker:DescribeInferenceComponent",
        "sagemaker:UpdateInferenceComponent",
        "sagemaker:UpdateInferenceComponentRuntimeConfig",
    ]
    resources = json.dumps(components["Resource"])
    assert "inference-component/mlops-dev-churn-staging" in resources
    assert "inference-component/mlops-dev-churn-prod" in resources
    assert "*" not in resources


def test_invokers_name_the_component(platform: Any) -> None:
    resources = _deploy_resources(platform)
    functions = {
        r["Properties"].get("FunctionName"): r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function"
    }
    door = functions["mlops-dev-churn-front-door"]["Environment"]["Variables"]
    assert door["INFERENCE_COMPONENT_NAME"] == "mlops-dev-churn-prod"
    [pipeline] = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::CodePipeline::Pipeline"
        and r["Properties"].get("Name") == "mlops-dev-churn-deploy"
    ]
    [test] = [
        a for stage in pipeline["Stages"] for a in stage["Actions"] if a["Name"] == "InvokeStaging"
    ]
    parameters = json.dumps(test["Configuration"]["UserParameters"])
    assert '\\"inference_component_name\\":\\"mlops-dev-churn-staging\\"' in parameters


def _front_door(platform: Any) -> dict[str, Any]:
    door: dict[str, Any]
    [door] = [
        r["Properties"]
        for r in _deploy_resources(platform).values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("FunctionName") == "mlops-dev-churn-front-door"
    ]
    return door


def test_the_front_door_captures_production_where_the_monitoring_reads(platform: Any) -> None:
    from tests.templates import endpoint_template

    settings = _front_door(platform)["Environment"]["Variables"]
    assert (settings["CAPTURE_PERCENT"], settings["CAPTURE_VARIANT"]) == ("20", "AllTraffic")
    uri = json.dumps(settings["CAPTURE_URI"])
    assert "s3://" in uri and "/data-capture/prod/" in uri
    # The endpoints of components capture nothing themselves, and take no capture parameter.
    for stage in ("staging", "prod"):
        template = endpoint_template(platform, f"mlops-dev-churn-endpoint-{stage}")
        [config] = [
            r["Properties"]
            for r in template["Resources"].values()
            if r["Type"] == "AWS::SageMaker::EndpointConfig"
        ]
        assert "DataCaptureConfig" not in config
        assert "CaptureUri" not in template["Parameters"]


def test_the_front_door_may_write_its_capture_and_nothing_else(platform: Any) -> None:
    """Simulated over the synthesized policies (the role's and the bucket's): PutObject
    under its own endpoint's capture prefix only, no read or delete, and the data key's data
    keys for S3; the staging test's endpoint is not the front door's. The endpoints' own roles
    write no capture (their configs capture nothing). The approver and the operator read each
    component (which version it serves, for mlops status and rollback) and change none."""
    from tests.iam_sim import Inventory, environments_of_assembly, session_request, simulate

    inventory = Inventory(environments_of_assembly(platform.outdir)["dev"])
    roles = inventory.roles()
    policies = inventory.resource_policies()
    door_role = _front_door(platform)["Role"]["Fn::GetAtt"][0]
    [role] = [r for r in roles.values() if r.logical_id == door_role]
    account = inventory.account
    bucket = f"arn:aws:s3:::mlops-dev-churn-artifacts-{account}"
    hour = "2026/12/07/17/04-05-006-req-1.jsonl"
    ours = f"{bucket}/data-capture/prod/mlops-dev-churn-prod/AllTraffic/{hour}"
    asks = [
        ("s3:PutObject", ours, True),
        ("s3:GetObject", ours, False),
        ("s3:DeleteObject", ours, False),
        (
            "s3:PutObject",
            f"{bucket}/data-capture/staging/mlops-dev-churn-staging/AllTraffic/x",
            False,
        ),
        ("s3:PutObject", f"{bucket}/data-capture/prod/mlops-dev-other-prod/AllTraffic/x", False),
        ("s3:PutObject", f"{bucket}/sealed/model.tar.gz", False),
    ]
    requests = [
        session_request(role, account, "t", action=action, resource=arn, resource_policy=bucket)
        for action, arn, _ in asks
    ]
    [key] = [
        inventory.arn_of(stack, logical_id)
        for stack, logical_id, _ in inventory.resources_of_type("AWS::KMS::Key")
        if logical_id.startswith("DataKey")
    ]
    via_s3 = (("kms:ViaService", f"s3.{inventory.region}.amazonaws.com"),)
    requests.append(
        session_request(
            role,
            account,
            "t",
            action="kms:GenerateDataKey",
            resource=key,
            context=via_s3,
            resource_policy=key if key in policies else None,
        )
    )
    # The endpoints of components capture nothing: their roles may not write a capture.
    endpoint_roles = [
        r for r in roles.values() if r.name in ("mlops-dev-churn-prod-endpoint",
                                                 "mlops-dev-churn-staging-endpoint")
    ]  # fmt: skip
    assert len(endpoint_roles) == 2
    requests += [
        session_request(
            endpoint_role,
            account,
            "t",
            action="s3:PutObject",
            resource=f"{bucket}/data-capture/{stage}/mlops-dev-churn-{stage}/AllTraffic/x.jsonl",
            resource_policy=bucket,
        )
        for endpoint_role in endpoint_roles
        for stage in ("staging", "prod")
    ]
    # What the approver and the operator read before a rollback (mlops status): the component
    # names the model it serves; they change nothing.
    component = f"arn:aws:sagemaker:{inventory.region}:{account}:inference-component"
    readers = [r for r in roles.values() if r.name.endswith(("-churn-approver", "-churn-operator"))]
    assert len(readers) == 2
    reads = [
        (action, f"{component}/mlops-dev-churn-{stage}")
        for stage in ("staging", "prod")
        for action in ("sagemaker:DescribeInferenceComponent", "sagemaker:UpdateInferenceComponent")
    ]
    # ... and whether copies run without requests (mlops status: runbook step 5): metrics are
    # read, never written.
    alarm = (
        f"arn:aws:cloudwatch:{inventory.region}:{account}:alarm:mlops-dev-churn-prod-no-capacity"
    )
    reads += [("cloudwatch:GetMetricStatistics", "*"), ("cloudwatch:DeleteAlarms", alarm)]
    requests += [
        session_request(reader, account, "t", action=action, resource=arn)
        for reader in readers
        for action, arn in reads
    ]
    identity = {r.arn: list(r.policies) for r in roles.values()}
    decisions = simulate(requests, identity, policies, account)
    assert all(d.error is None for d in decisions), [d.error for d in decisions if d.error]
    allowed_reads = ("sagemaker:DescribeInferenceComponent", "cloudwatch:GetMetricStatistics")
    reading = [action in allowed_reads for action, _ in reads] * 2
    assert [d.allowed for d in decisions] == [ok for *_, ok in asks] + [True] + [
        False
    ] * 4 + reading


def test_captures_the_front_door_could_not_write_are_counted_and_graphed(platform: Any) -> None:
    """Its WARNING line becomes MLOps/FrontDoor CapturesNotWritten by endpoint, and each
    prediction it returns PredictionsReturned (metric filters: no idle cost), graphed beside the
    requests that found no copy; for production only, whose front door captures (a
    scale_to_zero staging is not captured)."""
    from tests.test_dashboard import dashboards, sections

    filters = {
        f["MetricTransformations"][0]["MetricName"]: f
        for f in (
            r["Properties"]
            for r in _deploy_resources(platform).values()
            if r["Type"] == "AWS::Logs::MetricFilter"
        )
    }
    assert set(filters) == {"CapturesNotWritten", "PredictionsReturned"}
    for name, message in (
        ("CapturesNotWritten", "capture not written"),
        ("PredictionsReturned", "prediction returned"),
    ):
        assert filters[name]["FilterPattern"] == f'{{ $.message = "{message}" }}'
        [transformation] = filters[name]["MetricTransformations"]
        assert transformation["MetricNamespace"] == "MLOps/FrontDoor"
        assert transformation["Dimensions"] == [{"Key": "EndpointName", "Value": "$.endpoint"}]
    [widgets] = dashboards(platform).values()
    churn = sections(widgets)["churn"]
    graphs = {w["properties"].get("title"): json.dumps(w) for w in churn}
    prod = graphs["mlops-dev-churn-prod: copies (%) and cold starts"]
    staging = graphs["mlops-dev-churn-staging: copies (%) and cold starts"]
    assert '"CapturesNotWritten", "EndpointName", "mlops-dev-churn-prod"' in prod
    assert "CapturesNotWritten" not in staging


def test_requests_that_bypass_the_front_door_are_graphed(platform: Any) -> None:
    """ADR 0033 captures what the front door serves; a caller that invokes the endpoint
    directly is not captured. The production row graphs the component's invocations the front
    door did not return (clamped at zero), from metrics that cost nothing while idle."""
    from tests.test_dashboard import dashboards, sections

    [widgets] = dashboards(platform).values()
    churn = sections(widgets)["churn"]
    [prod] = [
        w for w in churn if w["properties"].get("title") == "mlops-dev-churn-prod: copies (%) and cold starts"
    ]  # fmt: skip
    metrics = prod["properties"]["metrics"]
    [expression] = [m[0] for m in metrics if isinstance(m[0], dict) and "expression" in m[0]]
    assert expression["expression"] == (
        "IF(FILL(served, 0) - FILL(door, 0) > 0, FILL(served, 0) - FILL(door, 0), 0)"
    )
    assert expression["label"] == "requests not through the front door (not captured)"
    text = json.dumps(metrics)
    assert (
        '"AWS/SageMaker", "Invocations", "InferenceComponentName", "mlops-dev-churn-prod"' in text
    )
    assert (
        '"MLOps/FrontDoor", "PredictionsReturned", "EndpointName", "mlops-dev-churn-prod"' in text
    )
    [staging] = [
        w for w in churn
        if w["properties"].get("title") == "mlops-dev-churn-staging: copies (%) and cold starts"
    ]  # fmt: skip
    assert "PredictionsReturned" not in json.dumps(staging)
