"""The open monitoring pipeline's definition (sagemaker SDK 2.x, at synth time, offline).

Window (a Lambda step: the deployed version's baseline, the capture and ground-truth prefixes
of the window to analyse, or why there is nothing to analyse) -> HasData (a condition) ->
Monitor (a network-isolated processing job running the platform's monitoring script in AWS's
scikit-learn image: data quality, drift per feature, model quality on joined ground truth) ->
Publish (the Lambda step again: the run's metrics into CloudWatch, which the alarms read).
With batch scoring monitored, the ``batch`` target has its own Monitor and Publish steps
(``MonitorBatchData``, ...): their capture input is the manifest Window wrote of the files the
window's transform jobs read and wrote, not a prefix.

Services open to every AWS customer only: SageMaker Pipelines, Processing, Lambda.
Deploy-time values are ``${Placeholders}`` the construct resolves with ``Fn::Sub``.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass

from mlops_constructs import sdk_process
from mlops_constructs.memo import Later, memoized_later
from mlops_constructs.training.definition import Attributions, _disable_telemetry

FUNCTION_PLACEHOLDER = "${MonitoringFunctionArn}"
# What the Window step returns (lambda/monitoring_run/README.md), all strings.
WINDOW_OUTPUTS = (
    "status", "reason", "error", "model_package_arn", "baseline_uri", "capture_uri",
    "window_start", "window_end", "labelled_capture_uri", "ground_truth_uri",
    "labelled_window_start", "labelled_window_end", "ground_truth", "model_data_uri",
)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class OpenMonitoringSpec:
    """Everything the monitoring pipeline depends on; the same spec gives the same JSON."""

    name: str
    region: str
    role_arn: str
    artifacts_bucket: str
    # Where run reports go: s3://<artifacts>/<reports_prefix><target>/<execution id>/.
    reports_prefix: str = "monitoring/"
    image: str
    instance_type: str = "ml.m5.large"
    max_runtime_minutes: int = 60
    columns: tuple[str, ...]
    problem_type: str
    prediction_field: str
    probability_field: str | None = None
    classes: tuple[str, ...] = ()
    # Fewer rows (or joined labels) than this: the run reports insufficient data.
    min_rows: int = 100
    vpc: bool = False
    # Batch scoring is a target: its runs read the transform jobs' captured files through the
    # manifest the Window step writes (S3DataType ManifestFile), in steps of their own.
    batch: bool = False
    # Feature attributions in the data runs: they then run in ``attribution_image`` (the
    # project's training image, whose framework the model's serving functions need), with the
    # monitored version's model artifact (Window's ``model_data_uri``) as an input.
    attributions: Attributions | None = None
    attribution_image: str = ""
    inference_entry: str = "inference.py"

    def __post_init__(self) -> None:
        if self.attributions is not None and not self.attribution_image:
            raise ValueError("attributions need attribution_image (the training image)")


def build_monitoring_definition(spec: OpenMonitoringSpec) -> str:
    """The pipeline definition JSON (with ``${...}`` placeholders for deploy-time values),
    memoized on disk by everything it depends on (mlops_constructs/memo.py)."""
    return monitoring_definition_later(spec).get()


def monitoring_definition_later(spec: OpenMonitoringSpec) -> Later:
    """:func:`build_monitoring_definition`, asked for now and read when needed: on a first
    synth the SDK's process builds it meanwhile (sdk_process.py)."""
    return memoized_later(
        "monitoring-definition",
        spec,
        lambda: sdk_process.ask(_build_monitoring_definition, spec),
    )


def _build_monitoring_definition(spec: OpenMonitoringSpec) -> str:
    _disable_telemetry()
    # The function is the construct's; the SDK only names it in the definition.
    warnings.filterwarnings("ignore", message="Lambda function won't be updated")
    from mlops_constructs.monitor.open_steps import MonitoringBuilder

    pipeline = MonitoringBuilder(spec).pipeline()
    definition = json.loads(pipeline.definition())
    return json.dumps(definition, sort_keys=True, separators=(",", ":"))
