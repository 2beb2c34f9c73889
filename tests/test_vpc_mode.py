"""VPC mode: an isolated VPC, only the endpoints used, and data reachable only through them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Synthesized


@pytest.fixture(scope="module")
def data(vpc_synth: Synthesized) -> dict[str, Any]:
    res: dict[str, Any] = vpc_synth.template_json(vpc_synth.stages["dev"].data)["Resources"]
    return res


@pytest.fixture(scope="module")
def catalog(vpc_synth: Synthesized) -> dict[str, Any]:
    res: dict[str, Any] = vpc_synth.template_json(
        vpc_synth.stages["dev"].projects["churn"].catalog_stack
    )["Resources"]
    return res


def _typed(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v["Properties"] for k, v in resources.items() if v["Type"] == kind}


NETWORK_TYPES = {"AWS::EC2::VPC", "AWS::EC2::VPCEndpoint", "AWS::EC2::Subnet", "AWS::EC2::FlowLog"}


def test_off_by_default(default_synth: Synthesized) -> None:
    for stage in default_synth.stages.values():
        for stack in stage.stacks:
            types = {v["Type"] for v in default_synth.template_json(stack)["Resources"].values()}
            assert not types & NETWORK_TYPES


def test_isolated_subnets_without_internet(data: dict[str, Any]) -> None:
    types = {v["Type"] for v in data.values()}
    assert not types & {"AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::EIP"}
    subnets = _typed(data, "AWS::EC2::Subnet")
    assert len(subnets) == 2
    for subnet in subnets.values():
        assert subnet["MapPublicIpOnLaunch"] is False
        assert "Fn::GetAZs" in str(subnet["AvailabilityZone"])  # no hard-coded zone names
    routes = _typed(data, "AWS::EC2::Route")
    assert routes == {}  # only the local route and the S3 gateway endpoint's prefix list


def test_flow_logs_encrypted_with_retention(data: dict[str, Any]) -> None:
    flow = next(iter(_typed(data, "AWS::EC2::FlowLog").values()))
    assert flow["TrafficType"] == "ALL" and flow["LogDestinationType"] == "cloud-watch-logs"
    group = next(
        g for g in _typed(data, "AWS::Logs::LogGroup").values()
        if g.get("LogGroupName") == "/mlops-dev/vpc-flow-logs"
    )  # fmt: skip
    assert group["RetentionInDays"] == 90 and "KmsKeyId" in group


def test_only_the_endpoints_in_use(data: dict[str, Any]) -> None:
    endpoints = _typed(data, "AWS::EC2::VPCEndpoint")
    gateway = sorted(
        str(e["ServiceName"]).rsplit(".", 1)[1] for e in endpoints.values() if "SubnetIds" not in e
    )
    interface = sorted(
        e["ServiceName"].split(".", 3)[3] for e in endpoints.values() if "SubnetIds" in e
    )
    assert gateway == ["dynamodb']]}", "s3']]}"]  # free
    # Glue jobs (foundation), training jobs and the trigger (build), deploy functions (deploy);
    # churn's MLflow server, which the Track step logs to (aws.sagemaker.<region>.experiments).
    assert interface == [
        "codepipeline", "ecr.api", "ecr.dkr", "experiments", "glue", "kms", "logs",
        "monitoring", "sagemaker.api", "sagemaker.runtime", "ssm",
    ]  # fmt: skip
    for e in endpoints.values():
        if "SubnetIds" in e:
            assert e["PrivateDnsEnabled"] is True and len(e["SubnetIds"]) == 2


def test_security_groups_allow_only_what_is_needed(data: dict[str, Any]) -> None:
    groups = _typed(data, "AWS::EC2::SecurityGroup")
    by_name = {g["GroupName"]: (k, g) for k, g in groups.items()}
    endpoints_id, endpoints = by_name["mlops-dev-vpc-endpoints"]
    workloads_id, workloads = by_name["mlops-dev-workloads"]
    # Endpoints: no egress, HTTPS in from the workloads group only.
    assert endpoints["SecurityGroupEgress"][0]["CidrIp"] == "255.255.255.255/32"  # CDK's "none"
    ingress = [
        i for i in _typed(data, "AWS::EC2::SecurityGroupIngress").values()
        if i["GroupId"] == {"Fn::GetAtt": [endpoints_id, "GroupId"]}
    ]  # fmt: skip
    assert ingress == [
        {
            "Description": "Workloads",
            "FromPort": 443,
            "ToPort": 443,
            "IpProtocol": "tcp",
            "GroupId": {"Fn::GetAtt": [endpoints_id, "GroupId"]},
            "SourceSecurityGroupId": {"Fn::GetAtt": [workloads_id, "GroupId"]},
        }
    ]
    assert all("CidrIp" not in i for i in _typed(data, "AWS::EC2::SecurityGroupIngress").values())
    assert workloads["SecurityGroupEgress"] == [
        {
            "CidrIp": "0.0.0.0/0",
            "Description": "AWS APIs via VPC endpoints",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]


def _deny(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return next(s for s in statements if s.get("Sid") == "OnlyThroughVpcEndpoint")


def test_bucket_policies_accept_objects_only_through_the_s3_endpoint(
    data: dict[str, Any], vpc_synth: Synthesized
) -> None:
    s3_endpoint = next(
        k for k, e in _typed(data, "AWS::EC2::VPCEndpoint").items()
        if "SubnetIds" not in e and str(e["ServiceName"]).endswith(".s3']]}")
    )  # fmt: skip
    lake = vpc_synth.template_json(vpc_synth.stages["dev"].projects["churn"].data)["Resources"]
    policies = {
        k: p["PolicyDocument"]["Statement"]
        for k, p in {
            **_typed(data, "AWS::S3::BucketPolicy"),
            **_typed(lake, "AWS::S3::BucketPolicy"),
        }.items()
    }
    expected = {
        "LakeRawPolicy": ["s3:DeleteObject*", "s3:GetObject*"],  # producers still upload
        "LakeCuratedPolicy": ["s3:DeleteObject*", "s3:GetObject*"],
        "LakeArtifactsPolicy": ["s3:DeleteObject*", "s3:GetObject*", "s3:PutObject*"],
    }
    for prefix, actions in expected.items():
        statements = next(v for k, v in policies.items() if k.startswith(prefix))
        deny = _deny(statements)
        assert deny["Effect"] == "Deny" and deny["Principal"] == {"AWS": "*"}
        assert sorted(deny["Action"]) == actions
        # The environment's endpoint, through a weak (Fn::GetStackOutput) reference.
        vpce = str(deny["Condition"]["StringNotEquals"]["aws:SourceVpce"])
        assert "GetStackOutput" in vpce and s3_endpoint in vpce
        assert deny["Condition"]["BoolIfExists"] == {
            "aws:ViaAWSService": "false",
            "aws:PrincipalIsAWSService": "false",
        }
    # Curated uploads only through the endpoint too, but ground-truth labels, which producers
    # outside the VPC upload (tests/test_governance.py proves both by simulation).
    curated = next(v for k, v in policies.items() if k.startswith("LakeCuratedPolicy"))
    [uploads] = [s for s in curated if s.get("Sid") == "UploadsThroughVpcEndpoint"]
    assert uploads["Effect"] == "Deny" and uploads["Action"] == "s3:PutObject*"
    assert "Resource" not in uploads
    assert uploads["NotResource"]["Fn::Join"][1][-1] == "/ground-truth/*"
    logs_policy = next(v for k, v in policies.items() if k.startswith("AccessLogsPolicy"))
    assert all(s.get("Sid") != "OnlyThroughVpcEndpoint" for s in logs_policy)


def test_keys_refuse_direct_use_outside_the_kms_endpoint(data: dict[str, Any]) -> None:
    kms_endpoint = next(
        k for k, e in _typed(data, "AWS::EC2::VPCEndpoint").items()
        if str(e["ServiceName"]).endswith(".kms")
    )  # fmt: skip
    for key in _typed(data, "AWS::KMS::Key").values():
        deny = _deny(key["KeyPolicy"]["Statement"])
        assert deny["Effect"] == "Deny"
        assert "kms:Decrypt" in deny["Action"]
        assert deny["Condition"]["StringNotEquals"] == {"aws:SourceVpce": {"Ref": kms_endpoint}}


def test_glue_runs_in_the_vpc(catalog: dict[str, Any]) -> None:
    connection = next(iter(_typed(catalog, "AWS::Glue::Connection").values()))
    conn = connection["ConnectionInput"]
    assert conn["Name"] == "mlops-dev-churn-vpc" and conn["ConnectionType"] == "NETWORK"
    assert "SubnetId" in conn["PhysicalConnectionRequirements"]
    job = next(iter(_typed(catalog, "AWS::Glue::Job").values()))
    assert job["Connections"] == {"Connections": ["mlops-dev-churn-vpc"]}
    raw = next(
        c
        for c in _typed(catalog, "AWS::Glue::Crawler").values()
        if c["Name"] == "mlops-dev-churn-raw"
    )
    assert raw["Targets"]["S3Targets"][0]["ConnectionName"] == "mlops-dev-churn-vpc"
