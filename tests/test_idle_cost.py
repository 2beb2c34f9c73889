"""The idle-cost report (tools/idle_cost.py) against hand-computed figures.

Expected amounts are written out from tools/prices.json (us-east-1 unless said otherwise), so a
price change shows up here as a failing figure, on purpose. No synth, no network.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tools.idle_cost import CostReport, build_report, format_report, load_prices, main
from tools.idle_cost import report_for_templates as price_templates

REPO = Path(__file__).resolve().parents[1]
HOURS = 730


def res(rtype: str, **props: Any) -> dict[str, Any]:
    """A template resource."""
    return {"Type": rtype, "Properties": props}


def variant(instance_type: str, count: int, name: str = "AllTraffic") -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": "m",
        "InstanceType": instance_type,
        "InitialInstanceCount": count,
    }


def endpoint_on(config: str) -> dict[str, Any]:
    return res(
        "AWS::SageMaker::Endpoint",
        EndpointConfigName={"Fn::GetAtt": [config, "EndpointConfigName"]},
    )


def scalable_target(
    endpoint: str, minimum: int, variant_name: str = "AllTraffic"
) -> dict[str, Any]:
    return res(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        ServiceNamespace="sagemaker",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=minimum,
        MaxCapacity=4,
        ResourceId={
            "Fn::Join": [
                "",
                [
                    "endpoint/",
                    {"Fn::GetAtt": [endpoint, "EndpointName"]},
                    f"/variant/{variant_name}",
                ],
            ]
        },
    )


def platform_template() -> dict[str, Any]:
    """One of each case of the brief, with a known total."""
    return {
        "Resources": {
            "KeyA": res("AWS::KMS::Key", EnableKeyRotation=True),
            "KeyB": res("AWS::KMS::Key"),
            "KeyAlias": res("AWS::KMS::Alias", AliasName="alias/a", TargetKeyId={"Ref": "KeyA"}),
            "Nat": res("AWS::EC2::NatGateway", SubnetId={"Ref": "PublicSubnet"}),
            "ApiEndpoint": res(
                "AWS::EC2::VPCEndpoint",
                VpcEndpointType="Interface",
                ServiceName="com.amazonaws.us-east-1.sagemaker.api",
                SubnetIds=[{"Ref": "SubnetA"}, {"Ref": "SubnetB"}],
                VpcId={"Ref": "Vpc"},
            ),
            "S3Endpoint": res(
                "AWS::EC2::VPCEndpoint",
                ServiceName={"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".s3"]]},
                VpcId={"Ref": "Vpc"},
            ),
            "Dashboard": res("AWS::CloudWatch::Dashboard", DashboardBody="{}"),
            "Alarm1": res("AWS::CloudWatch::Alarm", MetricName="Errors", Period=300),
            "Alarm2": res("AWS::CloudWatch::Alarm", MetricName="Throttles", Period=60),
            "Alarm3": res("AWS::CloudWatch::Alarm", MetricName="Latency", Period=300),
            "TwoLargeConfig": res(
                "AWS::SageMaker::EndpointConfig", ProductionVariants=[variant("ml.m5.large", 2)]
            ),
            "TwoLarge": endpoint_on("TwoLargeConfig"),
            "ScaledConfig": res(
                "AWS::SageMaker::EndpointConfig", ProductionVariants=[variant("ml.m5.large", 2)]
            ),
            "Scaled": endpoint_on("ScaledConfig"),
            "ScaledTarget": scalable_target("Scaled", 1),
            "ServerlessConfig": res(
                "AWS::SageMaker::EndpointConfig",
                ProductionVariants=[
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": "m",
                        "ServerlessConfig": {"MaxConcurrency": 5, "MemorySizeInMB": 2048},
                    }
                ],
            ),
            "Serverless": endpoint_on("ServerlessConfig"),
            "GpuConfig": res(
                "AWS::SageMaker::EndpointConfig",
                ProductionVariants=[variant("ml.p4d.24xlarge", 1)],
            ),
            "Gpu": endpoint_on("GpuConfig"),
            "Mystery": res("AWS::Foo::Bar"),
            "Bucket": res("AWS::S3::Bucket"),
            "Metadata": {"Type": "AWS::CDK::Metadata", "Metadata": {}},
        }
    }


def only(report: CostReport, logical_id: str) -> float | None:
    [line] = [line for line in report.lines if line.logical_id == logical_id]
    return line.monthly_usd


def test_total_matches_hand_computed_figures() -> None:
    report = price_templates({"platform": platform_template()})

    assert only(report, "KeyA") == pytest.approx(1.00)
    assert only(report, "Nat") == pytest.approx(0.045 * 730)  # 32.85
    assert only(report, "ApiEndpoint") == pytest.approx(2 * 0.01 * 730)  # 14.60
    assert only(report, "S3Endpoint") == 0.0
    assert only(report, "Dashboard") == pytest.approx(3.00)
    assert only(report, "Alarm1") == pytest.approx(0.10)
    assert only(report, "TwoLarge") == pytest.approx(2 * 0.115 * 730)  # 167.90
    assert only(report, "TwoLargeConfig") == 0.0  # its instances are on the endpoint line
    assert only(report, "Scaled") == pytest.approx(1 * 0.115 * 730)  # MinCapacity 1: 83.95
    assert only(report, "Serverless") == 0.0
    assert report.total == pytest.approx(
        2 * 1.00  # two customer managed keys
        + 0.045 * 730  # NAT gateway
        + 2 * 0.01 * 730  # interface endpoint in 2 AZs
        + 3.00  # dashboard
        + 3 * 0.10  # three standard alarms
        + 2 * 0.115 * 730  # 2 x ml.m5.large
        + 1 * 0.115 * 730  # 2 x ml.m5.large scaled in to MinCapacity 1
    )
    assert report.total == pytest.approx(304.60)
    assert report.stack_totals == {"platform": pytest.approx(304.60)}
    assert not any("wake-up" in note for note in report.notes)  # no endpoint scales to zero


def test_unknown_types_and_unpriced_instances_are_listed_not_zero() -> None:
    report = price_templates({"platform": platform_template()})

    assert report.unknown_types == {"AWS::Foo::Bar": 1}
    [gpu] = report.unpriced
    assert (gpu.logical_id, gpu.monthly_usd) == ("Gpu", None)
    assert "no price for ml.p4d.24xlarge" in gpu.how
    text = format_report(report)
    assert re.search(r"AWS::Foo::Bar\s+x1", text)
    assert re.search(r"Gpu\s+AWS::SageMaker::Endpoint\s+unknown", text)
    assert "plus 2 resource(s) with unknown cost" in text


def test_known_free_types_cost_nothing() -> None:
    template = {
        "Resources": {
            "Role": res("AWS::IAM::Role"),
            "Db": res("AWS::Glue::Database"),
            "Job": res("AWS::Glue::Job"),
            "Crawler": res("AWS::Glue::Crawler"),
            "Rule": res("AWS::Events::Rule"),
            "Topic": res("AWS::SNS::Topic"),
            "Trail": res("AWS::CloudTrail::Trail"),
            "Fn": res("AWS::Lambda::Function"),
            "Pipeline": res("AWS::SageMaker::Pipeline"),
            "Group": res("AWS::SageMaker::ModelPackageGroup"),
            "Machine": res("AWS::StepFunctions::StateMachine"),
            "Logs": res("AWS::Logs::LogGroup"),
            "Flow": res("AWS::EC2::FlowLog"),
            "Provider": res("Custom::S3AutoDeleteObjects"),
            "Metadata": res("AWS::CDK::Metadata"),
            # The front door's REST API (on by default): per request only, without a cache.
            "Api": res("AWS::ApiGateway::RestApi"),
            "Stage": res("AWS::ApiGateway::Stage", StageName="v1"),
            "Deployment": res("AWS::ApiGateway::Deployment"),
            "Path": res("AWS::ApiGateway::Resource"),
            "Method": res("AWS::ApiGateway::Method"),
            "Validator": res("AWS::ApiGateway::RequestValidator"),
        }
    }
    report = price_templates({"free": template})

    assert report.total == 0.0
    assert report.unknown_types == {}
    assert {line.kind for line in report.lines} == {"free"}
    assert any("$0.03" in note and "GB-month" in note for note in report.notes)


def test_an_api_stage_with_a_cache_cluster_is_unpriced_not_free() -> None:
    stage = res("AWS::ApiGateway::Stage", CacheClusterEnabled=True, CacheClusterSize="0.5")
    report = price_templates({"api": {"Resources": {"Stage": stage}}})
    [line] = report.lines
    assert (line.kind, line.monthly_usd) == ("unpriced", None)
    assert "cache cluster" in line.how


def test_experiment_tracking_costs_its_mlflow_server_only() -> None:
    """ADR 0023: the Track step's function and role cost nothing idle; a project's MLflow
    tracking server bills per hour by size (build.experiments.mlflow.size; the service's
    default, Small, when the template names none), and its VPC endpoint like any other."""
    template = {
        "Resources": {
            "Track": res("AWS::Lambda::Function", FunctionName="p-experiment-tracking"),
            "TrackRole": res("AWS::IAM::Role"),
            "Small": res("AWS::SageMaker::MlflowTrackingServer", TrackingServerSize="Small"),
            "Large": res("AWS::SageMaker::MlflowTrackingServer", TrackingServerSize="Large"),
            "Unsized": res("AWS::SageMaker::MlflowTrackingServer"),
        }
    }
    report = price_templates({"build": template})

    assert (only(report, "Track"), only(report, "TrackRole")) == (0.0, 0.0)
    assert only(report, "Small") == pytest.approx(0.642 * HOURS)  # 468.66
    assert only(report, "Large") == pytest.approx(2.568 * HOURS)  # 1874.64
    assert only(report, "Unsized") == only(report, "Small")
    assert any("sagemaker_mlflow_tracking_server_hour" in n and "unverified" in n
               for n in report.notes)  # fmt: skip


def test_chat_channels_cost_nothing_and_say_so() -> None:
    """AWS Chatbot is free: a $0 line per channel configuration and a note on what does bill."""
    template = {
        "Resources": {
            "Slack": res("AWS::Chatbot::SlackChannelConfiguration"),
            "Teams": res("AWS::Chatbot::MicrosoftTeamsChannelConfiguration"),
            "Role": res("AWS::IAM::Role"),
            "Guardrail": res("AWS::IAM::ManagedPolicy"),
        }
    }
    report = price_templates({"chat": template})

    assert report.total == 0.0 and report.unknown_types == {}
    lines = {line.logical_id: line for line in report.lines}
    for name in ("Slack", "Teams"):
        assert (lines[name].kind, lines[name].monthly_usd) == ("free", 0.0)
        assert "AWS Chatbot is free ($0)" in lines[name].how
    [note] = [n for n in report.notes if n.startswith("Chat channels")]
    assert "cost nothing" in note and "0 while idle" in note
    assert note in format_report(report)


def test_studio_domain_costs_its_storage_only() -> None:
    """ADR 0022: the domain $0 plus its home EFS at 1 GB per user profile (an assumption the
    line states); each profile one private space's EBS volume at its default size (the
    profile's own, else the domain's, else SageMaker's 5 GB); apps bill only while running."""
    idle = {
        "AppLifecycleManagement": {
            "IdleSettings": {"LifecycleManagement": "ENABLED", "IdleTimeoutInMinutes": 90}
        }
    }

    def storage(gigabytes: int) -> dict[str, Any]:
        sizes = {"DefaultEbsVolumeSizeInGb": gigabytes, "MaximumEbsVolumeSizeInGb": 100}
        return {"SpaceStorageSettings": {"DefaultEbsStorageSettings": sizes}}

    studio = {
        "Resources": {
            "Domain": res(
                "AWS::SageMaker::Domain",
                DefaultUserSettings={"JupyterLabAppSettings": idle, **storage(10)},
            ),
            "Alice": res("AWS::SageMaker::UserProfile", UserProfileName="alice"),
            "Bob": res("AWS::SageMaker::UserProfile", UserSettings=storage(20)),
        }
    }
    bare = {"Resources": {"Carol": res("AWS::SageMaker::UserProfile")}}
    report = price_templates({"studio": studio, "bare": bare})

    assert report.unknown_types == {}
    by_id = {line.logical_id: line for line in report.lines}
    assert by_id["Domain"].monthly_usd == pytest.approx(2 * 1.0 * 0.30)
    assert "domain: no charge" in by_id["Domain"].how and "1 GB assumed" in by_id["Domain"].how
    assert by_id["Alice"].monthly_usd == pytest.approx(10 * 0.14)
    assert by_id["Bob"].monthly_usd == pytest.approx(20 * 0.14)
    assert by_id["Carol"].monthly_usd == pytest.approx(5 * 0.14)
    assert "stopped after 90 idle minutes" in by_id["Alice"].how
    assert "no idle shutdown here" in by_id["Carol"].how
    assert report.total == pytest.approx(0.60 + 1.40 + 2.80 + 0.70)
    assert any(n.startswith("SageMaker Studio: the domain costs nothing") for n in report.notes)
    assert any("'sagemaker_studio_space_storage_gb_month'" in n for n in report.notes)


def test_codepipeline_v1_bills_monthly_v2_and_on_demand_tables_do_not() -> None:
    template = {
        "Resources": {
            "V2": res("AWS::CodePipeline::Pipeline", PipelineType="V2"),
            "V1": res("AWS::CodePipeline::Pipeline", PipelineType="V1"),
            "Untyped": res("AWS::CodePipeline::Pipeline"),
            "Guard": res("AWS::DynamoDB::GlobalTable", BillingMode="PAY_PER_REQUEST"),
            "Provisioned": res("AWS::DynamoDB::GlobalTable", BillingMode="PROVISIONED"),
        }
    }
    report = price_templates({"ci": template})

    by_id = {line.logical_id: line.monthly_usd for line in report.lines}
    assert by_id == {"V2": 0.0, "V1": 1.0, "Untyped": 1.0, "Guard": 0.0, "Provisioned": None}
    assert report.total == pytest.approx(2.0)


def test_interface_endpoint_without_literal_subnets_assumes_two_azs() -> None:
    endpoint = res(
        "AWS::EC2::VPCEndpoint",
        VpcEndpointType="Interface",
        ServiceName="com.amazonaws.us-east-1.logs",
        SubnetIds={"Fn::Split": [",", {"Ref": "Subnets"}]},
    )
    report = price_templates({"net": {"Resources": {"Logs": endpoint}}})

    assert report.total == pytest.approx(2 * 0.01 * 730)
    assert any("2 AZs assumed" in note for note in report.notes)


def test_alarm_metrics_resolution_and_composites() -> None:
    math_alarm = res(
        "AWS::CloudWatch::Alarm",
        Metrics=[
            {"Id": "a", "MetricStat": {"Metric": {"MetricName": "A"}, "Period": 60}},
            {"Id": "b", "MetricStat": {"Metric": {"MetricName": "B"}, "Period": 60}},
            {"Id": "c", "MetricStat": {"Metric": {"MetricName": "C"}, "Period": 60}},
            {"Id": "e", "Expression": "a+b+c"},
        ],
    )
    anomaly = res(
        "AWS::CloudWatch::Alarm",
        Metrics=[
            {"Id": "m", "MetricStat": {"Metric": {"MetricName": "M"}, "Period": 300}},
            {"Id": "band", "Expression": "ANOMALY_DETECTION_BAND(m, 2)"},
        ],
    )
    high = res("AWS::CloudWatch::Alarm", MetricName="Fast", Period=10)
    composite = res("AWS::CloudWatch::CompositeAlarm", AlarmRule="ALARM(a)")
    report = price_templates(
        {
            "ops": {
                "Resources": {"Math": math_alarm, "Band": anomaly, "High": high, "Any": composite}
            }
        }
    )

    assert only(report, "Math") == pytest.approx(3 * 0.10)
    assert only(report, "Band") == pytest.approx(3 * 0.10)
    assert only(report, "High") == pytest.approx(0.30)
    assert only(report, "Any") == pytest.approx(0.50)


def test_target_tracking_policies_bill_their_two_managed_alarms() -> None:
    """Application Auto Scaling creates a scale-out and a scale-in alarm per target tracking
    policy, in the account, billed like any alarm; a step scaling policy has none of its own."""

    def tracking(**config: object) -> dict[str, object]:
        return res(
            "AWS::ApplicationAutoScaling::ScalingPolicy",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={"TargetValue": 100, **config},
        )

    predefined = {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}
    fast = {
        "PredefinedMetricType": "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"
    }
    math = {
        "Metrics": [
            {"Id": "a", "MetricStat": {"Metric": {"MetricName": "A"}, "Stat": "Sum"}},
            {"Id": "b", "MetricStat": {"Metric": {"MetricName": "B"}, "Stat": "Sum"}},
            {"Id": "e", "Expression": "a/b", "ReturnData": True},
        ]
    }
    template = {
        "Resources": {
            "Tracking": tracking(PredefinedMetricSpecification=predefined),
            "Fast": tracking(PredefinedMetricSpecification=fast),
            "Math": tracking(CustomizedMetricSpecification=math),
            "Step": res("AWS::ApplicationAutoScaling::ScalingPolicy", PolicyType="StepScaling"),
        }
    }
    report = price_templates({"scaling": template})

    assert only(report, "Tracking") == pytest.approx(2 * 0.10)
    assert only(report, "Fast") == pytest.approx(2 * 0.30)
    assert only(report, "Math") == pytest.approx(2 * 2 * 0.10)
    assert only(report, "Step") == 0.0
    assert any("two CloudWatch alarms per policy" in note for note in report.notes)


def test_endpoint_config_counting_rules() -> None:
    serverless_pc = {
        "VariantName": "AllTraffic",
        "ModelName": "m",
        "ServerlessConfig": {
            "MaxConcurrency": 5,
            "MemorySizeInMB": 2048,
            "ProvisionedConcurrency": 2,
        },
    }
    template = {
        "Resources": {
            # Used by no endpoint, no fixed name, not exported: nothing runs.
            "Orphan": res(
                "AWS::SageMaker::EndpointConfig", ProductionVariants=[variant("ml.c5.large", 1)]
            ),
            # Exported for another stack's endpoint: cannot tell, so counted.
            "Shared": res(
                "AWS::SageMaker::EndpointConfig", ProductionVariants=[variant("ml.c5.xlarge", 1)]
            ),
            "PcConfig": res("AWS::SageMaker::EndpointConfig", ProductionVariants=[serverless_pc]),
            "Pc": endpoint_on("PcConfig"),
            "Mlflow": res("AWS::SageMaker::MlflowTrackingServer", TrackingServerSize="Medium"),
        },
        "Outputs": {"SharedName": {"Value": {"Fn::GetAtt": ["Shared", "EndpointConfigName"]}}},
    }
    report = price_templates({"ml": template})

    assert only(report, "Orphan") == 0.0
    assert only(report, "Shared") == pytest.approx(0.204 * 730)  # 148.92
    assert only(report, "Pc") == pytest.approx(2 * (2048 / 1024) * 0.0176292 * 730)
    assert only(report, "Mlflow") == pytest.approx(1.284 * 730)
    assert any("marked unverified" in note for note in report.notes)


def write_assembly(
    root: Path, name: str, environment: str | None, template: dict[str, Any]
) -> None:
    """A nested cloud assembly ``root/assembly-<name>/`` with one stack, as `cdk synth` writes."""
    folder = root / f"assembly-{name}"
    folder.mkdir(parents=True)
    stack_id = f"{name}Stack"
    artifact: dict[str, Any] = {
        "type": "aws:cloudformation:stack",
        "properties": {"templateFile": f"{stack_id}.template.json", "stackName": f"app-{name}"},
        "displayName": f"{name}/Stack",
    }
    if environment is not None:
        artifact["environment"] = environment
    manifest = {"version": "55.0.0", "artifacts": {stack_id: artifact}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / f"{stack_id}.template.json").write_text(json.dumps(template))


def nat_and_key() -> dict[str, Any]:
    return {"Resources": {"Nat": res("AWS::EC2::NatGateway"), "Key": res("AWS::KMS::Key")}}


@pytest.fixture
def cdk_out(tmp_path: Path) -> Path:
    root = tmp_path / "cdk.out"
    write_assembly(root, "dev", "aws://123456789012/eu-west-1", nat_and_key())
    write_assembly(root, "prod", "aws://123456789012/ap-south-1", nat_and_key())
    write_assembly(root, "any", "aws://unknown-account/unknown-region", nat_and_key())
    return root


def test_regions_come_from_the_manifests(cdk_out: Path) -> None:
    report = build_report(cdk_out)

    regions = {stack.name: (stack.region, stack.price_region) for stack in report.stacks}
    assert regions == {
        "app-dev": ("eu-west-1", "eu-west-1"),
        "app-prod": ("ap-south-1", "us-east-1"),
        "app-any": ("us-east-1", "us-east-1"),
    }
    assert report.stack_totals == {
        "app-dev": pytest.approx(0.048 * 730 + 1.00),  # 36.04
        "app-prod": pytest.approx(0.045 * 730 + 1.00),  # 33.85, us-east-1 prices
        "app-any": pytest.approx(0.045 * 730 + 1.00),
    }
    assert (
        "No prices for region ap-south-1 in prices.json: us-east-1 prices were used instead."
        in report.notes
    )
    assert any(note.startswith("app-any: no region") for note in report.notes)


def test_region_option_overrides_the_manifests(cdk_out: Path) -> None:
    report = build_report(cdk_out, region="eu-central-1")

    assert report.total == pytest.approx(3 * (0.052 * 730 + 1.00))


def test_price_table_is_complete() -> None:
    raw = json.loads((REPO / "tools" / "prices.json").read_text())
    prices = load_prices()

    assert raw["as_of"] == "2026-11"
    assert prices.hours_per_month == HOURS
    assert {"us-east-1", "us-west-2", "eu-west-1", "eu-central-1"} <= set(prices.regions)
    keys = {key for key in raw["regions"]["us-east-1"] if not key.startswith("_")}
    assert keys == set(raw["source"])  # every figure names its pricing page
    for region in prices.regions.values():
        assert {key for key in region.values if not key.startswith("_")} == keys
        for table in ("sagemaker_hosting_instance_hour", "sagemaker_mlflow_tracking_server_hour"):
            assert set(region.values[table]) == set(raw["regions"]["us-east-1"][table])


def test_cli_prints_the_total(cdk_out: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools.idle_cost", "--cdk-out", str(cdk_out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    # 36.04 (eu-west-1) + 33.85 + 33.85 (us-east-1 prices)
    assert "TOTAL (3 stacks): 103.74 USD/month" in result.stdout.splitlines()
    assert "Stack app-dev (dev/Stack), region eu-west-1" in result.stdout
    assert "No prices for region ap-south-1" in result.stdout
    assert "  123456789012  ap-south-1, eu-west-1       2      69.89" in result.stdout


def test_cli_without_cloud_assembly_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--cdk-out", str(tmp_path / "missing")]) == 2
    assert "make synth" in capsys.readouterr().err


# --- accounts and asset destinations ----------------------------------------------------------


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def destination(account: str, region: str) -> dict[str, Any]:
    """One destination of a file asset, as `cdk synth` writes it for an environment's stack."""
    return {
        f"{account}-{region}-5e94658e": {
            "bucketName": f"cdk-hnb659fds-assets-{account}-{region}",
            "objectKey": "0123abcd.zip",
            "region": region,
            "assumeRoleArn": (
                f"arn:${{AWS::Partition}}:iam::{account}:role/"
                f"cdk-hnb659fds-file-publishing-role-{account}-{region}"
            ),
        }
    }


AGNOSTIC_DESTINATION = {
    "current_account-current_region": {
        "bucketName": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}",
        "objectKey": "0123abcd.zip",
        "assumeRoleArn": (
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/"
            "cdk-hnb659fds-file-publishing-role-${AWS::AccountId}-${AWS::Region}"
        ),
    }
}


def write_stack(
    folder: Path,
    stack_id: str,
    environment: str,
    template: dict[str, Any],
    assets: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """A stack artifact, its template and its ``<id>.assets.json`` (its own template, then
    ``assets``: source path -> destinations); returns the manifest artifacts to add."""
    write_json(folder / f"{stack_id}.template.json", template)
    own = {"path": f"{stack_id}.template.json", "packaging": "file"}
    files = {"self": {"source": own, "destinations": next(iter(assets.values()))}}
    for number, (path, destinations) in enumerate(assets.items()):
        files[f"asset{number}"] = {
            "source": {"path": path, "packaging": "zip"},
            "destinations": destinations,
        }
    write_json(folder / f"{stack_id}.assets.json", {"version": "55.0.0", "files": files})
    return {
        f"{stack_id}.assets": {
            "type": "cdk:asset-manifest",
            "properties": {"file": f"{stack_id}.assets.json"},
        },
        stack_id: {
            "type": "aws:cloudformation:stack",
            "environment": environment,
            "properties": {
                "templateFile": f"{stack_id}.template.json",
                "stackName": f"app-{stack_id.lower()}",
            },
        },
    }


def key_only() -> dict[str, Any]:
    return {"Resources": {"Key": res("AWS::KMS::Key")}}


def realtime_endpoint() -> dict[str, Any]:
    """A deploy pipeline's endpoint template: one ml.m5.large while idle."""
    return {
        "Resources": {
            "Config": res(
                "AWS::SageMaker::EndpointConfig", ProductionVariants=[variant("ml.m5.large", 1)]
            ),
            "Endpoint": endpoint_on("Config"),
        }
    }


@pytest.fixture
def delivery_out(tmp_path: Path) -> Path:
    """A multi-account cloud assembly as `cdk synth` writes it with a delivery: section.

    Tooling stack in 444444444444/eu-west-1 (top level, with a top-level asset ``asset.tooling``);
    stages dev in 111111111111/eu-west-1 and prod in 333333333333/us-east-1, each shipping its
    endpoint templates as a zip asset ``../asset.<stage>``; ``asset.shared`` is published by both
    stages (ambiguous); stage ``any`` is environment-agnostic, its asset too.
    """
    root = tmp_path / "cdk.out"
    tooling = destination("444444444444", "eu-west-1")
    artifacts = write_stack(
        root, "Delivery", "aws://444444444444/eu-west-1", key_only(), {"asset.tooling": tooling}
    )
    write_json(root / "asset.tooling" / "app-tooling-extra.template.json", key_only())
    stages = {
        "dev": ("111111111111", "eu-west-1"),
        "prod": ("333333333333", "us-east-1"),
    }
    for stage, (account, region) in stages.items():
        here = destination(account, region)
        stage_artifacts = write_stack(
            root / f"assembly-{stage}",
            f"{stage}Deploy",
            f"aws://{account}/{region}",
            key_only(),
            {f"../asset.{stage}": here, "../asset.shared": here},
        )
        write_json(root / f"assembly-{stage}" / "manifest.json", {"artifacts": stage_artifacts})
        write_json(
            root / f"asset.{stage}" / f"app-{stage}-endpoint-prod.template.json",
            realtime_endpoint(),
        )
        artifacts[f"assembly-{stage}"] = {"type": "cdk:cloud-assembly"}
    write_json(
        root / "asset.shared" / "app-shared-endpoint-prod.template.json", realtime_endpoint()
    )
    any_artifacts = write_stack(
        root / "assembly-any",
        "anyDeploy",
        "aws://unknown-account/unknown-region",
        key_only(),
        {"../asset.any": AGNOSTIC_DESTINATION},
    )
    write_json(root / "assembly-any" / "manifest.json", {"artifacts": any_artifacts})
    write_json(root / "asset.any" / "app-any-endpoint-staging.template.json", key_only())
    artifacts["assembly-any"] = {"type": "cdk:cloud-assembly"}
    write_json(root / "manifest.json", {"version": "55.0.0", "artifacts": artifacts})
    return root


def test_asset_templates_take_their_destinations_account_and_region(delivery_out: Path) -> None:
    report = build_report(delivery_out)

    where = {stack.name: (stack.account, stack.region) for stack in report.stacks}
    assert where["app-dev-endpoint-prod"] == ("111111111111", "eu-west-1")
    assert where["app-prod-endpoint-prod"] == ("333333333333", "us-east-1")
    assert where["app-tooling-extra"] == ("444444444444", "eu-west-1")  # path "asset.tooling"
    assert where["app-devdeploy"] == ("111111111111", "eu-west-1")  # stack artifacts as before
    assert where["app-delivery"] == ("444444444444", "eu-west-1")
    # The same endpoint template, priced at each destination's rate for ml.m5.large.
    totals = report.stack_totals
    assert totals["app-dev-endpoint-prod"] == pytest.approx(0.128 * 730)  # 93.44 in eu-west-1
    assert totals["app-prod-endpoint-prod"] == pytest.approx(0.115 * 730)  # 83.95 in us-east-1
    assert not any("endpoint-prod: no region" in note for note in report.notes)
    text = format_report(report)
    assert "Stack app-dev-endpoint-prod, region eu-west-1, " in text


def test_asset_published_to_several_accounts_falls_back_with_a_note(delivery_out: Path) -> None:
    report = build_report(delivery_out)

    where = {stack.name: (stack.account, stack.region) for stack in report.stacks}
    assert where["app-shared-endpoint-prod"] == (None, "us-east-1")
    assert report.stack_totals["app-shared-endpoint-prod"] == pytest.approx(0.115 * 730)
    assert (
        "app-shared-endpoint-prod: its asset asset.shared is published to 2 account-regions "
        "(111111111111/eu-west-1, 333333333333/us-east-1): us-east-1 assumed."
    ) in report.notes
    # An environment-agnostic destination names no account and no region: today's fallback.
    assert where["app-any-endpoint-staging"] == (None, "us-east-1")
    assert (
        "app-any-endpoint-staging: no region in the cloud assembly manifest: us-east-1 assumed."
        in report.notes
    )


def test_idle_cost_per_account(delivery_out: Path) -> None:
    report = build_report(delivery_out)

    assert report.account_totals == {
        "111111111111": pytest.approx(1.00 + 0.128 * 730),  # 94.44: key, endpoint in eu-west-1
        "333333333333": pytest.approx(1.00 + 0.115 * 730),  # 84.95: key, endpoint in us-east-1
        "444444444444": pytest.approx(2 * 1.00),  # the tooling stack and its asset template
        None: pytest.approx(0.115 * 730 + 2 * 1.00),  # 85.95: shared endpoint, agnostic stage
    }
    assert list(report.account_totals) == ["111111111111", "333333333333", "444444444444", None]
    assert sum(report.account_totals.values()) == pytest.approx(report.total)
    lines = format_report(report).splitlines()
    start = lines.index("TOTAL (9 stacks): 267.34 USD/month")
    assert lines[start + 1 : start + 14] == [
        "",
        "Idle cost per account:",
        "  Account       Region(s)  Stacks  USD/month",
        "  111111111111  eu-west-1       2      94.44",
        "  333333333333  us-east-1       2      84.95",
        "  444444444444  eu-west-1       2       2.00",
        "  unknown       us-east-1       3      85.95",
        "  Account unknown:",
        "    app-anydeploy: environment-agnostic stack (aws://unknown-account/unknown-region).",
        "    app-any-endpoint-staging: the destination of its asset asset.any names no account.",
        "    app-shared-endpoint-prod: its asset asset.shared is published to 2 account-regions",
        "      (111111111111/eu-west-1, 333333333333/us-east-1).",
        "",
    ]
    assert lines[start + 14] == "Unknown resource types (not in the totals; check them by hand):"


def test_a_template_that_says_where_it_deploys_is_priced_there(delivery_out: Path) -> None:
    """A release pipeline in the tooling account ships a serving account's endpoint template as
    its own asset: the template's Metadata.DeploysTo (synthesize_endpoint_templates writes it)
    wins over the asset's destination; a malformed one is ignored."""
    template = realtime_endpoint()
    template["Metadata"] = {"DeploysTo": {"Account": "333333333333", "Region": "us-east-1"}}
    write_json(delivery_out / "asset.tooling" / "app-release-endpoint-prod.template.json", template)
    template["Metadata"] = {"DeploysTo": {"Account": "3333", "Region": "us-east-1"}}
    write_json(delivery_out / "asset.tooling" / "app-bad-endpoint-prod.template.json", template)
    report = build_report(delivery_out)

    where = {stack.name: (stack.account, stack.region) for stack in report.stacks}
    assert where["app-release-endpoint-prod"] == ("333333333333", "us-east-1")
    assert report.stack_totals["app-release-endpoint-prod"] == pytest.approx(0.115 * 730)
    assert where["app-bad-endpoint-prod"] == ("444444444444", "eu-west-1")  # its asset's


def test_account_in_several_regions_and_environment_agnostic_stack(cdk_out: Path) -> None:
    lines = format_report(build_report(cdk_out)).splitlines()

    start = lines.index("Idle cost per account:")
    assert lines[start - 2].startswith("TOTAL (3 stacks): 103.74 USD/month")
    assert lines[start + 1 : start + 5] == [
        "  Account       Region(s)              Stacks  USD/month",
        "  123456789012  ap-south-1, eu-west-1       2      69.89",
        "  unknown       us-east-1                   1      33.85",
        "  Account unknown:",
    ]
    assert lines[start + 5] == (
        "    app-any: environment-agnostic stack (aws://unknown-account/unknown-region)."
    )


# -- hosting scale_to_zero: inference components ------------------------------------------------


def scale_to_zero_template() -> dict[str, Any]:
    """A hand-made endpoint of one inference component whose instances scale to zero."""
    return {
        "Resources": {
            "Config": res(
                "AWS::SageMaker::EndpointConfig",
                ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
                ProductionVariants=[
                    {
                        "VariantName": "AllTraffic",
                        "InstanceType": "ml.m5.large",
                        "InitialInstanceCount": 1,
                        "ManagedInstanceScaling": {
                            "Status": "ENABLED",
                            "MinInstanceCount": 0,
                            "MaxInstanceCount": 2,
                        },
                    }
                ],
            ),
            "Endpoint": endpoint_on("Config"),
            "Component": res(
                "AWS::SageMaker::InferenceComponent",
                EndpointName={"Fn::GetAtt": ["Endpoint", "EndpointName"]},
                InferenceComponentName="p-prod",
                Specification={"ModelName": "m"},
                RuntimeConfig={"CopyCount": 1},
            ),
            "Copies": res(
                "AWS::ApplicationAutoScaling::ScalableTarget",
                ServiceNamespace="sagemaker",
                ScalableDimension="sagemaker:inference-component:DesiredCopyCount",
                ResourceId="inference-component/p-prod",
                MinCapacity=0,
                MaxCapacity=4,
            ),
            "Policy": res("AWS::ApplicationAutoScaling::ScalingPolicy", PolicyType="StepScaling"),
            "Wake": res(
                "AWS::CloudWatch::Alarm",
                MetricName="NoCapacityInvocationFailures",
                Namespace="AWS/SageMaker",
                Period=60,
                Statistic="Maximum",
            ),
        }
    }


def test_scale_to_zero_is_no_compute_while_idle_plus_its_alarm() -> None:
    report = price_templates({"ep": scale_to_zero_template()})

    assert only(report, "Endpoint") == 0.0
    [endpoint] = [line for line in report.lines if line.logical_id == "Endpoint"]
    assert "0 x ml.m5.large (ManagedInstanceScaling minimum)" in endpoint.how
    assert only(report, "Wake") == pytest.approx(0.10)
    assert report.total == pytest.approx(0.10)
    # What a wake-up bills: 25 minutes of one ml.m5.large at $0.115/h, per use.
    [wake] = [note for note in report.notes if "each wake-up bills" in note]
    assert (
        "ml.m5.large (us-east-1): each wake-up bills about 25 minutes of one instance, $0.05"
        in wake
    )
    assert "up to $83.95/month per instance" in wake
    assert report.unknown_types == {}
    assert not any("could not be tied" in note for note in report.notes)


def test_a_synthesized_scale_to_zero_template_idles_at_its_alarms() -> None:
    """The deploy pipeline's template for hosting scale_to_zero, as the platform synthesizes
    it: no instance while idle; its alarms (rollback, health, scale-out) are the whole cost."""
    from mlops_constructs.deploy import ScaleToZeroSettings
    from mlops_constructs.deploy.templates import synthesize_endpoint_templates
    from stacks.app_builder import project_context

    folder = synthesize_endpoint_templates(
        prefix="mlops-dev-churn",
        stages={"prod": ScaleToZeroSettings()},
        context=project_context(),
    )
    [path] = list(folder.glob("*.template.json"))
    template = json.loads(path.read_text())
    report = price_templates({"prod": template})

    endpoint = [line for line in report.lines if line.resource_type == "AWS::SageMaker::Endpoint"]
    assert [line.monthly_usd for line in endpoint] == [0.0]
    alarms = [line for line in report.lines if line.resource_type == "AWS::CloudWatch::Alarm"]
    assert len(alarms) == 6  # 5xx, latency-p99, 4xx, cpu, memory, no-capacity
    # and the copies' target tracking policy: its two managed alarms
    [tracking] = [line for line in report.lines if "target tracking" in line.how]
    assert tracking.monthly_usd == pytest.approx(0.20)
    assert report.total == pytest.approx(0.80)
    assert report.unknown_types == {}
    assert not any("could not be tied" in note for note in report.notes)
