"""Model Monitor for one endpoint or one batch scoring target: job definitions, schedules, alarms."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_constructs.monitor.settings import (
    MONITORING_TYPE,
    NONE,
    REQUIRED_BASELINE,
    SHORT,
    MonitorSettings,
    schedule_name,
)
from mlops_constructs.names import AlarmKind, alarm_name
from mlops_constructs.network.placement import VpcConfig
from mlops_constructs.runbooks import Runbook, alarm_description, drift_consequence

LOCAL_INPUT = "/opt/ml/processing/input/data"
LOCAL_OUTPUT = "/opt/ml/processing/output"

# CloudWatch namespaces Model Monitor publishes to, for endpoints and for batch transform.
NAMESPACES = {
    "endpoint": {
        "data": "aws/sagemaker/Endpoints/data-metrics",
        "model": "aws/sagemaker/Endpoints/model-metrics",
    },
    "batch": {
        "data": "aws/sagemaker/ModelMonitoring/data-metrics",
        "model": "aws/sagemaker/ModelMonitoring/model-metrics",
    },
}


@dataclass(frozen=True, kw_only=True)
class MonitorImages:
    """The regional images: Model Monitor's analyzer and SageMaker Clarify."""

    model_monitor: str
    clarify: str

    @classmethod
    def for_region(cls, region: str) -> MonitorImages:
        """Looked up in the sagemaker SDK's offline tables (no AWS call), memoized."""
        from mlops_constructs.training.definition import image_uri

        return cls(
            model_monitor=image_uri(framework="model-monitor", region=region),
            clarify=image_uri(framework="clarify", region=region),
        )


@dataclass(frozen=True, kw_only=True)
class MonitorInputs:
    """Values known per deployment (CloudFormation parameters in the endpoint templates).

    ``baselines`` maps each name of :data:`BASELINE_PARAMETERS` to an S3 URI or ``"none"``.
    """

    model_package_arn: str
    role_arn: str
    key_arn: str
    output_uri: str  # s3://.../monitoring/<target>/ (a folder per monitor type below it)
    ground_truth_uri: str | None  # needed by the model-quality and bias monitors
    baselines: Mapping[str, str]  # the baselines the enabled monitors read
    vpc_config: VpcConfig | None = None  # VPC mode: the template's subnets and group


class ModelMonitors(Construct):
    """Model Monitor schedules for the endpoint ``endpoint_name`` (or, with ``batch_capture_uri``,
    for the batch transform jobs capturing there), using the baselines of the deployed version.

    One job definition and one schedule per monitor type in ``settings.types``:
    data quality (captured inputs against the version's statistics and constraints), model
    quality (predictions joined with ground truth from ``ground_truth_uri`` against the
    version's model-quality constraints), bias (Clarify, post-training bias on labelled
    traffic) and explainability (Clarify SHAP). A monitor whose baseline or analysis config the
    version does not carry (``"none"``) is not created: a CloudFormation condition per monitor,
    and batch targets get no explainability monitor (Clarify would need a model to explain batch
    data with, and batch scoring picks its model per run),
    so one template serves every version. Jobs run network-isolated, with inter-container
    encryption, in the VPC with ``inputs.vpc_config``, volumes and results encrypted with
    ``key_arn``, as ``role_arn``.

    Job definitions are immutable in SageMaker: their names carry the model version and a
    digest of the settings, so a new version or new settings replace them and redeploying the
    same version changes nothing. Schedules keep stable names (``<target>-dq`` ...).

    Alarms (to ``alarm_topic``): ``<target>-drift-data`` when any watched feature's baseline
    drift exceeds ``settings.drift_threshold`` and ``<target>-drift-model-quality`` when the
    gate metric on labelled traffic crosses ``settings.quality_threshold``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        target_name: str,
        settings: MonitorSettings,
        inputs: MonitorInputs,
        images: MonitorImages,
        alarm_topic: sns.ITopic,
        endpoint: sagemaker.CfnEndpoint | None = None,
        batch_capture_uri: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        if (endpoint is None) == (batch_capture_uri is None):
            raise ValueError(f"{target_name}: monitor either an endpoint or batch transform jobs")
        self.target_name = target_name
        self._settings = settings
        self._inputs = inputs
        self._endpoint = endpoint
        self._batch_capture_uri = batch_capture_uri
        # .../model-package/<group>/<version>
        self._version = cdk.Fn.select(2, cdk.Fn.split("/", inputs.model_package_arn))
        self.conditions: dict[str, cdk.CfnCondition] = {}
        self.job_definitions: dict[str, cdk.CfnResource] = {}
        self.schedules: dict[str, sagemaker.CfnMonitoringSchedule] = {}
        self.alarms: list[cloudwatch.Alarm] = []

        for monitor in settings.monitors(batch=endpoint is None):
            self._add_monitor(monitor, images)
        self._add_alarms(alarm_topic)

    def _add_monitor(self, monitor: str, images: MonitorImages) -> None:
        """The job definition of ``monitor`` and its schedule, both under the condition that
        the deployed version carries the baseline the monitor needs (if it needs one)."""
        builders = {
            "data_quality": self._data_quality,
            "model_quality": self._model_quality,
            "bias": self._bias,
            "explainability": self._explainability,
        }
        needs = REQUIRED_BASELINE[monitor]
        definition = builders[monitor](images)
        schedule = self._schedule(monitor)
        schedule.node.add_dependency(definition)
        if needs is not None:
            condition = self._has(needs)
            definition.cfn_options.condition = condition
            schedule.cfn_options.condition = condition
            self.conditions[monitor] = condition
        self.job_definitions[monitor] = definition
        self.schedules[monitor] = schedule

    def _schedule(self, monitor: str) -> sagemaker.CfnMonitoringSchedule:
        """``<target>-<monitor>``: runs the job definition of ``monitor`` on the settings'
        schedule (against the endpoint, if one is monitored)."""
        endpoint = self._endpoint
        return sagemaker.CfnMonitoringSchedule(
            self,
            f"{monitor.title().replace('_', '')}Schedule",
            monitoring_schedule_name=schedule_name(self.target_name, monitor),
            endpoint_name=endpoint.attr_endpoint_name if endpoint is not None else None,
            monitoring_schedule_config=sagemaker.CfnMonitoringSchedule.MonitoringScheduleConfigProperty(
                # Job definitions return only their ARN: the name is repeated, hence the
                # explicit dependency in _add_monitor.
                monitoring_job_definition_name=self._name(monitor),
                monitoring_type=MONITORING_TYPE[monitor],
                schedule_config=sagemaker.CfnMonitoringSchedule.ScheduleConfigProperty(
                    schedule_expression=self._settings.schedule_expression
                ),
            ),
        )

    # --- pieces shared by the four job definition types -------------------------------------

    def _has(self, baseline: str) -> cdk.CfnCondition:
        """The condition "the deployed version carries ``baseline``" (one per baseline)."""
        name = f"Has{baseline}"
        existing = self.node.try_find_child(name)
        if isinstance(existing, cdk.CfnCondition):
            return existing
        return cdk.CfnCondition(
            self,
            name,
            expression=cdk.Fn.condition_not(
                cdk.Fn.condition_equals(self._inputs.baselines[baseline], NONE)
            ),
        )

    def _optional(self, baseline: str, value: Any) -> Any:
        """``value`` when the version carries ``baseline``, else no property at all.

        ``value`` is raw CloudFormation (PascalCase keys): CDK does not translate property
        classes inside an intrinsic function.
        """
        return cdk.Fn.condition_if(self._has(baseline).logical_id, value, cdk.Aws.NO_VALUE)

    def _name(self, monitor: str) -> str:
        # 63 characters at most: <target>-<short>-v<version>-<digest>.
        return cdk.Fn.join(
            "-",
            [
                self.target_name,
                SHORT[monitor],
                cdk.Fn.join("", ["v", self._version]),
                self._settings.digest(),
            ],
        )

    def _common(self, cfn: Any, monitor: str) -> dict[str, Any]:
        s = self._settings
        i = self._inputs
        vpc = i.vpc_config.to(cfn.VpcConfigProperty) if i.vpc_config else None
        return {
            "job_definition_name": self._name(monitor),
            "role_arn": i.role_arn,
            "job_resources": cfn.MonitoringResourcesProperty(
                cluster_config=cfn.ClusterConfigProperty(
                    instance_count=1,
                    instance_type=s.instance_type,
                    volume_size_in_gb=s.volume_gb,
                    volume_kms_key_id=i.key_arn,
                )
            ),
            "network_config": cfn.NetworkConfigProperty(
                enable_network_isolation=True,
                enable_inter_container_traffic_encryption=True,
                vpc_config=vpc,
            ),
            "stopping_condition": cfn.StoppingConditionProperty(
                max_runtime_in_seconds=s.max_runtime_minutes * 60
            ),
        }

    def _output(self, cfn: Any, monitor: str) -> Any:
        return cfn.MonitoringOutputConfigProperty(
            kms_key_id=self._inputs.key_arn,
            monitoring_outputs=[
                cfn.MonitoringOutputProperty(
                    s3_output=cfn.S3OutputProperty(
                        local_path=LOCAL_OUTPUT,
                        s3_uri=cdk.Fn.join("", [self._inputs.output_uri, monitor, "/"]),
                        s3_upload_mode="EndOfJob",
                    )
                )
            ],
        )

    def _input(self, cfn: Any, *, labelled: bool = False, **attributes: Any) -> dict[str, Any]:
        """``endpoint_input`` or ``batch_transform_input`` with ``attributes``."""
        s = self._settings
        if labelled:
            start, end = s.offsets()
            attributes = {**attributes, "start_time_offset": start, "end_time_offset": end}
        common = {
            "local_path": LOCAL_INPUT,
            "s3_input_mode": "File",
            "s3_data_distribution_type": "FullyReplicated",
            **attributes,
        }
        if self._endpoint is not None:
            return {
                "endpoint_input": cfn.EndpointInputProperty(
                    endpoint_name=self._endpoint.attr_endpoint_name, **common
                )
            }
        return {
            "batch_transform_input": cfn.BatchTransformInputProperty(
                data_captured_destination_s3_uri=self._batch_capture_uri,
                dataset_format=cfn.DatasetFormatProperty(csv=cfn.CsvProperty(header=False)),
                **common,
            )
        }

    def _ground_truth(self) -> str:
        if self._inputs.ground_truth_uri is None:
            raise ValueError(f"{self.target_name}: labelled monitors need a ground truth URI")
        return self._inputs.ground_truth_uri

    def _endpoint_name(self) -> str | None:
        return self._endpoint.attr_endpoint_name if self._endpoint is not None else None

    def _constraints(self, baseline: str) -> dict[str, Any]:
        # Raw CloudFormation (inside Fn::If, CDK cannot translate property classes).
        return {"ConstraintsResource": {"S3Uri": self._inputs.baselines[baseline]}}

    # --- the four monitors --------------------------------------------------------------------

    def _data_quality(self, images: MonitorImages) -> cdk.CfnResource:
        cfn = sagemaker.CfnDataQualityJobDefinition
        b = self._inputs.baselines
        return cfn(
            self,
            "DataQuality",
            **self._common(cfn, "data_quality"),
            endpoint_name=self._endpoint_name(),
            data_quality_app_specification=cfn.DataQualityAppSpecificationProperty(
                image_uri=images.model_monitor
            ),
            data_quality_baseline_config=cfn.DataQualityBaselineConfigProperty(
                constraints_resource=cfn.ConstraintsResourceProperty(
                    s3_uri=b["DataQualityConstraints"]
                ),
                statistics_resource=self._optional(
                    "DataQualityStatistics", {"S3Uri": b["DataQualityStatistics"]}
                ),
            ),
            data_quality_job_input=cfn.DataQualityJobInputProperty(**self._input(cfn)),
            data_quality_job_output_config=self._output(cfn, "data_quality"),
        )

    def _model_quality(self, images: MonitorImages) -> cdk.CfnResource:
        cfn = sagemaker.CfnModelQualityJobDefinition
        s = self._settings
        return cfn(
            self,
            "ModelQuality",
            **self._common(cfn, "model_quality"),
            endpoint_name=self._endpoint_name(),
            model_quality_app_specification=cfn.ModelQualityAppSpecificationProperty(
                image_uri=images.model_monitor, problem_type=s.problem_type
            ),
            model_quality_baseline_config=self._optional(
                "ModelQualityConstraints", self._constraints("ModelQualityConstraints")
            ),
            model_quality_job_input=cfn.ModelQualityJobInputProperty(
                ground_truth_s3_input=cfn.MonitoringGroundTruthS3InputProperty(
                    s3_uri=self._ground_truth()
                ),
                **self._input(
                    cfn,
                    labelled=True,
                    inference_attribute=s.inference_attribute,
                    probability_attribute=s.probability_attribute,
                    probability_threshold_attribute=s.probability_threshold
                    if s.probability_attribute and s.problem_type == "BinaryClassification"
                    else None,
                ),
            ),
            model_quality_job_output_config=self._output(cfn, "model_quality"),
        )

    def _bias(self, images: MonitorImages) -> cdk.CfnResource:
        cfn = sagemaker.CfnModelBiasJobDefinition
        s = self._settings
        return cfn(
            self,
            "Bias",
            **self._common(cfn, "bias"),
            endpoint_name=self._endpoint_name(),
            model_bias_app_specification=cfn.ModelBiasAppSpecificationProperty(
                image_uri=images.clarify, config_uri=self._inputs.baselines["BiasConfig"]
            ),
            model_bias_baseline_config=self._optional(
                "BiasConstraints", self._constraints("BiasConstraints")
            ),
            model_bias_job_input=cfn.ModelBiasJobInputProperty(
                ground_truth_s3_input=cfn.MonitoringGroundTruthS3InputProperty(
                    s3_uri=self._ground_truth()
                ),
                **self._input(
                    cfn,
                    labelled=True,
                    probability_attribute=s.probability_attribute,
                    probability_threshold_attribute=s.probability_threshold
                    if s.probability_attribute and s.problem_type == "BinaryClassification"
                    else None,
                ),
            ),
            model_bias_job_output_config=self._output(cfn, "bias"),
        )

    def _explainability(self, images: MonitorImages) -> cdk.CfnResource:
        cfn = sagemaker.CfnModelExplainabilityJobDefinition
        return cfn(
            self,
            "Explainability",
            **self._common(cfn, "explainability"),
            endpoint_name=self._endpoint_name(),
            model_explainability_app_specification=cfn.ModelExplainabilityAppSpecificationProperty(
                image_uri=images.clarify, config_uri=self._inputs.baselines["ExplainabilityConfig"]
            ),
            model_explainability_baseline_config=self._optional(
                "ExplainabilityConstraints", self._constraints("ExplainabilityConstraints")
            ),
            model_explainability_job_input=cfn.ModelExplainabilityJobInputProperty(
                # What SHAP explains: the churn probability in the JSON response.
                **self._input(
                    cfn,
                    inference_attribute=self._settings.probability_attribute
                    or self._settings.inference_attribute,
                )
            ),
            model_explainability_job_output_config=self._output(cfn, "explainability"),
        )

    # --- alarms ---------------------------------------------------------------------------

    def drift_metric(self) -> cloudwatch.IMetric:
        """The largest baseline drift of the watched features in a run."""
        return drift_metric(self.target_name, self._settings, batch=self._endpoint is None)

    def quality_metric(self) -> cloudwatch.IMetric:
        """The gate's metric of the predictions on labelled traffic, per run."""
        return quality_metric(self.target_name, self._settings, batch=self._endpoint is None)

    def _add_alarms(self, topic: sns.ITopic) -> None:
        s = self._settings
        if "data_quality" in s.types:
            alarm = cloudwatch.Alarm(
                self,
                "DataDrift",
                alarm_name=alarm_name(self.target_name, AlarmKind.DATA_DRIFT),
                alarm_description=alarm_description(
                    f"{self.target_name}: a watched feature drifted more than "
                    f"{s.drift_threshold} from the deployed version's data-quality baseline in a "
                    f"Model Monitor run. {drift_consequence(self.target_name)}",
                    Runbook.DATA_DRIFT,
                ),
                metric=self.drift_metric(),
                threshold=s.drift_threshold,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            self._conditional(alarm, "data_quality")
            self.alarms.append(alarm)
        if "model_quality" in s.types:
            alarm = cloudwatch.Alarm(
                self,
                "ModelQualityDrift",
                alarm_name=alarm_name(self.target_name, AlarmKind.MODEL_QUALITY_DRIFT),
                alarm_description=alarm_description(
                    f"{self.target_name}: {s.quality_metric} on labelled traffic "
                    f"{'below' if s.quality_higher_is_better else 'above'} "
                    f"{s.quality_threshold} in a Model Monitor run (the model does worse on real "
                    f"outcomes). {drift_consequence(self.target_name)}",
                    Runbook.MODEL_QUALITY_DRIFT,
                ),
                metric=self.quality_metric(),
                threshold=s.quality_threshold,
                comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
                if s.quality_higher_is_better
                else cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            self.alarms.append(alarm)
        for alarm in self.alarms:
            alarm.add_alarm_action(cw_actions.SnsAction(topic))

    def _conditional(self, alarm: cloudwatch.Alarm, monitor: str) -> None:
        condition = self.conditions.get(monitor)
        if condition is not None:
            child = alarm.node.default_child
            assert isinstance(child, cdk.CfnResource)
            child.cfn_options.condition = condition


def _dimensions(target_name: str, monitor: str, batch: bool) -> dict[str, str]:
    dims = {"MonitoringSchedule": schedule_name(target_name, monitor)}
    if not batch:
        dims["Endpoint"] = target_name
    return dims


def _period(settings: MonitorSettings) -> cdk.Duration:
    return cdk.Duration.hours(1 if settings.frequency == "hourly" else 24)


def drift_metric(target_name: str, settings: MonitorSettings, *, batch: bool) -> cloudwatch.IMetric:
    """The largest baseline drift among ``settings.features`` in a data-quality run."""
    # Ids unique per target: a dashboard graph shows several targets' expressions.
    tag = target_name.rsplit("-", 1)[-1].replace("-", "_")
    metrics = {
        f"{tag}_f{i}": cloudwatch.Metric(
            namespace=NAMESPACES["batch" if batch else "endpoint"]["data"],
            metric_name=f"feature_baseline_drift_{feature}",
            dimensions_map=_dimensions(target_name, "data_quality", batch),
            statistic="Maximum",
            period=_period(settings),
        )
        for i, feature in enumerate(settings.features)
    }
    return cloudwatch.MathExpression(
        expression=f"MAX([{', '.join(metrics)}])",
        using_metrics=metrics,
        label=f"{target_name} largest feature drift",
        period=_period(settings),
    )


def quality_metric(
    target_name: str, settings: MonitorSettings, *, batch: bool
) -> cloudwatch.IMetric:
    """The quality metric of the predictions on labelled traffic in a model-quality run (its
    worst value per period)."""
    return cloudwatch.Metric(
        namespace=NAMESPACES["batch" if batch else "endpoint"]["model"],
        metric_name=settings.quality_metric,
        dimensions_map=_dimensions(target_name, "model_quality", batch),
        statistic="Minimum" if settings.quality_higher_is_better else "Maximum",
        period=_period(settings),
        label=f"{target_name} {settings.quality_metric}",
    )
