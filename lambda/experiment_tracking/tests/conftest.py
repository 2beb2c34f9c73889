"""Fixtures for the experiment_tracking handler: moto's S3 and SageMaker Experiments, and a fake
MLflow tracking server (an HTTP server on 127.0.0.1 in a thread).

The handler is loaded from its file under the unique module name
``experiment_tracking_handler`` (``load_handler``, lambda/conftest.py): every function folder
has a ``handler.py``.

moto 5.2.5 implements every SageMaker Experiments call the handler makes and the tests set up
with: CreateExperiment, CreateTrial, DescribeTrialComponent (a missing component is moto's
ValidationException "Could not find trial component", SageMaker's is ResourceNotFound: the
handler takes both), CreateTrialComponent (it keeps the status, parameters, artifacts and
metadata), AssociateTrialComponent (ResourceNotFound for a missing trial), UpdateTrialComponent
(with the *ToRemove lists) and ListTrialComponents by trial; and S3's GetObject (NoSuchKey).
What moto never produces (access denied) is stubbed with botocore's ``Stubber``.

The fake MLflow server keeps experiments and runs in memory and answers the REST calls the
handler makes as MLflow 2.x does (``/api/2.0/mlflow/...``; errors as ``{"error_code": ...}``).
It refuses (HTTP 403) any request whose SigV4 signature is not valid for the service
``sagemaker-mlflow`` in the server ARN's region with the function's credentials (moto's fake
ones: moto sets them while it runs), or that does not
name the server in ``x-mlflow-sm-tracking-server-arn`` among the signed headers.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from lambda_testing import TEST_REGION, create_buckets, load_handler, requests_sent
from moto import mock_aws

handler_module = load_handler(
    "experiment_tracking_handler", Path(__file__).resolve().parents[1] / "handler.py"
)
sys.modules.setdefault("experiment_tracking_testing", sys.modules[__name__])

ACCOUNT = "123456789012"
PREFIX = "mlops-dev-churn"
PIPELINE = f"{PREFIX}-training"
IMPORT_PIPELINE = f"{PREFIX}-import"
ARTIFACTS = f"{PREFIX}-artifacts-{ACCOUNT}"
EXECUTION_ID = "k1ls9tc3wnw6"
TRIAL = f"{PIPELINE}-{EXECUTION_ID}"
RECORD = f"{PREFIX}-{EXECUTION_ID}"
CODE_VERSION = "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY"
EVALUATION_KEY = f"pipelines/{EXECUTION_ID}/evaluation/evaluation.json"
SERVER_ARN = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:mlflow-tracking-server/{PREFIX}-mlflow"
SETTINGS = {
    "PROJECT_PREFIX": PREFIX,
    "ARTIFACTS_BUCKET": ARTIFACTS,
    "REPORT_SECTION": "binary_classification_metrics",
    "GATE_METRIC": "auc",
    "GATE_DIRECTION": "maximize",
    "GATE_THRESHOLD": "0.75",
}
MLFLOW_SETTINGS = ("MLFLOW_TRACKING_SERVER_ARN", "MLFLOW_URL")
REPORT = {
    "binary_classification_metrics": {
        "auc": {"value": 0.87, "standard_deviation": 0.01},
        "accuracy": {"value": 0.81},
        "f1": {"value": "NaN"},  # not a finite number: left out
        "confusion_matrix": {"0": {"0": 10, "1": 2}},  # no value: left out
    }
}


def event(**changes: Any) -> dict[str, Any]:
    """The event the training pipeline's Track step sends (``changes`` replace fields; a value
    of None removes one)."""
    run = f"s3://{ARTIFACTS}/pipelines/{EXECUTION_ID}"
    base: dict[str, Any] = {
        "execution_id": EXECUTION_ID,
        "execution_arn": f"arn:aws:sagemaker:{TEST_REGION}:{ACCOUNT}:pipeline/{PIPELINE}"
        f"/execution/{EXECUTION_ID}",
        "pipeline_name": PIPELINE,
        "code_version": CODE_VERSION,
        "trigger_reason": "new-data: raw-to-curated run jr_0a1b",
        "input_data_url": f"s3://{PREFIX}-curated-{ACCOUNT}/churn/",
        "code_uri": f"s3://{ARTIFACTS}/ml/code/{CODE_VERSION}/",
        "dataset_manifest": f"{run}/data/manifest/manifest.json",
        "model_uri": f"s3://{ARTIFACTS}/models/pipelines-{EXECUTION_ID}-Train-Ab12/output/"
        "model.tar.gz",
        "evaluation_uri": f"{run}/evaluation/evaluation.json",
        "training_job": f"pipelines-{EXECUTION_ID}-Train-Ab12Cd34Ef",
        "hyperparameters": json.dumps({"eta": "0.1", "max_depth": "4", "objective": "binary"}),
        "champion_status": "ok",
        "champion_passes": "true",
        "champion_verdict": "better",
        "challenger_value": "0.87",
        "champion_value": "0.85",
        "champion_arn": f"arn:aws:sagemaker:{TEST_REGION}:{ACCOUNT}:model-package/"
        f"{PREFIX}-models/3",
        "champion_margin": "0.0",
    }
    for key, value in changes.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


@pytest.fixture(autouse=True)
def environment(fake_aws: Callable[..., None]) -> None:
    """Fake credentials, one region, the function's settings (no MLflow); nothing from the
    developer's environment."""
    fake_aws(SETTINGS, unset=MLFLOW_SETTINGS)


@dataclass
class Aws:
    s3: Any
    sagemaker: Any

    def report(self, report: Any = REPORT, key: str = EVALUATION_KEY) -> None:
        body = report if isinstance(report, bytes) else json.dumps(report).encode()
        self.s3.put_object(Bucket=ARTIFACTS, Key=key, Body=body)

    def trial(self, pipeline: str = PIPELINE, execution_id: str = EXECUTION_ID) -> None:
        """The experiment and trial SageMaker Pipelines creates when the execution starts."""
        with contextlib.suppress(self.sagemaker.exceptions.ClientError):  # it may exist
            self.sagemaker.create_experiment(ExperimentName=pipeline)
        self.sagemaker.create_trial(TrialName=f"{pipeline}-{execution_id}", ExperimentName=pipeline)

    def record(self, name: str = RECORD) -> dict[str, Any]:
        described: dict[str, Any] = self.sagemaker.describe_trial_component(TrialComponentName=name)
        return described

    def trial_components(self, trial: str = TRIAL) -> list[str]:
        listed = self.sagemaker.list_trial_components(TrialName=trial)
        return [c["TrialComponentName"] for c in listed["TrialComponentSummaries"]]


@pytest.fixture
def aws(aws_client: Callable[[str], Any]) -> Iterator[Aws]:
    """moto: the artifacts bucket with the run's evaluation report, the pipeline's experiment
    and the execution's trial."""
    with mock_aws():
        s3, sagemaker = aws_client("s3"), aws_client("sagemaker")
        create_buckets(s3, versioned=(ARTIFACTS,))
        found = Aws(s3, sagemaker)
        found.report()
        found.trial()
        yield found


@pytest.fixture
def sent() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The (operation, parameters) of every SageMaker and S3 request the handler sends."""
    clients = (handler_module._client("sagemaker"), handler_module._client("s3"))
    with requests_sent(*clients) as calls:
        yield calls


# -- a fake MLflow tracking server --------------------------------------------------------------

_FILTER = re.compile(r"tags\.(?P<key>\w+) = '(?P<value>[^']*)'")


@dataclass
class FakeMlflow:
    """MLflow's tracking REST API in memory, behind SageMaker's SigV4 check."""

    arn: str
    region: str
    url: str = ""
    experiments: dict[str, str] = field(default_factory=dict)  # name -> id
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> run
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    broken: bool = False  # answer every call with HTTP 500

    @property
    def calls(self) -> list[str]:
        """The REST paths called, in order (``GET experiments/get-by-name``, ...)."""
        return [f"{method} {path}" for method, path, _ in self.requests]

    def signature_problem(self, method: str, url: str, body: bytes, headers: Any) -> str | None:
        """Why the request's SigV4 signature is not what sagemaker-mlflow would accept."""
        authorization = headers.get("Authorization", "")
        match = re.fullmatch(
            r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
            r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[^,]+), "
            r"Signature=(?P<signature>[0-9a-f]{64})",
            authorization,
        )
        if match is None:
            return f"no SigV4 Authorization header: {authorization!r}"
        if (match["service"], match["region"]) != ("sagemaker-mlflow", self.region):
            return f"signed for {match['service']} in {match['region']}"
        signed = match["signed"].split(";")
        if "x-mlflow-sm-tracking-server-arn" not in signed:
            return "the tracking server's ARN header is not signed"
        if headers.get("x-mlflow-sm-tracking-server-arn") != self.arn:
            return "the request names another tracking server"
        kept = {name: headers[name] for name in signed if name != "host"}
        request = AWSRequest(method=method, url=url, data=body, headers=kept)
        request.context["timestamp"] = headers["X-Amz-Date"]
        # The function's credentials (moto's fake ones while it runs), as the service would
        # know them from the access key id.
        credentials = boto3.Session().get_credentials()
        if credentials is None or credentials.access_key != match["key"]:
            return f"signed with an unknown access key {match['key']}"
        auth = SigV4Auth(credentials, "sagemaker-mlflow", self.region)
        canonical = auth.canonical_request(request)
        expected = auth.signature(auth.string_to_sign(request, canonical), request)
        return None if expected == match["signature"] else "the signature does not match"

    def answer(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.broken:
            return 500, {"error_code": "INTERNAL_ERROR"}
        route = getattr(self, "_" + path.replace("/", "_").replace("-", "_"), None)
        if route is None:
            return 404, {"error_code": "ENDPOINT_NOT_FOUND"}
        result: tuple[int, dict[str, Any]] = route(body)
        return result

    def _experiments_get_by_name(self, query: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        name = query["experiment_name"]
        if name not in self.experiments:
            return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST"}
        return 200, {"experiment": {"experiment_id": self.experiments[name], "name": name}}

    def _experiments_create(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body["name"] in self.experiments:
            return 400, {"error_code": "RESOURCE_ALREADY_EXISTS"}
        self.experiments[body["name"]] = str(len(self.experiments) + 1)
        return 200, {"experiment_id": self.experiments[body["name"]]}

    def _runs_search(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        wanted = _FILTER.fullmatch(body["filter"])
        assert wanted is not None, body["filter"]
        found = [
            {
                "info": run["info"],
                "data": {"tags": [{"key": k, "value": v} for k, v in run["tags"].items()]},
            }
            for run in self.runs.values()
            if run["info"]["experiment_id"] in body["experiment_ids"]
            and run["tags"].get(wanted["key"]) == wanted["value"]
        ]
        return 200, {"runs": found[: body.get("max_results", 1000)]} if found else {}

    def _runs_create(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        run_id = f"run{len(self.runs) + 1:04d}"
        info = {"run_id": run_id, "experiment_id": body["experiment_id"], "status": "RUNNING",
                "run_name": body["run_name"], "start_time": body["start_time"]}  # fmt: skip
        self.runs[run_id] = {"info": info, "params": {}, "metrics": {}, "tags": {}}
        self._tag(run_id, body.get("tags", []))
        return 200, {"run": {"info": info}}

    def _tag(self, run_id: str, tags: list[dict[str, str]]) -> None:
        self.runs[run_id]["tags"].update({t["key"]: t["value"] for t in tags})

    def _runs_log_batch(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        run = self.runs.get(body["run_id"])
        if run is None:
            return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST"}
        if len(body.get("params", [])) > 100 or len(body.get("metrics", [])) > 1000:
            return 400, {"error_code": "INVALID_PARAMETER_VALUE"}
        for param in body.get("params", []):
            if run["params"].get(param["key"], param["value"]) != param["value"]:
                return 400, {"error_code": "INVALID_PARAMETER_VALUE"}  # params are immutable
            run["params"][param["key"]] = param["value"]
        for metric in body.get("metrics", []):
            run["metrics"][metric["key"]] = metric["value"]
        self._tag(body["run_id"], body.get("tags", []))
        return 200, {}

    def _runs_update(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        info = self.runs[body["run_id"]]["info"]
        info.update(status=body["status"], end_time=body["end_time"])
        return 200, {"run_info": info}


def _http_handler(fake: FakeMlflow) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            path = split.path.removeprefix("/api/2.0/mlflow/")
            url = f"{fake.url}{self.path}"
            problem = fake.signature_problem(self.command, url, raw, self.headers)
            if problem:
                fake.refusals.append(problem)
                status, answer = 403, {"error_code": "PERMISSION_DENIED", "message": problem}
            else:
                body = (
                    {k: v[0] for k, v in parse_qs(split.query).items()}
                    if self.command == "GET"
                    else json.loads(raw)
                )
                fake.requests.append((self.command, path, body))
                status, answer = fake.answer(self.command, path, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = _serve
        do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def mlflow(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMlflow]:
    """A fake MLflow tracking server on 127.0.0.1, and the function configured to log to it."""
    fake = FakeMlflow(arn=SERVER_ARN, region="eu-west-1")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _http_handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_ARN", SERVER_ARN)
    monkeypatch.setenv("MLFLOW_URL", fake.url)
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
