"""A project's SageMaker Pipeline definition, built with the sagemaker SDK (2.x) at synth time,
offline, from the project's settings.

preprocess -> [data-quality baseline, bias baseline] -> train -> evaluate -> champion -> track
(the run's record in SageMaker Experiments, and MLflow with the option) -> quality gate (threshold) -> champion gate (not worse than the approved version by more than the
margin) -> [model baselines] -> register (PendingManualApproval, with metrics, baselines, the
champion verdict and lineage) or fail. Bracketed steps are options for accounts that have Model Monitor and Clarify (closed to
new AWS customers); with the defaults no step depends on them.

The project's code keeps docs/project-contract.md: entry points, paths, the evaluation report
(SageMaker's model-quality format, ``<problem type>_metrics.<metric>.value``, which the gate
reads for any metric and direction) and the serving contract.

Offline recipe (no credentials, no network, deterministic output):
- a ``PipelineSession`` on a region-only boto session; every input, output and code location is
  an explicit S3 URI (the SDK would otherwise look up or upload to a default bucket);
- image URIs come from the SDK's bundled tables (:func:`resolve_images`);
- telemetry is switched off (it makes a blocking HTTPS call per decorated call);
- values known only at deploy time (the KMS key ARN, VPC subnets) are ``${Placeholders}`` that
  the construct resolves with ``Fn::Sub``;
- the code version is a pipeline parameter. The SDK refuses pipeline variables as code locations
  under network isolation, so the definition is built with a marker and the marker is then
  replaced, in the JSON, by a ``Std:Join`` on the ``CodeVersion`` parameter.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

from mlops_constructs import sdk_process
from mlops_constructs.memo import Later, memoized, memoized_later

CODE_MARKER = "@@CODE_VERSION@@"
KEY_PLACEHOLDER = "${DataKeyArn}"
SUBNETS_PLACEHOLDER = "${SubnetIds}"
SECURITY_GROUP_PLACEHOLDER = "${SecurityGroupId}"
# The champion gate's function (lambda/champion) and what it answers, all strings.
CHAMPION_PLACEHOLDER = "${ChampionFunctionArn}"
CHAMPION_OUTPUTS = (
    "status",
    "passes",
    "verdict",
    "challenger_value",
    "champion_value",
    "champion_arn",
    "margin",
    "reason",
    "error",
)
# The experiment-tracking function (lambda/experiment_tracking, ADR 0023) and what it answers,
# all strings: it records the run (trial component, and an MLflow run with the option) and never
# fails the execution (a tracking problem is its ``status`` error with the reason).
TRACKING_PLACEHOLDER = "${TrackingFunctionArn}"
TRACKING_OUTPUTS = ("status", "trial_component", "mlflow_run_id", "error")
# The fingerprint function (lambda/fingerprint), what it answers, and the version's customer
# metadata each answer becomes (what lambda/release_check verifies). Its *_uri answers are the
# sealed copies (write-once, under sealed/) the version is registered with, the Model Monitor
# files' (FINGERPRINT_MONITOR_FILES) included.
FINGERPRINT_PLACEHOLDER = "${FingerprintFunctionArn}"
# The Model Monitor baseline files of the closed-service option the Fingerprint step seals: each
# is an input of the step (the file, or "none" when the project's options do not produce it)
# and an output of the same name (its sealed copy, or "none"), registered as the version's
# ModelMetrics and DriftCheckBaselines.
FINGERPRINT_MONITOR_FILES = (
    "data_statistics_uri",
    "data_constraints_uri",
    "model_constraints_uri",
    "bias_pre_uri",
    "bias_post_uri",
    "explainability_uri",
)
FINGERPRINT_OUTPUTS = (
    "status",
    "error",
    "model_sha256",
    "model_version",
    "model_uri",
    "baseline_sha256",
    "baseline_version",
    "baseline_uri",
    "evaluation_sha256",
    "evaluation_version",
    "evaluation_uri",
    *FINGERPRINT_MONITOR_FILES,
)
FINGERPRINT_METADATA = {
    "ModelArtifactSha256": "model_sha256",
    "ModelArtifactVersion": "model_version",
    "MonitoringBaselineSha256": "baseline_sha256",
    "MonitoringBaselineVersion": "baseline_version",
    "EvaluationReportSha256": "evaluation_sha256",
    "EvaluationReportVersion": "evaluation_version",
}
# Bring your own model (ADR 0021): the import function (lambda/model_import) checks the
# manifest and the archive for the import pipeline's CheckImport step and answers these, all
# strings; the platform's packaging script (an asset) makes the archive servable.
IMPORT_PLACEHOLDER = "${ImportFunctionArn}"
IMPORT_OUTPUTS = (
    "status",
    "reason",
    "model_uri",
    "artifact_sha256",
    "artifact_bytes",
    "serving",
    "description",
)
PACKAGE_CODE_PLACEHOLDER = "s3://${PackageCodeBucket}/${PackageCodeKey}"
# What an imported version records besides the rest: its manifest and the imported file's hash.
IMPORT_METADATA = {
    "ImportManifestUrl": None,  # the ImportManifestUrl parameter
    "ImportedArtifactSha256": "artifact_sha256",  # the check's answer
}
# Every customer-metadata key the pipeline records with a version: evidence nobody may edit
# afterwards (the approver's update is refused when it names one of them).
RECORDED_METADATA = (
    "CodeVersion",
    "DatasetManifest",
    "InputDataUrl",
    "PipelineExecutionArn",
    "TriggerReason",
    "MonitoringBaseline",
    "GateMetric",
    "GateMetricValue",
    "ChampionVerdict",
    "ChampionValue",
    "ChampionModelPackageArn",
    "ChampionMargin",
    *FINGERPRINT_METADATA,
    *IMPORT_METADATA,
)
# The platform's monitoring script (a CDK asset: its location is known at deploy time).
MONITORING_CODE_PLACEHOLDER = "s3://${MonitoringCodeBucket}/${MonitoringCodeKey}"

# Debugger built-in rules that read the metrics XGBoost reports during training.
DEBUGGER_RULES = ("loss_not_decreasing", "overfit")
# The processing image of projects on AWS's framework images (numpy, scipy, pandas).
SKLEARN_VERSION = "1.2-1"
# The preprocess step's outputs (docs/project-contract.md).
SPLITS = ("train", "validation", "test", "baseline", "labelled", "manifest")
# Section of the evaluation report per problem type (SageMaker's model-quality format).
REPORT_SECTIONS = {
    "binary_classification": "binary_classification_metrics",
    "multiclass_classification": "multiclass_classification_metrics",
    "regression": "regression_metrics",
}


@dataclass(frozen=True, kw_only=True)
class PipelineImages:
    """Container images of a project's steps (resolved URIs)."""

    training: str
    serving: str
    processing: str
    # The platform's own processing steps (monitoring baseline): AWS's scikit-learn image.
    platform: str = ""
    # The team's own images (ECR repositories the roles must be allowed to pull from).
    own: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class EntryPoints:
    """The project's entry-point files in its ``src/``."""

    preprocess: str = "preprocess.py"
    train: str = "train.py"
    evaluate: str = "evaluate.py"
    inference: str = "inference.py"


@dataclass(frozen=True, kw_only=True)
class QualityGate:
    """Register only if ``metric`` passes ``threshold`` (``>=`` when higher is better)."""

    metric: str = "auc"
    threshold: float = 0.75
    higher_is_better: bool = True
    # How much worse than the approved version (the champion) a new version may be, in the
    # metric's units; 0: not worse.
    champion_margin: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Attributions:
    """Feature attributions of the monitoring baseline (Shapley values by permutation
    sampling through the model's own serving functions, monitoring.py): the score explained
    is ``probability_field`` when set, else ``prediction_field``."""

    prediction_field: str
    probability_field: str | None = None
    rows: int = 100
    background_rows: int = 20
    permutations: int = 8

    def arguments(self, *, entry: str, baseline: bool) -> list[str]:
        """The monitoring script's options that switch them on, the model's serving code being
        ``code/<entry>`` (``baseline``: its ``baseline`` subcommand, which also draws the
        background rows)."""
        args = ["--entry", entry, "--model", "/opt/ml/processing/model"]
        args += ["--attribution-rows", str(self.rows)]
        args += ["--permutations", str(self.permutations)]
        if baseline:
            args += ["--background-rows", str(self.background_rows)]
            args += ["--prediction-field", self.prediction_field]
            if self.probability_field:
                args += ["--probability-field", self.probability_field]
        return args


@dataclass(frozen=True, kw_only=True)
class TuningRange:
    """One tuned hyperparameter: ``continuous`` or ``integer`` between ``low`` and ``high``
    (``scaling``: Auto, Linear, Logarithmic, ReverseLogarithmic), or ``categorical`` among
    ``values``."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    values: tuple[str, ...] = ()
    scaling: str = "Auto"


@dataclass(frozen=True, kw_only=True)
class Tuning:
    """Hyperparameter tuning instead of one training job: SageMaker trains up to ``max_jobs``
    candidates (``max_parallel_jobs`` at a time) chosen by ``strategy`` (Bayesian, Random,
    Grid), and the best by ``objective`` (a metric train.py prints, e.g. ``validation:auc``)
    goes on to evaluation and the same gates."""

    strategy: str = "Bayesian"
    objective: str
    maximize: bool = True
    max_jobs: int = 8
    max_parallel_jobs: int = 2
    ranges: tuple[TuningRange, ...]


@dataclass(frozen=True, kw_only=True)
class PipelineSpec:
    """Everything the definition depends on; the same spec gives the same JSON."""

    name: str
    region: str
    # The execution role's ARN (TrainingPipeline sets it from the role it creates).
    role_arn: str = ""
    artifacts_bucket: str
    input_data_uri: str
    model_package_group: str
    images: PipelineImages
    entry_points: EntryPoints = EntryPoints()
    problem_type: str = "binary_classification"
    gate: QualityGate = QualityGate()
    description: str = "Model trained by the platform pipeline"
    processing_instance_type: str = "ml.m5.large"
    training_instance_type: str = "ml.m5.large"
    training_instance_count: int = 1
    hyperparameters: dict[str, str] = field(default_factory=dict)
    debugger_rules: tuple[str, ...] = ()
    spot_training: bool = False
    max_training_minutes: int = 60
    vpc: bool = False
    # The platform's open monitoring baseline of the serving inputs (statistics for drift),
    # computed by its own script in AWS's scikit-learn image: needs no closed service.
    monitoring_baseline: bool = True
    # The serving request's columns, in order (what the monitoring baseline describes).
    serving_columns: tuple[str, ...] = ()
    # Feature attributions in the monitoring baseline: it then runs after training, in the
    # training image (the framework the model's serving functions need).
    attributions: Attributions | None = None
    # Model Monitor's data-quality baseline of the serving inputs (its analyzer image).
    data_quality_baseline: bool = False
    # A tuning job instead of the training job (its best candidate is evaluated and gated).
    tuning: Tuning | None = None
    # evaluate.py writes Model Monitor's model-quality constraints.json next to its report.
    model_quality_constraints: bool = False
    # Clarify pre-training bias baseline (needs clarify/analysis_config.json in the code).
    bias_baseline: bool = False
    # Clarify post-training bias and SHAP baselines on a shadow endpoint of the trained model,
    # registered as the version's constraints for Model Monitor's bias and explainability runs.
    model_baselines: bool = False
    # Clarify names its shadow endpoints "<prefix>-<suffix>" (the role may manage only those).
    clarify_endpoint_prefix: str = "clarify"
    shadow_instance_type: str = "ml.m5.large"
    # The import pipeline (ADR 0021): a model trained elsewhere, checked and packaged with the
    # project's published code, instead of training; the rest of the pipeline is the same.
    model_import: bool = False
    # The Track step and project-scoped trials (ADR 0023). Every platform-built pipeline has
    # them; False gives the definition a team's own module would (the SDK's default trials, no
    # Track step), which the platform's checker is tested against.
    experiment_tracking: bool = True

    def __post_init__(self) -> None:
        if self.problem_type not in REPORT_SECTIONS:
            raise ValueError(f"problem_type {self.problem_type!r}: use one of {REPORT_SECTIONS}")
        if self.monitoring_baseline and not (self.serving_columns and self.images.platform):
            raise ValueError("the monitoring baseline needs serving_columns and images.platform")
        if self.attributions is not None and not self.monitoring_baseline:
            raise ValueError("attributions are part of the monitoring baseline: switch it on")
        if self.model_import and self.tuning is not None:
            raise ValueError("an import pipeline trains nothing: it takes no tuning")

    @property
    def gate_json_path(self) -> str:
        """Where the gate reads its metric in evaluation.json."""
        return f"{REPORT_SECTIONS[self.problem_type]}.{self.gate.metric}.value"


def _disable_telemetry() -> None:
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    # The SDK narrates definition building (config file search, fields it pops, "no job will
    # start"): true and expected here, so only its errors are shown. Set before the import:
    # the SDK gives its loggers a level only if they have none.
    for name in ("sagemaker", "sagemaker.config"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Running within a PipelineSession")
    # The Lambda steps call functions CDK deploys: the SDK is never asked to deploy them.
    warnings.filterwarnings("ignore", message="Lambda function won't be updated")
    from sagemaker.telemetry import telemetry_logging

    telemetry_logging._send_telemetry_request = lambda *args, **kwargs: None


def serving_environment(inference: str) -> dict[str, str]:
    """The serving container's environment: the project's inference entry point, which the
    training step copied into the model archive (serving needs no network)."""
    return {"SAGEMAKER_PROGRAM": inference, "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}


def image_uri(**retrieve: Any) -> str:
    """``sagemaker.image_uris.retrieve(**retrieve)`` (the SDK's bundled tables, offline),
    memoized on disk: an unchanged project does not import the SDK to look it up again."""
    return memoized("image", retrieve, lambda: sdk_process.compute(_retrieve_image, retrieve))


def _retrieve_image(retrieve: dict[str, Any]) -> str:
    _disable_telemetry()
    from sagemaker import image_uris

    uri: str = image_uris.retrieve(**retrieve)
    return uri


def platform_image(region: str) -> str:
    """AWS's scikit-learn processing image: where the platform's own scripts run."""
    return image_uri(framework="sklearn", region=region, version=SKLEARN_VERSION)


def resolve_images(
    *,
    region: str,
    framework: str | None,
    version: str | None,
    py_version: str | None = None,
    base_framework: str | None = None,
    training_instance_type: str = "ml.m5.large",
    serving_instance_type: str = "ml.m5.large",
    training: str | None = None,
    serving: str | None = None,
    processing: str | None = None,
) -> PipelineImages:
    """The project's images: its own (``training``/``serving``/``processing``) or a framework's
    from the SDK's bundled tables (offline). Processing defaults to the scikit-learn image for
    framework projects and to the training image for bring-your-own-container projects."""

    def framework_image(scope: str, instance_type: str) -> str:
        assert framework is not None and version is not None
        kwargs: dict[str, Any] = {
            "framework": framework,
            "region": region,
            "version": version,
            "image_scope": scope,
            "instance_type": instance_type,
        }
        if py_version:
            kwargs["py_version"] = py_version
        if base_framework:
            kwargs["base_framework_version"] = base_framework
        return image_uri(**kwargs)

    sklearn = platform_image(region)
    if framework is None:
        if training is None or serving is None:
            raise ValueError("a project without a framework needs its training and serving image")
        own = tuple(dict.fromkeys(u for u in (training, serving, processing) if u))
        return PipelineImages(
            training=training,
            serving=serving,
            processing=processing or training,
            platform=sklearn,
            own=own,
        )
    return PipelineImages(
        training=training or framework_image("training", training_instance_type),
        serving=serving or framework_image("inference", serving_instance_type),
        processing=processing or sklearn,
        platform=sklearn,
    )


def _replace_marker(node: Any, code_version: dict[str, str]) -> Any:
    """Replace every string holding CODE_MARKER by a Std:Join on the CodeVersion parameter."""
    if isinstance(node, dict):
        return {k: _replace_marker(v, code_version) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_marker(v, code_version) for v in node]
    if isinstance(node, str) and CODE_MARKER in node:
        before, after = node.split(CODE_MARKER, 1)
        return {"Std:Join": {"On": "", "Values": [before, code_version, after]}}
    return node


def _sort_collections(node: Any) -> None:
    """The SDK merges Debugger collections through a set: order them so that the JSON does not
    change with Python's hash seed (``cdk diff`` would show it)."""
    if isinstance(node, dict):
        collections = node.get("CollectionConfigurations")
        if isinstance(collections, list):
            collections.sort(key=lambda c: c["CollectionName"])
        for value in node.values():
            _sort_collections(value)
    elif isinstance(node, list):
        for value in node:
            _sort_collections(value)


def build_definition(spec: PipelineSpec) -> str:
    """The pipeline definition JSON (with ``${...}`` placeholders for deploy-time values),
    memoized on disk by everything it depends on (mlops_constructs/memo.py)."""
    return definition_later(spec).get()


def definition_later(spec: PipelineSpec) -> Later:
    """:func:`build_definition`, asked for now and read when needed: on a first synth the SDK's
    process builds it meanwhile (sdk_process.py)."""
    return memoized_later(
        "training-definition", spec, lambda: sdk_process.ask(_build_definition, spec)
    )


def _build_definition(spec: PipelineSpec) -> str:
    _disable_telemetry()
    from mlops_constructs.training.steps import DefinitionBuilder

    pipeline = DefinitionBuilder(spec).pipeline()
    definition = json.loads(pipeline.definition())
    definition = _replace_marker(definition, {"Get": "Parameters.CodeVersion"})
    _sort_collections(definition)
    _tidy_tuning(definition)
    return json.dumps(definition, sort_keys=True, separators=(",", ":"))


def _tidy_tuning(definition: dict[str, Any]) -> None:
    """A tuning step's static hyperparameters carry the SDK's timestamped job name (a training
    step's do not: its step drops it), and Grid's limit is written as null: SageMaker names the
    jobs at run time and Grid takes no limit, so both go (the same spec, the same JSON)."""
    for step in definition["Steps"]:
        if step.get("Type") == "Tuning":
            arguments = step["Arguments"]
            arguments["TrainingJobDefinition"]["StaticHyperParameters"].pop(
                "sagemaker_job_name", None
            )
            limits = arguments["HyperParameterTuningJobConfig"]["ResourceLimits"]
            if limits.get("MaxNumberOfTrainingJobs") is None:
                limits.pop("MaxNumberOfTrainingJobs", None)
