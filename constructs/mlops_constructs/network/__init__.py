"""Network building blocks: the isolated VPC of VPC mode and the placement it hands workloads."""

from mlops_constructs.network.isolated import INTERFACE_SERVICES, IsolatedNetwork
from mlops_constructs.network.placement import Placement, VpcConfig, placement_ids

__all__ = ["INTERFACE_SERVICES", "IsolatedNetwork", "Placement", "VpcConfig", "placement_ids"]
