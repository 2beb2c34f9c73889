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
        events_topic = self._events_topic(data)
        self.notifications = events_topic.topic
        self.requests = self._requests(data.prefix)
        self.catalog = self._catalog(project, data, events_topic)
        self._etl_failed_alarm(data.prefix, alarms)

    def _events_topic(self, data: ProjectDataStack) -> NotificationTopic:
        """The project's data events topic: the data-quality results."""
        prefix = data.prefix
        return NotificationTopic(
            self,
            "DataEvents",
            prefix=prefix,
            name="data-events",
            key=data.ops_key,
            title=f"{prefix} data-quality results",
        )

    def _requests(self, prefix: str) -> RequestBus:
        """Manual requests (retraining, batch runs) from the project's operators only."""
        return RequestBus(
            self,
            "Requests",
            prefix=prefix,
            senders=[
                f"arn:{self.partition}:iam::{self.account}:role/{role_name(prefix, OPERATOR)}"
            ],
        )

    def _catalog(
        self, project: ProjectConfig, data: ProjectDataStack, events_topic: NotificationTopic
    ) -> DataCatalog:
        """The Glue catalog and jobs over the project's lake (its handle ``Lake`` here), as the
        project's dataset configures them."""
        prefix = data.prefix
        cat = project.dataset
        lake = DataLakeRef.of(self, "Lake", data.lake)
        return DataCatalog(
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

    def _etl_failed_alarm(self, prefix: str, alarms: NotificationTopic) -> FailureAlarm:
        """The alarm on failed ETL runs: the batch was not curated."""
        return FailureAlarm(
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
