"""Where a workload runs in VPC mode: the one value the network hands every construct that can
run in the VPC (Lambda functions, SageMaker models, endpoints and jobs, Glue, Studio)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_glue as glue

_Config = TypeVar("_Config")


@dataclass(frozen=True)
class VpcConfig:
    """The ids-only form of a :class:`Placement`: what a SageMaker model's, endpoint config's or
    job's ``VpcConfig`` holds. A template whose subnets are CloudFormation parameters (the
    endpoint templates) builds one from them, having no VPC to place."""

    subnets: tuple[str, ...]
    security_group_ids: tuple[str, ...]

    @classmethod
    def of(cls, subnets: Sequence[str], security_group_id: str) -> VpcConfig:
        return cls(tuple(subnets), (security_group_id,))

    def to(self, property_type: type[_Config]) -> _Config:
        """This config as ``property_type`` (``CfnModel.VpcConfigProperty``, a job
        definition's ...): the same two fields in each of SageMaker's resources."""
        factory: Any = property_type
        config: _Config = factory(
            subnets=list(self.subnets), security_group_ids=list(self.security_group_ids)
        )
        return config


@dataclass(frozen=True)
class Placement:
    """The VPC, its isolated subnets and the workloads' security group
    (:attr:`IsolatedNetwork.placement <mlops_constructs.network.IsolatedNetwork.placement>`),
    with the forms each kind of resource takes them in. Constructs take ``placement:
    Placement | None``: None outside VPC mode."""

    vpc: ec2.IVpc
    subnets: tuple[ec2.ISubnet, ...]
    security_group: ec2.ISecurityGroup

    @property
    def subnet_ids(self) -> list[str]:
        return [s.subnet_id for s in self.subnets]

    @property
    def security_group_ids(self) -> list[str]:
        return [self.security_group.security_group_id]

    def joined_subnet_ids(self, separator: str = ",") -> str:
        """The subnet ids as one string (an environment variable, a parameter override)."""
        return cdk.Fn.join(separator, self.subnet_ids)

    @property
    def subnet_selection(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnets=list(self.subnets))

    def function_kwargs(self) -> dict[str, Any]:
        """What ``lambda_.Function`` takes to run in these subnets and group."""
        return {
            "vpc": self.vpc,
            "vpc_subnets": self.subnet_selection,
            "security_groups": [self.security_group],
        }

    def vpc_config(self) -> VpcConfig:
        """The SageMaker form (models, endpoint configs, jobs)."""
        return VpcConfig(tuple(self.subnet_ids), tuple(self.security_group_ids))

    def glue_requirements(self) -> glue.CfnConnection.PhysicalConnectionRequirementsProperty:
        """A Glue NETWORK connection's place: the first subnet (its zone) and the group."""
        subnet = self.subnets[0]
        return glue.CfnConnection.PhysicalConnectionRequirementsProperty(
            subnet_id=subnet.subnet_id,
            availability_zone=subnet.availability_zone,
            security_group_id_list=self.security_group_ids,
        )


def placement_ids(placement: Placement | None) -> tuple[list[str], list[str]]:
    """The subnet and security group ids of ``placement``, none outside VPC mode: what the
    IAM conditions on jobs, models and their network interfaces name."""
    if placement is None:
        return [], []
    return placement.subnet_ids, placement.security_group_ids
