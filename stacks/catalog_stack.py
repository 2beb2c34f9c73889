"""Stateless data stack: Glue catalog, ETL, data quality, data-arrival events."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from mlops_constructs.data import (
    CuratedTable,
    DataCatalog,
    DataLakeRef,
    EtlSettings,
    GlueNetwork,
)
from mlops_constructs.notifications import NotificationTopic
from stacks.config import PlatformConfig
from stacks.data_stack import DataStack


class CatalogStack(cdk.Stack):
    """Glue catalog and jobs over the data stack's lake, plus the data events topic.

    The data-arrival rule (``LakeAccess.on_raw_data_arrival``) belongs to its consumer: the
    build stack creates it with the training trigger as target.
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
        events_topic = NotificationTopic(
            self,
            "DataEvents",
            prefix=prefix,
            name="data-events",
            key=data.ops_key,
            title=f"{prefix} data-quality results",
        )
        self.notifications = events_topic.topic
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
            notifications=events_topic,
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
