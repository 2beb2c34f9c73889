"""The steps of a project's standard pipeline, one method each (see definition.py).

Imports the sagemaker SDK at module level: import it only through
:func:`mlops_constructs.training.definition.build_definition`, which switches telemetry off first.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from sagemaker import image_uris
from sagemaker.debugger import CollectionConfig, DebuggerHookConfig, Rule, rule_configs
from sagemaker.drift_check_baselines import DriftCheckBaselines
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.lambda_helper import Lambda
from sagemaker.model import Model
from sagemaker.model_metrics import FileSource, MetricsSource, ModelMetrics
from sagemaker.network import NetworkConfig
from sagemaker.parameter import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    ParameterRange,
)
from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor, ScriptProcessor
from sagemaker.tuner import HyperparameterTuner
from sagemaker.workflow.check_job_config import CheckJobConfig
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import (
    ConditionEquals,
    ConditionGreaterThanOrEqualTo,
    ConditionLessThanOrEqualTo,
)
from sagemaker.workflow.execution_variables import ExecutionVariables
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterInteger, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.pipeline_experiment_config import PipelineExperimentConfig
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.quality_check_step import DataQualityCheckConfig, QualityCheckStep
from sagemaker.workflow.steps import ProcessingStep, TrainingStep, TuningStep

from mlops_constructs.training.definition import (
    CHAMPION_OUTPUTS,
    CHAMPION_PLACEHOLDER,
    CODE_MARKER,
    FINGERPRINT_METADATA,
    FINGERPRINT_MONITOR_FILES,
    FINGERPRINT_OUTPUTS,
    FINGERPRINT_PLACEHOLDER,
    IMPORT_METADATA,
    IMPORT_OUTPUTS,
    IMPORT_PLACEHOLDER,
    KEY_PLACEHOLDER,
    MONITORING_CODE_PLACEHOLDER,
    PACKAGE_CODE_PLACEHOLDER,
    SECURITY_GROUP_PLACEHOLDER,
    SPLITS,
    SUBNETS_PLACEHOLDER,
    TRACKING_OUTPUTS,
    TRACKING_PLACEHOLDER,
    PipelineSpec,
    Tuning,
    TuningRange,
    serving_environment,
)

SOURCE = "/opt/ml/processing/source"
# Every version registers pending a person's approval (the pipeline role may create no other).
PENDING_APPROVAL = "PendingManualApproval"
# How each Model Monitor file's sealed copy (a Fingerprint output, FINGERPRINT_MONITOR_FILES) is
# registered: (output, ModelMetrics keyword or None, DriftCheckBaselines keyword).
MONITOR_REGISTRATION: tuple[tuple[str, str | None, str], ...] = (
    ("data_statistics_uri", "model_data_statistics", "model_data_statistics"),
    ("data_constraints_uri", "model_data_constraints", "model_data_constraints"),
    ("model_constraints_uri", None, "model_constraints"),
    ("bias_pre_uri", "bias_pre_training", "bias_pre_training_constraints"),
    ("bias_post_uri", "bias_post_training", "bias_post_training_constraints"),
    ("explainability_uri", "explainability", "explainability_constraints"),
)


# The champion gate's answers the Track step records (its input name -> the champion's output).
TRACKED_CHAMPION = {
    "champion_status": "status",
    "champion_passes": "passes",
    "champion_verdict": "verdict",
    "challenger_value": "challenger_value",
    "champion_value": "champion_value",
    "champion_arn": "champion_arn",
    "champion_margin": "margin",
}


NOT_REGISTERED = "- the model was not registered."


def _gate(
    name: str,
    condition: Any,
    if_steps: list[Any],
    *,
    fail: str,
    message: list[Any],
    depends_on: list[Any] | None = None,
) -> ConditionStep:
    """``name``: the ``if_steps`` when ``condition`` holds, else the FailStep ``fail`` whose
    error message is ``message`` and "the model was not registered", joined by spaces."""
    failed = FailStep(name=fail, error_message=Join(on=" ", values=[*message, NOT_REGISTERED]))
    return ConditionStep(
        name=name,
        conditions=[condition],
        if_steps=if_steps,
        else_steps=[failed],
        depends_on=depends_on,
    )


def _json_source(uri: Any) -> MetricsSource:
    return MetricsSource(s3_uri=uri, content_type="application/json")


def _max_jobs(tuning: Tuning) -> dict[str, Any]:
    """The tuner's job limit: none for Grid (it tries every combination), else max_jobs."""
    return {} if tuning.strategy == "Grid" else {"max_jobs": tuning.max_jobs}


def _parameter_range(tuned: TuningRange) -> ParameterRange:
    """The SDK's range of one tuned hyperparameter."""
    if tuned.kind == "categorical":
        return CategoricalParameter(list(tuned.values))
    kind = ContinuousParameter if tuned.kind == "continuous" else IntegerParameter
    low, high = tuned.low, tuned.high
    assert low is not None and high is not None
    if tuned.kind == "integer":
        low, high = int(low), int(high)
    return kind(low, high, scaling_type=tuned.scaling)


class DefinitionBuilder:
    """Builds the SDK ``Pipeline`` of one :class:`PipelineSpec`, step by step."""

    def __init__(self, spec: PipelineSpec) -> None:
        self.spec = spec
        self.session = PipelineSession(
            boto_session=boto3.Session(region_name=spec.region),
            default_bucket=spec.artifacts_bucket,
        )
        self.artifacts = f"s3://{spec.artifacts_bucket}"
        self.code = f"{self.artifacts}/ml/code/{CODE_MARKER}"
        self.vpc: dict[str, Any] = {}
        if spec.vpc:
            self.vpc = {
                "subnets": [SUBNETS_PLACEHOLDER],
                "security_group_ids": [SECURITY_GROUP_PLACEHOLDER],
            }
        self.network = NetworkConfig(
            enable_network_isolation=True, encrypt_inter_container_traffic=True, **self.vpc
        )
        self.track_step: LambdaStep | None = None
        self.encryption: dict[str, Any] = {
            "volume_kms_key": KEY_PLACEHOLDER,
            "output_kms_key": KEY_PLACEHOLDER,
        }
        self._parameters()

    # --- parameters ---------------------------------------------------------------------------
    def _parameters(self) -> None:
        spec = self.spec
        self.input_data = ParameterString("InputDataUrl", default_value=spec.input_data_uri)
        self.processing_type = ParameterString(
            "ProcessingInstanceType", default_value=spec.processing_instance_type
        )
        self.training_type = ParameterString(
            "TrainingInstanceType", default_value=spec.training_instance_type
        )
        self.training_count = ParameterInteger(
            "TrainingInstanceCount", default_value=spec.training_instance_count
        )
        # Not parameters (issue 13): whoever starts a run can neither lower the gate nor
        # register an approved version; the threshold is the project's configuration.
        self.threshold = spec.gate.threshold
        self.code_version = ParameterString("CodeVersion", default_value="initial")
        self.trigger = ParameterString("TriggerReason", default_value="manual")
        # The import pipeline's manifest (imports/<name>/import.json), set by the import function.
        self.import_manifest = ParameterString("ImportManifestUrl", default_value="none")

    def run_path(self, *parts: str) -> Join:
        """s3://<artifacts>/pipelines/<execution id>/<parts>: one folder per execution."""
        return Join(
            on="/",
            values=[
                f"{self.artifacts}/pipelines",
                ExecutionVariables.PIPELINE_EXECUTION_ID,
                *parts,
            ],
        )

    def run_file(self, *parts: str) -> Join:
        """A file the execution writes: s3://<artifacts>/pipelines/<execution id>/<parts>, the
        folder and the file name joined as the definition has always spelled it."""
        *folder, name = parts
        return Join(on="/", values=[self.run_path(*folder), name])

    def script_processor(self, image: str) -> ScriptProcessor:
        """A processor running the project's scripts with ``src/`` on PYTHONPATH."""
        return ScriptProcessor(
            image_uri=image,
            command=["python3"],
            role=self.spec.role_arn,
            instance_type=self.processing_type,
            instance_count=1,
            sagemaker_session=self.session,
            network_config=self.network,
            env={"PYTHONPATH": SOURCE},
            **self.encryption,
        )

    def source_input(self) -> ProcessingInput:
        return ProcessingInput(input_name="source", source=f"{self.code}/src/", destination=SOURCE)

    # --- steps ----------------------------------------------------------------------------------
    def preprocess(self) -> ProcessingStep:
        spec = self.spec
        self.preprocessor = self.script_processor(spec.images.processing)
        step = ProcessingStep(
            name="Preprocess",
            step_args=self.preprocessor.run(
                code=f"{self.code}/src/{spec.entry_points.preprocess}",
                inputs=[
                    ProcessingInput(
                        input_name="raw",
                        source=self.input_data,
                        destination="/opt/ml/processing/input",
                    ),
                    self.source_input(),
                ],
                outputs=[
                    ProcessingOutput(
                        output_name=s,
                        source=f"/opt/ml/processing/output/{s}",
                        destination=self.run_path("data", s),
                    )
                    for s in SPLITS
                ],
            ),
        )
        self.preprocess_step = step
        return step

    def split_uri(self, name: str) -> Any:
        outputs = self.preprocess_step.properties.ProcessingOutputConfig.Outputs
        return outputs[name].S3Output.S3Uri

    def data_quality_baseline(self) -> QualityCheckStep:
        """Model Monitor's statistics and constraints of the serving inputs."""
        check_job = CheckJobConfig(
            role=self.spec.role_arn,
            instance_count=1,
            instance_type=self.spec.processing_instance_type,
            sagemaker_session=self.session,
            network_config=self.network,
            **self.encryption,
        )
        step = QualityCheckStep(
            name="DataQualityBaseline",
            quality_check_config=DataQualityCheckConfig(
                baseline_dataset=self.split_uri("baseline"),
                dataset_format={"csv": {"header": True}},
                output_s3_uri=self.run_path("baselines", "data-quality"),
            ),
            check_job_config=check_job,
            skip_check=True,
            register_new_baseline=True,
            model_package_group_name=self.spec.model_package_group,
        )
        self.data_quality_step = step
        return step

    def clarify_processor(self, *, isolated: bool) -> Processor:
        return Processor(
            image_uri=image_uris.retrieve("clarify", self.spec.region),
            role=self.spec.role_arn,
            instance_type=self.spec.processing_instance_type if isolated else self.processing_type,
            instance_count=1,
            sagemaker_session=self.session,
            network_config=self.network
            if isolated
            else NetworkConfig(
                enable_network_isolation=False, encrypt_inter_container_traffic=True, **self.vpc
            ),
            **self.encryption,
        )

    def monitoring_baseline(self) -> ProcessingStep:
        """The platform's open monitoring baseline: per-feature statistics of the serving inputs
        (the train rows as the endpoint receives them), which scheduled monitoring compares
        captured traffic with. The platform's script, in AWS's scikit-learn image; with
        attributions, after training in the training image, the model's attributions too."""
        spec = self.spec
        arguments = ["baseline", "--input", "/opt/ml/processing/input"]
        arguments += ["--columns", ",".join(spec.serving_columns)]
        arguments += ["--output", "/opt/ml/processing/output"]
        inputs = [
            ProcessingInput(
                input_name="baseline",
                source=self.split_uri("baseline"),
                destination="/opt/ml/processing/input",
            )
        ]
        image = spec.images.platform
        if spec.attributions is not None:
            image = spec.images.training
            arguments += spec.attributions.arguments(
                entry=spec.entry_points.inference, baseline=True
            )
            inputs.append(
                ProcessingInput(
                    input_name="model",
                    source=self.model_artifact(),
                    destination="/opt/ml/processing/model",
                )
            )
        step = ProcessingStep(
            name="MonitoringBaseline",
            step_args=self.script_processor(image).run(
                code=MONITORING_CODE_PLACEHOLDER,
                arguments=arguments,
                inputs=inputs,
                outputs=[
                    ProcessingOutput(
                        output_name="statistics",
                        source="/opt/ml/processing/output",
                        destination=self.run_path("baselines", "monitoring"),
                    )
                ],
            ),
        )
        self.monitoring_step = step
        return step

    def bias_baseline(self) -> ProcessingStep:
        """Clarify's pre-training bias of the train split."""
        return self._clarify_job(
            self.clarify_processor(isolated=True),
            "BiasBaseline",
            split="train",
            config=f"{self.code}/clarify/analysis_config.json",
            baseline="bias",
        )

    def train(self, depends_on: list[Any]) -> TrainingStep | TuningStep:
        """Train (one training job), or Tune (a tuning job, with spec.tuning); either way
        :meth:`model_artifact` is the model evaluation and the gates then see."""
        estimator = self.estimator()
        inputs = {
            "train": TrainingInput(self.split_uri("train"), content_type="text/csv"),
            "validation": TrainingInput(self.split_uri("validation"), content_type="text/csv"),
        }
        if self.spec.tuning is not None:
            return self.tune(estimator, inputs, depends_on)
        self.train_step: TrainingStep | TuningStep = TrainingStep(
            name="Train", step_args=estimator.fit(inputs=inputs), depends_on=depends_on
        )
        self._model = self.train_step.properties.ModelArtifacts.S3ModelArtifacts
        return self.train_step

    def tune(
        self, estimator: Estimator, inputs: dict[str, TrainingInput], depends_on: list[Any]
    ) -> TuningStep:
        """Tune: SageMaker trains candidates with the estimator's settings (the same
        encryption, isolation and VPC: one training job definition) and the tuned ranges; the
        best candidate's model is the version's."""
        tuning = self.spec.tuning
        assert tuning is not None
        tuner = HyperparameterTuner(
            estimator=estimator,
            objective_metric_name=tuning.objective,
            objective_type="Maximize" if tuning.maximize else "Minimize",
            hyperparameter_ranges={r.name: _parameter_range(r) for r in tuning.ranges},
            metric_definitions=estimator.metric_definitions,
            strategy=tuning.strategy,
            max_parallel_jobs=tuning.max_parallel_jobs,
            # Grid tries every combination: SageMaker refuses a limit with it.
            **_max_jobs(tuning),
        )
        step = TuningStep(name="Tune", step_args=tuner.fit(inputs=inputs), depends_on=depends_on)
        self.train_step = step
        # The estimator writes each candidate under <artifacts>/models/<job>/output/.
        self._model = step.get_top_model_s3_uri(
            top_k=0, s3_bucket=self.spec.artifacts_bucket, prefix="models"
        )
        return step

    def estimator(self) -> Estimator:
        """The training job's settings: the project's image and train.py, encrypted with the
        data key, network-isolated, in the VPC in VPC mode."""
        spec = self.spec
        metric = spec.gate.metric
        return Estimator(
            image_uri=spec.images.training,
            entry_point=spec.entry_points.train,
            source_dir=f"{self.code}/sourcedir.tar.gz",
            role=spec.role_arn,
            instance_type=self.training_type,
            instance_count=self.training_count,
            hyperparameters=dict(spec.hyperparameters),
            output_path=f"{self.artifacts}/models",
            code_location=f"{self.artifacts}/ml/code-location",
            sagemaker_session=self.session,
            enable_network_isolation=True,
            encrypt_inter_container_traffic=True,
            subnets=self.vpc.get("subnets"),
            security_group_ids=self.vpc.get("security_group_ids"),
            max_run=spec.max_training_minutes * 60,
            metric_definitions=[
                {"Name": f"{channel}:{metric}", "Regex": f"{channel}:{metric}=([-0-9.eE]+);"}
                for channel in ("validation", "train")
            ],
            volume_kms_key=KEY_PLACEHOLDER,
            output_kms_key=KEY_PLACEHOLDER,
            **self._debugger(),
            **self._spot(),
        )

    def _debugger(self) -> dict[str, Any]:
        if not self.spec.debugger_rules:
            return {"debugger_hook_config": False}
        # The built-in rules' default saves losses every 500 steps: a few hundred boosting rounds
        # would leave them one data point.
        collections = [
            CollectionConfig(name="losses", parameters={"save_interval": "5"}),
            CollectionConfig(name="metrics", parameters={"save_interval": "5"}),
        ]
        return {
            "rules": [
                Rule.sagemaker(getattr(rule_configs, r)(), collections_to_save=collections)
                for r in self.spec.debugger_rules
            ],
            "debugger_hook_config": DebuggerHookConfig(s3_output_path=f"{self.artifacts}/debugger"),
        }

    def _spot(self) -> dict[str, Any]:
        if not self.spec.spot_training:
            return {}
        return {
            "use_spot_instances": True,
            "max_wait": self.spec.max_training_minutes * 60 * 2,
            "checkpoint_s3_uri": self.run_path("checkpoints"),
        }

    def model_artifact(self) -> Any:
        """The trained model: the training job's, or the best tuning candidate's."""
        return self._model

    def evaluate(self) -> ProcessingStep:
        self.report = PropertyFile(
            name="EvaluationReport", output_name="evaluation", path="evaluation.json"
        )
        self.evaluate_step = ProcessingStep(
            name="Evaluate",
            step_args=self.script_processor(self.spec.images.training).run(
                code=f"{self.code}/src/{self.spec.entry_points.evaluate}",
                inputs=[
                    ProcessingInput(
                        input_name="model",
                        source=self.model_artifact(),
                        destination="/opt/ml/processing/model",
                    ),
                    ProcessingInput(
                        input_name="test",
                        source=self.split_uri("test"),
                        destination="/opt/ml/processing/test",
                    ),
                    self.source_input(),
                ],
                outputs=[
                    ProcessingOutput(
                        output_name="evaluation",
                        source="/opt/ml/processing/evaluation",
                        destination=self.run_path("evaluation"),
                    )
                ],
            ),
            property_files=[self.report],
        )
        return self.evaluate_step

    def trained_model(
        self, vpc_config: dict[str, Any] | None = None, *, model_data: Any = None
    ) -> Model:
        """The trained model as SageMaker serves it (Clarify's shadow model from the training
        output; registered from ``model_data``, its sealed copy)."""
        return Model(
            image_uri=self.spec.images.serving,
            model_data=self.model_artifact() if model_data is None else model_data,
            role=self.spec.role_arn,
            sagemaker_session=self.session,
            enable_network_isolation=True,
            # train.py copies the serving code into the model archive: serving needs no network.
            env=dict(serving_environment(self.spec.entry_points.inference)),
            vpc_config=vpc_config,
        )

    def model_baselines(self) -> tuple[list[Any], dict[str, Any]]:
        """Post-training bias and SHAP: Clarify serves the trained model on a shadow endpoint
        it creates and deletes, so these two jobs run without network isolation (still
        encrypted, and in the VPC in VPC mode). The analysis configs name the model, which
        exists only at run time, so a step writes them (clarify_configs.py)."""
        create_model = self._shadow_model()
        configs = self._clarify_configs(create_model)
        clarify = self.clarify_processor(isolated=False)
        steps: list[Any] = [create_model, configs]
        reports: dict[str, Any] = {}
        for kind, step_name in (
            ("bias", "ModelBiasBaseline"),
            ("explainability", "ExplainabilityBaseline"),
        ):
            config = configs.properties.ProcessingOutputConfig.Outputs[kind].S3Output.S3Uri
            step = self._clarify_job(
                clarify, step_name, split="labelled", config=config, baseline=f"model-{kind}"
            )
            steps.append(step)
            # A property reference: registration waits for the step.
            result = step.properties.ProcessingOutputConfig.Outputs["analysis_result"]
            reports[kind] = Join(on="/", values=[result.S3Output.S3Uri, "analysis.json"])
        return steps, reports

    def _shadow_model(self) -> ModelStep:
        """``ShadowModel``: the trained model Clarify serves on its shadow endpoint (in the VPC
        in VPC mode), created on ``shadow_instance_type``."""
        spec = self.spec
        shadow = self.trained_model(
            vpc_config={
                "Subnets": self.vpc["subnets"],
                "SecurityGroupIds": self.vpc["security_group_ids"],
            }
            if spec.vpc
            else None
        )
        return ModelStep(
            name="ShadowModel", step_args=shadow.create(instance_type=spec.shadow_instance_type)
        )

    def _clarify_configs(self, create_model: ModelStep) -> ProcessingStep:
        """``ClarifyConfigs``: writes the bias and explainability analysis configs naming the
        shadow model, as outputs ``bias`` and ``explainability`` (under the run's baselines)."""
        spec = self.spec
        return ProcessingStep(
            name="ClarifyConfigs",
            step_args=self.preprocessor.run(
                code=f"{self.code}/src/clarify_configs.py",
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
                        destination=self.run_path("baselines", f"{kind}-config"),
                    )
                    for kind in ("bias", "explainability")
                ],
            ),
        )

    def _clarify_job(
        self, clarify: Processor, step_name: str, *, split: str, config: Any, baseline: str
    ) -> ProcessingStep:
        """``step_name``: a Clarify job on the ``split`` split with analysis config ``config``;
        its output ``analysis_result`` goes to the run's ``baselines/<baseline>``."""
        return ProcessingStep(
            name=step_name,
            step_args=clarify.run(
                inputs=[
                    ProcessingInput(
                        input_name="dataset",
                        source=self.split_uri(split),
                        destination="/opt/ml/processing/input/data",
                    ),
                    ProcessingInput(
                        input_name="analysis_config",
                        source=config,
                        destination="/opt/ml/processing/input/config",
                    ),
                ],
                outputs=[
                    ProcessingOutput(
                        output_name="analysis_result",
                        source="/opt/ml/processing/output",
                        destination=self.run_path("baselines", baseline),
                    )
                ],
            ),
        )

    def monitor_files(self, model_reports: dict[str, Any]) -> dict[str, Any]:
        """The Model Monitor baseline files this spec produces, by Fingerprint input
        (FINGERPRINT_MONITOR_FILES; absent: not produced). Property references where the step
        has one, so the Fingerprint step runs after the steps writing them."""
        spec = self.spec
        files: dict[str, Any] = {}
        if spec.data_quality_baseline:
            dq = self.data_quality_step.properties
            files["data_statistics_uri"] = dq.CalculatedBaselineStatistics
            files["data_constraints_uri"] = dq.CalculatedBaselineConstraints
        if spec.model_quality_constraints:
            # Model-quality constraints: the test metrics less a tolerance (evaluate.py).
            files["model_constraints_uri"] = self.run_file("evaluation", "constraints.json")
        if spec.bias_baseline:
            # BiasBaseline runs before training (Train depends on it).
            files["bias_pre_uri"] = self.run_file("baselines", "bias", "analysis.json")
        if model_reports:
            files["bias_post_uri"] = model_reports["bias"]
            files["explainability_uri"] = model_reports["explainability"]
        return files

    def register(self, model_reports: dict[str, Any]) -> ModelStep:
        """``Register``: the version, PendingManualApproval, with its sealed files (the model,
        evaluation report, open-monitoring baseline and Model Monitor baselines as the
        Fingerprint step copied them write-once), its lineage, the champion verdict and the
        fingerprints."""
        spec = self.spec
        prints = self.fingerprint_step.properties.Outputs
        metrics, drift = self._registered_baselines(prints, model_reports)
        metadata = self._registration_metadata(prints)
        return ModelStep(
            name="Register",
            step_args=self.trained_model(model_data=prints["model_uri"]).register(
                content_types=["text/csv", "application/json"],
                response_types=["application/json"],
                inference_instances=["ml.t2.medium", "ml.m5.large", "ml.m5.xlarge"],
                transform_instances=["ml.m5.large", "ml.m5.xlarge"],
                model_package_group_name=spec.model_package_group,
                approval_status=PENDING_APPROVAL,
                description=spec.description,
                model_metrics=ModelMetrics(**metrics),
                # What Model Monitor compares production traffic against.
                drift_check_baselines=DriftCheckBaselines(**drift) if drift else None,
                customer_metadata_properties=metadata,
            ),
        )

    def _registered_baselines(
        self, prints: Any, model_reports: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The version's ModelMetrics and DriftCheckBaselines arguments: the evaluation report
        and the Model Monitor files as the Fingerprint step sealed them (``prints``), and with
        ``model_reports`` the monitors' analysis configs of the code version."""
        metrics: dict[str, Any] = {"model_statistics": _json_source(prints["evaluation_uri"])}
        drift: dict[str, Any] = {}
        # The Model Monitor files: their sealed copies, never the files the run wrote (which a
        # later run, the team's code, could overwrite to loosen a released version's baselines).
        produced = self.monitor_files(model_reports)
        for output, metrics_key, drift_key in MONITOR_REGISTRATION:
            if output in produced:
                sealed = _json_source(prints[output])
                drift[drift_key] = sealed
                if metrics_key is not None:
                    metrics[metrics_key] = sealed
        if model_reports:
            # The monitors' analysis configs ship with the code version that trained the model.
            for key, name in (
                ("bias_config_file", "monitor_bias.json"),
                ("explainability_config_file", "monitor_explainability.json"),
            ):
                drift[key] = FileSource(
                    s3_uri=f"{self.code}/clarify/{name}", content_type="application/json"
                )
        return metrics, drift

    def _registration_metadata(self, prints: Any) -> dict[str, Any]:
        """The version's customer metadata: its lineage, the champion gate's figures and
        verdict, the open-monitoring baseline, the fingerprints (``prints``) and, with model
        import, the import check's outputs."""
        spec = self.spec
        metadata: dict[str, Any] = {
            "CodeVersion": self.code_version,
            "DatasetManifest": self.run_file("data", "manifest", "manifest.json"),
            "InputDataUrl": self.input_data,
            "PipelineExecutionArn": ExecutionVariables.PIPELINE_EXECUTION_ARN,
            "TriggerReason": self.trigger,
        }
        # The champion gate's figures and verdict; GateMetricValue is what the next version's
        # champion gate compares against (lambda/champion/README.md).
        champion = self.champion_step.properties.Outputs
        metadata |= {
            "GateMetric": spec.gate.metric,
            "GateMetricValue": champion["challenger_value"],
            "ChampionVerdict": champion["verdict"],
            "ChampionValue": champion["champion_value"],
            "ChampionModelPackageArn": champion["champion_arn"],
            "ChampionMargin": champion["margin"],
        }
        if spec.monitoring_baseline:
            metadata["MonitoringBaseline"] = prints["baseline_uri"]
        # What the release check verifies before every deployment (lambda/release_check).
        metadata |= {key: prints[output] for key, output in FINGERPRINT_METADATA.items()}
        if spec.model_import:
            checked = self.import_step.properties.Outputs
            metadata |= {
                key: self.import_manifest if output is None else checked[output]
                for key, output in IMPORT_METADATA.items()
            }
        return metadata

    def monitoring_baseline_uri(self) -> Join:
        output = self.monitoring_step.properties.ProcessingOutputConfig.Outputs["statistics"]
        return Join(on="/", values=[output.S3Output.S3Uri, "statistics.json"])

    def fingerprint(self, model_reports: dict[str, Any]) -> LambdaStep:
        """``Fingerprint``: the SHA-256 of the model artifact, the monitoring baseline and the
        evaluation report, each sealed (copied write-once under ``sealed/``) with its S3
        version, recorded with the version; and the Model Monitor baseline files the spec
        produces, sealed too ("none" for the others) (lambda/fingerprint)."""
        produced = self.monitor_files(model_reports)
        self.fingerprint_step = LambdaStep(
            name="Fingerprint",
            lambda_func=Lambda(function_arn=FINGERPRINT_PLACEHOLDER, session=self.session),
            inputs={
                "model_uri": self.model_artifact(),
                "baseline_uri": self.monitoring_baseline_uri()
                if self.spec.monitoring_baseline
                else "none",
                "evaluation_uri": self.run_file("evaluation", "evaluation.json"),
                **{name: produced.get(name, "none") for name in FINGERPRINT_MONITOR_FILES},
                "execution_id": ExecutionVariables.PIPELINE_EXECUTION_ID,
            },
            outputs=[LambdaOutput(n, LambdaOutputTypeEnum.String) for n in FINGERPRINT_OUTPUTS],
        )
        return self.fingerprint_step

    def fingerprint_gate(self, if_steps: list[Any]) -> ConditionStep:
        """Register only with the fingerprints recorded; else fail with the function's error."""
        outputs = self.fingerprint_step.properties.Outputs
        return _gate(
            "Fingerprinted",
            ConditionEquals(left=outputs["status"], right="ok"),
            if_steps,
            fail="FingerprintFailed",
            message=["Fingerprint:", outputs["error"]],
        )

    def training_job(self) -> Any:
        """The training job whose model is evaluated: Train's, the best tuning candidate's, or
        none (an imported model)."""
        if self.spec.model_import:
            return "none"
        properties = self.train_step.properties
        if self.spec.tuning is not None:
            return properties.BestTrainingJob.TrainingJobName
        return properties.TrainingJobName

    def static_hyperparameters(self) -> dict[str, str]:
        """The configured hyperparameters the training job gets as they are (not tuned)."""
        tuned = {r.name for r in self.spec.tuning.ranges} if self.spec.tuning else set()
        return {k: v for k, v in self.spec.hyperparameters.items() if k not in tuned}

    def track(self) -> LambdaStep:
        """``Track``: the platform's function records the run, its lineage, hyperparameters,
        evaluation metrics and both gates' verdicts as the trial component
        ``<prefix>-<execution id>`` of the execution's trial (and an MLflow run with the
        option); it answers ``status`` error rather than fail the run (ADR 0023)."""
        champion = self.champion_step.properties.Outputs
        inputs: dict[str, Any] = {
            "execution_id": ExecutionVariables.PIPELINE_EXECUTION_ID,
            "execution_arn": ExecutionVariables.PIPELINE_EXECUTION_ARN,
            "pipeline_name": ExecutionVariables.PIPELINE_NAME,
            "code_version": self.code_version,
            "trigger_reason": self.trigger,
            "input_data_url": self.input_data,
            "code_uri": f"{self.code}/",
            "dataset_manifest": self.run_file("data", "manifest", "manifest.json"),
            "model_uri": self.model_artifact(),
            "evaluation_uri": self.run_file("evaluation", "evaluation.json"),
            "training_job": self.training_job(),
            "hyperparameters": json.dumps(self.static_hyperparameters(), sort_keys=True),
            **{name: champion[output] for name, output in TRACKED_CHAMPION.items()},
        }
        if self.spec.model_import:
            inputs["import_manifest"] = self.import_manifest
        self.track_step = LambdaStep(
            name="Track",
            lambda_func=Lambda(function_arn=TRACKING_PLACEHOLDER, session=self.session),
            inputs=inputs,
            outputs=[LambdaOutput(n, LambdaOutputTypeEnum.String) for n in TRACKING_OUTPUTS],
        )
        return self.track_step

    def experiment_config(self) -> PipelineExperimentConfig:
        """Each execution is the trial ``<pipeline>-<execution id>`` of the experiment named after
        the pipeline: project-scoped names, so IAM can grant a project's runs by name prefix
        (without experiment tracking, the SDK's default: the execution id)."""
        execution = ExecutionVariables.PIPELINE_EXECUTION_ID
        trial = Join(on="-", values=[ExecutionVariables.PIPELINE_NAME, execution])
        return PipelineExperimentConfig(
            ExecutionVariables.PIPELINE_NAME,
            trial if self.spec.experiment_tracking else execution,
        )

    def gate_metric(self) -> JsonGet:
        """The challenger's gate metric, from the evaluation report."""
        return JsonGet(
            step_name=self.evaluate_step.name,
            property_file=self.report,
            json_path=self.spec.gate_json_path,
        )

    def champion(self) -> LambdaStep:
        """``Champion``: the gate metric against the newest approved version's (the champion);
        the platform's function reads the registry (lambda/champion)."""
        self.champion_step = LambdaStep(
            name="Champion",
            lambda_func=Lambda(function_arn=CHAMPION_PLACEHOLDER, session=self.session),
            inputs={
                "challenger": self.gate_metric(),
                "execution_id": ExecutionVariables.PIPELINE_EXECUTION_ID,
            },
            outputs=[LambdaOutput(n, LambdaOutputTypeEnum.String) for n in CHAMPION_OUTPUTS],
        )
        return self.champion_step

    def champion_gate(self, if_steps: list[Any]) -> ConditionStep:
        """Register only if the challenger is not worse than the champion by more than the
        margin (or there is no champion); else fail with the function's reason or error."""
        outputs = self.champion_step.properties.Outputs
        return _gate(
            "ChampionGate",
            ConditionEquals(left=outputs["passes"], right="true"),
            if_steps,
            fail="ChampionGateFailed",
            message=["Champion gate:", outputs["reason"], outputs["error"]],
        )

    def gate(self, if_steps: list[Any]) -> ConditionStep:
        spec = self.spec
        metric = self.gate_metric()
        higher = spec.gate.higher_is_better
        condition_type = ConditionGreaterThanOrEqualTo if higher else ConditionLessThanOrEqualTo
        # The SDK's annotation omits JsonGet, which its own docs use here.
        condition = condition_type(left=metric, right=self.threshold)  # type: ignore[arg-type]
        return _gate(
            "QualityGate",
            condition,
            if_steps,
            fail="QualityGateFailed",
            message=[
                f"Model {spec.gate.metric}",
                metric,
                "is below the threshold" if higher else "is above the threshold",
                str(self.threshold),
            ],
            # Every evaluated run is recorded, the gates' verdicts included, before they decide.
            depends_on=[self.track_step] if self.track_step is not None else None,
        )

    # --- bring your own model (ADR 0021) -------------------------------------------------------
    def import_check(self) -> LambdaStep:
        """``CheckImport``: the platform's import function reads the manifest and streams the
        archive (where it is, the framework it declares, readable, safe members, model files)
        and answers ``status`` ok or rejected with the ``reason`` (lambda/model_import)."""
        self.import_step = LambdaStep(
            name="CheckImport",
            lambda_func=Lambda(function_arn=IMPORT_PLACEHOLDER, session=self.session),
            inputs={
                "manifest_uri": self.import_manifest,
                "code_version": self.code_version,
                "execution_id": ExecutionVariables.PIPELINE_EXECUTION_ID,
            },
            outputs=[LambdaOutput(n, LambdaOutputTypeEnum.String) for n in IMPORT_OUTPUTS],
        )
        return self.import_step

    def import_gate(self, if_steps: list[Any]) -> ConditionStep:
        """Go on only with an accepted import; else fail with the check's reason."""
        outputs = self.import_step.properties.Outputs
        return _gate(
            "ImportAccepted",
            ConditionEquals(left=outputs["status"], right="ok"),
            if_steps,
            fail="ImportRejected",
            message=["Import rejected:", outputs["reason"]],
        )

    def package(self, depends_on: list[Any]) -> ProcessingStep:
        """``Package``: the imported archive with the project's published ``src/`` as its
        ``code/`` (any ``code/`` it brought is dropped: only reviewed code serves), by the
        platform's script in AWS's scikit-learn image; :meth:`model_artifact` is then its
        output, which evaluation, the gates and the seal see as they see a trained model."""
        step = ProcessingStep(
            name="Package",
            step_args=self.script_processor(self.spec.images.platform).run(
                code=PACKAGE_CODE_PLACEHOLDER,
                arguments=[
                    "--model-dir",
                    "/opt/ml/processing/import",
                    "--source",
                    SOURCE,
                    "--out",
                    "/opt/ml/processing/model",
                    # An archive replaced after the check is refused.
                    "--expected-sha256",
                    self.import_step.properties.Outputs["artifact_sha256"],
                ],
                inputs=[
                    ProcessingInput(
                        input_name="import",
                        source=self.import_step.properties.Outputs["model_uri"],
                        destination="/opt/ml/processing/import",
                    ),
                    self.source_input(),
                ],
                outputs=[
                    ProcessingOutput(
                        output_name="model",
                        source="/opt/ml/processing/model",
                        destination=self.run_path("model"),
                    )
                ],
            ),
            depends_on=depends_on,
        )
        output = step.properties.ProcessingOutputConfig.Outputs["model"].S3Output.S3Uri
        self._model = Join(on="/", values=[output, "model.tar.gz"])
        return step

    # --- the pipelines --------------------------------------------------------------------------
    def _baselines(self) -> list[Any]:
        """The closed services' data baselines the spec asks for (after Preprocess)."""
        baselines: list[Any] = []
        if self.spec.data_quality_baseline:
            baselines.append(self.data_quality_baseline())
        if self.spec.bias_baseline:
            baselines.append(self.bias_baseline())
        return baselines

    def _evaluate_and_register(self) -> list[Any]:
        """Once the model exists: evaluate, the champion's figures, the run's record, and the
        gates that end in the sealed registration (quality gate -> champion gate ->
        fingerprints -> Register)."""
        evaluate = self.evaluate()
        champion = self.champion()
        track = [self.track()] if self.spec.experiment_tracking else []
        model_steps: list[Any] = []
        model_reports: dict[str, Any] = {}
        if self.spec.model_baselines:
            model_steps, model_reports = self.model_baselines()
        fingerprint = self.fingerprint(model_reports)
        recorded = self.fingerprint_gate([self.register(model_reports)])
        gate = self.gate([self.champion_gate([*model_steps, fingerprint, recorded])])
        return [evaluate, champion, *track, gate]

    def pipeline(self) -> Pipeline:
        spec = self.spec
        if spec.model_import:
            return self.import_pipeline()
        preprocess = self.preprocess()
        side: list[Any] = []  # steps that run beside training (registration waits for them)
        baselines = self._baselines()
        train = self.train(depends_on=baselines)
        if spec.monitoring_baseline:
            # Beside training, or after it with attributions (it reads the model artifact).
            side.append(self.monitoring_baseline())
        return Pipeline(
            name=spec.name,
            parameters=[
                self.input_data,
                self.processing_type,
                self.training_type,
                self.training_count,
                self.code_version,
                self.trigger,
            ],
            steps=[preprocess, *side, *baselines, train, *self._evaluate_and_register()],
            pipeline_experiment_config=self.experiment_config(),
            sagemaker_session=self.session,
        )

    def import_pipeline(self) -> Pipeline:
        """CheckImport -> ImportAccepted: Preprocess (the project's data, for the test split and
        the baselines), Package, the same baselines, evaluation, gates and sealed registration
        as a trained model's; or ImportRejected with the check's reason."""
        spec = self.spec
        check = self.import_check()
        preprocess = self.preprocess()
        baselines = self._baselines()
        # After the data baselines: the fingerprints name the bias baseline's file by path.
        package = self.package(depends_on=baselines)
        side = [self.monitoring_baseline()] if spec.monitoring_baseline else []
        accepted = self.import_gate(
            [preprocess, *baselines, package, *side, *self._evaluate_and_register()]
        )
        return Pipeline(
            name=spec.name,
            parameters=[
                self.input_data,
                self.processing_type,
                self.import_manifest,
                self.code_version,
                self.trigger,
            ],
            steps=[check, accepted],
            pipeline_experiment_config=self.experiment_config(),
            sagemaker_session=self.session,
        )
