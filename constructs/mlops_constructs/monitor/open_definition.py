"""The open monitoring pipeline's definition (sagemaker SDK 2.x, at synth time, offline).

Window (a Lambda step: the deployed version's baseline, the capture and ground-truth prefixes
of the window to analyse, or why there is nothing to analyse) -> HasData (a condition) ->
Monitor (a network-isolated processing job running the platform's monitoring script in AWS's
scikit-learn image: data quality, drift per feature, model quality on joined ground truth) ->
Publish (the Lambda step again: the run's metrics into CloudWatch, which the alarms read).

Services open to every AWS customer only: SageMaker Pipelines, Processing, Lambda.
Deploy-time values are ``${Placeholders}`` the construct resolves with ``Fn::Sub``.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any

from mlops_constructs.build.definition import (
    KEY_PLACEHOLDER,
    MONITORING_CODE_PLACEHOLDER,
    SECURITY_GROUP_PLACEHOLDER,
    SUBNETS_PLACEHOLDER,
    _disable_telemetry,
)

FUNCTION_PLACEHOLDER = "${MonitoringFunctionArn}"
WINDOW_OUTPUTS = ("status", "baseline_uri", "capture_uri", "ground_truth_uri")


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


def _arguments(spec: OpenMonitoringSpec) -> list[str]:
    args = [
        "monitor",
        "--capture",
        "/opt/ml/processing/capture",
        "--baseline",
        "/opt/ml/processing/baseline/statistics.json",
        "--ground-truth",
        "/opt/ml/processing/ground-truth",
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
    if spec.probability_field:
        args += ["--probability-field", spec.probability_field]
    if spec.classes:
        args += ["--classes", ",".join(spec.classes)]
    return args


def build_monitoring_definition(spec: OpenMonitoringSpec) -> str:
    """The pipeline definition JSON (with ``${...}`` placeholders for deploy-time values)."""
    _disable_telemetry()
    # The function is the construct's; the SDK only names it in the definition.
    warnings.filterwarnings("ignore", message="Lambda function won't be updated")
    import boto3
    from sagemaker.lambda_helper import Lambda
    from sagemaker.network import NetworkConfig
    from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionEquals
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
    from sagemaker.workflow.parameters import ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.steps import ProcessingStep

    session = PipelineSession(
        boto_session=boto3.Session(region_name=spec.region),
        default_bucket=spec.artifacts_bucket,
    )
    target = ParameterString("Target", default_value="prod")
    function = Lambda(function_arn=FUNCTION_PLACEHOLDER, session=session)
    window = LambdaStep(
        name="Window",
        lambda_func=function,
        inputs={
            "action": "window",
            "target": target,
            "execution_id": ExecutionVariables.PIPELINE_EXECUTION_ID,
        },
        outputs=[LambdaOutput(n, LambdaOutputTypeEnum.String) for n in WINDOW_OUTPUTS],
    )
    vpc: dict[str, Any] = {}
    if spec.vpc:
        vpc = {"subnets": [SUBNETS_PLACEHOLDER], "security_group_ids": [SECURITY_GROUP_PLACEHOLDER]}
    processor = ScriptProcessor(
        image_uri=spec.image,
        command=["python3"],
        role=spec.role_arn,
        instance_type=spec.instance_type,
        instance_count=1,
        max_runtime_in_seconds=spec.max_runtime_minutes * 60,
        sagemaker_session=session,
        network_config=NetworkConfig(
            enable_network_isolation=True, encrypt_inter_container_traffic=True, **vpc
        ),
        volume_kms_key=KEY_PLACEHOLDER,
        output_kms_key=KEY_PLACEHOLDER,
    )
    report = Join(
        on="/",
        values=[
            f"s3://{spec.artifacts_bucket}/{spec.reports_prefix.rstrip('/')}",
            target,
            ExecutionVariables.PIPELINE_EXECUTION_ID,
        ],
    )

    def window_output(name: str) -> Any:
        return window.properties.Outputs[name]

    monitor = ProcessingStep(
        name="Monitor",
        step_args=processor.run(
            code=MONITORING_CODE_PLACEHOLDER,
            arguments=_arguments(spec),
            inputs=[
                ProcessingInput(
                    input_name=name,
                    source=window_output(output),
                    destination=f"/opt/ml/processing/{name}",
                )
                for name, output in (
                    ("capture", "capture_uri"),
                    ("baseline", "baseline_uri"),
                    ("ground-truth", "ground_truth_uri"),
                )
            ],
            outputs=[
                ProcessingOutput(
                    output_name="report", source="/opt/ml/processing/report", destination=report
                )
            ],
        ),
    )
    publish = LambdaStep(
        name="Publish",
        lambda_func=function,
        inputs={
            "action": "publish",
            "target": target,
            "report_uri": Join(on="/", values=[report, "metrics.json"]),
            "execution_id": ExecutionVariables.PIPELINE_EXECUTION_ID,
        },
        outputs=[LambdaOutput("status", LambdaOutputTypeEnum.String)],
        depends_on=[monitor],
    )
    has_data = ConditionStep(
        name="HasData",
        conditions=[ConditionEquals(left=window_output("status"), right="ok")],
        if_steps=[monitor, publish],
        else_steps=[],
    )
    pipeline = Pipeline(
        name=spec.name,
        parameters=[target],
        steps=[window, has_data],
        sagemaker_session=session,
    )
    definition = json.loads(pipeline.definition())
    return json.dumps(definition, sort_keys=True, separators=(",", ":"))
