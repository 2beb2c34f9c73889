"""``mlops publish`` against moto (S3, KMS, STS) and a stubbed CodePipeline (moto's executions
carry no source revisions): the zip CI expects, its encryption, the CI run it started, and one
clear message for every bad input.

The helpers here (fake credentials, a deployed lake, a stubbed client) are shared by
tests/test_cli_data.py and tests/test_cli_invoke.py.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from mlops_cli import code
from mlops_cli.main import main
from mlops_cli.session import Aws
from stacks.config import PlatformConfig

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "config" / "example.yaml")
DEFAULT_ACCOUNT = "123456789012"  # moto's; the built-in default takes the caller's account
KEY = "ci/source/ml-project.zip"


@dataclass
class Result:
    code: int
    out: str
    err: str


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    """``mlops argv`` in-process: exit code, stdout and stderr."""
    capsys.readouterr()
    exit_code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return Result(exit_code, captured.out, captured.err)


def one_error(result: Result, code: int) -> str:
    """The one-line ``mlops: ...`` message of a failed command."""
    assert result.code == code, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlops: "), result.err
    return lines[0]


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Fake credentials, no profile or credential files, moto for every AWS call."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT)
    with mock_aws():
        yield


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials anywhere: no variables, credential and config files that do not exist."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "missing-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "missing-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def deploy_lake(
    prefix: str,
    *,
    account: str = DEFAULT_ACCOUNT,
    region: str = "us-east-1",
    default_encryption: bool = False,
) -> str:
    """What a project's data stack leaves in moto: the environment's data key (by alias) and
    the versioned raw, curated and artifacts buckets. Returns the key's ARN.

    Without ``default_encryption`` an object is encrypted only if its upload said so."""
    environment_prefix = "-".join(prefix.split("-")[:2])
    kms = boto3.client("kms", region_name=region)
    key = kms.create_key()["KeyMetadata"]
    alias = f"alias/{environment_prefix}-data"
    if not any(a["AliasName"] == alias for a in kms.list_aliases()["Aliases"]):
        kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    s3 = boto3.client("s3", region_name=region)
    where = {} if region == "us-east-1" else {"LocationConstraint": region}
    for purpose in ("raw", "curated", "artifacts"):
        bucket = f"{prefix}-{purpose}-{account}"
        s3.create_bucket(Bucket=bucket, **({"CreateBucketConfiguration": where} if where else {}))
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        if default_encryption:
            s3.put_bucket_encryption(
                Bucket=bucket,
                ServerSideEncryptionConfiguration={
                    "Rules": [
                        {
                            "ApplyServerSideEncryptionByDefault": {
                                "SSEAlgorithm": "aws:kms",
                                "KMSMasterKeyID": key["Arn"],
                            },
                            "BucketKeyEnabled": True,
                        }
                    ]
                },
            )
    return str(key["Arn"])


def use_client(monkeypatch: pytest.MonkeyPatch, service: str, client: Any) -> None:
    """Every ``ctx.aws.client(service, ...)`` answers with ``client`` (a stubbed one)."""
    original = Aws.client

    def client_for(self: Aws, name: str, region: str) -> Any:
        return client if name == service else original(self, name, region)

    monkeypatch.setattr(Aws, "client", client_for)


def write_project(folder: Path) -> dict[str, bytes]:
    """A project folder as the contract has it, plus what must never be published. Returns
    the files CI expects (relative path -> content)."""
    expected = {
        "src/train.py": b"print('train')\n",
        "src/inference.py": b"def model_fn(d): ...\n",
        "tests/test_train.py": b"def test_x(): pass\n",
        "clarify/analysis_config.json": b"{}\n",
        "requirements.txt": b"xgboost==1.7.6\n",
        "requirements-dev.txt": b"pytest\n",
        "pytest.ini": b"[pytest]\n",
        "ruff.toml": b"line-length = 100\n",
        "README.md": b"# project\n",
    }
    junk = [
        "src/__pycache__/train.cpython-311.pyc",
        "src/stale.pyc",
        ".venv/bin/python",
        ".git/HEAD",
        ".pytest_cache/v/cache",
        ".ruff_cache/0.1/x",
        ".mypy_cache/3.11/x.json",
        "node_modules/x/index.js",
        "churn.egg-info/PKG-INFO",
        ".DS_Store",
    ]
    for name, content in expected.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    for name in junk:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"never published")
    return expected


def executions(version: str | None) -> dict[str, Any]:
    """A ListPipelineExecutions answer: an older run, and one on ``version`` if given."""
    older = {
        "pipelineExecutionId": "older-run",
        "status": "Succeeded",
        "startTime": datetime(2026, 1, 1, tzinfo=UTC),
        "sourceRevisions": [{"actionName": "Source", "revisionId": "an-older-version"}],
    }
    runs = [older]
    if version is not None:
        run_ = {
            "pipelineExecutionId": "run-on-upload",
            "status": "InProgress",
            "startTime": datetime(2026, 1, 2, tzinfo=UTC),
            "sourceRevisions": [{"actionName": "Source", "revisionId": version}],
            "trigger": {"triggerType": "CloudWatchEvent", "triggerDetail": "rule"},
        }
        runs.insert(0, run_)
    return {"pipelineExecutionSummaries": runs}


def uploaded_version(bucket: str) -> str:
    versions = boto3.client("s3").list_object_versions(Bucket=bucket, Prefix=KEY)["Versions"]
    return str(versions[0]["VersionId"])


@pytest.fixture
def project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """The built-in default's churn project (source.path ml) in a repository at tmp_path, the
    current directory."""
    (tmp_path / "repo" / "ml").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "repo")
    return write_project(tmp_path / "repo" / "ml")


ARTIFACTS = f"mlops-dev-churn-artifacts-{DEFAULT_ACCOUNT}"
PIPELINE = "mlops-dev-churn-ml-cicd"


def stub_pipeline(monkeypatch: pytest.MonkeyPatch) -> Stubber:
    client = boto3.client("codepipeline", region_name="us-east-1")
    stubber = Stubber(client)
    use_client(monkeypatch, "codepipeline", client)
    return stubber


def test_publish_uploads_what_ci_expects_encrypted_and_prints_the_ci_run(
    aws_env: None,
    project_dir: dict[str, bytes],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key_arn = deploy_lake("mlops-dev-churn")
    stubber = stub_pipeline(monkeypatch)
    params = {"pipelineName": PIPELINE, "maxResults": 25}
    stubber.add_response("list_pipeline_executions", executions(None), params)

    def sleep(seconds: float) -> None:  # EventBridge starts the run between two looks
        assert seconds == code.POLL_SECONDS
        found = executions(uploaded_version(ARTIFACTS))
        stubber.add_response("list_pipeline_executions", found, params)

    monkeypatch.setattr(code, "_sleep", sleep)
    with stubber:
        result = run(capsys, "publish", "churn", "--wait", "5")
    stubber.assert_no_pending_responses()
    assert result.code == 0, result.err
    assert result.err == ""
    version = uploaded_version(ARTIFACTS)
    assert f"Uploaded s3://{ARTIFACTS}/{KEY} (version {version})" in result.out
    assert f"SSE-KMS with alias/mlops-dev-data ({key_arn})" in result.out
    assert f"CI run run-on-upload: InProgress ({PIPELINE})" in result.out
    assert f"pipelines/{PIPELINE}/executions/run-on-upload/timeline" in result.out
    head = boto3.client("s3").head_object(Bucket=ARTIFACTS, Key=KEY)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == key_arn
    assert head["ContentType"] == "application/zip"
    body = boto3.client("s3").get_object(Bucket=ARTIFACTS, Key=KEY)["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.namelist() == sorted(f"ml/{name}" for name in project_dir)
        for name, content in project_dir.items():
            assert archive.read(f"ml/{name}") == content
        assert {info.date_time for info in archive.infolist()} == {code.ZIP_TIME}


def test_the_zip_depends_on_content_only(tmp_path: Path) -> None:
    write_project(tmp_path)
    first = code.build_zip(tmp_path, "projects/churn")
    for path in tmp_path.rglob("*"):
        os.utime(path, (1_900_000_000, 1_900_000_000))
    again = code.build_zip(tmp_path, "projects/churn")
    assert first == again
    assert first.names[0].startswith("projects/churn/")
    (tmp_path / "src" / "train.py").write_bytes(b"print('changed')\n")
    assert code.build_zip(tmp_path, "projects/churn").data != first.data
    at_root = code.build_zip(tmp_path, ".")
    assert "src/train.py" in at_root.names


def test_the_repository_projects_publish_their_folders(
    no_credentials: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """config/example.yaml (accounts configured): a dry run needs no credentials and lists the
    project's folder at its source.path, without caches."""
    monkeypatch.chdir(ROOT)
    result = run(capsys, "--config", EXAMPLE, "publish", "churn", "--dry-run")
    assert result.code == 0, result.err
    listed = [line.strip() for line in result.out.splitlines() if line.startswith("  ")]
    assert "ml/src/train.py" in listed and "ml/requirements-dev.txt" in listed
    assert all(name.startswith("ml/") and "cache" not in name for name in listed)
    target = "s3://mlops-dev-churn-artifacts-111111111111/ci/source/ml-project.zip"
    assert f"{target} (environment dev, account 111111111111, eu-west-1)" in result.out
    assert "nothing uploaded" in result.out
    demand = run(capsys, "--config", EXAMPLE, "publish", "demand", "--dry-run")
    assert demand.code == 0
    # The buildspec copies clarify/ only where a project has it: no warning without one.
    assert demand.err == ""


def test_no_ci_run_yet_is_said_after_the_configured_looks(
    aws_env: None,
    project_dir: dict[str, bytes],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deploy_lake("mlops-dev-churn")
    stubber = stub_pipeline(monkeypatch)
    for _ in range(3):  # --wait 10: looks at 0, 5 and 10 s
        stubber.add_response("list_pipeline_executions", executions(None))
    sleeps: list[float] = []
    monkeypatch.setattr(code, "_sleep", sleeps.append)
    with stubber:
        result = run(capsys, "publish", "churn", "--wait", "10")
    stubber.assert_no_pending_responses()
    assert result.code == 0 and sleeps == [5.0, 5.0]
    assert f"No run of {PIPELINE} on this version yet (looked for 10 s)" in result.out


def test_a_missing_ci_pipeline_says_the_build_stack_is_not_deployed(
    aws_env: None, project_dir: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_lake("mlops-dev-churn")
    message = one_error(run(capsys, "publish", "churn", "--wait", "0"), 1)
    assert f"uploaded, but CI pipeline {PIPELINE} does not exist" in message
    assert "mlops-dev-churn-build" in message


def test_a_missing_bucket_says_the_project_is_not_deployed(
    aws_env: None, project_dir: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    kms = boto3.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/mlops-dev-data", TargetKeyId=key)
    message = one_error(run(capsys, "publish", "churn"), 1)
    assert f"bucket {ARTIFACTS} does not exist" in message
    assert "project churn is not deployed in environment dev" in message


def test_a_codeconnections_project_is_published_by_git_push(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_credentials: None
) -> None:
    data = PlatformConfig().model_dump(mode="json")
    data["projects"][0]["source"] = {
        "type": "codeconnections",
        "connection_arn": "arn:aws:codeconnections:us-east-1:123456789012:connection/abc-1",
        "repository": "acme/churn-model",
        "branch": "release",
        "path": "ml",
    }
    config = tmp_path / "git.yaml"
    config.write_text(json.dumps(data))
    message = one_error(run(capsys, "--config", str(config), "publish", "churn"), 2)
    assert "acme/churn-model (branch release) through CodeConnections" in message
    assert "git push to release of acme/churn-model instead" in message


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["publish", "nope"], "unknown project 'nope': the configuration has churn, demand, fraud"),
        (["publish", "churn", "--environment", "qa"], "unknown environment 'qa'"),
        (["publish", "churn", "--environment", "prod"], "environment prod only serves promoted"),
        (["publish", "fraud", "--dry-run"], "project fraud: the repository root lacks src"),
        (["publish", "churn", "--wait", "-1"], "--wait: must be 0 or more seconds"),
        (["publish"], "the following arguments are required: project"),
    ],
)
def test_bad_input_ends_in_one_message_exit_2(
    no_credentials: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    expected: str,
) -> None:
    monkeypatch.chdir(ROOT)
    assert expected in one_error(run(capsys, "--config", EXAMPLE, *argv), 2)


def test_a_project_folder_without_what_ci_needs_is_refused(
    project_dir: dict[str, bytes],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_credentials: None,
) -> None:
    (tmp_path / "repo" / "ml" / "requirements-dev.txt").unlink()
    message = one_error(run(capsys, "publish", "churn"), 2)
    assert "ml/ lacks requirements-dev.txt, which CI needs" in message
    (tmp_path / "repo" / "ml").rename(tmp_path / "repo" / "elsewhere")
    message = one_error(run(capsys, "publish", "churn"), 2)
    assert "no folder ml/ under" in message and "run mlops publish from the repository root" in (
        message
    )


def test_without_credentials_one_sentence_exit_1(
    project_dir: dict[str, bytes],
    capsys: pytest.CaptureFixture[str],
    no_credentials: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = one_error(run(capsys, "publish", "churn"), 1)
    assert message.startswith("mlops: no AWS credentials found. Fix:")
    monkeypatch.chdir(ROOT)  # the example's accounts are configured: the check is explicit
    message = one_error(run(capsys, "--config", EXAMPLE, "publish", "churn"), 1)
    assert message.startswith("mlops: no AWS credentials found. Fix:")


def test_credentials_of_another_account_are_refused_before_any_upload(
    aws_env: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    message = one_error(run(capsys, "--config", EXAMPLE, "publish", "churn"), 1)
    assert "credentials are for account 123456789012, but environment dev is account " in (message)
    assert boto3.client("s3").list_buckets()["Buckets"] == []


def test_the_source_key_is_the_one_ci_starts_from() -> None:
    from mlops_cli.resources import place
    from mlops_constructs.training.cicd import SOURCE_KEY

    config = PlatformConfig()
    assert place(config, "churn", account=lambda: "1", region=lambda: "r").ci_source_key == (
        SOURCE_KEY
    )


def test_help_reads_well_and_imports_neither_cdk_nor_sagemaker() -> None:
    """`mlops --help` and each subcommand's help, in a fresh interpreter: no aws_cdk, jsii or
    sagemaker import (the CLI starts in a fraction of a second)."""
    script = (
        "import contextlib, io, sys\n"
        "from mlops_cli.main import main\n"
        "helps = {}\n"
        "for argv in ([], ['publish'], ['upload'], ['invoke']):\n"
        "    out = io.StringIO()\n"
        "    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "        main([*argv, '--help'])\n"
        "    helps[' '.join(argv)] = out.getvalue()\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('aws_cdk', 'jsii', 'sagemaker', 'numpy'))\n"
        "import json; print(json.dumps({'heavy': heavy, 'helps': helps}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    report = json.loads(done.stdout)
    assert report["heavy"] == []
    assert all(name in report["helps"][""] for name in ("publish", "upload", "invoke"))
    for command in ("publish", "upload", "invoke"):
        text = report["helps"][command]
        assert f"usage: mlops {command}" in text and "examples:\n  mlops " in text
