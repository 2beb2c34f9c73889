"""The SageMaker Pipeline definition, built with the sagemaker SDK (2.x) at synth time, offline.

process -> data-quality baseline + bias baseline -> train -> evaluate -> quality gate ->
register (PendingManualApproval, with metrics, drift baselines and lineage) or fail.

Offline recipe (no credentials, no network, deterministic output):
- a ``PipelineSession`` on a region-only boto session; every input, output and code location is
  an explicit S3 URI (the SDK would otherwise look up or upload to a default bucket);
- image URIs come from the SDK's bundled tables;
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

CODE_MARKER = "@@CODE_VERSION@@"
KEY_PLACEHOLDER = "${DataKeyArn}"
SUBNETS_PLACEHOLDER = "${SubnetIds}"
SECURITY_GROUP_PLACEHOLDER = "${SecurityGroupId}"

# Debugger built-in rules that read the metrics XGBoost reports during training.
DEBUGGER_RULES = ("loss_not_decreasing", "overfit")

# The curated dataset's columns after preprocessing: label first, as SageMaker XGBoost expects.
LABEL = "churned"

XGBOOST_VERSION = "1.7-1"
SKLEARN_VERSION = "1.2-1"


@dataclass(frozen=True, kw_only=True)
class PipelineSpec:
    """Everything the definition depends on; the same spec gives the same JSON."""

    name: str
    region: str
    # The execution role's ARN (TrainingPipeline sets it from the role it creates).
    role_arn: str = ""
    artifacts_bucket: str
    raw_bucket: str
    raw_prefix: str
    model_package_group: str
    processing_instance_type: str = "ml.m5.large"
    training_instance_type: str = "ml.m5.large"
    training_instance_count: int = 1
    auc_threshold: float = 0.75
    hyperparameters: dict[str, str] = field(
        default_factory=lambda: {"num_round": "200", "max_depth": "4", "eta": "0.1"}
    )
    debugger_rules: tuple[str, ...] = DEBUGGER_RULES
    spot_training: bool = False
    max_training_minutes: int = 60
    vpc: bool = False
    # Clarify pre-training bias baseline (needs ml/clarify/analysis_config.json in the code).
    bias_baseline: bool = True
    # Clarify post-training bias and SHAP baselines on a shadow endpoint of the trained model,
    # registered as the version's constraints for Model Monitor's bias and explainability runs.
    model_baselines: bool = True
    # Clarify names its shadow endpoints "<prefix>-<suffix>" (the role may manage only those).
    clarify_endpoint_prefix: str = "clarify"
    shadow_instance_type: str = "ml.m5.large"


def _disable_telemetry() -> None:
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    # The SDK narrates definition building (config file search, fields it pops, "no job will
    # start"): true and expected here, so only its errors are shown. Set before the import:
    # the SDK gives its loggers a level only if they have none.
    for name in ("sagemaker", "sagemaker.config"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Running within a PipelineSession")
    from sagemaker.telemetry import telemetry_logging

    telemetry_logging._send_telemetry_request = lambda *args, **kwargs: None


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
    """The pipeline definition JSON (with ``${...}`` placeholders for deploy-time values)."""
    _disable_telemetry()
    import boto3
    from sagemaker import image_uris
    from sagemaker.debugger import CollectionConfig, DebuggerHookConfig, Rule, rule_configs
    from sagemaker.drift_check_baselines import DriftCheckBaselines
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.model_metrics import FileSource, MetricsSource, ModelMetrics
    from sagemaker.network import NetworkConfig
    from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor, ScriptProcessor
    from sagemaker.workflow.check_job_config import CheckJobConfig
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join, JsonGet
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import (
        ParameterFloat,
        ParameterInteger,
        ParameterString,
    )
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.properties import PropertyFile
    from sagemaker.workflow.quality_check_step import DataQualityCheckConfig, QualityCheckStep
    from sagemaker.workflow.steps import ProcessingStep, TrainingStep

    session = PipelineSession(
        boto_session=boto3.Session(region_name=spec.region),
        default_bucket=spec.artifacts_bucket,
    )
    artifacts = f"s3://{spec.artifacts_bucket}"
    code = f"{artifacts}/ml/code/{CODE_MARKER}"

    input_data = ParameterString(
        "InputDataUrl", default_value=f"s3://{spec.raw_bucket}/{spec.raw_prefix}"
    )
    processing_type = ParameterString(
        "ProcessingInstanceType", default_value=spec.processing_instance_type
    )
    training_type = ParameterString(
        "TrainingInstanceType", default_value=spec.training_instance_type
    )
    training_count = ParameterInteger(
        "TrainingInstanceCount", default_value=spec.training_instance_count
    )
    threshold = ParameterFloat("AucThreshold", default_value=spec.auc_threshold)
    code_version = ParameterString("CodeVersion", default_value="initial")
    trigger = ParameterString("TriggerReason", default_value="manual")
    approval = ParameterString("ModelApprovalStatus", default_value="PendingManualApproval")

    def run_path(*parts: str) -> Join:
        """s3://<artifacts>/pipelines/<execution id>/<parts>: one folder per execution."""
        return Join(
            on="/",
            values=[f"{artifacts}/pipelines", ExecutionVariables.PIPELINE_EXECUTION_ID, *parts],
        )

    vpc_kwargs: dict[str, Any] = {}
    if spec.vpc:
        vpc_kwargs = {
            "subnets": [SUBNETS_PLACEHOLDER],
            "security_group_ids": [SECURITY_GROUP_PLACEHOLDER],
        }
    network = NetworkConfig(
        enable_network_isolation=True, encrypt_inter_container_traffic=True, **vpc_kwargs
    )
    encryption: dict[str, Any] = {
        "volume_kms_key": KEY_PLACEHOLDER,
        "output_kms_key": KEY_PLACEHOLDER,
    }
    sklearn_image = image_uris.retrieve("sklearn", spec.region, SKLEARN_VERSION)
    xgboost_image = image_uris.retrieve("xgboost", spec.region, XGBOOST_VERSION)

    # --- preprocess -------------------------------------------------------------------------
    preprocessor = ScriptProcessor(
        image_uri=sklearn_image,
        command=["python3"],
        role=spec.role_arn,
        instance_type=processing_type,
        instance_count=1,
        sagemaker_session=session,
        network_config=network,
        env={"PYTHONPATH": "/opt/ml/processing/source"},
        **encryption,
    )
    # "baseline": the training rows as the endpoint receives them (raw inputs, with a header),
    # which is what Model Monitor's data-quality runs compare captured requests against;
    # "labelled": the test rows in that format with their label, for the model baselines.
    splits = ("train", "validation", "test", "baseline", "labelled", "manifest")
    preprocess = ProcessingStep(
        name="Preprocess",
        step_args=preprocessor.run(
            code=f"{code}/src/preprocess.py",
            inputs=[
                ProcessingInput(
                    input_name="raw", source=input_data, destination="/opt/ml/processing/input"
                ),
                ProcessingInput(
                    input_name="source",
                    source=f"{code}/src/",
                    destination="/opt/ml/processing/source",
                ),
            ],
            outputs=[
                ProcessingOutput(
                    output_name=s,
                    source=f"/opt/ml/processing/output/{s}",
                    destination=run_path("data", s),
                )
                for s in splits
            ],
        ),
    )

    def split_uri(name: str) -> Any:
        return preprocess.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri

    # --- drift baselines (used by Model Monitor) ----------------------------------------------
    check_job = CheckJobConfig(
        role=spec.role_arn,
        instance_count=1,
        instance_type=spec.processing_instance_type,
        sagemaker_session=session,
        network_config=network,
        **encryption,
    )
    data_quality = QualityCheckStep(
        name="DataQualityBaseline",
        quality_check_config=DataQualityCheckConfig(
            baseline_dataset=split_uri("baseline"),
            dataset_format={"csv": {"header": True}},
            output_s3_uri=run_path("baselines", "data-quality"),
        ),
        check_job_config=check_job,
        skip_check=True,
        register_new_baseline=True,
        model_package_group_name=spec.model_package_group,
    )
    baselines: list[Any] = [data_quality]
    clarify = Processor(
        image_uri=image_uris.retrieve("clarify", spec.region),
        role=spec.role_arn,
        instance_type=spec.processing_instance_type,
        instance_count=1,
        sagemaker_session=session,
        network_config=network,
        **encryption,
    )
    bias = ProcessingStep(
        name="BiasBaseline",
        step_args=clarify.run(
            inputs=[
                ProcessingInput(
                    input_name="dataset",
                    source=split_uri("train"),
                    destination="/opt/ml/processing/input/data",
                ),
                ProcessingInput(
                    input_name="analysis_config",
                    source=f"{code}/clarify/analysis_config.json",
                    destination="/opt/ml/processing/input/config",
                ),
            ],
            outputs=[
                ProcessingOutput(
                    output_name="analysis_result",
                    source="/opt/ml/processing/output",
                    destination=run_path("baselines", "bias"),
                )
            ],
        ),
    )

    if spec.bias_baseline:
        baselines.append(bias)

    # --- train ------------------------------------------------------------------------------
    # The built-in rules' default saves losses every 500 steps: a few hundred boosting rounds
    # would leave them one data point.
    collections = [
        CollectionConfig(name="losses", parameters={"save_interval": "5"}),
        CollectionConfig(name="metrics", parameters={"save_interval": "5"}),
    ]
    rules = [
        Rule.sagemaker(getattr(rule_configs, r)(), collections_to_save=collections)
        for r in spec.debugger_rules
    ]
    hook = DebuggerHookConfig(s3_output_path=f"{artifacts}/debugger")
    spot: dict[str, Any] = {}
    if spec.spot_training:
        spot = {
            "use_spot_instances": True,
            "max_wait": spec.max_training_minutes * 60 * 2,
            "checkpoint_s3_uri": run_path("checkpoints"),
        }
    estimator = Estimator(
        image_uri=xgboost_image,
        entry_point="train.py",
        source_dir=f"{code}/sourcedir.tar.gz",
        role=spec.role_arn,
        instance_type=training_type,
        instance_count=training_count,
        hyperparameters=dict(spec.hyperparameters),
        output_path=f"{artifacts}/models",
        code_location=f"{artifacts}/ml/code-location",
        sagemaker_session=session,
        enable_network_isolation=True,
        encrypt_inter_container_traffic=True,
        subnets=vpc_kwargs.get("subnets"),
        security_group_ids=vpc_kwargs.get("security_group_ids"),
        max_run=spec.max_training_minutes * 60,
        rules=rules or None,
        debugger_hook_config=hook if rules else False,
        metric_definitions=[
            {"Name": "validation:auc", "Regex": r"validation:auc=([0-9.]+);"},
            {"Name": "train:auc", "Regex": r"train:auc=([0-9.]+);"},
        ],
        volume_kms_key=KEY_PLACEHOLDER,
        output_kms_key=KEY_PLACEHOLDER,
        **spot,
    )
    train = TrainingStep(
        name="Train",
        step_args=estimator.fit(
            inputs={
                "train": TrainingInput(split_uri("train"), content_type="text/csv"),
                "validation": TrainingInput(split_uri("validation"), content_type="text/csv"),
            }
        ),
        depends_on=baselines,
    )

    # --- evaluate ---------------------------------------------------------------------------
    evaluator = ScriptProcessor(
        image_uri=xgboost_image,
        command=["python3"],
        role=spec.role_arn,
        instance_type=processing_type,
        instance_count=1,
        sagemaker_session=session,
        network_config=network,
        env={"PYTHONPATH": "/opt/ml/processing/source"},
        **encryption,
    )
    report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        name="Evaluate",
        step_args=evaluator.run(
            code=f"{code}/src/evaluate.py",
            inputs=[
                ProcessingInput(
                    input_name="model",
                    source=train.properties.ModelArtifacts.S3ModelArtifacts,
                    destination="/opt/ml/processing/model",
                ),
                ProcessingInput(
                    input_name="test",
                    source=split_uri("test"),
                    destination="/opt/ml/processing/test",
                ),
                ProcessingInput(
                    input_name="source",
                    source=f"{code}/src/",
                    destination="/opt/ml/processing/source",
                ),
            ],
            outputs=[
                ProcessingOutput(
                    output_name="evaluation",
                    source="/opt/ml/processing/evaluation",
                    destination=run_path("evaluation"),
                )
            ],
        ),
        property_files=[report],
    )

    def trained_model(vpc_config: dict[str, Any] | None = None) -> Any:
        """The trained model as SageMaker serves it (registered, and Clarify's shadow model)."""
        return Model(
            image_uri=xgboost_image,
            model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
            role=spec.role_arn,
            sagemaker_session=session,
            enable_network_isolation=True,
            # train.py copies inference.py into the model archive: serving needs no network.
            env={
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            },
            vpc_config=vpc_config,
        )

    # --- model baselines (behind the quality gate) ----------------------------------------------
    # Post-training bias and SHAP need predictions: Clarify serves the trained model on a shadow
    # endpoint it creates and deletes. The analysis configs name that model, which exists only at
    # run time, so a step writes them (clarify_configs.py). These Clarify jobs call SageMaker to
    # manage the shadow endpoint, so they run without network isolation (still encrypted, and in
    # the VPC in VPC mode).
    model_steps: list[Any] = []
    model_reports: dict[str, Any] = {}
    if spec.model_baselines:
        shadow_model = trained_model(
            vpc_config={
                "Subnets": vpc_kwargs["subnets"],
                "SecurityGroupIds": vpc_kwargs["security_group_ids"],
            }
            if spec.vpc
            else None
        )
        create_model = ModelStep(
            name="ShadowModel",
            step_args=shadow_model.create(instance_type=spec.shadow_instance_type),
        )
        configs = ProcessingStep(
            name="ClarifyConfigs",
            step_args=preprocessor.run(
                code=f"{code}/src/clarify_configs.py",
                arguments=[
                    "--model-name",
                    create_model.properties.ModelName,
                    "--instance-type",
                    spec.shadow_instance_type,
                    "--endpoint-name-prefix",
                    spec.clarify_endpoint_prefix,
                ],
                outputs=[
                    ProcessingOutput(
                        output_name=kind,
                        source=f"/opt/ml/processing/output/{kind}",
                        destination=run_path("baselines", f"{kind}-config"),
                    )
                    for kind in ("bias", "explainability")
                ],
            ),
        )
        clarify_online = Processor(
            image_uri=image_uris.retrieve("clarify", spec.region),
            role=spec.role_arn,
            instance_type=processing_type,
            instance_count=1,
            sagemaker_session=session,
            network_config=NetworkConfig(
                enable_network_isolation=False, encrypt_inter_container_traffic=True, **vpc_kwargs
            ),
            **encryption,
        )
        model_steps = [create_model, configs]
        for kind, step_name in (
            ("bias", "ModelBiasBaseline"),
            ("explainability", "ExplainabilityBaseline"),
        ):
            step = ProcessingStep(
                name=step_name,
                step_args=clarify_online.run(
                    inputs=[
                        ProcessingInput(
                            input_name="dataset",
                            source=split_uri("labelled"),
                            destination="/opt/ml/processing/input/data",
                        ),
                        ProcessingInput(
                            input_name="analysis_config",
                            source=configs.properties.ProcessingOutputConfig.Outputs[
                                kind
                            ].S3Output.S3Uri,
                            destination="/opt/ml/processing/input/config",
                        ),
                    ],
                    outputs=[
                        ProcessingOutput(
                            output_name="analysis_result",
                            source="/opt/ml/processing/output",
                            destination=run_path("baselines", f"model-{kind}"),
                        )
                    ],
                ),
            )
            model_steps.append(step)
            # A property reference: registration waits for the step.
            model_reports[kind] = Join(
                on="/",
                values=[
                    step.properties.ProcessingOutputConfig.Outputs[
                        "analysis_result"
                    ].S3Output.S3Uri,
                    "analysis.json",
                ],
            )

    # --- register (behind the quality gate) ----------------------------------------------------
    evaluation_uri = Join(on="/", values=[run_path("evaluation"), "evaluation.json"])
    # Model-quality constraints: the test metrics less a tolerance (evaluate.py).
    quality_constraints_uri = Join(on="/", values=[run_path("evaluation"), "constraints.json"])
    dq_stats = data_quality.properties.CalculatedBaselineStatistics
    dq_constraints = data_quality.properties.CalculatedBaselineConstraints
    bias_report = Join(on="/", values=[run_path("baselines", "bias"), "analysis.json"])

    def json_source(uri: Any) -> MetricsSource:
        return MetricsSource(s3_uri=uri, content_type="application/json")

    model = trained_model()
    register = ModelStep(
        name="Register",
        step_args=model.register(
            content_types=["text/csv", "application/json"],
            response_types=["application/json"],
            inference_instances=["ml.t2.medium", "ml.m5.large", "ml.m5.xlarge"],
            transform_instances=["ml.m5.large", "ml.m5.xlarge"],
            model_package_group_name=spec.model_package_group,
            approval_status=approval,
            description="Churn model trained by the platform pipeline",
            model_metrics=ModelMetrics(
                model_statistics=json_source(evaluation_uri),
                model_data_statistics=json_source(dq_stats),
                model_data_constraints=json_source(dq_constraints),
                bias_pre_training=json_source(bias_report) if spec.bias_baseline else None,
                bias_post_training=json_source(model_reports["bias"]) if model_reports else None,
                explainability=json_source(model_reports["explainability"])
                if model_reports
                else None,
            ),
            # What Model Monitor compares production traffic against.
            drift_check_baselines=DriftCheckBaselines(
                model_data_statistics=json_source(dq_stats),
                model_data_constraints=json_source(dq_constraints),
                model_constraints=json_source(quality_constraints_uri),
                bias_pre_training_constraints=json_source(bias_report)
                if spec.bias_baseline
                else None,
                bias_post_training_constraints=json_source(model_reports["bias"])
                if model_reports
                else None,
                explainability_constraints=json_source(model_reports["explainability"])
                if model_reports
                else None,
                # The analysis configs of the bias and explainability monitors ship with the
                # code version that trained the model (ml/clarify/).
                bias_config_file=FileSource(
                    s3_uri=f"{code}/clarify/monitor_bias.json", content_type="application/json"
                ),
                explainability_config_file=FileSource(
                    s3_uri=f"{code}/clarify/monitor_explainability.json",
                    content_type="application/json",
                ),
            ),
            customer_metadata_properties={
                "CodeVersion": code_version,
                "DatasetManifest": Join(
                    on="/", values=[run_path("data", "manifest"), "manifest.json"]
                ),
                "InputDataUrl": input_data,
                "PipelineExecutionArn": ExecutionVariables.PIPELINE_EXECUTION_ARN,
                "TriggerReason": trigger,
            },
        ),
    )
    fail = FailStep(
        name="QualityGateFailed",
        error_message=Join(
            on=" ",
            values=[
                "Model AUC",
                JsonGet(
                    step_name=evaluate.name,
                    property_file=report,
                    json_path="binary_classification_metrics.auc.value",
                ),
                "is below the threshold",
                threshold,
                "- the model was not registered.",
            ],
        ),
    )
    gate = ConditionStep(
        name="QualityGate",
        conditions=[
            ConditionGreaterThanOrEqualTo(
                # The SDK's annotation omits JsonGet, which its own docs use here.
                left=JsonGet(  # type: ignore[arg-type]
                    step_name=evaluate.name,
                    property_file=report,
                    json_path="binary_classification_metrics.auc.value",
                ),
                right=threshold,
            )
        ],
        if_steps=[*model_steps, register],
        else_steps=[fail],
    )

    pipeline = Pipeline(
        name=spec.name,
        parameters=[
            input_data,
            processing_type,
            training_type,
            training_count,
            threshold,
            code_version,
            trigger,
            approval,
        ],
        steps=[preprocess, *baselines, train, evaluate, gate],
        sagemaker_session=session,
    )
    definition = json.loads(pipeline.definition())
    definition = _replace_marker(definition, {"Get": "Parameters.CodeVersion"})
    _sort_collections(definition)
    return json.dumps(definition, sort_keys=True, separators=(",", ":"))
