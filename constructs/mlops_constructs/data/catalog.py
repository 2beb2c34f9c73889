"""Glue Data Catalog for the lake: database, curated table, crawlers, ETL and data quality."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import aws_cdk as cdk
import jsii
from aws_cdk import aws_events as events
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk.interfaces.aws_events import IRuleRef
from constructs import Construct

from mlops_constructs.arns import arns
from mlops_constructs.data.lake import LakeAccess
from mlops_constructs.names import GLUE_CRAWLER, GLUE_ETL, GLUE_INGEST_EVENTS, role_name
from mlops_constructs.network.placement import Placement
from mlops_constructs.notifications import NotificationTopic
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.nag import (
    acknowledge_grant_actions,
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
)

ETL_SCRIPT = Path(__file__).resolve().parent.parent / "assets" / "glue" / "raw_to_curated.py"

_TEXT_IN = "org.apache.hadoop.mapred.TextInputFormat"
_TEXT_OUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
_CSV_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
# Partitions of the curated table are projected from their date (Athena), so no crawler or
# catalog update is needed when the ETL job writes a new one.
PROJECTION_START = "2020-01-01"


@dataclass(frozen=True, kw_only=True)
class CuratedTable:
    """Schema of the curated table: ordered (name, Glue type) columns and its partition key."""

    name: str
    columns: tuple[tuple[str, str], ...]
    partition_key: str = "ingest_date"
    data_quality_rules: tuple[str, ...] = field(default=("RowCount > 0",))


@dataclass(frozen=True, kw_only=True)
class EtlSettings:
    worker_type: str = "G.1X"
    workers: int = 2
    timeout_minutes: int = 60


@dataclass(frozen=True, kw_only=True)
class IngestBatching:
    """When the ingest workflow starts the ETL job: after ``size`` raw objects arrived, or
    ``window_seconds`` after the first of a batch, whichever comes first."""

    size: int = 100
    window_seconds: int = 900


@jsii.implements(events.IRuleTarget)
class _GlueWorkflowTarget:
    """EventBridge target: notify a Glue workflow with an EVENT trigger (through ``role``)."""

    def __init__(self, workflow_arn: str, role: iam.IRole) -> None:
        self._arn = workflow_arn
        self._role = role

    def bind(self, rule: IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(arn=self._arn, role=self._role)


def dqdl(rules: tuple[str, ...]) -> str:
    """A DQDL ruleset document from individual rules."""
    return "Rules = [\n    " + ",\n    ".join(rules) + "\n]"


class DataCatalog(Construct):
    """The lake's Glue Data Catalog and the jobs that fill it.

    Creates a Glue database, the curated table (CSV with a header, partitioned by ingestion
    date, partitions projected), a Glue security configuration (SSE-KMS for S3 output, KMS for
    CloudWatch logs and job bookmarks), a crawler over the raw prefix, a Glue ETL job (script
    shipped as an asset) turning raw CSV into curated CSV only when a Glue Data Quality ruleset
    passes (the run fails otherwise), the ingest workflow that starts it on raw data arrival
    (batched), EventBridge rules on the job's success (``etl_succeeded``: training starts from
    it) and failure (to ``notifications``), and a rule that publishes every evaluation result
    of the ruleset to ``notifications``.

    Defaults: the raw crawler on demand (no schedule, nothing runs while idle), one ETL run at a time,
    job bookmarks on, no retries (a failed batch is a data problem to look at, not to repeat),
    the database and table retained on delete. Roles are named ``<prefix>-glue-*`` so that the
    platform keys' policies admit them.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        lake: LakeAccess,
        ops_key: PlatformKey,
        table: CuratedTable,
        notifications: NotificationTopic,
        etl: EtlSettings | None = None,
        crawler_schedule: str | None = None,
        placement: Placement | None = None,
        batch: IngestBatching | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.database_name = prefix.replace("-", "_")
        self.table_name = table.name
        self.database = self._database(prefix)
        self.curated_location = lake.curated.s3_url_for_object(f"{table.name}/")
        self.table = self._curated_table(cdk.Stack.of(self), table, self.curated_location)
        self.security_configuration = self._security_configuration(prefix, lake, ops_key)
        # VPC mode: a NETWORK connection puts the ETL job and the raw crawler in the VPC.
        self.connection: glue.CfnConnection | None = None
        connection_name: str | None = None
        if placement is not None:
            connection_name = f"{prefix}-vpc"
            self.connection = self._vpc_connection(connection_name, placement)
        self.crawler_role = self._crawler_role(prefix, lake, ops_key)
        self.raw_crawler = self._raw_crawler(prefix, lake, connection_name, crawler_schedule)
        self.ruleset_name = f"{prefix}-{table.name}-quality"
        self.ruleset = self._quality_ruleset(table)
        self.quality_results_rule = self._quality_results(notifications)
        self.script = s3_assets.Asset(self, "EtlScript", path=str(ETL_SCRIPT))
        self.etl_role = self._etl_role(prefix, lake, ops_key)
        self.etl_job_name = f"{prefix}-raw-to-curated"
        self.etl_job = self._etl_job(lake, table, etl or EtlSettings(), connection_name)
        self._ingest_on_arrival(prefix, lake, batch or IngestBatching())
        self.etl_failed = self._etl_failed(notifications)

    def _glue_arn(self, resource: str) -> str:
        """The ARN of a Glue ``resource`` (``catalog``, ``database/<name>``, ...) in this stack."""
        return arns(self).arn("glue", resource)

    def _database(self, prefix: str) -> glue.CfnDatabase:
        """The lake's Glue database, retained on delete."""
        here = arns(self)
        database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=here.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name,
                description=f"Data lake catalog of {prefix}",
            ),
        )
        database.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        return database

    def _curated_table(self, stack: cdk.Stack, table: CuratedTable, location: str) -> glue.CfnTable:
        """The curated table: CSV with a header (what every framework's processing image reads
        without a Parquet library), partitioned by ingestion date with partition projection."""
        key = table.partition_key
        cfn = glue.CfnTable(
            self,
            "CuratedTable",
            catalog_id=stack.account,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=table.name,
                description="Curated, typed dataset that passed data quality (CSV, header)",
                table_type="EXTERNAL_TABLE",
                parameters={
                    "classification": "csv",
                    "EXTERNAL": "TRUE",
                    "skip.header.line.count": "1",
                    "projection.enabled": "true",
                    f"projection.{key}.type": "date",
                    f"projection.{key}.format": "yyyy-MM-dd",
                    f"projection.{key}.range": f"{PROJECTION_START},NOW",
                    f"projection.{key}.interval": "1",
                    f"projection.{key}.interval.unit": "DAYS",
                    "storage.location.template": f"{location}{key}=${{{key}}}/",
                },
                partition_keys=[glue.CfnTable.ColumnProperty(name=key, type="string")],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=[
                        glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in table.columns
                    ],
                    location=location,
                    input_format=_TEXT_IN,
                    output_format=_TEXT_OUT,
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library=_CSV_SERDE,
                        parameters={"field.delim": ",", "serialization.format": ","},
                    ),
                ),
            ),
        )
        cfn.node.add_dependency(self.database)
        cfn.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        return cfn

    def _security_configuration(
        self, prefix: str, lake: LakeAccess, ops_key: PlatformKey
    ) -> glue.CfnSecurityConfiguration:
        """SSE-KMS for S3 output (lake key), KMS for CloudWatch logs (ops key) and job bookmarks
        (lake key)."""
        configuration = glue.CfnSecurityConfiguration(
            self,
            "SecurityConfiguration",
            name=f"{prefix}-glue",
            encryption_configuration=glue.CfnSecurityConfiguration.EncryptionConfigurationProperty(
                s3_encryptions=[
                    glue.CfnSecurityConfiguration.S3EncryptionProperty(
                        s3_encryption_mode="SSE-KMS", kms_key_arn=lake.key.key_arn
                    )
                ],
                cloud_watch_encryption=glue.CfnSecurityConfiguration.CloudWatchEncryptionProperty(
                    cloud_watch_encryption_mode="SSE-KMS", kms_key_arn=ops_key.key_arn
                ),
                job_bookmarks_encryption=glue.CfnSecurityConfiguration.JobBookmarksEncryptionProperty(
                    job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=lake.key.key_arn
                ),
            ),
        )
        # Glue encrypts its CloudWatch logs with the ops key through CloudWatch Logs.
        ops_key.allow_cloudwatch_logs()
        return configuration

    def _vpc_connection(self, name: str, placement: Placement) -> glue.CfnConnection:
        """VPC mode: the NETWORK connection that puts the ETL job and the raw crawler in the
        VPC."""
        here = arns(self)
        return glue.CfnConnection(
            self,
            "VpcConnection",
            catalog_id=here.account,
            connection_input=glue.CfnConnection.ConnectionInputProperty(
                name=name,
                connection_type="NETWORK",
                description="Runs Glue jobs in the platform's isolated VPC",
                physical_connection_requirements=placement.glue_requirements(),
            ),
        )

    def _crawler_role(self, prefix: str, lake: LakeAccess, ops_key: PlatformKey) -> iam.Role:
        """The crawlers' role: reads the lake, writes this database's tables and partitions."""
        role = iam.Role(
            self,
            "CrawlerRole",
            role_name=role_name(prefix, GLUE_CRAWLER),
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description="Glue crawlers of the data lake catalog",
        )
        self._grant_glue_logs(role, ops_key)
        lake.grant_read_raw(role)
        lake.grant_read_curated(role)
        tables = self._glue_arn(f"table/{self.database_name}/*")
        role.add_to_policy(
            iam.PolicyStatement(
                sid="CatalogWrite",
                actions=[
                    "glue:BatchCreatePartition",
                    "glue:BatchGetPartition",
                    "glue:CreateTable",
                    "glue:GetDatabase",
                    "glue:GetPartition",
                    "glue:GetPartitions",
                    "glue:GetTable",
                    "glue:GetTables",
                    "glue:UpdatePartition",
                    "glue:UpdateTable",
                ],
                # The raw crawler names its tables after the S3 folders it finds, so the tables
                # of this one database are matched by a wildcard.
                resources=[
                    self._glue_arn("catalog"),
                    self._glue_arn(f"database/{self.database_name}"),
                    tables,
                ],
            )
        )
        acknowledge_wildcard_resource(
            role,
            tables,
            "The raw crawler creates one table per folder it discovers; names are not known at "
            "synth time, so tables are matched within this database only.",
        )
        self._acknowledge_lake_grants(role, lake)
        return role

    def _raw_crawler(
        self, prefix: str, lake: LakeAccess, connection_name: str | None, schedule: str | None
    ) -> glue.CfnCrawler:
        """The crawler over the raw prefix (tables ``raw_*``), on demand unless scheduled."""
        crawler = glue.CfnCrawler(
            self,
            "RawCrawler",
            name=f"{prefix}-raw",
            role=self.crawler_role.role_arn,
            database_name=self.database_name,
            table_prefix="raw_",
            description="Discovers the schema of files landing in the raw prefix",
            targets=glue.CfnCrawler.TargetsProperty(
                s3_targets=[
                    glue.CfnCrawler.S3TargetProperty(
                        path=lake.raw.s3_url_for_object(lake.raw_prefix),
                        connection_name=connection_name,
                    )
                ]
            ),
            crawler_security_configuration=self.security_configuration.ref,
            schema_change_policy=glue.CfnCrawler.SchemaChangePolicyProperty(
                update_behavior="UPDATE_IN_DATABASE", delete_behavior="LOG"
            ),
            schedule=self._schedule(schedule),
        )
        crawler.node.add_dependency(self.database)
        if self.connection is not None:
            crawler.node.add_dependency(self.connection)
        return crawler

    def _quality_ruleset(self, table: CuratedTable) -> glue.CfnDataQualityRuleset:
        """The Glue Data Quality ruleset the ETL job evaluates on the curated table."""
        ruleset = glue.CfnDataQualityRuleset(
            self,
            "QualityRuleset",
            name=self.ruleset_name,
            description=f"Data-quality rules of the curated {table.name} table",
            ruleset=dqdl(table.data_quality_rules),
            target_table=glue.CfnDataQualityRuleset.DataQualityTargetTableProperty(
                database_name=self.database_name, table_name=table.name
            ),
        )
        ruleset.node.add_dependency(self.table)
        return ruleset

    def _quality_results(self, notifications: NotificationTopic) -> events.Rule:
        """Every evaluation result of the ruleset, published to ``notifications``."""
        return events.Rule(
            self,
            "QualityResults",
            description=f"Publishes every evaluation of {self.ruleset_name}",
            event_pattern=events.EventPattern(
                source=["aws.glue-dataquality"],
                detail_type=["Data Quality Evaluation Results Available"],
                detail={"rulesetNames": [self.ruleset_name]},
            ),
            targets=[notifications.target()],
        )

    def _etl_role(self, prefix: str, lake: LakeAccess, ops_key: PlatformKey) -> iam.Role:
        """The ETL job's role: reads its script and raw data, writes curated data, evaluates
        and publishes the ruleset, and reads the curated table's definition."""
        role = iam.Role(
            self,
            "EtlRole",
            role_name=role_name(prefix, GLUE_ETL),
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description="Glue ETL job raw CSV -> data quality -> curated CSV",
        )
        self._grant_glue_logs(role, ops_key)
        self.script.bucket.grant_read(role, self.script.s3_object_key)
        lake.grant_read_raw(role)
        lake.grant_read_write_curated(role)
        lake.key.grant_encrypt_decrypt(role)  # job bookmarks (CSE-KMS)
        self._grant_etl_glue(role)
        self._acknowledge_lake_grants(role, lake)
        acknowledge_wildcard_resource(
            role,
            "*",
            "cloudwatch:PutMetricData supports no resource-level permissions; a condition "
            "limits it to the Glue and Glue Data Quality metric namespaces.",
        )
        return role

    def _grant_etl_glue(self, role: iam.Role) -> None:
        """Grants the ETL role the curated table's definition, the ruleset (evaluate and
        publish) and Glue's metrics."""
        role.add_to_policy(
            iam.PolicyStatement(
                sid="CatalogCuratedTable",
                actions=["glue:GetDatabase", "glue:GetTable"],
                resources=[
                    self._glue_arn("catalog"),
                    self._glue_arn(f"database/{self.database_name}"),
                    self._glue_arn(f"table/{self.database_name}/{self.table_name}"),
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DataQuality",
                actions=["glue:GetDataQualityRuleset", "glue:PublishDataQuality"],
                resources=[self._glue_arn(f"dataQualityRuleset/{self.ruleset_name}")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="JobMetrics",
                actions=["cloudwatch:PutMetricData"],
                # PutMetricData supports no resource-level permissions; the namespace
                # condition limits it to Glue's metrics.
                resources=["*"],
                conditions={
                    "StringEquals": {"cloudwatch:namespace": ["Glue", "Glue Data Quality"]}
                },
            )
        )

    def _etl_job(
        self,
        lake: LakeAccess,
        table: CuratedTable,
        etl: EtlSettings,
        connection_name: str | None,
    ) -> glue.CfnJob:
        """The ETL job (script shipped as an asset): raw CSV -> data-quality check -> curated
        CSV. One run at a time, job bookmarks on, no retries."""
        job = glue.CfnJob(
            self,
            "EtlJob",
            name=self.etl_job_name,
            description="Raw CSV -> data-quality check -> partitioned CSV in curated",
            role=self.etl_role.role_arn,
            command=glue.CfnJob.JobCommandProperty(
                name="glueetl", python_version="3", script_location=self.script.s3_object_url
            ),
            glue_version="5.0",
            worker_type=etl.worker_type,
            number_of_workers=etl.workers,
            timeout=etl.timeout_minutes,
            max_retries=0,
            execution_property=glue.CfnJob.ExecutionPropertyProperty(max_concurrent_runs=1),
            security_configuration=self.security_configuration.ref,
            connections=glue.CfnJob.ConnectionsListProperty(connections=[connection_name])
            if connection_name
            else None,
            default_arguments={
                "--job-language": "python",
                "--job-bookmark-option": "job-bookmark-enable",
                "--enable-metrics": "true",
                "--enable-continuous-cloudwatch-log": "true",
                "--enable-glue-datacatalog": "true",
                "--source_path": lake.raw.s3_url_for_object(lake.raw_prefix),
                "--target_path": self.curated_location,
                "--database": self.database_name,
                "--table": table.name,
                "--columns": ",".join(f"{n}:{t}" for n, t in table.columns),
                "--partition_key": table.partition_key,
                "--dq_ruleset": self.ruleset_name,
            },
        )
        job.node.add_dependency(self.table)
        if self.connection is not None:
            job.node.add_dependency(self.connection)
        return job

    def _ingest_on_arrival(self, prefix: str, lake: LakeAccess, batch: IngestBatching) -> None:
        """Raw objects -> EventBridge -> the Glue workflow ``<prefix>-ingest``, whose event
        trigger starts the ETL job once per batch of arrivals (a burst of uploads is one run)."""
        self.workflow = glue.CfnWorkflow(
            self,
            "IngestWorkflow",
            name=f"{prefix}-ingest",
            description="New raw data -> ETL with data quality -> curated",
            max_concurrent_runs=1,
        )
        glue.CfnTrigger(
            self,
            "IngestTrigger",
            name=f"{prefix}-ingest",
            type="EVENT",
            workflow_name=self.workflow.ref,
            actions=[glue.CfnTrigger.ActionProperty(job_name=self.etl_job.ref)],
            event_batching_condition=glue.CfnTrigger.EventBatchingConditionProperty(
                batch_size=batch.size, batch_window=batch.window_seconds
            ),
        )
        workflow_arn = self._glue_arn(f"workflow/{prefix}-ingest")
        role = iam.Role(
            self,
            "IngestEventsRole",
            role_name=role_name(prefix, GLUE_INGEST_EVENTS),
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description="EventBridge notifies the ingest workflow of raw data arrivals",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="NotifyIngestWorkflow",
                actions=["glue:notifyEvent"],
                resources=[workflow_arn],
            )
        )
        acknowledge_inline_policy(role)
        self.data_arrival = lake.on_raw_data_arrival(
            self, "DataArrival", description="New raw data starts the ingest workflow"
        )
        self.data_arrival.add_target(_GlueWorkflowTarget(workflow_arn, role))

    def _etl_rule(
        self, scope: Construct, id: str, states: list[str], description: str
    ) -> events.Rule:
        return events.Rule(
            scope,
            id,
            description=description,
            event_pattern=events.EventPattern(
                source=["aws.glue"],
                detail_type=["Glue Job State Change"],
                detail={"jobName": [self.etl_job_name], "state": states},
            ),
        )

    def _etl_failed(self, notifications: NotificationTopic) -> events.Rule:
        """A failed ETL run, including a failed data-quality ruleset: notify; nothing trains."""
        rule = self._etl_rule(
            self,
            "EtlFailed",
            ["FAILED", "TIMEOUT", "ERROR", "STOPPED"],
            "The ETL job failed (e.g. its data-quality ruleset): no training starts",
        )
        rule.add_target(notifications.target())
        return rule

    def on_etl_succeeded(self, scope: Construct, id: str) -> events.Rule:
        """An EventBridge rule, created in ``scope`` (its consumer's stack) with no target,
        matching successful ETL runs: curated data that passed data quality."""
        return self._etl_rule(
            scope, id, ["SUCCEEDED"], "Curated data passed data quality: training may start"
        )

    @staticmethod
    def _schedule(expression: str | None) -> glue.CfnCrawler.ScheduleProperty | None:
        if expression is None:
            return None
        return glue.CfnCrawler.ScheduleProperty(schedule_expression=expression)

    def _grant_glue_logs(self, role: iam.Role, ops_key: PlatformKey) -> None:
        glue_logs_arn = arns(self).arn("logs", "log-group:/aws-glue/*")
        role.add_to_policy(
            iam.PolicyStatement(
                sid="GlueLogs",
                actions=[
                    "logs:AssociateKmsKey",
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                ],
                # Glue names its log groups and streams itself (after the job, role and
                # security configuration), always under /aws-glue/.
                resources=[glue_logs_arn, f"{glue_logs_arn}:log-stream:*"],
            )
        )
        for arn in (glue_logs_arn, f"{glue_logs_arn}:log-stream:*"):
            acknowledge_wildcard_resource(
                role,
                arn,
                "Glue creates and names its own log groups and streams (after the job, role and "
                "security configuration); the policy is limited to the /aws-glue/ path.",
            )
        ops_key.grant_encrypt_decrypt(role)
        acknowledge_inline_policy(role)

    @staticmethod
    def _acknowledge_lake_grants(role: iam.Role, lake: LakeAccess) -> None:
        acknowledge_grant_actions(
            role,
            "Action groups written by grant_read/grant_read_write on the lake's own buckets and "
            "keys; every resource in these statements is named.",
        )
        acknowledge_wildcard_resource(
            role,
            lake.raw.arn_for_objects(f"{lake.raw_prefix}*"),
            "Objects under the raw landing prefix arrive with names chosen by data producers; "
            "access is limited to that prefix of the raw bucket.",
        )
        acknowledge_wildcard_resource(
            role,
            lake.curated.arn_for_objects("*"),
            "The curated bucket holds only this catalog's tables, whose partition objects are "
            "named by the ETL job at run time.",
        )

    def grant_start_etl(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow starting (and reading runs of) the ETL job."""
        here = arns(self)
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns"],
            resource_arns=[f"{here.prefix('glue')}:job/{self.etl_job.name}"],
        )
