"""A SageMaker endpoint for one approved model package: real-time or serverless."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_constructs.arns import arns
from mlops_constructs.data.lake import SEALED_PREFIX, LakeAccess
from mlops_constructs.names import AlarmKind, alarm_name, component_name, endpoint_role_name
from mlops_constructs.network.placement import VpcConfig
from mlops_constructs.runbooks import Runbook, alarm_description
from mlops_constructs.security.jobs import grant_image_pull, grant_sagemaker_job_logs
from mlops_constructs.security.nag import (
    acknowledge,
    acknowledge_grant_actions,
    acknowledge_inline_policy,
    acknowledge_rules,
    acknowledge_wildcard_resource,
)

VARIANT = "AllTraffic"
# A health alarm: id, kind, metric, threshold, what it means, runbook.
_HealthSpec = tuple[str, AlarmKind, cloudwatch.Metric, float, str, Runbook]


@dataclass(frozen=True, kw_only=True)
class RealtimeSettings:
    """Instance-backed hosting with autoscaling and a blue/green rollout."""

    instance_type: str = "ml.m5.large"
    min_instances: int = 1
    max_instances: int = 2
    invocations_per_instance: int = 100  # target tracking: invocations per instance per minute
    # ALL_AT_ONCE, CANARY or LINEAR: how traffic moves to the new fleet.
    traffic_routing: str = "CANARY"
    canary_percent: int = 10
    wait_minutes: int = 5  # between traffic steps, and before the old fleet is torn down
    latency_p99_ms: int = 500  # rollback alarm on ModelLatency p99
    data_capture_percent: int = 20
    # Health alarms (notify only, no rollback): average use across the variant's instances.
    cpu_percent: int = 80  # of all the instance's vCPUs
    memory_percent: int = 80
    disk_percent: int = 80


def vcpus(instance_type: str) -> int:
    """vCPUs of an ``ml.<family>.<size>`` hosting type (CPUUtilization is per vCPU, summed)."""
    size = instance_type.split(".")[-1]
    if size in ("medium", "large"):
        return 2
    if size == "xlarge":
        return 4
    if size.endswith("xlarge") and size[: -len("xlarge")].isdigit():
        return 4 * int(size[: -len("xlarge")])
    raise ValueError(f"{instance_type}: cannot tell its vCPU count from the size {size!r}")


@dataclass(frozen=True, kw_only=True)
class ScaleToZeroSettings(RealtimeSettings):
    """Instance-backed hosting that scales to zero instances while idle (docs/decisions/
    0014-scale-to-zero.md): the model is an inference component of the endpoint, whose copies
    scale between 0 and ``max_copies`` on invocations per copy (``invocations_per_instance``);
    a request that finds no copy (the metric ``NoCapacityInvocationFailures``) starts one, and
    managed instance scaling follows the copies between 0 and ``max_instances`` instances. A new
    version rolls out copy by copy (``wait_minutes`` apart) and rolls back automatically on the
    5xx and p99-latency alarms. ``min_instances`` is not used (always 0); isolation, the data
    key and VPC mode are as for :class:`RealtimeSettings`. The endpoint config captures nothing:
    the front door captures the traffic it serves (``data_capture_percent``) where SageMaker's
    own capture would write it (docs/decisions/0033-the-front-door-captures-scale-to-zero.md)."""

    min_instances: int = 0
    copy_cpu_cores: float = 1.0
    copy_memory_mb: int = 1024

    @property
    def copies_per_instance(self) -> int:
        return max(1, int(vcpus(self.instance_type) // self.copy_cpu_cores))

    @property
    def max_copies(self) -> int:
        return self.max_instances * self.copies_per_instance


@dataclass(frozen=True, kw_only=True)
class ServerlessSettings:
    """Serverless hosting: costs nothing while idle, cold starts when traffic resumes."""

    memory_mb: int = 2048
    max_concurrency: int = 5


def config_captures(hosting: RealtimeSettings | ServerlessSettings) -> bool:
    """Whether the endpoint config captures requests and responses itself: an instance-backed
    real-time one only (serverless supports no capture; an endpoint of inference components is
    captured by its front door, ADR 0033)."""
    return isinstance(hosting, RealtimeSettings) and not isinstance(hosting, ScaleToZeroSettings)


def capture_prefix(stage: str) -> str:
    """Where an endpoint's captured requests and responses go in the artifacts bucket."""
    return f"data-capture/{stage}/"


def _capture(
    hosting: RealtimeSettings, capture_uri: str, key_arn: str
) -> sagemaker.CfnEndpointConfig.DataCaptureConfigProperty:
    """Requests and responses (``data_capture_percent``) to ``capture_uri``, with the key."""
    return sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
        enable_capture=True,
        initial_sampling_percentage=hosting.data_capture_percent,
        destination_s3_uri=capture_uri,
        kms_key_id=key_arn,
        capture_options=[
            sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input"),
            sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Output"),
        ],
        capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
            csv_content_types=["text/csv"],
            json_content_types=["application/json"],
        ),
    )


class EndpointRole(Construct):
    """The role ``<prefix>-<stage>-endpoint`` that an endpoint's model containers run as.

    May read released model artifacts (``sealed/``), write captured data under
    ``data-capture/<stage>/`` (with ``captures``: an instance-backed endpoint's config captures;
    serverless and inference-component endpoints capture nothing), use the lake's key, write its
    own endpoint's logs and pull the project's own serving image (``image_repositories``);
    nothing else. Kept out of the endpoint template so that deploying an endpoint never needs IAM
    permissions.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        stage: str,
        lake: LakeAccess,
        image_repositories: Sequence[str] = (),
        captures: bool = True,
    ):
        super().__init__(scope, id)
        self.role = iam.Role(
            self,
            "Role",
            role_name=endpoint_role_name(prefix, stage),
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Model containers of the endpoint {prefix}-{stage}",
        )
        prefix_ = capture_prefix(stage)
        # Released model artifacts only: their sealed copies (the serving code is inside each
        # model archive).
        lake.artifacts.grant_read(self.role, f"{SEALED_PREFIX}*")
        if captures:
            lake.artifacts.grant_put(self.role, f"{prefix_}*")
        lake.key.grant_encrypt_decrypt(self.role)
        # Bring your own container: the model's serving image is pulled as this role.
        grant_image_pull(self.role, image_repositories)
        # The containers' logs: /aws/sagemaker/Endpoints/<prefix>-<stage> only.
        grant_sagemaker_job_logs(self.role, (), endpoints=f"{prefix}-{stage}")
        acknowledge_inline_policy(self.role)
        acknowledge_grant_actions(
            self.role,
            "Action groups written by grant_read/grant_put on the artifacts bucket and by the "
            "key grant; every resource in these statements is named.",
        )
        acknowledge_wildcard_resource(
            self.role,
            lake.artifacts.arn_for_objects(f"{SEALED_PREFIX}*"),
            "Released model artifacts are sealed under names made of their SHA-256 at run time, "
            "under sealed/ only.",
        )
        if captures:
            acknowledge_wildcard_resource(
                self.role,
                lake.artifacts.arn_for_objects(f"{prefix_}*"),
                "SageMaker names captured-data objects by hour and request; writes are limited "
                "to this endpoint's capture prefix.",
            )


@dataclass(frozen=True, kw_only=True)
class PromotedContainer:
    """The model as a serving environment of a delivered platform runs it (ADR 0011): its
    serving image and environment (known at synthesis: they are the project's), and the model
    artifact its promotion copied into this environment's own bucket (``model_data_url``, a
    template parameter), instead of the development account's model package."""

    image: str
    model_data_url: str
    environment: Mapping[str, str]


class ModelEndpoint(Construct):
    """Endpoint ``<prefix>-<stage>`` serving ``model_package_arn``.

    The model runs network-isolated (in the VPC with ``vpc_config``) as ``role`` (an
    :class:`EndpointRole`). Real-time endpoints: ML storage volumes encrypted with ``key_arn``,
    data capture of requests and responses (``data_capture_percent``) to ``capture_uri``
    encrypted with the same key, target-tracking
    autoscaling between ``min_instances`` and ``max_instances``, and blue/green deployments
    (all at once, canary or linear) that roll back automatically when the 5xx or p99-latency
    alarm fires; both alarms also notify ``alarm_topic``, as do the health alarms (4xx, CPU,
    memory and disk of the instances), which never roll back. Scale-to-zero endpoints
    (:class:`ScaleToZeroSettings`) ignore ``capture_uri``: their traffic is captured by the
    front door. Serverless endpoints cost nothing while idle; SageMaker supports no network isolation, VPC or data capture for them, so they
    are for non-production stages (and refused in VPC mode).

    The same model package always gives the same template, so deploying an approved version
    twice changes nothing.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        stage: str,
        model_package_arn: str,
        role: iam.IRole,
        key_arn: str,
        capture_uri: str,
        hosting: RealtimeSettings | ServerlessSettings,
        alarm_topic: sns.ITopic | None = None,
        vpc_config: VpcConfig | None = None,
        container: PromotedContainer | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.endpoint_name = f"{prefix}-{stage}"
        self._alarm_topic = alarm_topic
        self._component = isinstance(hosting, ScaleToZeroSettings)
        self.role = role
        realtime = isinstance(hosting, RealtimeSettings)
        if realtime and alarm_topic is None:
            raise ValueError(f"{self.endpoint_name}: real-time endpoints need an alarm topic")
        if vpc_config is not None and not realtime:
            raise ValueError(
                f"{self.endpoint_name}: serverless endpoints cannot run in a VPC; use real-time "
                "hosting in VPC mode"
            )
        self.model = self._model(model_package_arn, container, vpc_config, realtime=realtime)
        # Real-time endpoints' alarms (rolling back, and health); serverless have none.
        self.alarms: list[cloudwatch.Alarm] = []
        self.health_alarms: list[cloudwatch.Alarm] = []
        self.component: sagemaker.CfnInferenceComponent | None = None
        self.scale_out_alarm: cloudwatch.Alarm | None = None
        if isinstance(hosting, ScaleToZeroSettings):
            self._scale_to_zero(hosting, key_arn, vpc_config)
            return
        self.scaling: autoscaling.ScalableTarget | None = None
        if isinstance(hosting, RealtimeSettings):
            self._realtime(hosting, key_arn, capture_uri)
        else:
            self._serverless(hosting)
        self.realtime = realtime

    def _model(
        self,
        model_package_arn: str,
        container: PromotedContainer | None,
        vpc_config: VpcConfig | None,
        *,
        realtime: bool,
    ) -> sagemaker.CfnModel:
        """The model: the registered version's package, or a promoted copy (ADR 0011)."""
        return sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.role.role_arn,
            containers=[
                sagemaker.CfnModel.ContainerDefinitionProperty(model_package_name=model_package_arn)
                if container is None
                else sagemaker.CfnModel.ContainerDefinitionProperty(
                    image=container.image,
                    model_data_url=container.model_data_url,
                    environment=dict(container.environment),
                )
            ],
            # Which registered version this is (a promoted model names no model package).
            tags=[cdk.CfnTag(key="ModelPackageArn", value=model_package_arn)]
            if container is not None
            else None,
            # Serverless hosting supports no network isolation (nor VPC, nor data capture).
            enable_network_isolation=True if realtime else None,
            vpc_config=vpc_config.to(sagemaker.CfnModel.VpcConfigProperty) if vpc_config else None,
        )

    def _realtime(self, hosting: RealtimeSettings, key_arn: str, capture_uri: str) -> None:
        """Instances: the config (key, capture), the alarms, the endpoint deployed blue/green
        with rollback on them, and target-tracking scaling."""
        variant = sagemaker.CfnEndpointConfig.ProductionVariantProperty(
            variant_name=VARIANT,
            model_name=self.model.attr_model_name,
            instance_type=hosting.instance_type,
            initial_instance_count=hosting.min_instances,
            initial_variant_weight=1,
        )
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            production_variants=[variant],
            kms_key_id=key_arn,
            data_capture_config=_capture(hosting, capture_uri, key_arn),
        )
        # Alarms first: their names are part of the endpoint's rollback configuration.
        self.alarms = self._alarms(hosting)
        self.health_alarms = self._health_alarms(hosting)
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=self.endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            deployment_config=self._blue_green(hosting),
        )
        self.scaling = self._scalable_target(
            f"endpoint/{self.endpoint_name}/variant/{VARIANT}",
            "sagemaker:variant:DesiredInstanceCount",
            hosting.min_instances,
            hosting.max_instances,
        )
        self.scaling.node.add_dependency(self.endpoint)
        self.scaling.scale_to_track_metric(
            "Invocations",
            target_value=hosting.invocations_per_instance,
            predefined_metric=autoscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
            scale_in_cooldown=cdk.Duration.minutes(5),
            scale_out_cooldown=cdk.Duration.minutes(1),
        )

    def _blue_green(
        self, hosting: RealtimeSettings
    ) -> sagemaker.CfnEndpoint.DeploymentConfigProperty:
        """All at once, canary or linear, rolling back on the endpoint's alarms."""
        routing = sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
            type=hosting.traffic_routing,
            wait_interval_in_seconds=hosting.wait_minutes * 60,
            canary_size=sagemaker.CfnEndpoint.CapacitySizeProperty(
                type="CAPACITY_PERCENT", value=hosting.canary_percent
            )
            if hosting.traffic_routing == "CANARY"
            else None,
            linear_step_size=sagemaker.CfnEndpoint.CapacitySizeProperty(
                type="CAPACITY_PERCENT", value=hosting.canary_percent
            )
            if hosting.traffic_routing == "LINEAR"
            else None,
        )
        return sagemaker.CfnEndpoint.DeploymentConfigProperty(
            blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                traffic_routing_configuration=routing,
                termination_wait_in_seconds=hosting.wait_minutes * 60,
                maximum_execution_timeout_in_seconds=3600,
            ),
            auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
                alarms=[
                    sagemaker.CfnEndpoint.AlarmProperty(alarm_name=a.alarm_name)
                    for a in self.alarms
                ]
            ),
        )

    def _serverless(self, hosting: ServerlessSettings) -> None:
        """No instance while idle: the config and the endpoint, no alarm of their own."""
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT,
                    model_name=self.model.attr_model_name,
                    serverless_config=sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
                        memory_size_in_mb=hosting.memory_mb,
                        max_concurrency=hosting.max_concurrency,
                    ),
                )
            ],
        )
        serverless_reason = (
            "Serverless hosting, the idle-free option for non-production stages, supports "
            "no network isolation, VPC, data capture or customer key on the endpoint config; "
            "production stages use real-time hosting, which has all of them."
        )
        acknowledge(self.endpoint_config, "MLOps::MLOps-SM4", serverless_reason)
        acknowledge(self.model, "MLOps::MLOps-SM1", serverless_reason)
        acknowledge_rules(
            self.endpoint_config,
            (
                f"{pack}-SageMakerEndpointConfigurationKMSKeyConfigured"
                for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")
            ),
            serverless_reason,
        )
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=self.endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
        )

    def _scale_to_zero(
        self, hosting: ScaleToZeroSettings, key_arn: str, vpc_config: VpcConfig | None
    ) -> None:
        """The endpoint, its inference component, and their scaling (0 to N)."""
        self.endpoint_config = self._component_endpoint_config(hosting, key_arn, vpc_config)
        self.alarms = self._alarms(hosting)
        self.health_alarms = self._health_alarms(hosting)
        # The endpoint config never names the model, so a new version changes only the
        # component: no blue/green on the endpoint (its config is the same for every version).
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=self.endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
        )
        name = component_name(self.endpoint_name)
        self.component = self._inference_component(hosting, name)
        self._scale_copies(hosting, name)
        self.realtime = True

    def _component_endpoint_config(
        self, hosting: ScaleToZeroSettings, key_arn: str, vpc_config: VpcConfig | None
    ) -> sagemaker.CfnEndpointConfig:
        """The config of an endpoint of inference components: no model, managed instance
        scaling from 0 to ``max_instances``, network-isolated as ``role`` (in the VPC with
        ``vpc_config``), storage encrypted with ``key_arn``. No DataCaptureConfig: the SDK's
        own deployments of components send none, and whether SageMaker captures there cannot
        be checked offline; the front door captures instead (ADR 0033)."""
        return sagemaker.CfnEndpointConfig(
            self,
            "Config",
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT,
                    instance_type=hosting.instance_type,
                    # One instance to place the first copy on; managed instance scaling then
                    # follows the copies down to 0.
                    initial_instance_count=1,
                    managed_instance_scaling=sagemaker.CfnEndpointConfig.ManagedInstanceScalingProperty(
                        status="ENABLED",
                        min_instance_count=0,
                        max_instance_count=hosting.max_instances,
                    ),
                    routing_config=sagemaker.CfnEndpointConfig.RoutingConfigProperty(
                        routing_strategy="LEAST_OUTSTANDING_REQUESTS"
                    ),
                )
            ],
            # Endpoints of inference components name the role their copies run as here.
            execution_role_arn=self.role.role_arn,
            enable_network_isolation=True,
            vpc_config=vpc_config.to(sagemaker.CfnEndpointConfig.VpcConfigProperty)
            if vpc_config is not None
            else None,
            kms_key_id=key_arn,
        )

    def _inference_component(
        self, hosting: ScaleToZeroSettings, name: str
    ) -> sagemaker.CfnInferenceComponent:
        """The inference component ``name`` running the model on the endpoint: copies of
        ``copy_cpu_cores`` and ``copy_memory_mb``, starting at one copy, updated one copy at a
        time with rollback on the rolling-back alarms (which must exist already)."""
        return sagemaker.CfnInferenceComponent(
            self,
            "Component",
            inference_component_name=name,
            endpoint_name=self.endpoint.attr_endpoint_name,
            variant_name=VARIANT,
            specification=sagemaker.CfnInferenceComponent.InferenceComponentSpecificationProperty(
                model_name=self.model.attr_model_name,
                compute_resource_requirements=sagemaker.CfnInferenceComponent.InferenceComponentComputeResourceRequirementsProperty(
                    number_of_cpu_cores_required=hosting.copy_cpu_cores,
                    min_memory_required_in_mb=hosting.copy_memory_mb,
                ),
            ),
            # Each deployment starts with one copy (the staging test needs it); autoscaling
            # takes the copies to 0 when no request comes.
            runtime_config=sagemaker.CfnInferenceComponent.InferenceComponentRuntimeConfigProperty(
                copy_count=1
            ),
            deployment_config=self._rolling_update(hosting),
        )

    def _rolling_update(
        self, hosting: ScaleToZeroSettings
    ) -> sagemaker.CfnInferenceComponent.InferenceComponentDeploymentConfigProperty:
        """What replaces blue/green: a new version replaces the copies one at a time and
        rolls back on the 5xx and p99-latency alarms (``self.alarms``)."""
        return sagemaker.CfnInferenceComponent.InferenceComponentDeploymentConfigProperty(
            rolling_update_policy=sagemaker.CfnInferenceComponent.InferenceComponentRollingUpdatePolicyProperty(
                maximum_batch_size=sagemaker.CfnInferenceComponent.InferenceComponentCapacitySizeProperty(
                    type="COPY_COUNT", value=1
                ),
                wait_interval_in_seconds=hosting.wait_minutes * 60,
                maximum_execution_timeout_in_seconds=3600,
            ),
            auto_rollback_configuration=sagemaker.CfnInferenceComponent.AutoRollbackConfigurationProperty(
                alarms=[
                    sagemaker.CfnInferenceComponent.AlarmProperty(alarm_name=a.alarm_name)
                    for a in self.alarms
                ]
            ),
        )

    def _scale_copies(self, hosting: ScaleToZeroSettings, name: str) -> None:
        """Copies of the model follow invocations per copy down to 0; a request that finds no
        copy (the no-capacity alarm) starts one."""
        self.scaling = self._scalable_target(
            f"inference-component/{name}",
            "sagemaker:inference-component:DesiredCopyCount",
            0,
            hosting.max_copies,
        )
        self.scaling.node.add_dependency(self.component)
        # Copies follow invocations per copy, down to 0 when none come.
        self.scaling.scale_to_track_metric(
            "Invocations",
            target_value=hosting.invocations_per_instance,
            predefined_metric=autoscaling.PredefinedMetric.SAGEMAKER_INFERENCE_COMPONENT_INVOCATIONS_PER_COPY,
            scale_in_cooldown=cdk.Duration.minutes(15),
            scale_out_cooldown=cdk.Duration.minutes(1),
        )
        # With no copy there is nothing to track: a request that finds no capacity starts one.
        scale_out = autoscaling.StepScalingAction(
            self,
            "ScaleOutFromZero",
            scaling_target=self.scaling,
            adjustment_type=autoscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            metric_aggregation_type=autoscaling.MetricAggregationType.MAXIMUM,
            cooldown=cdk.Duration.minutes(1),
        )
        scale_out.add_adjustment(adjustment=1, lower_bound=0)
        self.scale_out_alarm = self._endpoint_alarm(
            "NoCapacity",
            AlarmKind.NO_CAPACITY,
            "a request found no copy of the model (scaled to zero). This alarm starts a copy "
            "and an instance by itself within minutes (callers retry meanwhile) and notifies "
            "nobody: waking up is not an incident",
            Runbook.ENDPOINT_NO_CAPACITY,
            self._metric("NoCapacityInvocationFailures", "Maximum"),
            1,
            periods=1,
            datapoints=1,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        )
        self.scale_out_alarm.add_alarm_action(cw_actions.ApplicationScalingAction(scale_out))

    def _scalable_target(
        self, resource_id: str, dimension: str, minimum: int, maximum: int
    ) -> autoscaling.ScalableTarget:
        """``Scaling``: Application Auto Scaling of ``resource_id`` with the service-linked role
        it creates for SageMaker (no IAM resource in the template: the deploy role creates
        none)."""
        here = arns(self)
        return autoscaling.ScalableTarget(
            self,
            "Scaling",
            role=iam.Role.from_role_arn(
                self,
                "ScalingRole",
                f"arn:{here.partition}:iam::{here.account}:role/aws-service-role/"
                "sagemaker.application-autoscaling.amazonaws.com/"
                "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
                mutable=False,
            ),
            service_namespace=autoscaling.ServiceNamespace.SAGEMAKER,
            resource_id=resource_id,
            scalable_dimension=dimension,
            min_capacity=minimum,
            max_capacity=maximum,
        )

    def _metric(self, name: str, statistic: str) -> cloudwatch.Metric:
        # An inference component's invocation metrics carry its name instead.
        dimensions = (
            {"InferenceComponentName": component_name(self.endpoint_name)}
            if self._component
            else {"EndpointName": self.endpoint_name, "VariantName": VARIANT}
        )
        return cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name=name,
            dimensions_map=dimensions,
            statistic=statistic,
            period=cdk.Duration.minutes(1),
        )

    def _alarms(self, hosting: RealtimeSettings) -> list[cloudwatch.Alarm]:
        """The alarms a blue/green deployment rolls back on: 5xx errors, p99 latency."""
        errors = self._endpoint_alarm(
            "Errors5xx",
            AlarmKind.ERRORS_5XX,
            "the endpoint answered with 5xx errors (the model or its container failed) in 2 "
            "consecutive minutes. During a blue/green deployment it rolls the endpoint back to "
            "the previous fleet",
            Runbook.ENDPOINT_5XX,
            self._metric("Invocation5XXErrors", "Sum"),
            0,
            periods=2,
            datapoints=2,
        )
        latency = self._endpoint_alarm(
            "LatencyP99",
            AlarmKind.LATENCY_P99,
            f"p99 model latency above {hosting.latency_p99_ms} ms in 2 of 3 minutes. During a "
            "blue/green deployment it rolls the endpoint back to the previous fleet",
            Runbook.ENDPOINT_LATENCY,
            # ModelLatency is reported in microseconds.
            self._metric("ModelLatency", "p99"),
            hosting.latency_p99_ms * 1000,
            periods=3,
            datapoints=2,
        )
        for alarm in (errors, latency):
            if self._alarm_topic is not None:
                alarm.add_alarm_action(cw_actions.SnsAction(self._alarm_topic))
        return [errors, latency]

    def _health_alarms(self, hosting: RealtimeSettings) -> list[cloudwatch.Alarm]:
        """Client errors and instance saturation: notify, never roll back."""
        specs = self._health_specs(hosting)
        if self._component:
            # Inference components report no disk use (CPU and memory are per copy).
            specs = [spec for spec in specs if spec[0] != "Disk"]
        return [self._health_alarm(*spec) for spec in specs]

    def _health_specs(self, hosting: RealtimeSettings) -> list[_HealthSpec]:
        """What each health alarm watches: its id, kind, metric, threshold, what it means and
        its runbook."""
        window = "in 3 of 5 minutes; notification only, nothing rolls back"
        scaling = (
            f"autoscaling follows invocations, between {hosting.min_instances} and "
            f"{hosting.max_instances} instances"
        )
        specs: list[_HealthSpec] = [
            (
                "Errors4xx",
                AlarmKind.ERRORS_4XX,
                self._metric("Invocation4XXErrors", "Sum"),
                0,
                f"requests were rejected with 4xx errors {window}. Callers send requests the "
                "model refuses (columns, format or content type)",
                Runbook.ENDPOINT_4XX,
            ),
            (
                "Cpu",
                AlarmKind.CPU,
                self._instance_metric("CPUUtilization"),
                hosting.cpu_percent
                if self._component
                else hosting.cpu_percent * vcpus(hosting.instance_type),
                f"CPU above {hosting.cpu_percent}% of the instances' vCPUs {window}. The "
                f"instances are saturated; {scaling}",
                Runbook.ENDPOINT_CPU,
            ),
            (
                "Memory",
                AlarmKind.MEMORY,
                self._instance_metric("MemoryUtilization"),
                hosting.memory_percent,
                f"memory above {hosting.memory_percent}% {window}. The model may run out of "
                f"memory and fail requests; {scaling}",
                Runbook.ENDPOINT_MEMORY,
            ),
            (
                "Disk",
                AlarmKind.DISK,
                self._instance_metric("DiskUtilization"),
                hosting.disk_percent,
                f"disk above {hosting.disk_percent}% {window}. A full disk fails the model's "
                "container",
                Runbook.ENDPOINT_DISK,
            ),
        ]
        return specs

    def _health_alarm(
        self,
        id_: str,
        kind: AlarmKind,
        metric: cloudwatch.Metric,
        threshold: float,
        what: str,
        runbook: Runbook,
    ) -> cloudwatch.Alarm:
        """A health alarm: breaching in 3 of 5 minutes, notifying the alarm topic if any."""
        alarm = self._endpoint_alarm(
            id_, kind, what, runbook, metric, threshold, periods=5, datapoints=3
        )
        if self._alarm_topic is not None:
            alarm.add_alarm_action(cw_actions.SnsAction(self._alarm_topic))
        return alarm

    def _endpoint_alarm(
        self,
        id_: str,
        kind: AlarmKind,
        what: str,
        runbook: Runbook,
        metric: cloudwatch.Metric,
        threshold: float,
        *,
        periods: int,
        datapoints: int,
        comparison: cloudwatch.ComparisonOperator = (
            cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
        ),
    ) -> cloudwatch.Alarm:
        """An alarm on the endpoint, named ``<endpoint>-<kind>`` and described as ``what`` with
        its runbook: ``datapoints`` of ``periods`` minutes beyond ``threshold`` (missing data is
        not breaching). The caller adds its actions."""
        return cloudwatch.Alarm(
            self,
            id_,
            alarm_name=alarm_name(self.endpoint_name, kind),
            alarm_description=alarm_description(f"{self.endpoint_name}: {what}", runbook),
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=periods,
            datapoints_to_alarm=datapoints,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _instance_metric(self, name: str) -> cloudwatch.Metric:
        if self._component:
            # An inference component's copies: percent of what the copies reserve.
            return cloudwatch.Metric(
                namespace="/aws/sagemaker/InferenceComponents",
                metric_name=f"{name}Normalized",
                dimensions_map={"InferenceComponentName": component_name(self.endpoint_name)},
                statistic="Average",
                period=cdk.Duration.minutes(1),
            )
        return cloudwatch.Metric(
            namespace="/aws/sagemaker/Endpoints",
            metric_name=name,
            dimensions_map={"EndpointName": self.endpoint_name, "VariantName": VARIANT},
            statistic="Average",
            period=cdk.Duration.minutes(1),
        )

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        here = arns(self)
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:InvokeEndpoint"],
            resource_arns=[f"{here.prefix('sagemaker')}:endpoint/{self.endpoint_name}"],
        )
