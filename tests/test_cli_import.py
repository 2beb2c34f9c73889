"""``mlops import-model`` against moto (S3, KMS, STS): the archive into
``imports/<name>/`` of the artifacts bucket with the data key, then the manifest (which starts
the import pipeline), an S3 source copied server-side, the default name stable for the same
archive, and one clear refusal, with nothing written, for every import the pipeline would fail.
Fixtures and helpers: tests/test_cli_code.py (the lake), tests/test_cli_status.py (status).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from mlops_cli import imports, session
from mlops_cli.main import main
from stacks.config import PlatformConfig
from tests.test_cli_code import (
    DEFAULT_ACCOUNT,
    Result,
    aws_env,
    deploy_lake,
    one_error,
    run,
)
from tests.test_cli_status import (
    Cloud,
    cloud_fixture,  # noqa: F401 (the fixture cloud)
    example,
    inject_error,
    mlops,
    no_credentials_fixture,  # noqa: F401 (the fixture no_credentials)
)

__all__ = ["aws_env"]  # the fixture, from tests/test_cli_code.py

ARTIFACTS = f"mlops-dev-churn-artifacts-{DEFAULT_ACCOUNT}"
SERVE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn-serve:2.0"
XGBOOST = ("--framework", "xgboost", "--framework-version", "1.7-1")
SOURCE = "team-models"


def model_archive(content: bytes = b"booster") -> bytes:
    """A model.tar.gz as SageMaker packs one: a gzip-compressed tar."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def config(tmp_path: Path, *, enabled: bool = True, own_images: bool = False, **more: Any) -> str:
    """The built-in default (project churn in dev, moto's account) with imports on or off."""
    settings = PlatformConfig().model_dump(mode="json")
    churn = settings["projects"][0]
    churn["build"]["model_import"] = {"enabled": enabled, **more}
    if own_images:
        churn["framework"] = None
        churn["images"] = {"training": SERVE.replace("serve", "train"), "serving": SERVE}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(settings))
    return str(path)


def import_model(capsys: pytest.CaptureFixture[str], cfg: str, *argv: str) -> Result:
    return run(capsys, "--config", cfg, "import-model", "churn", *argv)


def imported(bucket: str = ARTIFACTS) -> dict[str, bytes]:
    """Every object under imports/ (key -> content)."""
    s3 = boto3.client("s3")
    found = s3.list_objects_v2(Bucket=bucket, Prefix="imports/").get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in found}


def record_s3_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """Each S3 operation the command's clients make, with its key, in order."""
    calls: list[tuple[str, str | None]] = []
    original = session.Aws.client

    def client(self: session.Aws, service: str, region: str) -> Any:
        made = original(self, service, region)
        if service == "s3":

            def note(params: dict[str, Any], model: Any, **_: Any) -> None:
                calls.append((model.name, params.get("Key")))

            made.meta.events.register("before-parameter-build.s3", note)
        return made

    monkeypatch.setattr(session.Aws, "client", client)
    return calls


# --------------------------------------------------------------------------------------------
# Imports


def test_a_local_archive_then_its_manifest_land_in_the_import_folder(
    aws_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key_arn = deploy_lake("mlops-dev-churn")
    data = model_archive()
    path = write(tmp_path / "model.tar.gz", data)
    calls = record_s3_calls(monkeypatch)
    argv = [path, *XGBOOST, "--description", "trained on Q3", "--trained-by", "team-a"]

    result = import_model(capsys, config(tmp_path), *argv)

    assert result.code == 0, result.err
    name = hashlib.sha256(data).hexdigest()[:12]
    model, manifest = f"imports/{name}/model.tar.gz", f"imports/{name}/import.json"
    objects = imported()
    assert objects[model] == data
    assert json.loads(objects[manifest]) == {
        "format": 1,
        "model": "model.tar.gz",
        "framework": "xgboost",
        "framework_version": "1.7-1",
        "description": "trained on Q3",
        "trained_by": "team-a",
    }
    s3 = boto3.client("s3")
    for key in (model, manifest):
        head = s3.head_object(Bucket=ARTIFACTS, Key=key)
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_arn)
    assert s3.head_object(Bucket=ARTIFACTS, Key=manifest)["ContentType"] == "application/json"
    writes = [key for operation, key in calls if operation == "PutObject"]
    assert writes == [model, manifest]  # the manifest last: it starts the pipeline
    out = " ".join(result.out.split())
    for part in (
        f"{path} -> s3://{ARTIFACTS}/{model}",
        f"manifest -> s3://{ARTIFACTS}/{manifest}",
        f"SSE-KMS with alias/mlops-dev-data ({key_arn})",
        "the manifest starts mlops-dev-churn-import",
        "applies the gate (auc >= 0.75)",
        "registers it in mlops-dev-churn-models as PendingManualApproval",
        "notifies mlops-dev-churn-build-events",
        "follow it with: mlops status churn",
        "mlops approve churn VERSION",
    ):
        assert part in out, part
    assert result.err == ""


def test_the_same_archive_twice_lands_in_the_same_folder(
    aws_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_lake("mlops-dev-churn")
    cfg = config(tmp_path)
    first = write(tmp_path / "a.tar.gz", model_archive(b"one"))
    again = write(tmp_path / "copy-of-a.tar.gz", model_archive(b"one"))
    other = write(tmp_path / "b.tar.gz", model_archive(b"two"))

    for path in (first, again, other):
        assert import_model(capsys, cfg, path, *XGBOOST).code == 0

    folders = sorted({key.split("/")[1] for key in imported()})
    assert len(folders) == 2
    assert hashlib.sha256(Path(first).read_bytes()).hexdigest()[:12] in folders
    assert {key.rsplit("/", 1)[1] for key in imported()} == {
        "a.tar.gz",
        "copy-of-a.tar.gz",
        "b.tar.gz",
        "import.json",
    }


def test_an_import_name_and_an_odd_file_name(
    aws_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_lake("mlops-dev-churn")
    path = write(tmp_path / "import.json", model_archive())

    result = import_model(capsys, config(tmp_path), path, *XGBOOST, "--import-name", "vendor-7")

    assert result.code == 0, result.err
    assert sorted(imported()) == ["imports/vendor-7/import.json", "imports/vendor-7/model.tar.gz"]
    manifest = json.loads(imported()["imports/vendor-7/import.json"])
    assert manifest["model"] == "model.tar.gz" and "description" not in manifest


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("model.tar.gz", "model.tar.gz"),
        ("my model (v2).tar.gz", "my-model-v2-.tar.gz"),
        ("import.json", "model.tar.gz"),
        (".hidden", "model.tar.gz"),
        ("((()))", "model.tar.gz"),
        ("x" * 200, "model.tar.gz"),
    ],
)
def test_file_names_are_sanitized(given: str, expected: str) -> None:
    assert imports.file_name(given) == expected


def test_an_own_images_project_declares_its_serving_image(
    aws_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_lake("mlops-dev-churn")
    path = write(tmp_path / "model.tar.gz", model_archive())

    result = import_model(capsys, config(tmp_path, own_images=True), path, "--image", SERVE)

    assert result.code == 0, result.err
    [manifest] = [json.loads(v) for k, v in imported().items() if k.endswith("import.json")]
    assert manifest == {"format": 1, "model": "model.tar.gz", "image": SERVE}


def source_object(key: str, data: bytes) -> str:
    """An archive in another bucket of the caller's (a team's own)."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=SOURCE)
    s3.put_object(Bucket=SOURCE, Key=key, Body=data)
    return f"s3://{SOURCE}/{key}"


def test_an_s3_archive_is_copied_server_side(
    aws_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key_arn = deploy_lake("mlops-dev-churn")
    data = model_archive()
    uri = source_object("churn/v7/model.tar.gz", data)
    calls = record_s3_calls(monkeypatch)
    cfg = config(tmp_path)

    first = import_model(capsys, cfg, uri, *XGBOOST)
    second = import_model(capsys, cfg, uri, *XGBOOST)

    assert first.code == 0 and second.code == 0, first.err + second.err
    name = hashlib.md5(data).hexdigest()[:12]  # the ETag of a one-part object
    model = f"imports/{name}/model.tar.gz"
    assert sorted(imported()) == [f"imports/{name}/import.json", model]
    assert imported()[model] == data
    head = boto3.client("s3").head_object(Bucket=ARTIFACTS, Key=model)
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_arn)
    operations = [operation for operation, _ in calls]
    assert "CopyObject" in operations and ("PutObject", model) not in calls
    assert f"{uri} -> s3://{ARTIFACTS}/{model}" in first.out


def test_a_large_s3_archive_is_copied_in_parts(
    aws_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """boto3's managed copy: beyond its threshold, a multipart copy (CopyObject stops at 5 GB)."""
    key_arn = deploy_lake("mlops-dev-churn")
    data = b"\x1f\x8b" + b"\0" * (9 * 1024 * 1024)
    uri = source_object("big/model.tar.gz", data)
    calls = record_s3_calls(monkeypatch)

    result = import_model(capsys, config(tmp_path), uri, *XGBOOST, "--import-name", "big")

    assert result.code == 0, result.err
    assert "UploadPartCopy" in [operation for operation, _ in calls]
    head = boto3.client("s3").head_object(Bucket=ARTIFACTS, Key="imports/big/model.tar.gz")
    assert head["ContentLength"] == len(data) and head["SSEKMSKeyId"] == key_arn


def test_dry_run_checks_and_writes_nothing(
    aws_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_lake("mlops-dev-churn")
    path = write(tmp_path / "model.tar.gz", model_archive())

    result = import_model(capsys, config(tmp_path), path, *XGBOOST, "--dry-run")

    assert result.code == 0, result.err
    assert "Dry run: would import as " in result.out and "nothing written" in result.out
    assert '"framework": "xgboost"' in result.out
    assert imported() == {}


# --------------------------------------------------------------------------------------------
# Refusals: one sentence, exit 2, nothing written


def refused(result: Result, *fragments: str) -> None:
    line = one_error(result, 2)
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    assert imported() == {}


def test_a_project_without_imports_is_refused(
    aws_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_lake("mlops-dev-churn")
    path = write(tmp_path / "model.tar.gz", model_archive())

    result = import_model(capsys, config(tmp_path, enabled=False), path, *XGBOOST)

    refused(result, "project churn takes no model imports", "build.model_import.enabled: true")


def test_a_serving_environment_is_refused(
    aws_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A delivered platform: models are imported where the project trains (dev)."""
    deploy_lake("mlops-dev-churn")
    data = copy.deepcopy(example())
    for env in data["environments"]:
        env["account"], env["region"] = DEFAULT_ACCOUNT, "us-east-1"
    data["delivery"]["tooling"] = {"account": DEFAULT_ACCOUNT, "region": "us-east-1"}
    data["projects"][0].setdefault("build", {})["model_import"] = {"enabled": True}
    cfg = tmp_path / "platform.yaml"
    cfg.write_text(yaml.safe_dump(data))
    path = write(tmp_path / "model.tar.gz", model_archive())

    result = import_model(capsys, str(cfg), path, *XGBOOST, "--environment", "prod")

    refused(result, "environment prod only serves promoted versions", "import in dev")


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("none.tar.gz", None, "none.tar.gz: no such file"),
        ("folder", "DIR", "folder is not a file"),
        ("empty.tar.gz", b"", "empty.tar.gz is empty"),
        ("model.tar", b"ustar plain tar", "model.tar is not gzip-compressed (it does not start"),
    ],
)
def test_a_bad_local_archive_is_refused(
    aws_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes | str | None,
    expected: str,
) -> None:
    deploy_lake("mlops-dev-churn")
    path = tmp_path / name
    if content == "DIR":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)

    refused(import_model(capsys, config(tmp_path), str(path), *XGBOOST), expected)


def test_an_archive_over_the_limit_is_refused(
    aws_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_lake("mlops-dev-churn")
    path = tmp_path / "huge.tar.gz"
    with path.open("wb") as stream:  # sparse: 1 GiB and a byte, on disk only the header
        stream.write(b"\x1f\x8b")
        stream.truncate(imports.GIB + 1)

    result = import_model(capsys, config(tmp_path, max_artifact_gib=1), str(path), *XGBOOST)

    refused(
        result, "huge.tar.gz is 1.0 GB, more than the 1 GiB", "build.model_import.max_artifact_gib"
    )


@pytest.mark.parametrize(
    ("own_images", "argv", "expected"),
    [
        (False, ["--image", SERVE, *XGBOOST], "either --framework and --framework-version"),
        (False, [], "not both or neither"),
        (False, ["--framework", "xgboost"], "--framework xgboost needs --framework-version"),
        (
            False,
            ["--framework", "sklearn", "--framework-version", "1.2-1"],
            "the model is declared sklearn 1.2-1, but project churn serves with xgboost 1.7-1",
        ),
        (
            False,
            ["--framework", "xgboost", "--framework-version", "1.5-1"],
            "declared xgboost 1.5-1, but project churn serves with xgboost 1.7-1 (framework.name",
        ),
        (
            False,
            ["--image", SERVE],
            "serves with a framework image, not its own. Fix: pass --framework xgboost "
            "--framework-version 1.7-1",
        ),
        (
            True,
            [*XGBOOST],
            f"runs its own images, not a framework image. Fix: pass --image {SERVE}",
        ),
        (
            True,
            ["--image", SERVE.replace("2.0", "1.9")],
            f"is not project churn's serving image {SERVE} (images.serving)",
        ),
        (False, [*XGBOOST, "--import-name", "Vendor_7"], "--import-name 'Vendor_7': 1 to 63"),
        (
            False,
            [*XGBOOST, "--description", "x" * 1025],
            "--description must be at most 1024 characters, got 1025",
        ),
        (False, [*XGBOOST, "--trained-by", "y" * 257], "--trained-by must be at most 256"),
    ],
)
def test_a_declaration_the_project_cannot_take_is_refused(
    aws_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    own_images: bool,
    argv: list[str],
    expected: str,
) -> None:
    deploy_lake("mlops-dev-churn")
    path = write(tmp_path / "model.tar.gz", model_archive())

    refused(import_model(capsys, config(tmp_path, own_images=own_images), path, *argv), expected)


def test_a_bad_s3_archive_is_refused(
    aws_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_lake("mlops-dev-churn")
    cfg = config(tmp_path)
    plain = source_object("plain/model.tar", b"not gzip")

    refused(import_model(capsys, cfg, plain, *XGBOOST), f"{plain} is not gzip-compressed")
    missing = f"s3://{SOURCE}/nothing/model.tar.gz"
    refused(import_model(capsys, cfg, missing, *XGBOOST), f"{missing}: no such object")
    refused(
        import_model(capsys, cfg, f"s3://{SOURCE}/folder/", *XGBOOST),
        "is not an S3 object URI like s3://bucket/path/model.tar.gz",
    )


def test_an_s3_archive_over_the_limit_is_refused(
    aws_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deploy_lake("mlops-dev-churn")
    uri = source_object("big/model.tar.gz", model_archive())
    answered = inject_error(
        monkeypatch, "s3.HeadObject", parsed={"ContentLength": 11 * imports.GIB, "ETag": '"ab"'}
    )

    result = import_model(capsys, config(tmp_path), uri, *XGBOOST)

    refused(result, f"{uri} is 11.0 GB, more than the 10 GiB project churn takes")
    assert answered == ["HeadObject"]


def test_an_s3_source_the_caller_may_not_read_is_one_sentence(
    aws_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deploy_lake("mlops-dev-churn")
    uri = source_object("m/model.tar.gz", model_archive())
    inject_error(monkeypatch, "s3.HeadObject", code="403")

    line = one_error(import_model(capsys, config(tmp_path), uri, *XGBOOST), 1)

    assert f"reading {uri}: access denied. Fix: use credentials that may read it" in line
    assert imported() == {}


def test_help_has_a_description_and_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["import-model", "--help"])

    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "registers it PendingManualApproval" in " ".join(out.split())
    assert "examples:\n  mlops import-model demand model.tar.gz --framework sklearn" in out


# --------------------------------------------------------------------------------------------
# mlops status


def test_status_shows_the_newest_imports(
    cloud: Cloud, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cloud.group()
    cloud.training()
    runs = cloud.training(name="mlops-dev-churn-import", runs=2)
    cloud.set_run(runs[1], "Failed", "ImportRejected: the archive is not gzip-compressed")

    result = mlops(capsys, "--config", config(tmp_path), "status", "churn")

    assert result.code == 0, result.err
    section = result.out.split("Imports  mlops-dev-churn-import\n")[1].splitlines()
    assert section[0].split()[0] == "Failed"
    assert "ImportRejected: the archive is not gzip-compressed" in section[0]
    assert section[1].split()[0] == "Succeeded"

    without = mlops(capsys, "--config", config(tmp_path, enabled=False), "status", "churn")
    assert without.code == 0 and "Imports" not in without.out
