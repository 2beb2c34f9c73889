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
    IngestBatching,
)
from mlops_constructs.monitor import FailureAlarm
from mlops_constructs.names import OPERATOR, AlarmKind, alarm_name, role_name
from mlops_constructs.notifications import NotificationTopic
from mlops_constructs.requests import RequestBus
from mlops_constructs.runbooks import Runbook
from stacks.config import ProjectConfig
from stacks.data_stack import ProjectDataStack


class CatalogStack(cdk.Stack):
    """A project's Glue catalog and jobs over its lake, plus its data events topic.

    Raw arrivals start the ETL job here (the ingest workflow); the rule on the job's successful
    runs belongs to its consumer: the build stack creates it (``DataCatalog.on_etl_succeeded``)
    with the training trigger as target.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        project: ProjectConfig,
        data: ProjectDataStack,
        alarms: NotificationTopic,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        prefix = data.prefix
        cat = project.dataset
        events_topic = NotificationTopic(
            self,
            "DataEvents",
            prefix=prefix,
            name="data-events",
            key=data.ops_key,
            title=f"{prefix} data-quality results",
        )
        self.notifications = events_topic.topic
        # Manual requests (retraining, batch runs) from the project's operators only.
        self.requests = RequestBus(
            self,
            "Requests",
            prefix=prefix,
            senders=[
                f"arn:{self.partition}:iam::{self.account}:role/{role_name(prefix, OPERATOR)}"
            ],
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
            notifications=events_topic,
            etl=EtlSettings(
                worker_type=cat.etl_worker_type,
                workers=cat.etl_workers,
                timeout_minutes=cat.etl_timeout_minutes,
            ),
            crawler_schedule=cat.crawler_schedule,
            batch=IngestBatching(
                size=cat.ingest_batch_size, window_seconds=cat.ingest_batch_window_seconds
            ),
            placement=data.placement,
        )
        FailureAlarm(
            self,
            "EtlFailedAlarm",
            name=alarm_name(prefix, AlarmKind.ETL_FAILED),
            rule=self.catalog.etl_failed,
            description=f"{prefix}: an ETL run failed (the data-quality ruleset refused the "
            "batch, or the job itself failed), so the batch was not curated and nothing trained "
            "on it",
            runbook=Runbook.ETL_FAILED,
            topic=alarms.topic,
        )
