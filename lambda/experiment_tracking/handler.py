"""The Track step of a project's standard pipelines (ADR 0023): every evaluated run recorded
where data scientists look for it.

The step runs after ``Champion`` and before the gates, with the run's lineage, the training
job, its static hyperparameters and the champion gate's answer (README.md lists the event).
It reads the run's evaluation report (``pipelines/<id>/evaluation/evaluation.json`` of the
project's artifacts bucket) and records:

1. **SageMaker Experiments**: the trial component ``<prefix>-<execution id>`` of the
   execution's trial ``<pipeline>-<execution id>`` (which SageMaker Pipelines created from the
   definition's experiment configuration), with the lineage, hyperparameters, the report's
   metrics as numbers and both gates' verdicts as parameters, the data manifest, code and
   input data as input artifacts, the model and the report as output artifacts. Written
   ``InProgress``, associated with the trial, then ``Completed``: a replay finding it
   completed with the same content writes nothing; one finding it in progress (an earlier
   attempt stopped halfway) completes it; one finding other content updates it.
2. **MLflow** (``MLFLOW_TRACKING_SERVER_ARN`` set): a run in the experiment named after the
   pipeline (created if missing) through MLflow's REST API at ``MLFLOW_URL``, signed with
   SigV4 for the service ``sagemaker-mlflow`` and addressed to the server by the header
   ``x-mlflow-sm-tracking-server-arn`` (as SageMaker's MLflow plugin does). The run is found by
   its ``pipeline_execution_id`` tag before one is created: a finished run is left as it is
   (a replay creates no second run).

The answer (LambdaStep outputs, all strings): ``status`` ``ok`` or ``error``,
``trial_component``, ``mlflow_run_id`` (``none`` without MLflow) and ``error``. Nothing is
ever raised: a tracking problem (a bad event, a missing report, an AWS or MLflow error) is
``status`` ``error`` with the reason, and the run goes on to its gates and registration.
Standard library, boto3 and the shared layer only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError
from platform_events import DECIMAL, METRIC_NAME, BadInput, get_string, json_type, s3_uri_problem
from platform_logging import InvocationLog, structured_logger
from platform_runtime import (
    Clients,
    ConfigError,
    bucket_setting,
    describe_error,
    optional_setting,
    report_bad_config_at_cold_start,
)

OK: Final = "ok"
ERROR: Final = "error"
NONE: Final = "none"
ANSWER_KEYS: Final = ("status", "trial_component", "mlflow_run_id", "error")
MAXIMIZE: Final = "maximize"
MINIMIZE: Final = "minimize"
REPORT_SECTIONS: Final = (
    "binary_classification_metrics",
    "multiclass_classification_metrics",
    "regression_metrics",
)
# The event: every key but import_manifest (the import pipeline's) is required.
CHAMPION_KEYS: Final = (
    "champion_status",
    "champion_passes",
    "champion_verdict",
    "challenger_value",
    "champion_value",
    "champion_arn",
    "champion_margin",
)
EVENT_KEYS: Final = (
    "execution_id",
    "execution_arn",
    "pipeline_name",
    "code_version",
    "trigger_reason",
    "input_data_url",
    "code_uri",
    "dataset_manifest",
    "model_uri",
    "evaluation_uri",
    "training_job",
    "hyperparameters",
    *CHAMPION_KEYS,
)
OPTIONAL_KEYS: Final = ("import_manifest",)
PIPELINE_SUFFIXES: Final = ("training", "import")
# SageMaker's limits: names 120 characters, 300 parameters, string values 2500 characters.
NAME_MAX: Final = 120
STRING_MAX: Final = 2500
MESSAGE_MAX: Final = 1024
HYPERPARAMETERS_MAX: Final = 100
METRICS_MAX: Final = 150
REPORT_MAX_BYTES: Final = 1024 * 1024
# MLflow: at most 100 parameters per log-batch; older servers keep 500 characters of a value.
MLFLOW_PARAMS_PER_BATCH: Final = 100
MLFLOW_VALUE_MAX: Final = 500
MLFLOW_SERVICE: Final = "sagemaker-mlflow"
MLFLOW_ARN_HEADER: Final = "x-mlflow-sm-tracking-server-arn"
MLFLOW_TIMEOUT_SECONDS: Final = 10
EXECUTION_TAG: Final = "pipeline_execution_id"
# Stop before MLflow when less than this remains of the invocation (the run must never time out).
MLFLOW_MIN_REMAINING_MS: Final = 90_000

_ENTITY = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,119}")
_EXECUTION_ID = re.compile(r"[a-z0-9]{1,64}")
_KEY = re.compile(r"[A-Za-z0-9_.:/-]{1,100}")
_SERVER_ARN = re.compile(
    r"arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]+):\d{12}:mlflow-tracking-server/"
    r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}"
)
# https for the service; plain http to this machine only (the tests' fake server).
_MLFLOW_URL = re.compile(r"https://[a-z0-9.-]+(:\d+)?|http://(127\.0\.0\.1|localhost):\d+")

LOGGER = structured_logger("experiment-tracking")


class _Log(InvocationLog):
    logger = LOGGER


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class Config:
    prefix: str
    bucket: str
    section: str
    metric: str
    direction: str
    threshold: float
    mlflow_arn: str | None = None
    mlflow_url: str | None = None

    @property
    def pipelines(self) -> tuple[str, ...]:
        return tuple(f"{self.prefix}-{suffix}" for suffix in PIPELINE_SUFFIXES)

    @property
    def mlflow_region(self) -> str:
        match = _SERVER_ARN.fullmatch(self.mlflow_arn or "")
        assert match is not None
        return match["region"]


def number(value: object) -> float | None:
    """A finite float from a JSON number or a decimal string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if len(value) > 64 or not DECIMAL.fullmatch(value.strip()):
            return None
        value = value.strip()
    elif not isinstance(value, int | float):
        return None
    try:
        result = float(value)
    except (OverflowError, ValueError):
        return None
    return result + 0.0 if math.isfinite(result) else None


def _mlflow_settings(env: Mapping[str, str], problems: list[str]) -> tuple[str | None, str | None]:
    malformed: list[str] = []  # a malformed value is noted after the pairing problem
    arn = optional_setting(
        env, "MLFLOW_TRACKING_SERVER_ARN", _SERVER_ARN, "a tracking server ARN", malformed
    )
    url = optional_setting(
        env, "MLFLOW_URL", _MLFLOW_URL, "https://<host> (http only to localhost)", malformed
    )
    if (arn is None) != (url is None):
        problems.append("MLFLOW_TRACKING_SERVER_ARN and MLFLOW_URL are set together or not at all")
    problems.extend(malformed)
    return arn, url


def load_config(env: Mapping[str, str]) -> Config:
    """Reads and checks the environment; raises ConfigError naming every problem at once."""
    problems: list[str] = []
    prefix = env.get("PROJECT_PREFIX", "")
    if not _ENTITY.fullmatch(prefix) or len(prefix) > 60:
        problems.append(f"PROJECT_PREFIX={prefix!r} is not a project prefix (e.g. mlops-dev-churn)")
    bucket = bucket_setting(env, "ARTIFACTS_BUCKET", "the project's artifacts bucket", problems)
    section = env.get("REPORT_SECTION", "")
    if section not in REPORT_SECTIONS:
        problems.append(f"REPORT_SECTION={section!r} must be one of {list(REPORT_SECTIONS)}")
    metric = env.get("GATE_METRIC", "")
    if not METRIC_NAME.fullmatch(metric):
        problems.append(f"GATE_METRIC={metric!r} is not a metric name (e.g. auc)")
    direction = env.get("GATE_DIRECTION", "")
    if direction not in (MAXIMIZE, MINIMIZE):
        problems.append(f"GATE_DIRECTION={direction!r} must be {MAXIMIZE} or {MINIMIZE}")
    threshold = number(env.get("GATE_THRESHOLD", ""))
    if threshold is None:
        problems.append(f"GATE_THRESHOLD={env.get('GATE_THRESHOLD', '')!r} is not a number")
    arn, url = _mlflow_settings(env, problems)
    if problems or threshold is None:
        raise ConfigError("; ".join(problems))
    return Config(prefix, bucket, section, metric, direction, threshold, arn, url)


# --------------------------------------------------------------------------------------------
# Events


@dataclass(frozen=True)
class Request:
    execution_id: str
    execution_arn: str
    pipeline: str
    fields: dict[str, str]  # every other input, checked
    hyperparameters: dict[str, str]

    @property
    def trial(self) -> str:
        return f"{self.pipeline}-{self.execution_id}"


def _object_uri(fields: Mapping[str, str], key: str, expected: str | None = None) -> None:
    value = fields[key]
    if expected is not None and value != expected:
        raise BadInput(f"{key} {value!r} is not this run's {expected!r}")
    problem = s3_uri_problem(value, max_len=2048, object_key=expected is not None)
    if problem:
        raise BadInput(f"{key} {value!r} {problem}")


def _hyperparameters(text: str) -> dict[str, str]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise BadInput(f"hyperparameters is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise BadInput(f"hyperparameters must be a JSON object, got {json_type(value)}")
    if len(value) > HYPERPARAMETERS_MAX:
        raise BadInput(f"hyperparameters has more than {HYPERPARAMETERS_MAX} entries")
    for name, setting in value.items():
        if not _KEY.fullmatch(name) or not isinstance(setting, str) or len(setting) > STRING_MAX:
            raise BadInput(f"hyperparameter {name!r} is not a name with a string value")
    return dict(sorted(value.items()))


def _fields(event: dict[str, Any]) -> dict[str, str]:
    unknown = sorted(set(event) - set(EVENT_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise BadInput(f"unknown fields {unknown!r}")
    fields: dict[str, str] = {}
    for key in (*EVENT_KEYS, *(k for k in OPTIONAL_KEYS if k in event)):
        value = event.get(key)
        if key in CHAMPION_KEYS and value == "":
            fields[key] = NONE  # the champion's answer leaves some empty on its errors
            continue
        fields[key] = get_string(event, key, key, max_len=STRING_MAX)
    return fields


def parse_event(event: object, config: Config) -> Request:
    """Validates the Track step's event strictly; raises BadInput naming the first problem."""
    if not isinstance(event, dict):
        raise BadInput(f"the event must be a JSON object, got {json_type(event)}")
    fields = _fields(event)
    execution_id, pipeline = fields["execution_id"], fields["pipeline_name"]
    if not _EXECUTION_ID.fullmatch(execution_id):
        raise BadInput(f"execution_id {execution_id!r} is not a pipeline execution id")
    if pipeline not in config.pipelines:
        raise BadInput(f"pipeline_name {pipeline!r} is not one of {list(config.pipelines)}")
    arn = fields["execution_arn"]
    if not re.fullmatch(
        rf"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{{12}}:pipeline/{pipeline}"
        rf"/execution/{execution_id}",
        arn,
    ):
        raise BadInput(f"execution_arn {arn!r} is not execution {execution_id} of {pipeline}")
    if len(f"{pipeline}-{execution_id}") > NAME_MAX:
        raise BadInput(f"the trial name {pipeline}-{execution_id} is over {NAME_MAX} characters")
    run = f"s3://{config.bucket}/pipelines/{execution_id}"
    _object_uri(fields, "evaluation_uri", f"{run}/evaluation/evaluation.json")
    _object_uri(fields, "dataset_manifest", f"{run}/data/manifest/manifest.json")
    _object_uri(fields, "code_uri")
    if fields["code_uri"] != f"s3://{config.bucket}/ml/code/{fields['code_version']}/":
        raise BadInput(f"code_uri {fields['code_uri']!r} is not code version's in ml/code/")
    for key in ("model_uri", "input_data_url"):
        _object_uri(fields, key)
    job = fields["training_job"]
    if job != NONE and not _ENTITY.fullmatch(job):
        raise BadInput(f"training_job {job!r} is not a training job name")
    hyperparameters = _hyperparameters(fields.pop("hyperparameters"))
    return Request(execution_id, arn, pipeline, fields, hyperparameters)


# --------------------------------------------------------------------------------------------
# The evaluation report and the gates


def report_metrics(report: object, section: str) -> dict[str, float]:
    """``<section>.<metric>.value`` (and ``.standard_deviation``) of every metric that is a
    finite number, by name (``auc``, ``auc.standard_deviation``), at most METRICS_MAX."""
    block = report.get(section) if isinstance(report, dict) else None
    metrics: dict[str, float] = {}
    for name, entry in sorted(block.items()) if isinstance(block, dict) else ():
        if not (METRIC_NAME.fullmatch(name) and isinstance(entry, dict)):
            continue
        for field_name, key in (("value", name), ("standard_deviation", f"{name}.std")):
            value = number(entry.get(field_name))
            if value is not None and len(metrics) < METRICS_MAX:
                metrics[key] = value
    return metrics


def quality_gate(config: Config, metrics: Mapping[str, float]) -> tuple[str, str]:
    """The quality gate's verdict (passed, failed, unknown) and its sentence, as the pipeline's
    QualityGate step decides it (the configured threshold, in the gate's direction)."""
    value, threshold = metrics.get(config.metric), config.threshold
    if value is None:
        return "unknown", f"the evaluation report has no {config.section}.{config.metric}.value"
    higher = config.direction == MAXIMIZE
    passes = value >= threshold if higher else value <= threshold
    sign = (">=" if passes else "<") if higher else ("<=" if passes else ">")
    return ("passed" if passes else "failed"), f"{config.metric} {value!r} {sign} {threshold!r}"


def champion_gate(fields: Mapping[str, str]) -> str:
    """The champion gate's verdict: passed, failed, or error (the champion function's)."""
    if fields["champion_status"] != OK:
        return ERROR
    return "passed" if fields["champion_passes"] == "true" else "failed"


def read_report(config: Config, request: Request) -> tuple[dict[str, float], str]:
    """The report's metrics, and why there are none when it cannot be read."""
    key = request.fields["evaluation_uri"].removeprefix(f"s3://{config.bucket}/")
    try:
        body = _client("s3").get_object(Bucket=config.bucket, Key=key)["Body"]
        data = body.read(REPORT_MAX_BYTES + 1)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in ("NoSuchKey", "404", "NotFound"):
            return {}, f"the evaluation report {request.fields['evaluation_uri']} does not exist"
        return {}, f"the evaluation report could not be read ({describe_error(exc)})"
    except Exception as exc:  # a timeout, a connection error: recorded without metrics
        return {}, f"the evaluation report could not be read ({describe_error(exc)})"
    if len(data) > REPORT_MAX_BYTES:
        return {}, f"the evaluation report is larger than {REPORT_MAX_BYTES} bytes"
    try:
        report = json.loads(data)
    except ValueError:
        return {}, "the evaluation report is not JSON"
    metrics = report_metrics(report, config.section)
    return metrics, "" if metrics else f"the evaluation report has no {config.section} metrics"


# --------------------------------------------------------------------------------------------
# The record


@dataclass(frozen=True)
class Record:
    """What the run's trial component (and MLflow run) holds."""

    name: str
    trial: str
    parameters: dict[str, str | float]
    inputs: dict[str, dict[str, str]]
    outputs: dict[str, dict[str, str]]
    message: str
    metrics: dict[str, float]

    def sagemaker_parameters(self) -> dict[str, dict[str, str | float]]:
        return {
            key: {"NumberValue": value} if isinstance(value, float) else {"StringValue": value}
            for key, value in self.parameters.items()
        }


def _typed(value: str) -> str | float:
    """A hyperparameter as a number when it is one (Studio and MLflow compare numbers)."""
    parsed = number(value)
    return value if parsed is None else parsed


def _artifact(value: str, media_type: str | None = None) -> dict[str, str]:
    return {"Value": value, **({"MediaType": media_type} if media_type else {})}


def _verdict(quality: str, champion: str) -> str:
    if quality == "passed" and champion == "passed":
        return "both gates passed: the version goes on to be sealed and registered"
    if quality != "passed":
        return f"quality gate {quality}: the version is not registered"
    return f"champion gate {champion}: the version is not registered"


def build_record(config: Config, request: Request, metrics: dict[str, float], why: str) -> Record:
    """The run's record: lineage, hyperparameters, metrics and the gates' verdicts."""
    f = request.fields
    quality, sentence = quality_gate(config, metrics)
    champion = champion_gate(f)
    parameters: dict[str, str | float] = {
        "PipelineName": request.pipeline,
        "PipelineExecutionArn": request.execution_arn,
        "CodeVersion": f["code_version"],
        "TriggerReason": f["trigger_reason"],
        "InputDataUrl": f["input_data_url"],
        "TrainingJob": f["training_job"],
        **({"ImportManifestUrl": f["import_manifest"]} if "import_manifest" in f else {}),
        **{f"hyperparameter.{k}": _typed(v) for k, v in request.hyperparameters.items()},
        **{f"metric.{k}": v for k, v in metrics.items()},
        "GateMetric": config.metric,
        "GateDirection": config.direction,
        "GateThreshold": config.threshold,
        "QualityGate": quality,
        "ChampionGate": champion,
        "ChampionVerdict": f["champion_verdict"],
        "ChampionValue": f["champion_value"],
        "ChampionModelPackageArn": f["champion_arn"],
        "ChampionMargin": f["champion_margin"],
    }
    inputs = {
        "DatasetManifest": _artifact(f["dataset_manifest"], "application/json"),
        "Code": _artifact(f["code_uri"]),
        "InputData": _artifact(f["input_data_url"]),
        **(
            {"ImportManifest": _artifact(f["import_manifest"], "application/json")}
            if f.get("import_manifest", NONE) != NONE
            else {}
        ),
    }
    outputs = {
        "Model": _artifact(f["model_uri"], "application/gzip"),
        "EvaluationReport": _artifact(f["evaluation_uri"], "application/json"),
    }
    message = f"{sentence}; champion {f['champion_verdict']}; {_verdict(quality, champion)}"
    if why:
        message += f" ({why})"
    name = f"{config.prefix}-{request.execution_id}"
    return Record(name, request.trial, parameters, inputs, outputs, message[:MESSAGE_MAX], metrics)


# --------------------------------------------------------------------------------------------
# AWS clients, made at first use (tests start moto and set the environment first). Bounded so
# that the slowest case ends well within the function's timeout.

_client: Final = Clients(attempts=2, read_timeout=10)


def _missing(exc: ClientError) -> bool:
    """Whether a Describe* error says the entity does not exist (SageMaker: ResourceNotFound;
    moto answers ValidationException "Could not find ...")."""
    error = exc.response.get("Error", {})
    message = str(error.get("Message", ""))
    return error.get("Code") == "ResourceNotFound" or (
        error.get("Code") == "ValidationException" and "not find" in message
    )


def describe_record(name: str) -> dict[str, Any] | None:
    try:
        described: dict[str, Any] = _client("sagemaker").describe_trial_component(
            TrialComponentName=name
        )
    except ClientError as exc:
        if _missing(exc):
            return None
        raise
    return described


def _content(record: Record) -> dict[str, Any]:
    return {
        "Parameters": record.sagemaker_parameters(),
        "InputArtifacts": record.inputs,
        "OutputArtifacts": record.outputs,
    }


def _removed(existing: Mapping[str, Any], record: Record) -> dict[str, list[str]]:
    """What an update must remove: keys the record no longer has."""
    content = _content(record)
    removed = {
        f"{kind}ToRemove": sorted(set(existing.get(kind) or {}) - set(content[kind]))
        for kind in ("Parameters", "InputArtifacts", "OutputArtifacts")
    }
    return {key: keys for key, keys in removed.items() if keys}


def write_record(record: Record, request: Request) -> str:
    """Creates the trial component, joins it to the trial and completes it; a replay finds it
    completed with the same content and writes nothing. Returns what it did."""
    sagemaker = _client("sagemaker")
    existing = describe_record(record.name)
    done = "unchanged"
    if existing is None:
        sagemaker.create_trial_component(
            TrialComponentName=record.name,
            DisplayName=record.trial,
            Status={"PrimaryStatus": "InProgress", "Message": f"joining {record.trial}"},
            StartTime=datetime.now(UTC),
            MetadataProperties={
                "CommitId": request.fields["code_version"][:1024],
                "GeneratedBy": request.execution_arn,
            },
            **_content(record),
        )
        existing, done = {"Status": {"PrimaryStatus": "InProgress"}, **_content(record)}, "created"
    completed = (existing.get("Status") or {}).get("PrimaryStatus") == "Completed"
    same = all(existing.get(k) == v for k, v in _content(record).items())
    if not completed:
        sagemaker.associate_trial_component(TrialComponentName=record.name, TrialName=record.trial)
    if completed and same:
        return done
    update: dict[str, Any] = {
        "Status": {"PrimaryStatus": "Completed", "Message": record.message},
        "EndTime": datetime.now(UTC),
    }
    if not same:
        removed = _removed(existing, record)
        if removed:  # apart: UpdateTrialComponent merges the maps it is given, key by key
            sagemaker.update_trial_component(TrialComponentName=record.name, **removed)
        update |= _content(record)
    sagemaker.update_trial_component(TrialComponentName=record.name, **update)
    return done if done == "created" else ("completed" if same else "updated")


# --------------------------------------------------------------------------------------------
# MLflow's REST API, signed with SigV4 (service sagemaker-mlflow)


class MlflowError(Exception):
    """An MLflow REST call failed: the message says which and why."""


@dataclass
class Mlflow:
    url: str
    arn: str
    region: str
    credentials: Any

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        query: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One REST call; the JSON answer. Raises MlflowError (with MLflow's error_code)."""
        url = f"{self.url.rstrip('/')}/api/2.0/mlflow/{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        data = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        request = urllib.request.Request(
            url, data=data or None, method=method, headers=self.signed(method, url, data)
        )
        try:
            with urllib.request.urlopen(request, timeout=MLFLOW_TIMEOUT_SECONDS) as response:
                answer = response.read()
        except urllib.error.HTTPError as exc:
            code = _error_code(exc.read())
            raise MlflowError(f"{path}: HTTP {exc.code} {code}".rstrip()) from None
        except (urllib.error.URLError, OSError) as exc:
            raise MlflowError(f"{path}: {exc}") from None
        parsed = json.loads(answer) if answer.strip() else {}
        return parsed if isinstance(parsed, dict) else {}

    def signed(self, method: str, url: str, data: bytes) -> dict[str, str]:
        """The request's headers, SigV4-signed for sagemaker-mlflow in the server's region."""
        headers = {
            "Content-Type": "application/json",
            MLFLOW_ARN_HEADER: self.arn,
            "X-Amz-Content-SHA256": hashlib.sha256(data).hexdigest(),
        }
        request = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(self.credentials, MLFLOW_SERVICE, self.region).add_auth(request)
        return dict(request.headers.items())

    def experiment_id(self, name: str) -> str:
        """The experiment named ``name``, created if missing."""
        for attempt in range(2):
            try:
                found = self.call("GET", "experiments/get-by-name", query={"experiment_name": name})
                return str(found["experiment"]["experiment_id"])
            except MlflowError as exc:
                if "RESOURCE_DOES_NOT_EXIST" not in str(exc) or attempt:
                    raise
            try:
                return str(self.call("POST", "experiments/create", {"name": name})["experiment_id"])
            except MlflowError as exc:  # created meanwhile: read it again
                if "RESOURCE_ALREADY_EXISTS" not in str(exc):
                    raise
        raise MlflowError(f"experiment {name} could be neither found nor created")

    def find_run(self, experiment: str, execution_id: str) -> dict[str, Any] | None:
        found = self.call(
            "POST",
            "runs/search",
            {
                "experiment_ids": [experiment],
                "filter": f"tags.{EXECUTION_TAG} = '{execution_id}'",
                "max_results": 1,
            },
        )
        runs = found.get("runs") or []
        info: dict[str, Any] | None = runs[0].get("info") if runs else None
        return info


def _error_code(body: bytes) -> str:
    try:
        parsed = json.loads(body)
    except ValueError:
        return ""
    return str(parsed.get("error_code", "")) if isinstance(parsed, dict) else ""


def _mlflow_value(value: str | float) -> str:
    text = repr(value) if isinstance(value, float) else value
    return text if len(text) <= MLFLOW_VALUE_MAX else text[: MLFLOW_VALUE_MAX - 3] + "..."


def _tags(record: Record, request: Request) -> list[dict[str, str]]:
    tags = {
        EXECUTION_TAG: request.execution_id,
        "pipeline_execution_arn": request.execution_arn,
        "pipeline_name": request.pipeline,
        "trial_component": record.name,
        "quality_gate": str(record.parameters["QualityGate"]),
        "champion_gate": str(record.parameters["ChampionGate"]),
        "mlflow.note.content": record.message,
    }
    return [{"key": k, "value": _mlflow_value(v)} for k, v in tags.items()]


def log_run(mlflow: Mlflow, record: Record, request: Request) -> str:
    """The run of this execution in the pipeline's experiment: found by its execution tag (a
    finished one is left as it is), else created; parameters, metrics and tags logged, then
    finished. Returns its id."""
    experiment = mlflow.experiment_id(request.pipeline)
    found = mlflow.find_run(experiment, request.execution_id)
    if found is not None and found.get("status") == "FINISHED":
        return str(found["run_id"])
    now = int(time.time() * 1000)
    if found is None:
        created = mlflow.call(
            "POST",
            "runs/create",
            {
                "experiment_id": experiment,
                "run_name": record.trial,
                "start_time": now,
                "tags": _tags(record, request),
            },
        )
        run_id = str(created["run"]["info"]["run_id"])
    else:  # an earlier attempt stopped before finishing it
        run_id = str(found["run_id"])
    params = [{"key": k, "value": _mlflow_value(v)} for k, v in record.parameters.items()]
    metrics = [
        {"key": k, "value": v, "timestamp": now, "step": 0} for k, v in record.metrics.items()
    ]
    for start in range(0, max(len(params), 1), MLFLOW_PARAMS_PER_BATCH):
        batch = params[start : start + MLFLOW_PARAMS_PER_BATCH]
        extra = {"metrics": metrics, "tags": _tags(record, request)} if start == 0 else {}
        mlflow.call("POST", "runs/log-batch", {"run_id": run_id, "params": batch, **extra})
    mlflow.call("POST", "runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": now})
    return run_id


def mlflow_client(config: Config) -> Mlflow:
    assert config.mlflow_arn is not None and config.mlflow_url is not None
    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise MlflowError("no AWS credentials to sign MLflow requests with")
    return Mlflow(config.mlflow_url, config.mlflow_arn, config.mlflow_region, credentials)


# --------------------------------------------------------------------------------------------
# Entry point


def _answer(status: str, record: str = "", run: str = "", error: str = "") -> dict[str, str]:
    return dict(zip(ANSWER_KEYS, (status, record, run, error), strict=True))


def track(config: Config, request: Request, context: object, log: _Log) -> dict[str, str]:
    """Records the run; every problem becomes part of a ``status`` error answer."""
    problems: list[str] = []
    metrics, why = read_report(config, request)
    if why:
        problems.append(why)
    record = build_record(config, request, metrics, why)
    recorded = ""
    try:
        log.bind(record=write_record(record, request))
        recorded = record.name
    except Exception as exc:  # the run goes on: tracking never fails it
        problems.append(f"SageMaker Experiments: {describe_error(exc)}")
    run = NONE
    if config.mlflow_arn is not None:
        remaining = getattr(context, "get_remaining_time_in_millis", lambda: 300_000)()
        try:
            if remaining < MLFLOW_MIN_REMAINING_MS:
                raise MlflowError(f"only {remaining} ms left of the invocation")
            run = log_run(mlflow_client(config), record, request)
        except Exception as exc:
            run = ""
            problems.append(f"MLflow: {describe_error(exc)}")
    log.bind(quality_gate=record.parameters["QualityGate"], metrics=len(metrics))
    return _answer(ERROR if problems else OK, recorded, run, "; ".join(problems))


def handler(event: object, context: object = None) -> dict[str, str]:
    """Lambda entry point. Never raises: a tracking problem must not fail the run."""
    log = _Log(request_id=getattr(context, "aws_request_id", None))
    if isinstance(event, dict) and isinstance(event.get("execution_id"), str):
        log.bind(execution_id=event["execution_id"][:64])
    try:
        config = load_config(os.environ)
        request = parse_event(event, config)
    except (ConfigError, BadInput) as exc:
        kind = "configuration error" if isinstance(exc, ConfigError) else "bad event"
        log.log(logging.ERROR, "nothing recorded", status=ERROR, error=f"{kind}: {exc}")
        return _answer(ERROR, error=f"{kind}: {exc}")
    try:
        answer = track(config, request, context, log)
    except Exception as exc:  # a bug: still answered, never raised
        log.log(logging.ERROR, "tracking failed", status=ERROR, exc_info=True)
        return _answer(ERROR, error=describe_error(exc))
    level = logging.INFO if answer["status"] == OK else logging.ERROR
    fields: dict[str, Any] = dict(answer)
    log.log(level, "run tracked", **fields)
    return answer


# In Lambda: report a bad deployment once, at init.
report_bad_config_at_cold_start(load_config, _Log())
