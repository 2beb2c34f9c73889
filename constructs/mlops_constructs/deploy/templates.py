"""The endpoint templates the deploy pipeline's CloudFormation actions deploy.

They are synthesized by a second, in-process CDK app: every value known only per deployment
(the approved model package) or owned by another stack (role, key, topic, subnets) is a
CloudFormation parameter, so one template serves every model version and deploying the same
version twice is a no-op. The templates contain no IAM and no assets: the deploy role stays
small and the pipeline needs nothing but the template file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sns as sns

from mlops_constructs import memo
from mlops_constructs.deploy.endpoint import (
    ModelEndpoint,
    PromotedContainer,
    RealtimeSettings,
    ServerlessSettings,
    config_captures,
)
from mlops_constructs.monitor.monitors import ModelMonitors, MonitorImages, MonitorInputs
from mlops_constructs.monitor.settings import BASELINE_PARAMETERS, NONE, MonitorSettings
from mlops_constructs.names import (
    BATCH,
    endpoint_role_name,
    monitor_role_name,
    stack_name,
    template_file,
)
from mlops_constructs.network.placement import VpcConfig
from mlops_constructs.scratch import scratch_dir
from mlops_constructs.security.nag import apply_acknowledgements

VPC_PARAMETERS = ("SubnetIds", "SecurityGroupId")


@dataclass(frozen=True, kw_only=True)
class PromotedModel:
    """A delivered platform's serving templates run the promoted artifact (parameter
    ``ModelDataUrl``) in the project's serving image with its environment (ADR 0011)."""

    image: str
    environment: Mapping[str, str]


def template_parameters(
    hosting: RealtimeSettings | ServerlessSettings | None,
    vpc: bool,
    monitor: MonitorSettings | None = None,
    *,
    promoted: bool = False,
) -> list[str]:
    """The parameters of a template (CloudFormation rejects overrides of any other, and
    cfn-lint unused ones). ``hosting`` None is the batch monitors' template; ``promoted``:
    the endpoint runs the promoted artifact ``ModelDataUrl``."""
    model = (
        ["ModelPackageArn", "ModelDataUrl"]
        if promoted and hosting is not None
        else ["ModelPackageArn"]
    )
    if isinstance(hosting, ServerlessSettings):
        return [*model, "ExecutionRoleArn"]  # no capture, key, alarms, monitors, VPC
    # Batch monitors read their jobs' capture; an endpoint of components captures nothing.
    captures = hosting is None or config_captures(hosting)
    names = [*model, "DataKeyArn", *(["CaptureUri"] if captures else []), "AlarmTopicArn"]
    if hosting is not None:
        names.insert(len(model), "ExecutionRoleArn")
    if monitor is not None:
        names += monitor.parameters(batch=hosting is None)
    elif hosting is None:
        raise ValueError("the batch monitors' template needs monitor settings")
    return names + list(VPC_PARAMETERS) if vpc else names


# Parameters whose values follow from names alone (roles, topic, S3 locations): the templates
# carry them as defaults, so the pipeline's CloudFormation actions override only what changes per
# deployment or cannot be named (the version, its baselines, the key, subnets). CodePipeline keeps
# an action's ParameterOverrides to 1,000 characters.
NAMED_PARAMETERS = (
    "ExecutionRoleArn",
    "CaptureUri",
    "AlarmTopicArn",
    "MonitorRoleArn",
    "MonitorOutputUri",
    "GroundTruthUri",
)
OVERRIDES_MAX = 1000


def template_defaults(
    *,
    partition: str,
    account: str,
    region: str,
    prefix: str,
    alarm_topic_name: str,
    stages: Sequence[str],
    monitored: Sequence[str],
    artifacts_bucket: str,
    curated_bucket: str,
    ground_truth_prefix: str,
    batch_capture_prefix: str | None,
) -> dict[str, dict[str, str]]:
    """The values of :data:`NAMED_PARAMETERS` per template (stage, or ``batch``).

    They follow the platform's naming: roles ``<prefix>-<stage>-endpoint`` and
    ``<prefix>-<target>-monitor``, the alarms topic ``alarm_topic_name`` (the environment's),
    ``data-capture/<stage>/`` and
    ``monitoring/<target>/`` in the artifacts bucket, ``<ground truth prefix><target>/`` in the
    curated bucket. Tests check them against the resources the deploy stack creates.
    """
    role = f"arn:{partition}:iam::{account}:role/"
    out: dict[str, dict[str, str]] = {}
    for target in [*stages, *monitored]:
        values = out.setdefault(target, {})
        values["AlarmTopicArn"] = f"arn:{partition}:sns:{region}:{account}:{alarm_topic_name}"
        if target == BATCH:
            if batch_capture_prefix is None:
                raise ValueError("batch monitors need the batch capture prefix")
            values["CaptureUri"] = f"s3://{artifacts_bucket}/{batch_capture_prefix}"
        else:
            values["ExecutionRoleArn"] = role + endpoint_role_name(prefix, target)
            values["CaptureUri"] = f"s3://{artifacts_bucket}/data-capture/{target}/"
        if target in monitored:
            values["MonitorRoleArn"] = role + monitor_role_name(prefix, target)
            values["MonitorOutputUri"] = f"s3://{artifacts_bucket}/monitoring/{target}/"
            values["GroundTruthUri"] = f"s3://{curated_bucket}/{ground_truth_prefix}{target}/"
    return out


def overrides_length(overrides: Mapping[str, str], unresolved: Mapping[str, int]) -> int:
    """The most characters ``overrides`` can take as the action's JSON, with each unresolved
    value counted at ``unresolved[name]`` (its longest form)."""
    sized = {
        name: "x" * unresolved[name] if cdk.Token.is_unresolved(value) else value
        for name, value in overrides.items()
    }
    return len(json.dumps(sized, separators=(",", ":")))


def synthesize_endpoint_templates(
    *,
    prefix: str,
    stages: Mapping[str, RealtimeSettings | ServerlessSettings],
    context: Mapping[str, Any],
    vpc_az_count: int = 0,
    rule_packs: Any = None,
    rule_packs_id: str | None = None,
    monitor: MonitorSettings | None = None,
    images: MonitorImages | None = None,
    batch_monitor: bool = False,
    defaults: Mapping[str, Mapping[str, str]] | None = None,
    promoted: PromotedModel | None = None,
    deploys_to: tuple[str, str] | None = None,
) -> Path:
    """Synthesize one endpoint template per stage into a new folder and return the folder.

    With ``monitor`` (and the region's ``images``), real-time stages also get Model Monitor
    schedules and drift alarms, and ``batch_monitor`` adds the template of batch scoring's
    monitors (``<prefix>-monitor-batch``). ``rule_packs`` (a callable taking the app) registers
    the platform's rule packs on the template app: a finding fails the synthesis like any in
    the main app. ``defaults`` (see :func:`template_defaults`) become parameter defaults.
    ``deploys_to`` (account, region) is written into each template's ``Metadata`` as
    ``DeploysTo``: where a pipeline deploys it, which its asset's destination may not say (a
    release pipeline in another account ships it; ``make cost`` reads it).

    The templates are memoized (:mod:`mlops_constructs.memo`, kind ``endpoint-templates``),
    keyed by every argument, this package's code and the CDK libraries' versions: an unchanged
    project's synth builds no template app. Rule packs are a callable, so they are keyed by
    ``rule_packs_id``, which must name what they check (which packs, which options); without
    it, ``rule_packs`` are run on every call and nothing is memoized.
    """
    _check_monitoring(monitor, images, batch_monitor=batch_monitor)
    inputs: dict[str, Any] = {
        "prefix": prefix,
        "context": dict(context),
        "vpc_az_count": vpc_az_count,
        "monitor": monitor,
        "images": images,
        "defaults": defaults or {},
        "promoted": promoted,
        "deploys_to": deploys_to,
    }
    targets = _targets(stages, batch_monitor=batch_monitor)
    files = _memoized_templates(targets, inputs, rule_packs, rule_packs_id)
    folder = scratch_dir("endpoint-templates-") / "templates"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def _memoized_templates(
    targets: Mapping[str, RealtimeSettings | ServerlessSettings | None],
    inputs: dict[str, Any],
    rule_packs: Any,
    rule_packs_id: str | None,
) -> dict[str, str]:
    """:func:`_template_files`, from the memo where the rule packs are named (see
    :func:`synthesize_endpoint_templates`)."""

    def build() -> str:
        return json.dumps(_template_files(targets, rule_packs=rule_packs, **inputs), sort_keys=True)

    if rule_packs is not None and rule_packs_id is None:
        return _template_files(targets, rule_packs=rule_packs, **inputs)
    key = {
        **inputs,
        "targets": targets,
        "rule_packs": rule_packs_id,
        "libraries": memo.library_versions(),
    }
    files: dict[str, str] = json.loads(memo.memoized("endpoint-templates", key, build))
    return files


def _template_files(
    targets: Mapping[str, RealtimeSettings | ServerlessSettings | None],
    *,
    rule_packs: Any,
    prefix: str,
    context: Mapping[str, Any],
    defaults: Mapping[str, Mapping[str, str]],
    **stack_inputs: Any,
) -> dict[str, str]:
    """The endpoint templates of ``targets`` (file name -> JSON text), synthesized by a new
    template app with ``rule_packs`` registered on it."""
    app = cdk.App(outdir=str(scratch_dir("endpoint-templates-app-")), context=dict(context))
    for stage, hosting in targets.items():
        _endpoint_stack(
            app,
            prefix=prefix,
            stage=stage,
            hosting=hosting,
            defaults=defaults.get(stage, {}),
            **stack_inputs,
        )
    if rule_packs is not None:
        rule_packs(app)
    apply_acknowledgements()  # see security/nag.py: here, not while aws-cdk-lib validates
    assembly = app.synth()
    return {
        template_file(prefix, stage): (
            Path(assembly.directory)
            / assembly.get_stack_by_name(stack_name(prefix, stage)).template_file
        ).read_text()
        for stage in targets
    }


def _check_monitoring(
    monitor: MonitorSettings | None, images: MonitorImages | None, *, batch_monitor: bool
) -> None:
    """Checks that monitoring has both its settings and the region's images, and that batch
    scoring's monitors have their settings."""
    if (monitor is None) != (images is None):
        raise ValueError("monitoring needs both its settings and the region's images")
    if batch_monitor and monitor is None:
        raise ValueError("batch monitoring needs monitor settings")


def _targets(
    stages: Mapping[str, RealtimeSettings | ServerlessSettings], *, batch_monitor: bool
) -> dict[str, RealtimeSettings | ServerlessSettings | None]:
    """The templates to build: each stage with its hosting, then batch scoring's monitors
    (hosting None) where ``batch_monitor``."""
    targets: dict[str, RealtimeSettings | ServerlessSettings | None] = dict(stages)
    if batch_monitor:
        targets[BATCH] = None
    return targets


def _endpoint_stack(
    app: cdk.App,
    *,
    prefix: str,
    stage: str,
    hosting: RealtimeSettings | ServerlessSettings | None,
    vpc_az_count: int,
    monitor: MonitorSettings | None,
    images: MonitorImages | None,
    defaults: Mapping[str, str],
    promoted: PromotedModel | None,
    deploys_to: tuple[str, str] | None,
) -> None:
    """One stage's template: its parameters, the endpoint (none for batch scoring's monitors:
    ``hosting`` None) and, where monitored, its Model Monitor schedules and alarms."""
    stack = _template_stack(app, prefix=prefix, stage=stage, hosting=hosting, deploys_to=deploys_to)
    monitored = monitor is not None and not isinstance(hosting, ServerlessSettings)
    values, vpc_config = _template_inputs(
        stack,
        hosting=hosting,
        vpc_az_count=vpc_az_count,
        monitor=monitor if monitored else None,
        promoted=promoted is not None,
        defaults=defaults,
    )
    topic = _alarm_topic(stack, values)
    endpoint = None
    if hosting is not None:
        endpoint = _template_endpoint(
            stack,
            prefix=prefix,
            stage=stage,
            hosting=hosting,
            values=values,
            topic=topic,
            vpc_config=vpc_config,
            promoted=promoted,
        )
    if monitor is not None and images is not None and monitored:
        assert topic is not None
        _template_monitors(
            stack,
            target_name=f"{prefix}-{stage}",
            settings=monitor,
            images=images,
            values=values,
            vpc_config=vpc_config,
            topic=topic,
            endpoint=endpoint,
            batch=hosting is None,
        )


def _template_stack(
    app: cdk.App,
    *,
    prefix: str,
    stage: str,
    hosting: RealtimeSettings | ServerlessSettings | None,
    deploys_to: tuple[str, str] | None,
) -> cdk.Stack:
    """The stage's stack (:func:`stack_name`; bootstrapless: its template is a file the
    pipeline deploys), described as batch scoring's monitors when ``hosting`` is None, with
    ``DeploysTo`` metadata when ``deploys_to`` is given."""
    stack = cdk.Stack(
        app,
        stack_name(prefix, stage),
        synthesizer=cdk.BootstraplessSynthesizer(),
        description=f"{prefix}: Model Monitor of batch scoring (deploy pipeline)"
        if hosting is None
        else f"{prefix}: the {stage} endpoint of the approved model (deploy pipeline)",
    )
    if deploys_to is not None:
        account, region = deploys_to
        stack.template_options.metadata = {"DeploysTo": {"Account": account, "Region": region}}
    return stack


def _template_inputs(
    stack: cdk.Stack,
    *,
    hosting: RealtimeSettings | ServerlessSettings | None,
    vpc_az_count: int,
    monitor: MonitorSettings | None,
    promoted: bool,
    defaults: Mapping[str, str],
) -> tuple[dict[str, str], VpcConfig | None]:
    """Creates the template's parameters (see :func:`template_parameters`; ``monitor`` None:
    unmonitored) and returns their values by name (but ``SubnetIds``) and, with a VPC, the
    placement in one subnet per availability zone."""
    p = _parameters(
        stack,
        template_parameters(hosting, bool(vpc_az_count), monitor, promoted=promoted),
        defaults,
    )
    # Serverless templates have no key, capture or alarm parameters; nothing reads them.
    values = {name: param.value_as_string for name, param in p.items() if name != "SubnetIds"}
    vpc_config = None
    if "SubnetIds" in p:
        subnet_ids = [cdk.Fn.select(i, p["SubnetIds"].value_as_list) for i in range(vpc_az_count)]
        vpc_config = VpcConfig.of(subnet_ids, values["SecurityGroupId"])
    return values, vpc_config


def _alarm_topic(stack: cdk.Stack, values: Mapping[str, str]) -> sns.ITopic | None:
    """The alarms topic the parameter ``AlarmTopicArn`` names (imported as ``AlarmTopic``);
    None for a template without it (serverless hosting)."""
    return (
        sns.Topic.from_topic_arn(stack, "AlarmTopic", values["AlarmTopicArn"])
        if "AlarmTopicArn" in values
        else None
    )


def _template_endpoint(
    stack: cdk.Stack,
    *,
    prefix: str,
    stage: str,
    hosting: RealtimeSettings | ServerlessSettings,
    values: Mapping[str, str],
    topic: sns.ITopic | None,
    vpc_config: VpcConfig | None,
    promoted: PromotedModel | None,
) -> ModelEndpoint:
    """The stage's endpoint (id ``Endpoint``) on the parameters' values, running the model
    package, or the promoted artifact in the serving image when ``promoted``."""
    return ModelEndpoint(
        stack,
        "Endpoint",
        prefix=prefix,
        stage=stage,
        model_package_arn=values["ModelPackageArn"],
        role=iam.Role.from_role_arn(stack, "Role", values["ExecutionRoleArn"], mutable=False),
        key_arn=values.get("DataKeyArn", ""),
        capture_uri=values.get("CaptureUri", ""),
        hosting=hosting,
        alarm_topic=topic,
        vpc_config=vpc_config,
        container=PromotedContainer(
            image=promoted.image,
            model_data_url=values["ModelDataUrl"],
            environment=promoted.environment,
        )
        if promoted is not None
        else None,
    )


def _template_monitors(
    stack: cdk.Stack,
    *,
    target_name: str,
    settings: MonitorSettings,
    images: MonitorImages,
    values: Mapping[str, str],
    vpc_config: VpcConfig | None,
    topic: sns.ITopic,
    endpoint: ModelEndpoint | None,
    batch: bool,
) -> None:
    """The target's Model Monitor schedules and alarms (id ``Monitors``) on the
    parameters' values: of ``endpoint``, or of batch scoring's capture when ``batch``."""
    ModelMonitors(
        stack,
        "Monitors",
        target_name=target_name,
        settings=settings,
        inputs=MonitorInputs(
            model_package_arn=values["ModelPackageArn"],
            role_arn=values["MonitorRoleArn"],
            key_arn=values["DataKeyArn"],
            output_uri=values["MonitorOutputUri"],
            ground_truth_uri=values.get("GroundTruthUri"),
            baselines={n: values[n] for n in BASELINE_PARAMETERS if n in values},
            vpc_config=vpc_config,
        ),
        images=images,
        alarm_topic=topic,
        endpoint=endpoint.endpoint if endpoint is not None else None,
        batch_capture_uri=values["CaptureUri"] if batch else None,
    )


_TYPES = {
    "SubnetIds": "List<AWS::EC2::Subnet::Id>",
    "SecurityGroupId": "AWS::EC2::SecurityGroup::Id",
}
_S3 = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.*$"


def _parameters(
    stack: cdk.Stack, names: list[str], defaults: Mapping[str, str]
) -> dict[str, cdk.CfnParameter]:
    params = {}
    for name in names:
        param = cdk.CfnParameter(stack, name, type=_TYPES.get(name, "String"), description=name)
        if name in defaults:
            param.default = defaults[name]
        if name == "ModelPackageArn":
            param.allowed_pattern = r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/.+$"
        elif name in BASELINE_PARAMETERS:
            # "none": the version carries no such baseline, and that monitor is not created.
            # No default: the pipeline always passes one, and CloudFormation's validation would
            # check the default against the S3 pattern of the branch "none" switches off.
            param.allowed_pattern = f"^({NONE}|s3://[a-z0-9][a-z0-9.-]{{1,61}}[a-z0-9]/.+)$"
        elif name == "ModelDataUrl":
            # The promoted copy in this environment's bucket (lambda/promote).
            param.allowed_pattern = (
                r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/sealed/[0-9a-f]{64}/.+$"
            )
        elif name in ("MonitorOutputUri", "GroundTruthUri", "CaptureUri"):
            param.allowed_pattern = _S3
        params[name] = param
    return params


def templates_source_stage(
    templates: s3_assets.Asset, output: codepipeline.Artifact
) -> codepipeline.StageProps:
    """A release pipeline's ``Source`` stage: the endpoint templates (a CDK asset), which never
    start the pipeline themselves (its router does)."""
    return codepipeline.StageProps(
        stage_name="Source",
        actions=[
            actions.S3SourceAction(
                action_name="Templates",
                bucket=templates.bucket,
                bucket_key=templates.s3_object_key,
                output=output,
                trigger=actions.S3Trigger.NONE,
            )
        ],
    )
