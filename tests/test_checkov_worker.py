"""tests.templates.checkov answers as checkov's command line does.

The suite runs checkov through one long-lived process per test process (tests/checkov_worker.py).
Here its answers are compared with the command line's, run once over the same templates: resources
that fail, pass and are skipped by a template's own Metadata directive, and intrinsics the
JSONPath renderer resolves (the worker builds that parser's tables once). The worker is asked
about another template first, so the answer compared is a later call's: checkov's runners keep
the templates of their first run, and the worker must not answer from them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.templates import checkov, checkov_command

BUCKET_POLICY = {
    "Type": "AWS::S3::BucketPolicy",
    "Properties": {
        "Bucket": {"Ref": "Plain"},
        "PolicyDocument": {
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": {"AWS": "*"},
                    "Action": "s3:*",
                    "Resource": [
                        {"Fn::GetAtt": ["Plain", "Arn"]},
                        {"Fn::Sub": "${Plain.Arn}/*"},
                    ],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ]
        },
    },
}
TEMPLATES: dict[str, dict[str, Any]] = {
    "first": {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}},
    "buckets": {
        "Resources": {
            "Plain": {"Type": "AWS::S3::Bucket"},
            "PlainPolicy": BUCKET_POLICY,
            "Skipped": {
                "Type": "AWS::S3::Bucket",
                "Metadata": {
                    "checkov": {"skip": [{"id": "CKV_AWS_18", "comment": "a log bucket"}]}
                },
                "Properties": {
                    "VersioningConfiguration": {"Status": "Enabled"},
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "BlockPublicPolicy": True,
                        "IgnorePublicAcls": True,
                        "RestrictPublicBuckets": True,
                    },
                },
            },
        }
    },
    "function": {
        "Parameters": {"Runtime": {"Type": "String", "Default": "python3.12"}},
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ]
                    },
                    "Policies": [
                        {
                            "PolicyName": "all",
                            "PolicyDocument": {
                                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
                            },
                        }
                    ],
                },
            },
            "Function": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": {"Ref": "Runtime"},
                    "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {"ZipFile": "def handler(event, context):\n    return event\n"},
                    "Environment": {"Variables": {"TABLE": {"Fn::Sub": "${AWS::StackName}-t"}}},
                },
            },
        },
    },
}
OPTIONS = ["--framework", "cloudformation", "--skip-download", "--compact", "-o", "json"]


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("checkov")
    paths = {}
    for name, template in TEMPLATES.items():
        paths[name] = folder / f"{name}.template.json"
        paths[name].write_text(json.dumps(template, indent=1))
    return paths


def _canonical(printed: str) -> list[dict[str, Any]]:
    """checkov's JSON report, each result as what it says (check, resource, file, lines, result,
    the keys it read) in one order: the command line's own order of results, and of the keys a
    graph check read, varies from run to run."""
    reports = json.loads(printed)
    reports = reports if isinstance(reports, list) else [reports]
    return [
        {
            "check_type": report["check_type"],
            "summary": report["summary"],
            **{
                kind: sorted(
                    (
                        r["check_id"],
                        r["resource"],
                        r["file_abs_path"],
                        r["file_line_range"],
                        r["check_result"]["result"],
                        sorted(r["check_result"].get("evaluated_keys", [])),
                    )
                    for r in records
                )
                for kind, records in report["results"].items()
            },
        }
        for report in reports
    ]


def test_the_worker_answers_as_the_command_line(templates: dict[str, Path]) -> None:
    compared = [templates["buckets"], templates["function"]]
    arguments = [arg for path in compared for arg in ("-f", str(path))] + OPTIONS
    checkov(["-f", str(templates["first"]), *OPTIONS])  # a first call, over another template
    code, printed = checkov(arguments)
    expected_code, expected = checkov_command(arguments)
    assert code == expected_code == 1
    assert _canonical(printed) == _canonical(expected)
    report = _canonical(printed)[0]
    failed = {(r[0], r[1].split(".")[-1]) for r in report["failed_checks"]}
    assert {("CKV_AWS_18", "Plain"), ("CKV_AWS_116", "Function")} <= failed
    assert ("CKV_AWS_18", "Skipped") in {
        (r[0], r[1].split(".")[-1]) for r in report["skipped_checks"]
    }
    assert report["passed_checks"]
