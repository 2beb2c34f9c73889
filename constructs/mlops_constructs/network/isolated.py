"""An isolated VPC: private subnets without any route to the internet, VPC endpoints only."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from mlops_constructs.arns import arns
from mlops_constructs.names import VPC_FLOW_LOGS, role_name
from mlops_constructs.network.placement import Placement
from mlops_constructs.observability import encrypted_log_group
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.nag import acknowledge_inline_policy, acknowledge_rules

# Interface endpoints by the short names the platform uses for them: each names its
# ec2.InterfaceVpcEndpointAwsService, read when an endpoint is made (a module calls nothing in
# jsii at import, see mlops_constructs/__init__.py).
INTERFACE_SERVICES: dict[str, str] = {
    "glue": "GLUE",
    "logs": "CLOUDWATCH_LOGS",
    "monitoring": "CLOUDWATCH_MONITORING",
    "kms": "KMS",
    "sts": "STS",
    "events": "EVENTBRIDGE",
    "sagemaker.api": "SAGEMAKER_API",
    "sagemaker.runtime": "SAGEMAKER_RUNTIME",
    "ecr.api": "ECR",
    "ecr.dkr": "ECR_DOCKER",
    "ssm": "SSM",
    "codepipeline": "CODEPIPELINE",
    # SageMaker's MLflow (aws.sagemaker.<region>.experiments): the tracking servers' REST API.
    "sagemaker.experiments": "SAGEMAKER_EXPERIMENTS",
}

_KEY_USE = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]


class IsolatedNetwork(Construct):
    """The VPC every SageMaker job, endpoint, Glue job and Lambda runs in when VPC mode is on.

    Defaults: isolated subnets only (no internet gateway, no NAT: nothing can reach the
    internet), one subnet per availability zone, flow logs of all traffic to a log group
    encrypted with ``key``, S3 and DynamoDB gateway endpoints (free) and one interface endpoint per name in
    ``interface_services`` (see :data:`INTERFACE_SERVICES`; each costs money while idle, so only
    the services the platform calls are created). Workloads use :attr:`workload_security_group`:
    all TCP within the group (Glue requires the self-reference) and HTTPS out, which in these
    subnets reaches only the endpoints. Endpoints accept HTTPS from that group alone.
    :attr:`placement` (the VPC, its subnets, that group) is what workloads are given.

    :meth:`restrict_key_to_endpoints` makes a key refuse direct use from outside the VPC.
    Availability zones are the region's first ``az_count`` (``Fn::GetAZs`` at deploy time):
    synthesis never calls AWS.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        key: PlatformKey,
        cidr: str,
        az_count: int = 2,
        interface_services: Sequence[str],
        flow_log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, id)
        unknown = sorted(set(interface_services) - set(INTERFACE_SERVICES))
        if unknown:
            raise ValueError(f"unknown interface endpoint services {unknown}")
        self.vpc = self._vpc(prefix, cidr, az_count)
        self._flow_logs(prefix, key, flow_log_retention)
        self._security_groups(prefix)
        self._endpoints(interface_services)
        self.placement = Placement(
            self.vpc, tuple(self.vpc.isolated_subnets), self.workload_security_group
        )

    def _vpc(self, prefix: str, cidr: str, az_count: int) -> ec2.Vpc:
        """``<prefix>-isolated``: isolated subnets only, no NAT, no internet gateway."""
        vpc = ec2.Vpc(
            self,
            "Vpc",
            vpc_name=f"{prefix}-isolated",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            # Chosen by CloudFormation at deploy time: no AZ lookup at synth time, no
            # hard-coded zone names that do not exist in every account.
            availability_zones=[
                cdk.Fn.select(i, cdk.Fn.get_azs(arns(self).region)) for i in range(az_count)
            ],
            nat_gateways=0,
            create_internet_gateway=False,
            restrict_default_security_group=False,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=22
                )
            ],
        )
        default_sg_reason = (
            "No resource uses the VPC's default security group; closing it would need a "
            "Lambda-backed custom resource in an otherwise Lambda-free network stack."
        )
        acknowledge_rules(
            vpc,
            (
                "HIPAA.Security-VPCDefaultSecurityGroupClosed",
                "NIST.800.53.R5-VPCDefaultSecurityGroupClosed",
                "PCI.DSS.321-VPCDefaultSecurityGroupClosed",
            ),
            default_sg_reason,
        )
        return vpc

    def _flow_logs(
        self, prefix: str, key: PlatformKey, flow_log_retention: logs.RetentionDays
    ) -> None:
        """All traffic's flow logs, to a log group encrypted with ``key``."""
        self.flow_log_group = encrypted_log_group(
            self,
            "FlowLogs",
            name=f"/{prefix}/vpc-flow-logs",
            key=key,
            retention=flow_log_retention,
        )
        flow_role = iam.Role(
            self,
            "FlowLogsRole",
            role_name=role_name(prefix, VPC_FLOW_LOGS),
            assumed_by=iam.ServicePrincipal("vpc-flow-logs.amazonaws.com"),
        )
        acknowledge_inline_policy(flow_role)
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group, flow_role),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )

    def _security_groups(self, prefix: str) -> None:
        """The workloads' group (HTTPS out, between workloads) and the endpoints' (HTTPS from
        the workloads only)."""
        self.workload_security_group = ec2.SecurityGroup(
            self,
            "Workloads",
            vpc=self.vpc,
            security_group_name=f"{prefix}-workloads",
            description="SageMaker jobs and endpoints, Glue jobs and Lambdas of the platform",
            allow_all_outbound=False,
        )
        wsg = self.workload_security_group
        wsg.add_ingress_rule(wsg, ec2.Port.all_tcp(), "Between workloads (Glue needs it)")
        wsg.add_egress_rule(wsg, ec2.Port.all_tcp(), "Between workloads (Glue needs it)")
        # The subnets have no route but to the VPC endpoints, so HTTPS "anywhere" reaches the
        # interface endpoints and the S3 gateway endpoint (whose prefix list id would need a
        # lookup at synth time) and nothing else.
        wsg.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS APIs via VPC endpoints")

        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "Endpoints",
            vpc=self.vpc,
            security_group_name=f"{prefix}-vpc-endpoints",
            description="Interface VPC endpoints: HTTPS from platform workloads only",
            allow_all_outbound=False,
        )
        self.endpoint_security_group.add_ingress_rule(wsg, ec2.Port.tcp(443), "Workloads")

    def _endpoints(self, interface_services: Sequence[str]) -> None:
        """The S3 and DynamoDB gateway endpoints and the interface endpoints the platform's
        services need: the only ways out of the subnets."""
        self.s3_endpoint = self.vpc.add_gateway_endpoint(
            "S3", service=ec2.GatewayVpcEndpointAwsService.S3
        )
        # Free, like the S3 one: the training trigger's guard table is in DynamoDB.
        self.dynamodb_endpoint = self.vpc.add_gateway_endpoint(
            "DynamoDb", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB
        )
        self.interface_endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        for name in interface_services:
            self.interface_endpoints[name] = self.vpc.add_interface_endpoint(
                name.replace(".", "-").title().replace("-", ""),
                service=getattr(ec2.InterfaceVpcEndpointAwsService, INTERFACE_SERVICES[name]),
                private_dns_enabled=True,
                open=False,
                security_groups=[self.endpoint_security_group],
                subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            )

    def restrict_key_to_endpoints(self, key: PlatformKey) -> None:
        """Deny direct use of ``key`` unless the request comes through the KMS endpoint.

        Calls AWS services make on a caller's behalf (S3 SSE-KMS, SNS, CloudWatch Logs) and
        service principals (CloudTrail) are exempt: they never pass through the VPC.
        """
        kms_endpoint = self.interface_endpoints.get("kms")
        if kms_endpoint is None:
            raise ValueError("restricting a key to the VPC needs the 'kms' interface endpoint")
        key.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyThroughVpcEndpoint",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=_KEY_USE,
                resources=["*"],
                conditions={
                    "StringNotEquals": {"aws:SourceVpce": kms_endpoint.vpc_endpoint_id},
                    "BoolIfExists": {
                        "aws:ViaAWSService": "false",
                        "aws:PrincipalIsAWSService": "false",
                    },
                },
            )
        )
