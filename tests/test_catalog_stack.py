"""The stateless catalog stack: Glue database, table, crawlers, ETL, data quality, events."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from tests.conftest import Synthesized

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def catalog(default_synth: Synthesized) -> Template:
    return default_synth.template(default_synth.stages["dev"].projects["churn"].catalog_stack)


@pytest.fixture(scope="module")
def resources(default_synth: Synthesized) -> dict[str, Any]:
    res: dict[str, Any] = default_synth.template_json(
        default_synth.stages["dev"].projects["churn"].catalog_stack
    )["Resources"]
    return res


def _one(resources: dict[str, Any], kind: str, **match: Any) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        v["Properties"]
        for v in resources.values()
        if v["Type"] == kind and all(v["Properties"].get(k) == m for k, m in match.items())
    ]
    assert len(found) == 1, (kind, match, len(found))
    return found[0]


def test_no_cloudformation_exports_couple_the_stacks(default_synth: Synthesized) -> None:
    """Buckets are addressed by name; only the key ARNs cross stacks, as weak references."""
    data = default_synth.template_json(default_synth.stages["dev"].data)
    assert all("Export" not in o for o in data.get("Outputs", {}).values())
    text = str(
        default_synth.template_json(default_synth.stages["dev"].projects["churn"].catalog_stack)
    )
    assert "Fn::ImportValue" not in text


def test_database_and_curated_table(catalog: Template) -> None:
    catalog.has_resource(
        "AWS::Glue::Database",
        {"Properties": {"DatabaseInput": {"Name": "mlops_dev_churn"}}, "DeletionPolicy": "Retain"},
    )
    catalog.has_resource(
        "AWS::Glue::Table",
        {
            "DeletionPolicy": "Retain",
            "Properties": {
                "DatabaseName": "mlops_dev_churn",
                "TableInput": {
                    "Name": "customers",
                    "PartitionKeys": [{"Name": "ingest_date", "Type": "string"}],
                    "StorageDescriptor": {
                        "Location": f"s3://mlops-dev-churn-curated-{ACCOUNT}/customers/",
                        "SerdeInfo": {
                            "SerializationLibrary": (
                                "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
                            )
                        },
                        "Columns": Match.array_with([{"Name": "churned", "Type": "int"}]),
                    },
                },
            },
        },
    )


def test_curated_table_is_csv_with_projected_partitions(resources: dict[str, Any]) -> None:
    """CSV with a header: what every framework's processing image reads without a Parquet
    library; partitions are projected, so no crawler has to register them."""
    table = _one(resources, "AWS::Glue::Table")["TableInput"]
    params = table["Parameters"]
    assert params["classification"] == "csv" and params["skip.header.line.count"] == "1"
    assert params["projection.enabled"] == "true"
    assert params["projection.ingest_date.type"] == "date"
    assert params["storage.location.template"] == (
        f"s3://mlops-dev-churn-curated-{ACCOUNT}/customers/ingest_date=${{ingest_date}}/"
    )
    assert not [c for c in resources.values() if c["Type"] == "AWS::Glue::Crawler"
                and "CatalogTargets" in c["Properties"]["Targets"]]  # fmt: skip


def test_raw_arrivals_start_the_etl_in_batches(resources: dict[str, Any]) -> None:
    """New raw objects notify the ingest workflow, whose event trigger starts the ETL job once
    per batch; raw data never reaches training without the data-quality ruleset."""
    workflow = _one(resources, "AWS::Glue::Workflow", Name="mlops-dev-churn-ingest")
    assert workflow["MaxConcurrentRuns"] == 1
    trigger = _one(resources, "AWS::Glue::Trigger", Name="mlops-dev-churn-ingest")
    assert trigger["Type"] == "EVENT"
    assert trigger["EventBatchingCondition"] == {"BatchSize": 100, "BatchWindow": 900}
    [action] = trigger["Actions"]
    assert "JobName" in action
    [rule] = [
        v["Properties"]
        for v in resources.values()
        if v["Type"] == "AWS::Events::Rule"
        and v["Properties"]["EventPattern"].get("detail-type") == ["Object Created"]
    ]
    assert rule["EventPattern"]["detail"] == {
        "bucket": {"name": [f"mlops-dev-churn-raw-{ACCOUNT}"]},
        "object": {"key": [{"prefix": "incoming/"}]},
    }
    [target] = rule["Targets"]
    assert target["Arn"] == f"arn:aws:glue:us-east-1:{ACCOUNT}:workflow/mlops-dev-churn-ingest"
    role = _statements(resources, "CatalogIngestEventsRole")
    assert [s["Action"] for s in role] == ["glue:notifyEvent"]
    assert [s["Resource"] for s in role] == [target["Arn"]]


def test_a_failed_etl_run_notifies_and_alarms(resources: dict[str, Any]) -> None:
    """A batch failing its data-quality ruleset fails the run: notified, alarmed, not trained."""
    rules = [v["Properties"] for v in resources.values() if v["Type"] == "AWS::Events::Rule"]
    failed = next(
        r for r in rules if r["EventPattern"].get("detail-type") == ["Glue Job State Change"]
    )
    assert failed["EventPattern"]["detail"] == {
        "jobName": ["mlops-dev-churn-raw-to-curated"],
        "state": ["FAILED", "TIMEOUT", "ERROR", "STOPPED"],
    }
    assert "SUCCEEDED" not in json.dumps(rules)  # the build stack owns the success rule
    alarm = _one(resources, "AWS::CloudWatch::Alarm", AlarmName="mlops-dev-churn-etl-failed")
    assert alarm["Threshold"] == 0


def test_security_configuration_encrypts_s3_logs_and_bookmarks(resources: dict[str, Any]) -> None:
    cfg = _one(resources, "AWS::Glue::SecurityConfiguration")["EncryptionConfiguration"]
    assert cfg["S3Encryptions"][0]["S3EncryptionMode"] == "SSE-KMS"
    assert cfg["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS"
    assert cfg["JobBookmarksEncryption"]["JobBookmarksEncryptionMode"] == "CSE-KMS"
    data_key = cfg["S3Encryptions"][0]["KmsKeyArn"]
    assert cfg["JobBookmarksEncryption"]["KmsKeyArn"] == data_key
    assert cfg["CloudWatchEncryption"]["KmsKeyArn"] != data_key  # logs use the ops key


def test_crawlers_use_the_security_configuration_and_run_on_demand(
    resources: dict[str, Any],
) -> None:
    raw = _one(resources, "AWS::Glue::Crawler", Name="mlops-dev-churn-raw")
    assert raw["CrawlerSecurityConfiguration"] == {
        "Ref": next(k for k in resources if k.startswith("CatalogSecurityConfiguration"))
    }
    assert "Schedule" not in raw
    assert raw["Targets"]["S3Targets"] == [
        {"Path": f"s3://mlops-dev-churn-raw-{ACCOUNT}/incoming/"}
    ]


def test_etl_job(resources: dict[str, Any]) -> None:
    job = _one(resources, "AWS::Glue::Job", Name="mlops-dev-churn-raw-to-curated")
    assert job["GlueVersion"] == "5.0"
    assert job["Command"]["Name"] == "glueetl"
    assert job["Command"]["ScriptLocation"].startswith(
        f"s3://cdk-hnb659fds-assets-{ACCOUNT}-us-east-1/"
    )
    assert job["WorkerType"] == "G.1X" and job["NumberOfWorkers"] == 2
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    assert job["SecurityConfiguration"]["Ref"].startswith("CatalogSecurityConfiguration")
    args = job["DefaultArguments"]
    assert args["--job-bookmark-option"] == "job-bookmark-enable"
    assert args["--source_path"] == f"s3://mlops-dev-churn-raw-{ACCOUNT}/incoming/"
    assert args["--target_path"] == f"s3://mlops-dev-churn-curated-{ACCOUNT}/customers/"
    assert args["--columns"].startswith("customer_id:string,tenure_months:int,")
    assert args["--dq_ruleset"] == "mlops-dev-churn-customers-quality"


def test_data_quality_ruleset_and_result_events(resources: dict[str, Any]) -> None:
    ruleset = _one(resources, "AWS::Glue::DataQualityRuleset")
    assert ruleset["Name"] == "mlops-dev-churn-customers-quality"
    assert ruleset["TargetTable"] == {"DatabaseName": "mlops_dev_churn", "TableName": "customers"}
    assert ruleset["Ruleset"].startswith("Rules = [\n    RowCount > 0,\n")
    assert 'IsUnique "customer_id"' in ruleset["Ruleset"]
    rule = next(
        v["Properties"]
        for v in resources.values()
        if v["Type"] == "AWS::Events::Rule"
        and v["Properties"]["EventPattern"]["source"] == ["aws.glue-dataquality"]
    )
    assert rule["EventPattern"]["detail"] == {"rulesetNames": ["mlops-dev-churn-customers-quality"]}
    target = rule["Targets"][0]
    assert target["Arn"] == {
        "Ref": next(
            k
            for k in resources
            if k.startswith("DataEvents") and resources[k]["Type"] == "AWS::SNS::Topic"
        )
    }
    publisher = next(
        k for k, v in resources.items()
        if v["Type"] == "AWS::IAM::Role" and v["Properties"]["RoleName"].endswith("-publisher")
    )  # fmt: skip
    assert target["RoleArn"] == {"Fn::GetAtt": [publisher, "Arn"]}


def test_topic_is_encrypted_and_tls_only(resources: dict[str, Any]) -> None:
    topic = _one(resources, "AWS::SNS::Topic")
    assert topic["TopicName"] == "mlops-dev-churn-data-events"
    assert "KmsMasterKeyId" in topic
    policy = _one(resources, "AWS::SNS::TopicPolicy")["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy
    )


def _statements(resources: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    policy = next(
        v["Properties"]
        for k, v in resources.items()
        if v["Type"] == "AWS::IAM::Policy" and k.startswith(role_prefix)
    )
    statements: list[dict[str, Any]] = policy["PolicyDocument"]["Statement"]
    return statements


@pytest.mark.parametrize("role", ["CatalogCrawlerRole", "CatalogEtlRole", "DataEventsPublisher"])
def test_roles_are_scoped(resources: dict[str, Any], role: str) -> None:
    for statement in _statements(resources, role):
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert not any(a in ("*", "s3:*", "kms:*", "glue:*") for a in actions), statement
        res = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        if "*" in res:  # only where the service has no resource-level permissions
            assert actions == ["cloudwatch:PutMetricData"]
            assert statement["Condition"]["StringEquals"]["cloudwatch:namespace"]


def test_raw_read_is_limited_to_the_landing_prefix(resources: dict[str, Any]) -> None:
    resources_read = [
        r for s in _statements(resources, "CatalogCrawlerRole")
        for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    ]  # fmt: skip
    raw_objects = [
        r for r in resources_read if isinstance(r, str) and f"mlops-dev-churn-raw-{ACCOUNT}/" in r
    ]
    assert raw_objects == [f"arn:aws:s3:::mlops-dev-churn-raw-{ACCOUNT}/incoming/*"]


def test_roles_are_named_for_the_key_policy(resources: dict[str, Any]) -> None:
    names = sorted(
        v["Properties"]["RoleName"] for v in resources.values() if v["Type"] == "AWS::IAM::Role"
    )
    assert names == [
        "mlops-dev-churn-data-events-publisher",
        "mlops-dev-churn-glue-crawler",
        "mlops-dev-churn-glue-etl",
        "mlops-dev-churn-glue-ingest-events",
    ]


def test_config_changes_schedule_workers_and_prefix(custom_synth: Synthesized) -> None:
    res = custom_synth.template_json(
        custom_synth.stages["staging"].projects["churn"].catalog_stack
    )["Resources"]
    crawler = _one(res, "AWS::Glue::Crawler", Name="acme-ml-staging-churn-raw")
    assert crawler["Schedule"] == {"ScheduleExpression": "cron(0 3 * * ? *)"}
    assert (
        crawler["Targets"]["S3Targets"][0]["Path"]
        == "s3://acme-ml-staging-churn-raw-222222222222/landing/"
    )
    job = _one(res, "AWS::Glue::Job", Name="acme-ml-staging-churn-raw-to-curated")
    assert job["NumberOfWorkers"] == 4
