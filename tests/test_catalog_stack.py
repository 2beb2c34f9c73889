"""The stateless catalog stack: Glue database, table, crawlers, ETL, data quality, events."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from tests.conftest import Synthesized

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def catalog(default_synth: Synthesized) -> Template:
    return default_synth.template(default_synth.stages["dev"].catalog)


@pytest.fixture(scope="module")
def resources(default_synth: Synthesized) -> dict[str, Any]:
    res: dict[str, Any] = default_synth.template_json(default_synth.stages["dev"].catalog)[
        "Resources"
    ]
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
    text = str(default_synth.template_json(default_synth.stages["dev"].catalog))
    assert "Fn::ImportValue" not in text


def test_database_and_curated_table(catalog: Template) -> None:
    catalog.has_resource(
        "AWS::Glue::Database",
        {"Properties": {"DatabaseInput": {"Name": "mlops_dev"}}, "DeletionPolicy": "Retain"},
    )
    catalog.has_resource(
        "AWS::Glue::Table",
        {
            "DeletionPolicy": "Retain",
            "Properties": {
                "DatabaseName": "mlops_dev",
                "TableInput": {
                    "Name": "customers",
                    "PartitionKeys": [{"Name": "ingest_date", "Type": "string"}],
                    "StorageDescriptor": {
                        "Location": f"s3://mlops-dev-curated-{ACCOUNT}/customers/",
                        "SerdeInfo": {
                            "SerializationLibrary": (
                                "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
                            )
                        },
                        "Columns": Match.array_with([{"Name": "churned", "Type": "int"}]),
                    },
                },
            },
        },
    )


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
    raw = _one(resources, "AWS::Glue::Crawler", Name="mlops-dev-raw")
    curated = _one(resources, "AWS::Glue::Crawler", Name="mlops-dev-curated")
    for crawler in (raw, curated):
        assert crawler["CrawlerSecurityConfiguration"] == {
            "Ref": next(k for k in resources if k.startswith("CatalogSecurityConfiguration"))
        }
        assert "Schedule" not in crawler
    assert raw["Targets"]["S3Targets"] == [{"Path": f"s3://mlops-dev-raw-{ACCOUNT}/incoming/"}]
    assert curated["Targets"]["CatalogTargets"] == [
        {"DatabaseName": "mlops_dev", "Tables": ["customers"]}
    ]


def test_etl_job(resources: dict[str, Any]) -> None:
    job = _one(resources, "AWS::Glue::Job", Name="mlops-dev-raw-to-curated")
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
    assert args["--source_path"] == f"s3://mlops-dev-raw-{ACCOUNT}/incoming/"
    assert args["--target_path"] == f"s3://mlops-dev-curated-{ACCOUNT}/customers/"
    assert args["--columns"].startswith("customer_id:string,tenure_months:int,")
    assert args["--dq_ruleset"] == "mlops-dev-customers-quality"


def test_data_quality_ruleset_and_result_events(resources: dict[str, Any]) -> None:
    ruleset = _one(resources, "AWS::Glue::DataQualityRuleset")
    assert ruleset["Name"] == "mlops-dev-customers-quality"
    assert ruleset["TargetTable"] == {"DatabaseName": "mlops_dev", "TableName": "customers"}
    assert ruleset["Ruleset"].startswith("Rules = [\n    RowCount > 0,\n")
    assert 'IsUnique "customer_id"' in ruleset["Ruleset"]
    rule = next(
        v["Properties"]
        for v in resources.values()
        if v["Type"] == "AWS::Events::Rule"
        and v["Properties"]["EventPattern"]["source"] == ["aws.glue-dataquality"]
    )
    assert rule["EventPattern"]["detail"] == {"rulesetNames": ["mlops-dev-customers-quality"]}
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
    assert topic["TopicName"] == "mlops-dev-data-events"
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
        r for r in resources_read if isinstance(r, str) and f"mlops-dev-raw-{ACCOUNT}/" in r
    ]
    assert raw_objects == [f"arn:aws:s3:::mlops-dev-raw-{ACCOUNT}/incoming/*"]


def test_roles_are_named_for_the_key_policy(resources: dict[str, Any]) -> None:
    names = sorted(
        v["Properties"]["RoleName"] for v in resources.values() if v["Type"] == "AWS::IAM::Role"
    )
    assert names == [
        "mlops-dev-data-events-publisher",
        "mlops-dev-glue-crawler",
        "mlops-dev-glue-etl",
    ]


def test_config_changes_schedule_workers_and_prefix(custom_synth: Synthesized) -> None:
    res = custom_synth.template_json(custom_synth.stages["staging"].catalog)["Resources"]
    crawler = _one(res, "AWS::Glue::Crawler", Name="acme-ml-staging-raw")
    assert crawler["Schedule"] == {"ScheduleExpression": "cron(0 3 * * ? *)"}
    assert (
        crawler["Targets"]["S3Targets"][0]["Path"]
        == "s3://acme-ml-staging-raw-222222222222/landing/"
    )
    job = _one(res, "AWS::Glue::Job", Name="acme-ml-staging-raw-to-curated")
    assert job["NumberOfWorkers"] == 4
