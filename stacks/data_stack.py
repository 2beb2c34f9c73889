"""Stateful stack: keys, data lake, model registry, audit trail (all retained on delete)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from mlops_constructs.build import ModelRegistry
from mlops_constructs.data import AuditTrail, DataLake, LakeLifecycle
from mlops_constructs.network import IsolatedNetwork
from mlops_constructs.observability import retention_days
from mlops_constructs.security import PlatformKey
from stacks.config import (
    BUILD_ENDPOINTS,
    DEPLOY_ENDPOINTS,
    FOUNDATION_ENDPOINTS,
    EnvironmentConfig,
    PlatformConfig,
)


class DataStack(cdk.Stack):
    """Everything in an environment whose loss would lose data or history.

    Construct ids here are part of the logical ids of keys and buckets: renaming one replaces
    the resource. ``tests/test_logical_ids.py`` pins them.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: PlatformConfig,
        environment: EnvironmentConfig,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        prefix = f"{config.project_name}-{environment.name}"
        self.prefix = prefix
        self.data_key = PlatformKey(
            self,
            "DataKey",
            prefix=prefix,
            purpose="data",
            description=f"{prefix}: data lake, catalog and ML artifacts",
        )
        self.ops_key = PlatformKey(
            self,
            "OpsKey",
            prefix=prefix,
            purpose="ops",
            description=f"{prefix}: audit trail, logs and notifications",
        )
        # The platform's alarms notify topics encrypted with this key.
        self.ops_key.allow_cloudwatch_alarms()
        lake_cfg = config.data_lake
        self.lake = DataLake(
            self,
            "Lake",
            key=self.data_key,
            bucket_name_prefix=prefix,
            raw_prefix=lake_cfg.raw_prefix,
            lifecycle=LakeLifecycle(
                noncurrent_version_expiration_days=lake_cfg.noncurrent_version_expiration_days,
                abort_incomplete_multipart_upload_days=lake_cfg.abort_incomplete_multipart_upload_days,
                intelligent_tiering_after_days=lake_cfg.intelligent_tiering_after_days,
                raw_expiration_days=lake_cfg.raw_expiration_days,
                access_log_expiration_days=lake_cfg.access_log_expiration_days,
            ),
        )
        # VPC mode: the isolated network lives here because the lake's bucket policies and the
        # keys' policies name its endpoints (a separate stack would make a dependency cycle).
        self.network: IsolatedNetwork | None = None
        net = config.network
        if net.vpc_mode:
            self.network = IsolatedNetwork(
                self,
                "Network",
                prefix=prefix,
                key=self.ops_key,
                cidr=net.cidr,
                az_count=net.az_count,
                # In order, each once (the build's Clarify jobs and the deploy functions both
                # call sagemaker.runtime).
                interface_services=tuple(
                    dict.fromkeys(
                        FOUNDATION_ENDPOINTS
                        + (BUILD_ENDPOINTS if config.build.enabled else ())
                        + (DEPLOY_ENDPOINTS if config.deploy.enabled else ())
                    )
                ),
                flow_log_retention=retention_days(net.flow_log_retention_days),
            )
            self.lake.restrict_to_vpc_endpoint(self.network.s3_endpoint.vpc_endpoint_id)
            for key in (self.data_key, self.ops_key):
                self.network.restrict_key_to_endpoints(key)

        # The model registry is stateful (every version, its metrics and lineage): it lives here.
        # Later stages' accounts may read it (multi-account deployments).
        self.registry = ModelRegistry(
            self,
            "Registry",
            name=f"{prefix}-models",
            description=f"Model versions trained by {prefix}-training",
            reader_accounts=[
                e.account for e in config.environments if e.account and e.name != environment.name
            ],
        )

        self.audit: AuditTrail | None = None
        if config.audit.cloudtrail_enabled:
            self.audit = AuditTrail(
                self,
                "Audit",
                trail_name=f"{prefix}-data-lake",
                bucket=self.lake.access_logs,
                key=self.ops_key,
                data_buckets=list(self.lake.data_buckets),
                log_retention=retention_days(config.audit.log_retention_days),
            )
