"""DataLake, DataLakeRef, DataCatalog, AuditTrail and ArtifactReplica, each in a bare stack."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_iam as iam

from mlops_constructs.data.artifact_store import ArtifactReplica
from mlops_constructs.data.audit import AuditTrail
from mlops_constructs.data.catalog import CuratedTable, DataCatalog
from mlops_constructs.data.lake import DataLake, DataLakeRef, LakeLifecycle
from mlops_constructs.notifications import NotificationTopic
from mlops_constructs.security.keys import PlatformKey

Statements = Callable[[dict[str, Any], str], list[dict[str, Any]]]

ACCOUNT = "111111111111"
ENV = cdk.Environment(account=ACCOUNT, region="us-east-1")
SEALER = f"arn:aws:iam::{ACCOUNT}:role/p-dev-fingerprint"
RELEASER = "arn:aws:iam::222222222222:role/p-prod-release-action"
TABLE = CuratedTable(name="churn", columns=(("tenure", "int"), ("plan", "string")))


def _key(stack: cdk.Stack, purpose: str) -> PlatformKey:
    return PlatformKey(stack, purpose.title(), prefix="p-dev", purpose=purpose, description="k")


def _lake(app: cdk.App) -> None:
    stack = cdk.Stack(app, "Lake", env=ENV)
    lake = DataLake(
        stack,
        "Lake",
        key=_key(stack, "data"),
        bucket_name_prefix="p-dev",
        lifecycle=LakeLifecycle(raw_expiration_days=365),
    )
    lake.seal(lake.artifacts, "sealed/", [SEALER], sid="Sealed")
    lake.on_raw_data_arrival(stack, "Arrival")
    AuditTrail(
        stack,
        "Trail",
        trail_name="p-dev-trail",
        bucket=lake.access_logs,
        key=_key(stack, "ops"),
        data_buckets=lake.data_buckets,
    )


def _reference(app: cdk.App) -> None:
    stack = cdk.Stack(app, "Reference", env=ENV)
    lake = DataLakeRef(stack, "Lake", bucket_name_prefix="p-dev", key=_key(stack, "data"),
                       raw_prefix="incoming/")  # fmt: skip
    reader = iam.Role(
        stack, "Reader", role_name="p-dev-reader", assumed_by=iam.AccountRootPrincipal()
    )
    lake.grant_read_raw(reader)
    lake.grant_seal(reader)


def _catalog(app: cdk.App) -> None:
    stack = cdk.Stack(app, "Catalog", env=ENV)
    ops = _key(stack, "ops")
    lake = DataLakeRef(stack, "Lake", bucket_name_prefix="p-dev", key=_key(stack, "data"),
                       raw_prefix="incoming/")  # fmt: skip
    topic = NotificationTopic(stack, "Events", prefix="p-dev", name="data", key=ops, title="t")
    DataCatalog(
        stack, "Catalog", prefix="p-dev", lake=lake, ops_key=ops, table=TABLE, notifications=topic
    )


@pytest.fixture(scope="module")
def templates(feature_flags: dict[str, Any]) -> dict[str, dict[str, Any]]:
    app = cdk.App(context=feature_flags)
    _lake(app)
    _reference(app)
    _catalog(app)
    replica = cdk.Stack(app, "Replica", env=cdk.Environment(account=ACCOUNT, region="eu-west-1"))
    ArtifactReplica(replica, "Replica", name="p-release", home_region="us-east-1",
                    roles=[RELEASER])  # fmt: skip
    assembly = app.synth()
    names = ("Lake", "Reference", "Catalog", "Replica")
    return {name: assembly.get_stack_by_name(name).template for name in names}


def _of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _buckets(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["Properties"]["BucketName"]: r for r in _of(template, "AWS::S3::Bucket").values()}


def _policy_sids(template: dict[str, Any], bucket_id: str) -> set[str]:
    [policy] = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in _of(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    return {s.get("Sid", "") for s in policy}


def test_the_lake_is_five_retained_private_versioned_buckets(
    templates: dict[str, dict[str, Any]],
) -> None:
    buckets = _buckets(templates["Lake"])
    purposes = ("logs", "raw", "curated", "artifacts", "releases")
    assert sorted(buckets) == sorted(f"p-dev-{p}-{ACCOUNT}" for p in purposes)
    for bucket in buckets.values():
        properties = bucket["Properties"]
        assert bucket["DeletionPolicy"] == "Retain"
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
        assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
        assert properties["OwnershipControls"]["Rules"] == [
            {"ObjectOwnership": "BucketOwnerEnforced"}
        ]


def test_data_buckets_take_the_lake_key_only_and_are_logged(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["Lake"]
    buckets = _buckets(template)
    logs = buckets.pop(f"p-dev-logs-{ACCOUNT}")
    [sse] = logs["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert sse["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    ids = {r["Properties"]["BucketName"]: k for k, r in _of(template, "AWS::S3::Bucket").items()}
    for name, bucket in buckets.items():
        properties = bucket["Properties"]
        [sse] = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert sse["BucketKeyEnabled"] is True
        purpose = name.split("-")[2]
        assert properties["LoggingConfiguration"]["LogFilePrefix"] == f"s3/p-dev/{purpose}/"
        assert properties["NotificationConfiguration"] == {
            "EventBridgeConfiguration": {"EventBridgeEnabled": True}
        }
        sids = _policy_sids(template, ids[name])
        assert {"OnlySseKms", "OnlyTheLakeKey", "NoDefaultAwsKey", "NoVersionDeletion"} <= sids


def _expiry(bucket: dict[str, Any]) -> int | None:
    [rule] = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    days: int | None = rule.get("ExpirationInDays")
    return days


def test_lifecycle_expires_releases_and_what_is_configured(
    templates: dict[str, dict[str, Any]],
) -> None:
    buckets = _buckets(templates["Lake"])
    assert _expiry(buckets[f"p-dev-releases-{ACCOUNT}"]) == 30
    assert _expiry(buckets[f"p-dev-raw-{ACCOUNT}"]) == 365
    assert _expiry(buckets[f"p-dev-curated-{ACCOUNT}"]) is None
    assert _expiry(buckets[f"p-dev-logs-{ACCOUNT}"]) == 365


def test_sealed_objects_are_write_once_by_their_writer(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["Lake"]
    ids = {r["Properties"]["BucketName"]: k for k, r in _of(template, "AWS::S3::Bucket").items()}
    [policy] = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in _of(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": ids[f"p-dev-artifacts-{ACCOUNT}"]}
    ]
    by_sid = {s.get("Sid"): s for s in policy}
    writer = by_sid["SealedWriter"]
    assert writer["Effect"] == "Deny"
    assert writer["Condition"]["ArnNotEquals"] == {"aws:PrincipalArn": [SEALER]}
    assert by_sid["SealedWriteOnce"]["Condition"]["Null"] == {"s3:if-none-match": "true"}
    assert by_sid["SealedNeverDeleted"]["Action"] == "s3:DeleteObject"


def test_raw_arrivals_match_the_raw_prefix(templates: dict[str, dict[str, Any]]) -> None:
    template = assertions.Template.from_json(templates["Lake"])
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {"object": {"key": [{"prefix": "incoming/"}]}},
            }
        },
    )


def test_the_trail_records_every_lake_object_read_and_write(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["Lake"]
    [trail] = _of(template, "AWS::CloudTrail::Trail").values()
    properties = trail["Properties"]
    assert properties["TrailName"] == "p-dev-trail"
    assert properties["IsMultiRegionTrail"] is True
    assert properties["IncludeGlobalServiceEvents"] is True
    assert properties["EnableLogFileValidation"] is True
    assert properties["S3KeyPrefix"] == "cloudtrail"
    assert "KMSKeyId" in properties
    [selector] = properties["EventSelectors"]
    assert selector["ReadWriteType"] == "All"
    [data] = selector["DataResources"]
    assert data["Type"] == "AWS::S3::Object" and len(data["Values"]) == 4
    groups = [g for g in _of(template, "AWS::Logs::LogGroup").values()]
    [group] = [
        g for g in groups if g["Properties"]["LogGroupName"] == "/aws/cloudtrail/p-dev-trail"
    ]
    assert group["Properties"]["RetentionInDays"] == 365 and "KmsKeyId" in group["Properties"]
    assert group["DeletionPolicy"] == "Retain"


def test_a_reference_grants_by_bucket_name_without_exports(
    templates: dict[str, dict[str, Any]], statements: Statements
) -> None:
    template = templates["Reference"]
    assert not _of(template, "AWS::S3::Bucket") and "Outputs" not in template
    found = statements(template, "p-dev-reader")
    resources = [r for s in found for r in s["Resource"]]
    assert f"arn:aws:s3:::p-dev-raw-{ACCOUNT}/incoming/*" in resources
    assert f"arn:aws:s3:::p-dev-artifacts-{ACCOUNT}/sealed/*" in resources
    # Sealing creates objects and aborts uploads: no delete, no tagging, no retention.
    [seal] = [s for s in found if "s3:AbortMultipartUpload" in s["Action"]]
    assert sorted(seal["Action"]) == ["s3:AbortMultipartUpload", "s3:PutObject"]
    assert seal["Resource"] == [f"arn:aws:s3:::p-dev-artifacts-{ACCOUNT}/sealed/*"]


def test_the_catalog_is_retained_encrypted_and_runs_on_demand(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["Catalog"]
    [database] = _of(template, "AWS::Glue::Database").values()
    assert database["Properties"]["DatabaseInput"]["Name"] == "p_dev"
    [table] = _of(template, "AWS::Glue::Table").values()
    assert database["DeletionPolicy"] == table["DeletionPolicy"] == "Retain"
    parameters = table["Properties"]["TableInput"]["Parameters"]
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.ingest_date.type"] == "date"
    [security] = _of(template, "AWS::Glue::SecurityConfiguration").values()
    encryption = security["Properties"]["EncryptionConfiguration"]
    assert encryption["S3Encryptions"][0]["S3EncryptionMode"] == "SSE-KMS"
    assert encryption["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS"
    assert encryption["JobBookmarksEncryption"]["JobBookmarksEncryptionMode"] == "CSE-KMS"
    [crawler] = _of(template, "AWS::Glue::Crawler").values()
    assert crawler["Properties"]["Name"] == "p-dev-raw" and "Schedule" not in crawler["Properties"]


def test_the_etl_job_runs_once_at_a_time_after_a_batch_of_arrivals(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["Catalog"]
    [job] = _of(template, "AWS::Glue::Job").values()
    properties = job["Properties"]
    assert properties["Name"] == "p-dev-raw-to-curated"
    assert properties["MaxRetries"] == 0
    assert properties["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    assert properties["DefaultArguments"]["--dq_ruleset"] == "p-dev-churn-quality"
    assert properties["DefaultArguments"]["--columns"] == "tenure:int,plan:string"
    [ruleset] = _of(template, "AWS::Glue::DataQualityRuleset").values()
    assert ruleset["Properties"]["Ruleset"] == "Rules = [\n    RowCount > 0\n]"
    [trigger] = _of(template, "AWS::Glue::Trigger").values()
    assert trigger["Properties"]["Type"] == "EVENT"
    assert trigger["Properties"]["EventBatchingCondition"] == {"BatchSize": 100, "BatchWindow": 900}
    roles = {r["Properties"]["RoleName"] for r in _of(template, "AWS::IAM::Role").values()}
    assert {"p-dev-glue-crawler", "p-dev-glue-etl", "p-dev-glue-ingest-events"} <= roles


def test_etl_failures_and_quality_results_are_published(
    templates: dict[str, dict[str, Any]],
) -> None:
    rules = [r["Properties"] for r in _of(templates["Catalog"], "AWS::Events::Rule").values()]
    failed = [r for r in rules if r["EventPattern"].get("source") == ["aws.glue"]]
    assert failed and failed[0]["EventPattern"]["detail"]["state"] == [
        "FAILED", "TIMEOUT", "ERROR", "STOPPED"
    ]  # fmt: skip
    quality = [r for r in rules if r["EventPattern"].get("source") == ["aws.glue-dataquality"]]
    assert quality[0]["EventPattern"]["detail"] == {"rulesetNames": ["p-dev-churn-quality"]}
    for rule in (failed[0], quality[0]):
        [target] = rule["Targets"]
        assert "RoleArn" in target  # the topic's publisher role


def test_a_replica_admits_exactly_the_release_roles(templates: dict[str, dict[str, Any]]) -> None:
    template = templates["Replica"]
    [alias] = _of(template, "AWS::KMS::Alias").values()
    assert alias["Properties"]["AliasName"] == "alias/p-release-eu-west-1"
    [key] = _of(template, "AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True and key["DeletionPolicy"] == "Retain"
    decrypt = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid") == "ReleaseActionsDecryptArtifacts"
    ]
    assert decrypt[0]["Condition"]["ArnEquals"] == {"aws:PrincipalArn": [RELEASER]}
    assert decrypt[0]["Condition"]["StringEquals"] == {
        "kms:ViaService": "s3.eu-west-1.amazonaws.com"
    }
    buckets = _buckets(template)
    artifacts = buckets[f"p-release-eu-west-1-artifacts-{ACCOUNT}"]
    assert _expiry(artifacts) == 30


def test_a_replica_belongs_in_another_region(feature_flags: dict[str, Any]) -> None:
    stack = cdk.Stack(cdk.App(context=feature_flags), "S", env=ENV)
    with pytest.raises(ValueError, match="another region than us-east-1"):
        ArtifactReplica(stack, "Replica", name="p", home_region="us-east-1", roles=[])
    far = cdk.Stack(cdk.App(context=feature_flags), "S", env=cdk.Environment(
        account=ACCOUNT, region="ap-southeast-2"))  # fmt: skip
    with pytest.raises(ValueError, match="longer than S3's 63 characters"):
        ArtifactReplica(far, "Replica", name="p" * 40, home_region="us-east-1", roles=[])
