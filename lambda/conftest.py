"""Makes the shared Lambda layer's modules importable, as the layer does at run time; fixtures
and helpers every function's tests share.

Also for subprocesses (cold-start tests run a handler in a fresh interpreter): the Lambda runtime
puts a layer's ``python/`` folder on the path of every process it starts.

The folders' conftest.py and tests import the helpers below as ``lambda_testing`` (``from
lambda_testing import load_handler``): a conftest.py cannot be imported by its own name, as every
folder has one and pytest imports each as ``conftest``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest.mock import ANY

import boto3
import pytest
from botocore.stub import Stubber

LAYER = str(Path(__file__).resolve().parent / "_shared" / "python")
if LAYER not in sys.path:
    sys.path.insert(0, LAYER)
_paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
if LAYER not in _paths:
    os.environ["PYTHONPATH"] = os.pathsep.join([LAYER, *[p for p in _paths if p]])

sys.modules.setdefault("lambda_testing", sys.modules[__name__])

# The region every handler's tests run in (moto).
TEST_REGION = "us-east-1"


def load_handler(module_name: str, path: Path) -> ModuleType:
    """A function's ``handler.py`` at ``path``, loaded once under the unique ``module_name``
    (e.g. ``promote_handler``) rather than as ``handler`` from sys.path: every function folder
    has a ``handler.py``, and in one pytest process the first ``import handler`` would shadow
    the others."""
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


def cold_start(handler_file: str, env: Mapping[str, str]) -> str:
    """Runs a handler.py's module code in a new interpreter (a cold start) with the environment
    ``env``; returns its stdout."""
    proc = subprocess.run(
        [sys.executable, "-c", f"import runpy; runpy.run_path({handler_file!r})"],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return proc.stdout


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``fake_aws(settings, unset=())``: fake credentials, one region, the function's
    ``settings`` as environment variables, and nothing from the developer's environment (nor
    the optional settings named in ``unset``)."""

    def apply(settings: Mapping[str, str], unset: Sequence[str] = ()) -> None:
        for name in ("AWS_PROFILE", "AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", *unset):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_DEFAULT_REGION", TEST_REGION)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        for name, value in settings.items():
            monkeypatch.setenv(name, value)

    return apply


# Creating a boto3 client costs 0.1-0.2 s (the SageMaker model is large), so the tests' clients
# are kept for the whole session. That is safe: moto intercepts every client made after it was
# imported, and each test's mock_aws() starts from empty backends.
_TEST_CLIENTS: dict[str, Any] = {}


@pytest.fixture(scope="session")
def aws_client() -> Callable[[str], Any]:
    """``aws_client(service)``: the session's boto3 client of ``service`` in TEST_REGION."""

    def client(service: str) -> Any:
        if service not in _TEST_CLIENTS:
            _TEST_CLIENTS[service] = boto3.client(service, region_name=TEST_REGION)
        return _TEST_CLIENTS[service]

    return client


@dataclass
class CodePipelineReports:
    """The job results a handler sent to CodePipeline (Stubber: moto has no PutJob*Result)."""

    stubber: Stubber
    job_id: str
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def expect_success(self, output_variables: bool = False) -> None:
        """A PutJobSuccessResult (``output_variables``: with output variables)."""
        expected: dict[str, Any] = {"jobId": self.job_id, "executionDetails": ANY}
        if output_variables:
            expected["outputVariables"] = ANY
        self.stubber.add_response("put_job_success_result", {}, expected)

    def expect_failure(self, failure_type: str = "JobFailed") -> None:
        self.stubber.add_response(
            "put_job_failure_result",
            {},
            {"jobId": self.job_id, "failureDetails": {"type": failure_type, "message": ANY}},
        )

    def expect_error(self, operation: str, code: str) -> None:
        self.stubber.add_client_error(operation, service_error_code=code, http_status_code=400)

    def sent_success(self) -> dict[str, Any]:
        """The one report sent: a PutJobSuccessResult of the job, 100% complete."""
        [(operation, sent)] = self.sent
        assert operation == "PutJobSuccessResult"
        assert sent["jobId"] == self.job_id
        assert sent["executionDetails"]["percentComplete"] == 100
        return sent

    def sent_failure(self) -> dict[str, Any]:
        """The FailureDetails of the one report sent: a PutJobFailureResult of the job, with a
        message within the API's limit."""
        [(operation, sent)] = self.sent
        assert operation == "PutJobFailureResult"
        assert sent["jobId"] == self.job_id
        message = sent["failureDetails"]["message"]
        assert 1 <= len(message) <= 5000
        return dict(sent["failureDetails"])


@contextmanager
def _stubbed_reports(client: Any, job_id: str) -> Iterator[CodePipelineReports]:
    stubber = Stubber(client)
    recorded = CodePipelineReports(stubber, job_id)

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        recorded.sent.append((model.name, dict(params)))

    client.meta.events.register("provide-client-params.codepipeline", record)
    stubber.activate()
    try:
        yield recorded
        stubber.assert_no_pending_responses()
    finally:
        stubber.deactivate()
        client.meta.events.unregister("provide-client-params.codepipeline", record)


@pytest.fixture
def codepipeline_reports() -> Callable[[Any, str], Any]:
    """``with codepipeline_reports(client, job_id) as reports``: the handler's CodePipeline
    client stubbed, every request it sends recorded, no expected response left over."""
    return _stubbed_reports


# -- CodePipeline jobs ---------------------------------------------------------------------------

# In the artifact credentials of every job event: never in a log line (see log_lines).
NEVER_LOGGED = "never-log-this"


def codepipeline_event(
    parameters: Any, job_id: str | None, *, account: str, function_name: str
) -> dict[str, Any]:
    """A CodePipeline "Invoke Lambda" event of ``function_name`` in ``account``, with
    UserParameters as CodePipeline resolved them (a string as is, else as JSON) and, without
    ``job_id``, no job id."""
    user_parameters = parameters if isinstance(parameters, str) else json.dumps(parameters)
    job: dict[str, Any] = {
        "accountId": account,
        "data": {
            "actionConfiguration": {
                "configuration": {
                    "FunctionName": function_name,
                    "UserParameters": user_parameters,
                }
            },
            "inputArtifacts": [],
            "outputArtifacts": [],
            "artifactCredentials": {
                "accessKeyId": "AKIAEXAMPLE",
                "secretAccessKey": f"{NEVER_LOGGED}-secret",
                "sessionToken": f"{NEVER_LOGGED}-token",
            },
        },
    }
    if job_id is not None:
        job["id"] = job_id
    return {"CodePipeline.job": job}


# Events without a usable job id (nothing to report to: rejected), with what the answer says:
# "job_without_id" and "job_with_bad_id" stand for a function's own job event without an id and
# with a malformed one.
MALFORMED_JOB_EVENTS = [
    pytest.param(None, "the event must be a JSON object, got null", id="none"),
    pytest.param({"Records": []}, "CodePipeline.job is missing", id="not-a-job"),
    pytest.param("job_without_id", "no usable CodePipeline.job.id", id="no-id"),
    pytest.param("job_with_bad_id", "CodePipeline.job.id is missing or not a job id", id="id"),
]


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The JSON log lines written so far, none showing the job's artifact credentials."""
    out = capsys.readouterr().out
    assert NEVER_LOGGED not in out  # the artifact credentials never reach the logs
    return [json.loads(line) for line in out.splitlines() if line]


# -- AWS requests and objects --------------------------------------------------------------------


@contextmanager
def requests_sent(*clients: Any) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The (operation, parameters) of every request made with ``clients`` while open, in
    order."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, dict(params)))

    events = [
        (client, f"provide-client-params.{client.meta.service_model.service_id.hyphenize()}")
        for client in clients
    ]
    for client, event in events:
        client.meta.events.register(event, record)
    try:
        yield calls
    finally:
        for client, event in events:
            client.meta.events.unregister(event, record)


def create_buckets(s3: Any, versioned: Iterable[str] = (), unversioned: Iterable[str] = ()) -> None:
    """Creates the buckets, empty, with versioning enabled on the ``versioned`` ones."""
    versioned = list(versioned)
    for bucket in [*versioned, *unversioned]:
        s3.create_bucket(Bucket=bucket)
    for bucket in versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


@dataclass
class S3Objects:
    """A test's hands on moto's S3 (``s3``: the test's client): objects are written to
    ``writes_to`` and read from ``reads_from`` unless another bucket is named."""

    s3: Any
    writes_to: str
    reads_from: str

    def put(self, key: str, body: bytes, bucket: str | None = None) -> Any:
        """Writes an object as a pipeline step does; its new VersionId (None if unversioned)."""
        response = self.s3.put_object(Bucket=bucket or self.writes_to, Key=key, Body=body)
        return response.get("VersionId")

    def read(self, key: str, version: str | None = None, bucket: str | None = None) -> bytes:
        """The bytes of an object's version (the current one without ``version``)."""
        extra = {"VersionId": version} if version else {}
        response = self.s3.get_object(Bucket=bucket or self.reads_from, Key=key, **extra)
        data: bytes = response["Body"].read()
        return data

    def versions(self, key: str, bucket: str | None = None) -> list[str]:
        """Every version id of exactly ``key``, newest first."""
        listed = self.s3.list_object_versions(Bucket=bucket or self.reads_from, Prefix=key)
        return [v["VersionId"] for v in listed.get("Versions", []) if v["Key"] == key]

    def keys(self, bucket: str | None = None) -> list[str]:
        """Every key that has a version, sorted."""
        listed = self.s3.list_object_versions(Bucket=bucket or self.reads_from)
        return sorted({v["Key"] for v in listed.get("Versions", [])})

    def uploads(self, bucket: str | None = None) -> list[dict[str, Any]]:
        """The multipart uploads left in the bucket (neither completed nor aborted)."""
        listed = self.s3.list_multipart_uploads(Bucket=bucket or self.reads_from)
        uploads: list[dict[str, Any]] = listed.get("Uploads", [])
        return uploads


# -- a model version, as the training pipeline writes and registers it --------------------------

EXECUTION_ID = "k1ls9tc3wnw6"
RUN = f"pipelines/{EXECUTION_ID}"
MODEL_KEY = f"models/pipelines-{EXECUTION_ID}-Train-Ab12Cd34Ef/output/model.tar.gz"
BASELINE_KEY = f"{RUN}/baselines/monitoring/statistics.json"
EVALUATION_KEY = f"{RUN}/evaluation/evaluation.json"
MODEL = bytes(range(256)) * 1000  # 256 000 bytes
BASELINE = json.dumps({"features": [{"name": "tenure_months", "mean": 31.2}]}).encode()
EVALUATION = json.dumps({"binary_classification_metrics": {"auc": {"value": 0.87}}}).encode()
SEALED = "sealed/"  # the sealed prefix


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sealed_key(data: bytes, source_key: str) -> str:
    """Where the Fingerprint step seals a file: sealed/<sha256>/<file name>."""
    return f"{SEALED}{sha256(data)}/{source_key.rsplit('/', 1)[-1]}"


def create_model_package_groups(sagemaker: Any, groups: Iterable[str]) -> None:
    for group in groups:
        sagemaker.create_model_package_group(
            ModelPackageGroupName=group, ModelPackageGroupDescription="churn models"
        )


@dataclass
class ModelRegistry(S3Objects):
    """S3 and moto's model registry (``sagemaker``: the test's client)."""

    sagemaker: Any

    def create_model_package(
        self, group: str, model_uri: str, properties: dict[str, str], status: str, **extra: Any
    ) -> str:
        """CreateModelPackage of an XGBoost model at ``model_uri`` in ``group``, with this
        approval status and customer metadata (and ``extra`` request fields); its ARN."""
        request: dict[str, Any] = {
            "ModelPackageGroupName": group,
            "ModelPackageDescription": "churn model",
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": f"683313688378.dkr.ecr.{TEST_REGION}.amazonaws.com/xgboost:1.7-1",
                        "ModelDataUrl": model_uri,
                    }
                ],
                "SupportedContentTypes": ["text/csv", "application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            "ModelApprovalStatus": status,
            "CustomerMetadataProperties": properties,
            **extra,
        }
        arn: str = self.sagemaker.create_model_package(**request)["ModelPackageArn"]
        return arn

    def set_status(self, arn: str, status: str) -> None:
        self.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)
