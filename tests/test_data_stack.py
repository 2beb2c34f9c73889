"""The stateful data stack: keys, data-lake buckets and the audit trail."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from tests.conftest import Synthesized

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def data(default_synth: Synthesized) -> Template:
    return default_synth.template(default_synth.stages["dev"].data)


@pytest.fixture(scope="module")
def resources(default_synth: Synthesized) -> dict[str, Any]:
    res: dict[str, Any] = default_synth.template_json(default_synth.stages["dev"].data)["Resources"]
    return res


def _of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def test_stack_identity(default_synth: Synthesized) -> None:
    stack = default_synth.stages["dev"].data
    assert stack.stack_name == "mlops-dev-data"
    assert (stack.account, stack.region) == (ACCOUNT, "us-east-1")
    assert stack.termination_protection is True


def test_two_keys_with_rotation_aliases_and_retention(
    data: Template, resources: dict[str, Any]
) -> None:
    data.resource_count_is("AWS::KMS::Key", 2)
    for key in _of_type(resources, "AWS::KMS::Key").values():
        assert key["Properties"]["EnableKeyRotation"] is True
        assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"
    aliases = {
        a["Properties"]["AliasName"] for a in _of_type(resources, "AWS::KMS::Alias").values()
    }
    assert aliases == {"alias/mlops-dev-data", "alias/mlops-dev-ops"}


def test_key_use_is_limited_to_platform_roles(resources: dict[str, Any]) -> None:
    for key in _of_type(resources, "AWS::KMS::Key").values():
        statements = {s["Sid"]: s for s in key["Properties"]["KeyPolicy"]["Statement"]}
        admin = statements["KeyAdministration"]
        assert not {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"} & set(admin["Action"])
        assert not {"kms:CreateGrant", "kms:PutKeyPolicy", "kms:Create*", "kms:Put*"} & set(
            admin["Action"]
        )
        # Exact role ARNs of the platform's key users, never a name pattern (issue 13).
        use = statements["UseByPlatformRoles"]
        assert "kms:Decrypt" in use["Action"]
        users = use["Condition"]["ArnEquals"]["aws:PrincipalArn"]
        assert f"arn:aws:iam::{ACCOUNT}:role/mlops-dev-churn-sagemaker-pipeline" in users
        assert all("*" not in arn for arn in users)
        grants = statements["GrantsForAwsResourcesOfPlatformRoles"]["Condition"]
        assert grants["Bool"] == {"kms:GrantIsForAWSResource": "true"}
        policy = statements["KeyPolicyByDeploymentOrBreakGlass"]
        assert policy["Action"] == "kms:PutKeyPolicy"
        assert policy["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [
            f"arn:aws:iam::{ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-{ACCOUNT}-us-east-1",
            f"arn:aws:iam::{ACCOUNT}:root",
        ]
        # Nothing grants kms:* or usage to the whole account without a condition.
        for s in statements.values():
            assert s["Action"] != "kms:*"
            if "AWS" in s["Principal"] and s["Sid"] != "KeyAdministration":
                assert "Condition" in s


def test_ops_key_admits_cloudtrail_only_for_its_trail(resources: dict[str, Any]) -> None:
    keys = _of_type(resources, "AWS::KMS::Key")
    ops = next(v for k, v in keys.items() if k.startswith("OpsKey"))
    statements = {s["Sid"]: s for s in ops["Properties"]["KeyPolicy"]["Statement"]}
    trail = statements["CloudTrailEncrypt"]
    assert trail["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert trail["Condition"]["StringEquals"]["aws:SourceArn"] == (
        f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/mlops-dev-data-lake"
    )
    logs = statements["CloudWatchLogs"]
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert "kms:EncryptionContext:aws:logs:arn" in logs["Condition"]["ArnLike"]


@pytest.fixture(scope="module")
def project_resources(default_synth: Synthesized) -> dict[str, Any]:
    stack = default_synth.stages["dev"].projects["churn"].data
    res: dict[str, Any] = default_synth.template_json(stack)["Resources"]
    return res


@pytest.fixture(scope="module")
def project_data(default_synth: Synthesized) -> Template:
    return default_synth.template(default_synth.stages["dev"].projects["churn"].data)


def test_buckets_named_deterministically(
    resources: dict[str, Any], project_resources: dict[str, Any]
) -> None:
    shared = {
        b["Properties"]["BucketName"] for b in _of_type(resources, "AWS::S3::Bucket").values()
    }
    assert shared == {f"mlops-dev-logs-{ACCOUNT}"}
    names = {
        b["Properties"]["BucketName"]
        for b in _of_type(project_resources, "AWS::S3::Bucket").values()
    }
    assert names == {
        f"mlops-dev-churn-{p}-{ACCOUNT}" for p in ("raw", "curated", "artifacts", "releases")
    }


def test_every_bucket_is_private_versioned_and_retained(
    resources: dict[str, Any], project_resources: dict[str, Any]
) -> None:
    buckets = {**resources, **project_resources}
    assert len(_of_type(buckets, "AWS::S3::Bucket")) == 5
    for bucket in _of_type(buckets, "AWS::S3::Bucket").values():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
        assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"


def test_data_buckets_use_the_data_key_with_bucket_keys_and_log_access(
    project_resources: dict[str, Any],
) -> None:
    data_buckets = _of_type(project_resources, "AWS::S3::Bucket")
    assert len(data_buckets) == 4
    for logical_id, bucket in data_buckets.items():
        props = bucket["Properties"]
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["BucketKeyEnabled"] is True
        sse = rule["ServerSideEncryptionByDefault"]
        assert sse["SSEAlgorithm"] == "aws:kms"
        # The environment's data key, through a weak (Fn::GetStackOutput) reference.
        assert "GetStackOutput" in str(sse["KMSMasterKeyID"]) and "DataKey" in str(sse)
        logging = props["LoggingConfiguration"]
        assert logging["DestinationBucketName"] == f"mlops-dev-logs-{ACCOUNT}"
        assert logging["LogFilePrefix"].startswith("s3/mlops-dev-churn/")
        assert props["NotificationConfiguration"] == {
            "EventBridgeConfiguration": {"EventBridgeEnabled": True}
        }, logical_id


def test_log_bucket_uses_sse_s3_and_expires_logs(resources: dict[str, Any]) -> None:
    logs = next(iter(_of_type(resources, "AWS::S3::Bucket").values()))
    enc = logs["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert enc["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    rule = logs["Properties"]["LifecycleConfiguration"]["Rules"][0]
    assert rule["ExpirationInDays"] == 365


def test_every_bucket_policy_denies_plain_http(
    resources: dict[str, Any], project_resources: dict[str, Any]
) -> None:
    policies = _of_type({**resources, **project_resources}, "AWS::S3::BucketPolicy")
    assert len(policies) == 5
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny"
            and s["Action"] == "s3:*"
            and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        )


def test_server_access_logging_is_delivered_by_bucket_policy(resources: dict[str, Any]) -> None:
    """The environment's log bucket admits S3 logging from its projects' lakes only."""
    policy = next(iter(_of_type(resources, "AWS::S3::BucketPolicy").values()))
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    logging = [
        s for s in statements if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}
    ]
    assert logging and logging[0]["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT
    assert logging[0]["Condition"]["ArnLike"]["aws:SourceArn"] == "arn:aws:s3:::mlops-dev-*"


def test_default_lifecycle_rules(project_data: Template) -> None:
    project_data.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketName": f"mlops-dev-churn-raw-{ACCOUNT}",
            "LifecycleConfiguration": {
                "Rules": [
                    {
                        "Id": "Lifecycle",
                        "Status": "Enabled",
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                        "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
                        "Transitions": [
                            {"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 30}
                        ],
                        "ExpirationInDays": Match.absent(),
                    }
                ]
            },
        },
    )


def test_lifecycle_follows_config(custom_synth: Synthesized) -> None:
    data = custom_synth.template(custom_synth.stages["dev"].projects["churn"].data)
    data.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketName": "acme-ml-dev-churn-raw-111111111111",
            "LifecycleConfiguration": {
                "Rules": [
                    {
                        "Id": "Lifecycle",
                        "Status": "Enabled",
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2},
                        "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                        "Transitions": Match.absent(),
                        "ExpirationInDays": 400,
                    }
                ]
            },
        },
    )


def test_trail_records_lake_data_events_encrypted_and_validated(
    data: Template, resources: dict[str, Any]
) -> None:
    trail = next(iter(_of_type(resources, "AWS::CloudTrail::Trail").values()))["Properties"]
    assert trail["TrailName"] == "mlops-dev-data-lake"
    assert trail["EnableLogFileValidation"] is True
    assert trail["IsMultiRegionTrail"] is True
    assert trail["KMSKeyId"] == {
        "Fn::GetAtt": [
            next(
                k
                for k in resources
                if k.startswith("OpsKey") and resources[k]["Type"] == "AWS::KMS::Key"
            ),
            "Arn",
        ]
    }
    assert trail["S3BucketName"] == {
        "Ref": next(k for k in resources if k.startswith("AccessLogs"))
    }
    selector = trail["EventSelectors"][0]
    assert selector["ReadWriteType"] == "All"
    assert selector["IncludeManagementEvents"] is True
    assert len(selector["DataResources"][0]["Values"]) == 4
    data.has_resource_properties(
        "AWS::Logs::LogGroup",
        {
            "RetentionInDays": 365,
            "KmsKeyId": Match.any_value(),
            "LogGroupName": "/aws/cloudtrail/mlops-dev-data-lake",
        },
    )


def test_trail_is_switchable_and_retention_configurable(custom_synth: Synthesized) -> None:
    for stage in custom_synth.stages.values():
        data = custom_synth.template(stage.data)
        data.resource_count_is("AWS::CloudTrail::Trail", 0)
        data.resource_count_is("AWS::Logs::LogGroup", 0)


def test_tags_and_termination_protection_from_config(custom_synth: Synthesized) -> None:
    stage = custom_synth.stages["prod"]
    assert stage.data.region == "eu-central-1" and stage.data.account == "333333333333"
    bucket = next(
        v for v in custom_synth.template_json(stage.projects["churn"].data)["Resources"].values()
        if v["Type"] == "AWS::S3::Bucket"
    )  # fmt: skip
    tags = {t["Key"]: t["Value"] for t in bucket["Properties"]["Tags"]}
    assert tags["cost-center"] == "ml-42"
    assert tags["environment"] == "prod" and tags["platform"] == "acme-ml"
    assert tags["project"] == "churn"
    assert stage.projects["churn"].data.termination_protection is True


def test_logs_can_use_the_ops_key_even_without_the_trail(custom_synth: Synthesized) -> None:
    """CodeBuild, Lambda and Glue log groups are encrypted with the ops key in every config."""
    data = custom_synth.template_json(custom_synth.stages["dev"].data)["Resources"]
    ops = next(
        v for k, v in data.items() if k.startswith("OpsKey") and v["Type"] == "AWS::KMS::Key"
    )
    sids = [s.get("Sid") for s in ops["Properties"]["KeyPolicy"]["Statement"]]
    assert "CloudWatchLogs" in sids and "CloudTrailEncrypt" not in sids
    assert sids.count("CloudWatchLogs") == 1


def _trails(synth: Synthesized) -> dict[str, bool]:
    """Trail name: whether it keeps management events, over every stack of ``synth``."""
    import json

    trails = {}
    for path in synth.template_paths:
        for resource in json.loads(path.read_text())["Resources"].values():
            if resource["Type"] == "AWS::CloudTrail::Trail":
                properties = resource["Properties"]
                [selector] = properties["EventSelectors"]
                trails[properties["TrailName"]] = selector["IncludeManagementEvents"]
    return trails


def test_one_trail_per_account_keeps_its_management_events(
    single_account_synth: Synthesized, multi_account_synth: Synthesized
) -> None:
    """A multi-region trail keeps the whole account's management events: environments that
    share an account keep one copy (the first environment's), as a further copy bills per
    event; every trail keeps its own lake's data events."""
    assert _trails(single_account_synth) == {
        "mlops-dev-data-lake": True,
        "mlops-staging-data-lake": False,
        "mlops-prod-data-lake": False,
    }
    assert _trails(multi_account_synth) == {
        "mlops-dev-data-lake": True,
        "mlops-staging-data-lake": True,
        "mlops-prod-data-lake": True,
    }
