"""Network building blocks: the isolated VPC of VPC mode."""

from mlops_constructs.network.isolated import INTERFACE_SERVICES, IsolatedNetwork

__all__ = ["INTERFACE_SERVICES", "IsolatedNetwork"]
