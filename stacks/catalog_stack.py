"""Stateless data stack: Glue catalog, ETL, data quality, data-arrival events."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_constructs.data import (
    CuratedTable,
    DataCatalog,
    DataLakeRef,
    EtlSettings,
    GlueNetwork,
)
from mlops_constructs.security import acknowledge, acknowledge_inline_policy
from stacks.config import PlatformConfig
from stacks.data_stack import DataStack


class CatalogStack(cdk.Stack):
    """Glue catalog and jobs over the data stack's lake, plus the data events topic.

    ``data_arrival`` is the EventBridge rule for new raw objects: the extension point where the
    build layer attaches the training pipeline as a target.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: PlatformConfig,
        data: DataStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        prefix = data.prefix
        cat = config.catalog
        self.notifications = sns.Topic(
            self,
            "DataEvents",
            topic_name=f"{prefix}-data-events",
            display_name=f"{prefix} data-quality results",
            master_key=data.ops_key.key,
            enforce_ssl=True,
        )
        # EventBridge publishes through a named role rather than through a key-policy statement
        # for the whole EventBridge service: the ops key's policy already admits <prefix>-*
        # roles, and the role is usable by rules of this account only.
        self.publisher = iam.Role(
            self,
            "EventsPublisher",
            role_name=f"{prefix}-events-publisher",
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            ),
            description="EventBridge rules publishing to the platform's encrypted topics",
        )
        acknowledge_inline_policy(self.publisher)
        acknowledge(
            self.publisher,
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "SNS needs a data key from the ops key to encrypt each published message; the grant "
            "names that one key.",
        )
        lake = DataLakeRef.of(self, "Lake", data.lake)
        self.catalog = DataCatalog(
            self,
            "Catalog",
            prefix=prefix,
            lake=lake,
            ops_key=data.ops_key,
            table=CuratedTable(
                name=cat.table_name,
                columns=tuple((c.name, c.type) for c in cat.columns),
                partition_key=cat.partition_key,
                data_quality_rules=cat.data_quality_rules,
            ),
            notifications=self.notifications,
            events_role=self.publisher,
            etl=EtlSettings(
                worker_type=cat.etl_worker_type,
                workers=cat.etl_workers,
                timeout_minutes=cat.etl_timeout_minutes,
            ),
            crawler_schedule=cat.crawler_schedule,
            network=GlueNetwork(
                subnet=data.network.subnets[0],
                security_group=data.network.workload_security_group,
            )
            if data.network
            else None,
        )
        self.data_arrival: events.Rule = lake.on_raw_data_arrival(self, "DataArrival")
