"""IsolatedNetwork (and the Placement it hands workloads) in a bare stack."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_logs as logs

from mlops_constructs.network.isolated import IsolatedNetwork
from mlops_constructs.security.keys import PlatformKey

ENV = cdk.Environment(account="111111111111", region="us-east-1")


def _network(stack: cdk.Stack, services: list[str]) -> IsolatedNetwork:
    key = PlatformKey(stack, "Ops", prefix="p-dev", purpose="ops", description="o")
    return IsolatedNetwork(
        stack,
        "Network",
        prefix="p-dev",
        key=key,
        cidr="10.20.0.0/16",
        interface_services=services,
        flow_log_retention=logs.RetentionDays.ONE_MONTH,
    )


@pytest.fixture(scope="module")
def built(feature_flags: dict[str, Any]) -> tuple[IsolatedNetwork, dict[str, Any]]:
    app = cdk.App(context=feature_flags)
    stack = cdk.Stack(app, "Network", env=ENV)
    network = _network(stack, ["kms", "sagemaker.api"])
    network.restrict_key_to_endpoints(
        PlatformKey(stack, "Data", prefix="p-dev", purpose="data", description="d")
    )
    return network, app.synth().get_stack_by_name("Network").template


def _of(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def test_nothing_reaches_the_internet(built: tuple[IsolatedNetwork, dict[str, Any]]) -> None:
    _, template = built
    for kind in ("AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::EIP"):
        assert not _of(template, kind), kind
    subnets = _of(template, "AWS::EC2::Subnet")
    assert len(subnets) == 2 and not any(s["MapPublicIpOnLaunch"] for s in subnets)
    [vpc] = _of(template, "AWS::EC2::VPC")
    assert {"Key": "Name", "Value": "p-dev-isolated"} in vpc["Tags"]
    # Zones chosen by CloudFormation: synthesis looks nothing up.
    assert subnets[0]["AvailabilityZone"]["Fn::Select"][1] == {"Fn::GetAZs": "us-east-1"}


def test_all_traffic_is_logged_to_an_encrypted_group(
    built: tuple[IsolatedNetwork, dict[str, Any]],
) -> None:
    _, template = built
    [flow_log] = _of(template, "AWS::EC2::FlowLog")
    assert flow_log["TrafficType"] == "ALL"
    [group] = _of(template, "AWS::Logs::LogGroup")
    assert group["LogGroupName"] == "/p-dev/vpc-flow-logs"
    assert group["RetentionInDays"] == 30 and "KmsKeyId" in group
    roles = {r["RoleName"] for r in _of(template, "AWS::IAM::Role")}
    assert roles == {"p-dev-vpc-flow-logs"}


def test_endpoints_are_the_only_way_out(built: tuple[IsolatedNetwork, dict[str, Any]]) -> None:
    network, template = built
    endpoints = _of(template, "AWS::EC2::VPCEndpoint")
    gateways = [e for e in endpoints if e.get("VpcEndpointType", "Gateway") == "Gateway"]
    interfaces = [e for e in endpoints if e.get("VpcEndpointType") == "Interface"]
    assert len(gateways) == 2 and len(interfaces) == 2
    assert all(e["PrivateDnsEnabled"] for e in interfaces)
    assert sorted(network.interface_endpoints) == ["kms", "sagemaker.api"]
    groups = {g["GroupName"]: g for g in _of(template, "AWS::EC2::SecurityGroup")}
    assert sorted(groups) == ["p-dev-vpc-endpoints", "p-dev-workloads"]
    # The endpoints accept HTTPS from the workloads only, and send nothing.
    [ingress] = [
        i for i in _of(template, "AWS::EC2::SecurityGroupIngress") if i.get("FromPort") == 443
    ]
    assert "SourceSecurityGroupId" in ingress and "CidrIp" not in ingress
    [internet] = [e for e in groups["p-dev-workloads"]["SecurityGroupEgress"] if "CidrIp" in e]
    assert (internet["FromPort"], internet["ToPort"]) == (443, 443)


def test_a_restricted_key_refuses_use_from_outside_the_kms_endpoint(
    built: tuple[IsolatedNetwork, dict[str, Any]],
) -> None:
    _, template = built
    policies = [k["KeyPolicy"]["Statement"] for k in _of(template, "AWS::KMS::Key")]
    [deny] = [s for p in policies for s in p if s.get("Sid") == "OnlyThroughVpcEndpoint"]
    assert deny["Effect"] == "Deny"
    assert set(deny["Condition"]["StringNotEquals"]) == {"aws:SourceVpce"}
    assert deny["Condition"]["BoolIfExists"] == {
        "aws:ViaAWSService": "false",
        "aws:PrincipalIsAWSService": "false",
    }


def test_the_placement_is_the_isolated_subnets_and_the_workloads_group(
    built: tuple[IsolatedNetwork, dict[str, Any]],
) -> None:
    network, _ = built
    placement = network.placement
    assert len(placement.subnets) == 2
    assert placement.security_group is network.workload_security_group
    assert set(placement.function_kwargs()) == {"vpc", "vpc_subnets", "security_groups"}
    config = placement.vpc_config()
    assert len(config.subnets) == 2 and len(config.security_group_ids) == 1


def test_unknown_services_and_a_key_without_its_endpoint_are_refused(
    feature_flags: dict[str, Any],
) -> None:
    stack = cdk.Stack(cdk.App(context=feature_flags), "S", env=ENV)
    with pytest.raises(ValueError, match=r"unknown interface endpoint services \['s3'\]"):
        _network(stack, ["s3"])
    other = cdk.Stack(cdk.App(context=feature_flags), "S", env=ENV)
    network = _network(other, [])
    key = PlatformKey(other, "Data", prefix="p-dev", purpose="data", description="d")
    with pytest.raises(ValueError, match="needs the 'kms' interface endpoint"):
        network.restrict_key_to_endpoints(key)
