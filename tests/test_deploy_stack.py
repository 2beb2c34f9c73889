"""The deploy layer: approved model -> staging -> test -> approval -> production."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_constructs.compute import function_architecture, function_runtime, powertools_layer_arn
from mlops_constructs.monitor import BASELINE_PARAMETERS
from tests.conftest import Synthesized
from tests.templates import as_list, endpoint_template, policy_statements

# What the four monitors of a real-time endpoint read (the version's baselines and the rest).
MONITOR_PARAMETERS = ("MonitorRoleArn", "MonitorOutputUri", "GroundTruthUri", *BASELINE_PARAMETERS)

ACCOUNT = "123456789012"


def _resources(synth: Synthesized, env: str = "dev") -> dict[str, Any]:
    stage = synth.stages[env]
    assert stage.projects["churn"].deploy is not None
    res: dict[str, Any] = synth.template_json(stage.projects["churn"].deploy)["Resources"]
    return res


def _typed(resources: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [v["Properties"] for v in resources.values() if v["Type"] == kind]


@pytest.fixture(scope="module")
def deploy(monitor_synth: Synthesized) -> dict[str, Any]:
    """The deploy stack of the churn project with Model Monitor on (all features)."""
    return _resources(monitor_synth)


@pytest.fixture(scope="module")
def pipeline(deploy: dict[str, Any]) -> dict[str, Any]:
    return next(
        p
        for p in _typed(deploy, "AWS::CodePipeline::Pipeline")
        if p["Name"] == "mlops-dev-churn-deploy"
    )


def _actions(pipeline: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["Name"]: a for stage in pipeline["Stages"] for a in stage["Actions"]}


def test_staging_test_reads_the_projects_request_and_response_format(
    deploy: dict[str, Any],
) -> None:
    function = next(
        f
        for f in _typed(deploy, "AWS::Lambda::Function")
        if f["FunctionName"] == "mlops-dev-churn-endpoint-test"
    )
    variables = function["Environment"]["Variables"]
    assert json.loads(variables["RESPONSE_CONTRACT"]) == {
        "problem_type": "binary_classification",
        "prediction_field": "churned",
        "probability_field": "churn_probability",
        "classes": None,
        "input_columns": [
            "tenure_months",
            "monthly_charges",
            "total_charges",
            "support_calls",
            "contract_type",
        ],
    }
    payloads = json.loads(variables["SAMPLE_PAYLOADS"])
    assert [p["content_type"] for p in payloads] == ["text/csv", "application/json"]
    assert payloads[0]["body"] == "12,70.5,845.0,3,month-to-month"


def test_stages_in_order_with_manual_approval_by_default(pipeline: dict[str, Any]) -> None:
    assert pipeline["PipelineType"] == "V2"
    assert pipeline["ExecutionMode"] == "SUPERSEDED"
    assert [s["Name"] for s in pipeline["Stages"]] == [
        "Source",
        "Staging",
        "TestStaging",
        "Approve",
        "Production",
    ]
    assert pipeline["Variables"][0] == {
        "Name": "ModelPackageArn",
        "DefaultValue": "none",
        "Description": "The approved model package version to deploy",
    }
    # The deployed version's monitoring baselines, which the router passes (see test_monitor).
    assert [v["Name"] for v in pipeline["Variables"][1:]] == list(BASELINE_PARAMETERS)
    assert {v["DefaultValue"] for v in pipeline["Variables"][1:]} == {"none"}
    approve = _actions(pipeline)["ApproveProduction"]
    assert approve["ActionTypeId"]["Category"] == "Approval"
    assert "NotificationArn" in approve["Configuration"]


def test_every_deployment_is_verified_against_the_registry_first(
    deploy: dict[str, Any], pipeline: dict[str, Any]
) -> None:
    """Staging and production each start with VerifyRelease (lambda/release_check): the version
    is re-read from the registry after the approval, before production (issue 13)."""
    stages = {s["Name"]: s["Actions"] for s in pipeline["Stages"]}
    for stage, deployed in (("Staging", {"DeployStaging"}), ("Production", {"DeployProd"})):
        verify = [a for a in stages[stage] if a["Name"] == "VerifyRelease"]
        assert len(verify) == 1 and verify[0]["RunOrder"] == 1, stage
        assert verify[0]["ActionTypeId"]["Provider"] == "Lambda"
        others = [a for a in stages[stage] if a["Name"] != "VerifyRelease"]
        assert {a["Name"] for a in others} >= deployed
        assert {a["RunOrder"] for a in others} == {2}
        text = verify[0]["Configuration"]["UserParameters"]
        assert len(text) <= 1000  # CodePipeline's limit
        parameters = json.loads(text)
        assert parameters["stage"] == ("staging" if stage == "Staging" else "prod")
        assert parameters["model_package_arn"] == "#{variables.ModelPackageArn}"
        assert parameters["baselines"] == {
            name: f"#{{variables.{name}}}" for name in BASELINE_PARAMETERS
        }
    [function] = [
        f
        for f in _typed(deploy, "AWS::Lambda::Function")
        if f["FunctionName"] == "mlops-dev-churn-release-check"
    ]
    assert function["Environment"]["Variables"]["MODEL_PACKAGE_GROUP"] == "mlops-dev-churn-models"


def test_no_manual_approval_when_configured_off(custom_synth: Synthesized) -> None:
    pipeline = next(
        p
        for p in _typed(_resources(custom_synth, "prod"), "AWS::CodePipeline::Pipeline")
        if p["Name"] == "acme-ml-prod-churn-deploy"
    )
    assert [s["Name"] for s in pipeline["Stages"]] == [
        "Source",
        "Staging",
        "TestStaging",
        "Production",
    ]


def _overrides(value: Any) -> dict[str, Any]:
    """ParameterOverrides as a dict; CloudFormation references become "<token>"."""
    if isinstance(value, dict) and "Fn::Join" in value:
        value = "".join(p if isinstance(p, str) else "<token>" for p in value["Fn::Join"][1])
    overrides: dict[str, Any] = json.loads(value)
    return overrides


def test_cloudformation_actions_deploy_the_approved_version(pipeline: dict[str, Any]) -> None:
    actions = _actions(pipeline)
    staging = actions["DeployStaging"]["Configuration"]
    assert staging["StackName"] == "mlops-dev-churn-endpoint-staging"
    assert staging["TemplatePath"] == "Templates::mlops-dev-churn-endpoint-staging.template.json"
    staging_params = _overrides(staging["ParameterOverrides"])
    # The serverless staging template takes only the model and the role, whose ARN follows
    # from its name: a template default, not an override (test_monitor checks the defaults).
    assert set(staging_params) == {"ModelPackageArn"}
    assert staging_params["ModelPackageArn"] == "#{variables.ModelPackageArn}"
    prod = actions["DeployProd"]["Configuration"]
    assert prod["StackName"] == "mlops-dev-churn-endpoint-prod"
    # What changes per deployment or cannot be named: CodePipeline keeps overrides to 1,000
    # characters.
    assert set(_overrides(prod["ParameterOverrides"])) == {
        "ModelPackageArn",
        "DataKeyArn",
        *BASELINE_PARAMETERS,
    }
    for action in (actions["DeployStaging"], actions["DeployProd"]):
        assert action["Configuration"]["ActionMode"] == "CREATE_UPDATE"
        assert "RoleArn" in action["Configuration"]  # the deploy role, not admin
        assert "Capabilities" not in action["Configuration"]  # no IAM in the templates


def test_staging_test_checks_the_approved_model_with_sample_payloads(
    pipeline: dict[str, Any], deploy: dict[str, Any]
) -> None:
    test = _actions(pipeline)["InvokeStaging"]
    assert test["ActionTypeId"]["Provider"] == "Lambda"
    params = json.loads(test["Configuration"]["UserParameters"])
    assert params["endpoint_name"] == "mlops-dev-churn-staging"
    assert params["model_package_arn"] == "#{variables.ModelPackageArn}"
    assert params["max_latency_ms"] == 2000
    assert len(test["Configuration"]["UserParameters"]) < 1000  # CodePipeline's limit
    function = next(
        v["Properties"] for v in deploy.values()
        if v["Type"] == "AWS::Lambda::Function"
        and v["Properties"]["FunctionName"] == "mlops-dev-churn-endpoint-test"
    )  # fmt: skip
    payloads = json.loads(function["Environment"]["Variables"]["SAMPLE_PAYLOADS"])
    assert [p["content_type"] for p in payloads] == ["text/csv", "application/json"]
    assert function["Timeout"] == 180


def test_router_starts_the_pipeline_on_approvals_only(deploy: dict[str, Any]) -> None:
    router_id = next(
        k
        for k, v in deploy.items()
        if v["Type"] == "AWS::Lambda::Function"
        and v["Properties"]["FunctionName"] == "mlops-dev-churn-deploy-router"
    )
    rule = next(
        r
        for r in _typed(deploy, "AWS::Events::Rule")
        if any(t["Arn"] == {"Fn::GetAtt": [router_id, "Arn"]} for t in r.get("Targets", []))
    )
    assert rule["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {
            "ModelPackageGroupName": ["mlops-dev-churn-models"],
            "ModelApprovalStatus": ["Approved", "Rejected"],
        },
    }
    env = deploy[router_id]["Properties"]["Environment"]["Variables"]
    assert env == {
        "MODEL_PACKAGE_GROUP": "mlops-dev-churn-models",
        "DEPLOY_PIPELINE": "mlops-dev-churn-deploy",
        "DEPLOYED_PARAMETER": "/mlops-dev-churn/deploy/last-started",
    }
    assert "DeadLetterConfig" in deploy[router_id]["Properties"]


def test_deploy_role_is_scoped_to_this_environments_endpoints(deploy: dict[str, Any]) -> None:
    statements = {
        s.get("Sid", str(i)): s
        for i, s in enumerate(policy_statements(deploy, "mlops-dev-churn-deploy-cfn"))
    }
    assert sorted(statements["Endpoints"]["Resource"]) == [
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/mlops-dev-churn-prod",
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/mlops-dev-churn-staging",
    ]
    passes = statements["PassEndpointRoles"]
    assert passes["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    # The two endpoint roles and the production monitor's (staging is serverless: no monitors).
    assert len(passes["Resource"]) == 3
    for statement in statements.values():
        assert not any(
            a.startswith("iam:") and a not in ("iam:PassRole", "iam:CreateServiceLinkedRole")
            for a in as_list(statement["Action"])
        )
        if "*" in as_list(statement["Resource"]):
            # Only actions without resource-level permissions: Describe and List.
            assert all(
                a.startswith("application-autoscaling:Describe")
                or a == "sagemaker:ListModelPackages"
                for a in as_list(statement["Action"])
            )


def test_endpoint_roles_read_models_and_write_their_capture_prefix(deploy: dict[str, Any]) -> None:
    statements = policy_statements(deploy, "mlops-dev-churn-prod-endpoint")
    resources = [r for s in statements for r in as_list(s["Resource"]) if isinstance(r, str)]
    assert f"arn:aws:s3:::mlops-dev-churn-artifacts-{ACCOUNT}/data-capture/prod/*" in resources


def test_production_template_is_realtime_and_safe(monitor_synth: Synthesized) -> None:
    template = endpoint_template(monitor_synth, "mlops-dev-churn-endpoint-prod")
    assert set(template["Parameters"]) == {
        "ModelPackageArn",
        "ExecutionRoleArn",
        "DataKeyArn",
        "CaptureUri",
        "AlarmTopicArn",
        *MONITOR_PARAMETERS,
    }
    resources = template["Resources"]
    assert not any(v["Type"].startswith("AWS::IAM::") for v in resources.values())
    [model] = _typed(resources, "AWS::SageMaker::Model")
    assert model["EnableNetworkIsolation"] is True
    assert model["Containers"] == [{"ModelPackageName": {"Ref": "ModelPackageArn"}}]
    [config] = _typed(resources, "AWS::SageMaker::EndpointConfig")
    assert config["KmsKeyId"] == {"Ref": "DataKeyArn"}
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == {"Ref": "CaptureUri"}
    [endpoint] = _typed(resources, "AWS::SageMaker::Endpoint")
    assert endpoint["EndpointName"] == "mlops-dev-churn-prod"
    assert (
        endpoint["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"]
        == "CANARY"
    )
    [target] = _typed(resources, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 2)
    assert "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint" in json.dumps(
        target["RoleARN"]
    )
    assert "Rules" not in template  # bootstrapless: no bootstrap-version check to fail


def test_staging_template_is_serverless_by_default(default_synth: Synthesized) -> None:
    template = endpoint_template(default_synth, "mlops-dev-churn-endpoint-staging")
    assert set(template["Parameters"]) == {"ModelPackageArn", "ExecutionRoleArn"}
    [config] = _typed(template["Resources"], "AWS::SageMaker::EndpointConfig")
    assert config["ProductionVariants"][0]["ServerlessConfig"] == {
        "MemorySizeInMB": 2048,
        "MaxConcurrency": 5,
    }


def test_config_shapes_the_endpoints(custom_synth: Synthesized) -> None:
    prod = endpoint_template(custom_synth, "acme-ml-prod-churn-endpoint-prod")
    [config] = _typed(prod["Resources"], "AWS::SageMaker::EndpointConfig")
    assert config["ProductionVariants"][0]["InstanceType"] == "ml.c5.xlarge"
    [endpoint] = _typed(prod["Resources"], "AWS::SageMaker::Endpoint")
    routing = endpoint["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "LINEAR"
    assert routing["LinearStepSize"] == {"Type": "CAPACITY_PERCENT", "Value": 25}
    alarms = {a["AlarmName"]: a for a in _typed(prod["Resources"], "AWS::CloudWatch::Alarm")}
    assert alarms["acme-ml-prod-churn-prod-latency-p99"]["Threshold"] == 250_000
    staging = endpoint_template(custom_synth, "acme-ml-prod-churn-endpoint-staging")
    [staging_config] = _typed(staging["Resources"], "AWS::SageMaker::EndpointConfig")
    assert staging_config["ProductionVariants"][0]["InstanceType"] == "ml.t2.medium"


def test_vpc_mode_places_endpoints_and_functions_in_the_vpc(vpc_synth: Synthesized) -> None:
    prod = endpoint_template(vpc_synth, "mlops-dev-churn-endpoint-prod")
    assert {"SubnetIds", "SecurityGroupId"} <= set(prod["Parameters"])
    [model] = _typed(prod["Resources"], "AWS::SageMaker::Model")
    assert model["VpcConfig"]["SecurityGroupIds"] == [{"Ref": "SecurityGroupId"}]
    for function in _typed(_resources(vpc_synth), "AWS::Lambda::Function"):
        assert "VpcConfig" in function, function["FunctionName"]


def test_front_door_is_on_by_default_and_captures_the_scale_to_zero_production(
    default_synth: Synthesized,
) -> None:
    """The default production idles at zero instances (an inference component, ADR 0014), so
    its front door captures what it serves (ADR 0033)."""
    deploy = _resources(default_synth)
    [api] = _typed(deploy, "AWS::ApiGateway::RestApi")
    assert api["Name"] == "mlops-dev-churn-front-door"
    [door] = [
        f for f in _typed(deploy, "AWS::Lambda::Function")
        if f["FunctionName"] == "mlops-dev-churn-front-door"
    ]  # fmt: skip
    # 10 executions reserved (requests in flight): every project's functions reserve 21 in all,
    # so an account's 900 reservable executions hold 42 projects (14 if it reserved its rate).
    assert door["ReservedConcurrentExecutions"] == 10
    reserved = sum(
        f.get("ReservedConcurrentExecutions", 0)
        for path in default_synth.template_paths
        for f in _typed(json.loads(path.read_text())["Resources"], "AWS::Lambda::Function")
    )
    assert reserved == 21
    settings = door["Environment"]["Variables"]
    assert settings["INFERENCE_COMPONENT_NAME"] == "mlops-dev-churn-prod"
    assert (settings["CAPTURE_PERCENT"], settings["CAPTURE_VARIANT"]) == ("20", "AllTraffic")
    assert "/data-capture/prod/" in json.dumps(settings["CAPTURE_URI"])


def test_front_door_api_is_iam_authorized_throttled_and_logged(vpc_synth: Synthesized) -> None:
    resources = _resources(vpc_synth)
    [api] = _typed(resources, "AWS::ApiGateway::RestApi")
    assert api["Name"] == "mlops-dev-churn-front-door"
    assert api["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    [method] = _typed(resources, "AWS::ApiGateway::Method")
    assert (method["HttpMethod"], method["AuthorizationType"]) == ("POST", "AWS_IAM")
    assert "RequestValidatorId" in method
    [stage] = _typed(resources, "AWS::ApiGateway::Stage")
    assert stage["StageName"] == "v1" and stage["TracingEnabled"] is True
    assert stage["MethodSettings"][0]["ThrottlingRateLimit"] == 50
    assert stage["MethodSettings"][0]["ThrottlingBurstLimit"] == 100
    assert "DestinationArn" in stage["AccessLogSetting"]
    function = next(
        f for f in _typed(resources, "AWS::Lambda::Function")
        if f["FunctionName"] == "mlops-dev-churn-front-door"
    )  # fmt: skip
    assert function["Environment"]["Variables"] == {"ENDPOINT_NAME": "mlops-dev-churn-prod"}
    assert function["Timeout"] == 25 and "VpcConfig" in function
    groups = {g["LogGroupName"]: g for g in _typed(resources, "AWS::Logs::LogGroup")}
    assert "KmsKeyId" in groups["/mlops-dev-churn/api/front-door"]


def test_batch_scoring_runs_on_its_schedule_in_the_vpc(vpc_synth: Synthesized) -> None:
    resources = _resources(vpc_synth)
    function_id, function = next(
        (k, v["Properties"]) for k, v in resources.items()
        if v["Type"] == "AWS::Lambda::Function"
        and v["Properties"]["FunctionName"] == "mlops-dev-churn-batch-scoring"
    )  # fmt: skip
    env = function["Environment"]["Variables"]
    assert env["MODEL_PACKAGE_GROUP"] == "mlops-dev-churn-models"
    assert env["MODEL_PREFIX"] == "mlops-dev-churn-batch"
    assert env["INPUT_URI"] == f"s3://mlops-dev-churn-artifacts-{ACCOUNT}/batch/input/"
    assert env["OUTPUT_URI"] == f"s3://mlops-dev-churn-artifacts-{ACCOUNT}/batch/output/"
    assert {"SUBNET_IDS", "SECURITY_GROUP_ID", "KMS_KEY_ARN"} <= set(env)
    assert "VpcConfig" in function and "DeadLetterConfig" in function
    triggers = [
        r for r in _typed(resources, "AWS::Events::Rule")
        if any(t["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]} for t in r.get("Targets", []))
    ]  # fmt: skip
    assert sorted(r.get("ScheduleExpression", "manual") for r in triggers) == [
        "manual",
        "rate(1 day)",
    ]
    statements = policy_statements(resources, "mlops-dev-churn-batch-scoring")
    passes = next(s for s in statements if s.get("Sid") == "PassModelRole")
    assert passes["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }


def test_batch_scoring_is_off_by_default(deploy: dict[str, Any]) -> None:
    names = [f["FunctionName"] for f in _typed(deploy, "AWS::Lambda::Function")]
    assert "mlops-dev-churn-batch-scoring" not in names


def test_every_function_has_the_shared_and_the_powertools_layer(
    default_synth: Synthesized,
) -> None:
    stage = default_synth.stages["dev"]
    for stack in (stage.projects["churn"].build, stage.projects["churn"].deploy):
        assert stack is not None
        resources = default_synth.template_json(stack)["Resources"]
        [layer] = [k for k, v in resources.items() if v["Type"] == "AWS::Lambda::LayerVersion"]
        assert resources[layer]["Properties"]["CompatibleRuntimes"] == ["python3.14"]
        powertools = powertools_layer_arn(function_runtime(), function_architecture())
        for function in _typed(resources, "AWS::Lambda::Function"):
            assert function["Layers"] == [{"Ref": layer}, powertools], function["FunctionName"]


def test_a_failed_action_pages_but_a_rejected_approval_does_not(deploy: dict[str, Any]) -> None:
    """The deploy-failed alarm counts the rule that matches failed actions other than
    approvals: EventBridge's own pattern matching (moto) over a failed deployment, a failed
    staging test and a rejected production approval."""
    import boto3
    from moto import mock_aws

    [alarm] = [
        a for a in _typed(deploy, "AWS::CloudWatch::Alarm")
        if a["AlarmName"] == "mlops-dev-churn-deploy-failed"
    ]  # fmt: skip
    [dimension] = alarm["Dimensions"]
    rule_id = dimension["Value"]["Ref"]
    pattern = deploy[rule_id]["Properties"]["EventPattern"]
    pipeline_arn = "arn:aws:codepipeline:us-east-1:123456789012:mlops-dev-churn-deploy"
    pattern["resources"] = [pipeline_arn]  # the rule's own, resolved

    def event(category: str, action: str) -> str:
        return json.dumps(
            {
                "id": "1",
                "source": "aws.codepipeline",
                "detail-type": "CodePipeline Action Execution State Change",
                "account": "123456789012",
                "region": "us-east-1",
                "time": "2026-12-06T12:00:00Z",
                "resources": [pipeline_arn],
                "detail": {
                    "pipeline": "mlops-dev-churn-deploy",
                    "stage": "Production",
                    "action": action,
                    "state": "FAILED",
                    "type": {"owner": "AWS", "category": category, "provider": "x"},
                },
            }
        )

    with mock_aws():
        events_client = boto3.client("events", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue = sqs.create_queue(QueueName="matched")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        events_client.put_rule(Name="failed", EventPattern=json.dumps(pattern))
        events_client.put_targets(
            Rule="failed", Targets=[{"Id": "q", "Arn": queue_arn["Attributes"]["QueueArn"]}]
        )

        def matches(category: str, action: str) -> bool:
            body = json.loads(event(category, action))
            events_client.put_events(
                Entries=[
                    {
                        "Source": body["source"],
                        "DetailType": body["detail-type"],
                        "Resources": body["resources"],
                        "Detail": json.dumps(body["detail"]),
                    }
                ]
            )
            received = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages", [])
            for message in received:
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            return bool(received)

        assert matches("Deploy", "DeployProduction")
        assert matches("Invoke", "TestStaging")
        assert not matches("Approval", "Approve")
