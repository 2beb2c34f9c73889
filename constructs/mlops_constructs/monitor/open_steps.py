"""The steps of the open monitoring pipeline, one method each (see open_definition.py).

Imports the sagemaker SDK at module level: import it only through
:func:`mlops_constructs.monitor.open_definition.build_monitoring_definition`.
"""

from __future__ import annotations

from typing import Any

import boto3
from sagemaker.lambda_helper import Lambda
from sagemaker.network import NetworkConfig
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionEquals, ConditionNot
from sagemaker.workflow.execution_variables import ExecutionVariables
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join
from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
from sagemaker.workflow.parameters import ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.steps import ProcessingStep

from mlops_constructs.monitor.open_definition import (
    FUNCTION_PLACEHOLDER,
    WINDOW_OUTPUTS,
    OpenMonitoringSpec,
)
from mlops_constructs.training.definition import (
    KEY_PLACEHOLDER,
    MONITORING_CODE_PLACEHOLDER,
    SECURITY_GROUP_PLACEHOLDER,
    SUBNETS_PLACEHOLDER,
)

BATCH = "batch"


def arguments(spec: OpenMonitoringSpec, *, labelled: bool, batch: bool = False) -> list[str]:
    args = [
        "monitor",
        "--capture",
        "/opt/ml/processing/capture",
        "--baseline",
        "/opt/ml/processing/baseline/statistics.json",
        "--columns",
        ",".join(spec.columns),
        "--problem-type",
        spec.problem_type,
        "--prediction-field",
        spec.prediction_field,
        "--min-rows",
        str(spec.min_rows),
        "--output",
        "/opt/ml/processing/report",
    ]
    if labelled:
        args += ["--ground-truth", "/opt/ml/processing/ground-truth"]
    if batch:
        args += ["--capture-format", "batch"]
    if spec.probability_field:
        args += ["--probability-field", spec.probability_field]
    if spec.classes:
        args += ["--classes", ",".join(spec.classes)]
    if spec.attributions is not None and not labelled:
        args += spec.attributions.arguments(entry=spec.inference_entry, baseline=False)
    return args


class MonitoringBuilder:
    """Window -> (data run on the last window, publish its data figures) and, when labels
    arrived, (quality run on the labelled window, publish its quality figures); a Window error
    fails the execution with the reason."""

    def __init__(self, spec: OpenMonitoringSpec) -> None:
        self.spec = spec
        self.session = PipelineSession(
            boto_session=boto3.Session(region_name=spec.region),
            default_bucket=spec.artifacts_bucket,
        )
        self.target = ParameterString("Target", default_value="prod")
        self.function = Lambda(function_arn=FUNCTION_PLACEHOLDER, session=self.session)
        self.processor = self._processor(spec.image)
        # With attributions the data runs load the model: its framework's image.
        self.data_processor = (
            self._processor(spec.attribution_image) if spec.attributions else self.processor
        )

    def _processor(self, image: str) -> ScriptProcessor:
        spec = self.spec
        vpc: dict[str, Any] = {}
        if spec.vpc:
            vpc = {
                "subnets": [SUBNETS_PLACEHOLDER],
                "security_group_ids": [SECURITY_GROUP_PLACEHOLDER],
            }
        return ScriptProcessor(
            image_uri=image,
            command=["python3"],
            role=spec.role_arn,
            instance_type=spec.instance_type,
            instance_count=1,
            max_runtime_in_seconds=spec.max_runtime_minutes * 60,
            sagemaker_session=self.session,
            network_config=NetworkConfig(
                enable_network_isolation=True, encrypt_inter_container_traffic=True, **vpc
            ),
            volume_kms_key=KEY_PLACEHOLDER,
            output_kms_key=KEY_PLACEHOLDER,
        )

    def window(self) -> LambdaStep:
        self.window_step = LambdaStep(
            name="Window",
            lambda_func=self.function,
            inputs={
                "action": "window",
                "target": self.target,
                "execution_id": ExecutionVariables.PIPELINE_EXECUTION_ID,
            },
            outputs=[LambdaOutput(n, LambdaOutputTypeEnum.String) for n in WINDOW_OUTPUTS],
        )
        return self.window_step

    def output(self, name: str) -> Any:
        return self.window_step.properties.Outputs[name]

    def report_uri(self, check: str) -> Join:
        """s3://<artifacts>/<reports prefix><target>/<execution id>/<check>."""
        root = f"s3://{self.spec.artifacts_bucket}/{self.spec.reports_prefix.rstrip('/')}"
        return Join(
            on="/",
            values=[root, self.target, ExecutionVariables.PIPELINE_EXECUTION_ID, check],
        )

    def run(self, check: str, *, batch: bool = False) -> tuple[ProcessingStep, LambdaStep]:
        """A monitoring run (``data`` on the last window, ``quality`` on the labelled one) and
        the step that publishes its figures of that kind. ``batch``: the capture input is the
        manifest Window wrote (the files batch scoring's transform jobs read or wrote), the
        steps named ``...Batch<Check>``."""
        labelled = check == "quality"
        name = f"{'Batch' if batch else ''}{check.title()}"
        sources = self._sources(labelled)
        report = self.report_uri(check)
        monitor = self._monitor(name, labelled, batch, sources, report)
        return monitor, self._publish(name, check, report, monitor)

    def _sources(self, labelled: bool) -> list[tuple[str, str]]:
        """The run's inputs: (input name, the Window output naming its S3 location)."""
        sources = [
            ("capture", "labelled_capture_uri" if labelled else "capture_uri"),
            ("baseline", "baseline_uri"),
        ]
        if labelled:
            sources.append(("ground-truth", "ground_truth_uri"))
        elif self.spec.attributions is not None:
            sources.append(("model", "model_data_uri"))
        return sources

    def _monitor(
        self,
        name: str,
        labelled: bool,
        batch: bool,
        sources: list[tuple[str, str]],
        report: Join,
    ) -> ProcessingStep:
        """``Monitor<name>``: the monitoring script on ``sources``, its report to ``report``."""
        return ProcessingStep(
            name=f"Monitor{name}",
            step_args=(self.processor if labelled else self.data_processor).run(
                code=MONITORING_CODE_PLACEHOLDER,
                arguments=arguments(self.spec, labelled=labelled, batch=batch),
                inputs=[
                    ProcessingInput(
                        input_name=input_name,
                        source=self.output(output),
                        destination=f"/opt/ml/processing/{input_name}",
                        s3_data_type="ManifestFile"
                        if batch and input_name == "capture"
                        else "S3Prefix",
                    )
                    for input_name, output in sources
                ],
                outputs=[
                    ProcessingOutput(
                        output_name="report",
                        source="/opt/ml/processing/report",
                        destination=report,
                    )
                ],
            ),
        )

    def _publish(self, name: str, check: str, report: Join, monitor: ProcessingStep) -> LambdaStep:
        """``Publish<name>``: publishes the figures of ``check`` from the run's report, after
        ``monitor``."""
        return LambdaStep(
            name=f"Publish{name}",
            lambda_func=self.function,
            inputs={
                "action": "publish",
                "target": self.target,
                "report_uri": Join(on="/", values=[report, "metrics.json"]),
                "execution_id": ExecutionVariables.PIPELINE_EXECUTION_ID,
                "checks": check,
            },
            outputs=[
                LambdaOutput("status", LambdaOutputTypeEnum.String),
                LambdaOutput("count", LambdaOutputTypeEnum.Integer),
                LambdaOutput("error", LambdaOutputTypeEnum.String),
            ],
            depends_on=[monitor],
        )

    def pipeline(self) -> Pipeline:
        window = self.window()
        ok = ConditionEquals(left=self.output("status"), right="ok")
        labels = ConditionEquals(left=self.output("ground_truth"), right="present")
        # With batch scoring monitored, the endpoints' steps are not the batch target's.
        endpoint: list[Any] = []
        batch_steps: list[ConditionStep] = []
        if self.spec.batch:
            is_batch = ConditionEquals(left=self.target, right=BATCH)
            endpoint = [ConditionNot(expression=is_batch)]
            batch_steps = [
                ConditionStep(
                    name="HasBatchData",
                    conditions=[ok, is_batch],
                    if_steps=[*self.run("data", batch=True)],
                    else_steps=[],
                ),
                ConditionStep(
                    name="HasBatchLabels",
                    conditions=[ok, labels, is_batch],
                    if_steps=[*self.run("quality", batch=True)],
                    else_steps=[],
                ),
            ]
        has_data = ConditionStep(
            name="HasData", conditions=[ok, *endpoint], if_steps=[*self.run("data")], else_steps=[]
        )
        has_labels = ConditionStep(
            name="HasLabels",
            conditions=[ok, labels, *endpoint],
            if_steps=[*self.run("quality")],
            else_steps=[],
        )
        failed = ConditionStep(
            name="WindowFailed",
            conditions=[ConditionEquals(left=self.output("status"), right="error")],
            if_steps=[
                FailStep(
                    name="MonitoringFailed",
                    error_message=Join(on=" ", values=["Window:", self.output("error")]),
                )
            ],
            else_steps=[],
        )
        return Pipeline(
            name=self.spec.name,
            parameters=[self.target],
            steps=[window, has_data, has_labels, *batch_steps, failed],
            sagemaker_session=self.session,
        )
