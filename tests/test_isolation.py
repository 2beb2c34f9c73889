"""Model projects are isolated from each other (ADR 0007), by offline IAM simulation.

Every role of project A is denied every read and write of project B's resources, for every
ordered pair of projects, and every platform flow of each project is still allowed. The requests
are evaluated by ``@cloud-copilot/iam-simulate`` over the SYNTHESIZED policies: each role's
identity policies and the bucket, key, model package group, topic and queue policies, with
their CloudFormation intrinsics resolved to the ARNs of the test account (``tests/iam_sim``).
The simulator is licensed AGPL-3.0-or-later: it is a test-only npm dev dependency pinned in
package.json, run as a separate node process over JSON, never part of the platform or its
assets.

The configuration is config/example.yaml's three projects in its first environment (the
``example_synth`` session fixture); the requests are evaluated in EVALUATION_PARTS parts, each
one question to the test process's simulator (the module fixture ``simulation``, when a test
first asks for one of the part's decisions). Case ids say who could do
what: ``demand roles cannot s3:GetObject churn curated objects`` checks every role of demand;
its failure names the role, the resource and the statement that allowed it.

Project B's resources are found in B's own stacks and endpoint templates by the ``KINDS`` below;
``test_every_project_resource_is_probed`` fails when a project gets a resource no kind covers.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Synthesized, example_config
from tests.iam_sim import (
    Decision,
    Inventory,
    Request,
    Resource,
    Role,
    Stack,
    endpoint_stacks,
    intrinsics_left,
    malformed,
    session_request,
    simulate,
    stacks_of_assembly,
)

ROOT = Path(__file__).resolve().parent.parent
CONFIG = example_config()
ENV = CONFIG.environments[0]  # the environment example_synth synthesizes
PREFIX = f"{CONFIG.platform_name}-{ENV.name}"
PROJECTS = tuple(p.name for p in CONFIG.projects)
# Projects on SageMaker Model Monitor, and on the platform's open monitoring.
MONITORED = frozenset(
    p.name for p in CONFIG.projects if p.monitor.enabled and p.monitor.service == "model_monitor"
)
OPEN_MONITORED = frozenset(
    p.name for p in CONFIG.projects if p.monitor.enabled and p.monitor.service == "open"
)
# Projects that import models trained elsewhere (ADR 0021).
IMPORTING = frozenset(p.name for p in CONFIG.projects if p.build.model_import.enabled)
# Projects whose production is an inference component (ADR 0014), and those of them whose
# front door captures it (ADR 0033).
COMPONENTS = frozenset(
    p.name for p in CONFIG.projects if p.deploy.production.hosting == "scale_to_zero"
)
# Projects whose production runs on instances, whose endpoint config captures its traffic.
INSTANCE_PRODUCTION = frozenset(
    p.name for p in CONFIG.projects if p.deploy.production.hosting == "realtime"
)
FRONT_DOOR_CAPTURED = frozenset(
    p for p in COMPONENTS if CONFIG.project(p).deploy.front_door.enabled
)
SESSION = "isolation-test"

# A request's target: the resource ARN it names, the CloudFormation resource it belongs to (whose
# resource policy applies) and request context the target implies.
Context = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Target:
    arn: str
    resource: Resource | None
    context: Context = ()


# How a kind's resource is requested: the targets one resource makes, given the roles by ARN.
Targets = Callable[[Resource, dict[str, Role]], list[Target]]


def same(resource: Resource, roles: dict[str, Role]) -> list[Target]:
    return [Target(resource.arn, resource)]


def path(suffix: str) -> Targets:
    """A path under the resource's ARN (an object of a bucket)."""
    return lambda resource, roles: [Target(resource.arn + suffix, resource)]


def model_version(resource: Resource, roles: dict[str, Role]) -> list[Target]:
    arn = resource.arn.replace(":model-package-group/", ":model-package/")
    return [Target(f"{arn}/1", resource)]


def pipeline_execution(resource: Resource, roles: dict[str, Role]) -> list[Target]:
    return [Target(f"{resource.arn}/execution/0a1b2c3d4e5f", resource)]


def run_records(kind: str) -> Targets:
    """SageMaker Experiments entities of a standard pipeline's runs (ADR 0023), by name: the
    experiment named after the pipeline, an execution's trial ``<pipeline>-<id>`` and the Track
    step's record ``<prefix>-<id>``. They are in no template (SageMaker and the function
    create them at run time)."""

    def targets(resource: Resource, roles: dict[str, Role]) -> list[Target]:
        pipeline = resource.name
        prefix = pipeline.removesuffix("-training")
        arn = resource.arn.split(":pipeline/")[0]
        name = {
            "experiment": pipeline,
            "experiment-trial": f"{pipeline}-0a1b2c3d4e5f",
            "experiment-trial-component": f"{prefix}-0a1b2c3d4e5f",
        }[kind]
        return [Target(f"{arn}:{kind}/{name}", None)]

    return targets


def front_door_capture(resource: Resource, roles: dict[str, Role]) -> list[Target]:
    """An object the front door captures (ADR 0033): under the production endpoint's own
    prefix of the artifacts bucket ``<project prefix>-artifacts-<account>``."""
    endpoint = resource.name.split("-artifacts-")[0] + "-prod"
    key = f"data-capture/prod/{endpoint}/AllTraffic/2026/12/07/17/04-05-006-probe.jsonl"
    return [Target(f"{resource.arn}/{key}", resource)]


def api_method(resource: Resource, roles: dict[str, Role]) -> list[Target]:
    """The prediction API's one method (``POST /predictions`` of stage ``v1``)."""
    _, partition, _, region, _ = resource.arn.split(
        ":", 4
    )  # arn:...:apigateway:<r>::/restapis/<id>
    arn = f"arn:{partition}:execute-api:{region}:{ENV.account}:{resource.name}/v1/POST/predictions"
    return [Target(arn, None)]


def approvals(resource: Resource, roles: dict[str, Role]) -> list[Target]:
    """The manual approval actions of a CodePipeline pipeline."""
    return [
        Target(f"{resource.arn}/{stage['Name']}/{action['Name']}", resource)
        for stage in resource.properties["Stages"]
        for action in stage["Actions"]
        if action["ActionTypeId"]["Category"] == "Approval"
    ]


def endpoint_logs(resource: Resource, roles: dict[str, Role]) -> list[Target]:
    """The log stream of an endpoint's container logs (a log group SageMaker creates)."""
    _, partition, _, region, account, _ = resource.arn.split(":", 5)
    group = f"/aws/sagemaker/Endpoints/{resource.name}"
    stream = f"arn:{partition}:logs:{region}:{account}:log-group:{group}:log-stream:AllTraffic/i-0"
    return [Target(stream, None)]


def log_stream(resource: Resource, roles: dict[str, Role]) -> list[Target]:
    return [Target(f"{resource.arn}:log-stream:probe", resource)]


def passed_role(resource: Resource, roles: dict[str, Role]) -> list[Target]:
    """The role, passed to each service that may assume it (persona roles, which people
    assume, are passed to no service: requested without one)."""
    services = roles[resource.arn].trusted_services
    if not services:
        return [Target(resource.arn, resource)]
    return [Target(resource.arn, resource, (("iam:PassedToService", s),)) for s in services]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Kind:
    """Resources of a project: those of ``type`` in the project's ``stack`` (a suffix of
    ``<platform>-<env>-<project>-``, or "*" for every stack of the project) whose physical name
    matches ``name``; requested as ``target`` makes them."""

    label: str
    stack: str
    type: str
    actions: tuple[str, ...]
    name: str = ""
    target: Targets = same
    monitored_only: bool = False
    open_only: bool = False
    imports_only: bool = False
    components_only: bool = False

    def applies(self, project: str) -> bool:
        return (
            (not self.monitored_only or project in MONITORED)
            and (not self.open_only or project in OPEN_MONITORED)
            and (not self.imports_only or project in IMPORTING)
            and (not self.components_only or project in COMPONENTS)
        )


S3_OBJECT_READ_WRITE = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
S3_BUCKET = ("s3:ListBucket", "s3:PutBucketPolicy")
BUCKET = "AWS::S3::Bucket"
ENDPOINT = "AWS::SageMaker::Endpoint"
ENDPOINT_WRITES = ("sagemaker:UpdateEndpoint", "sagemaker:DeleteEndpoint")
ENDPOINT_USE = ("sagemaker:InvokeEndpoint", "sagemaker:DescribeEndpoint", *ENDPOINT_WRITES)
TOPIC = ("sns:Publish", "sns:Subscribe")
FUNCTION = ("lambda:InvokeFunction", "lambda:UpdateFunctionCode")
QUEUE = ("sqs:SendMessage", "sqs:ReceiveMessage")
PARAMETER = ("ssm:GetParameter", "ssm:PutParameter")

KINDS: tuple[Kind, ...] = (
    # The lake (<project>-data): buckets and registry.
    Kind("raw bucket", "data", BUCKET, S3_BUCKET, name="-raw-"),
    Kind("raw objects", "data", BUCKET, S3_OBJECT_READ_WRITE, "-raw-", path("/incoming/x.csv")),
    Kind("curated bucket", "data", BUCKET, S3_BUCKET, name="-curated-"),
    Kind(
        "curated objects",
        "data",
        BUCKET,
        S3_OBJECT_READ_WRITE,
        "-curated-",
        path("/ground-truth/prod/labels.csv"),
    ),
    Kind("artifacts bucket", "data", BUCKET, S3_BUCKET, name="-artifacts-"),
    Kind(
        "artifacts objects",
        "data",
        BUCKET,
        S3_OBJECT_READ_WRITE,
        "-artifacts-",
        path("/ci/source/ml-project.zip"),
    ),
    Kind("releases bucket", "data", BUCKET, S3_BUCKET, name="-releases-"),
    Kind(
        "release objects",
        "data",
        BUCKET,
        S3_OBJECT_READ_WRITE,
        "-releases-",
        path("/mlops-dev-churn-depl/Templates/abc.zip"),
    ),
    Kind(
        "staging capture objects",
        "data",
        BUCKET,
        ("s3:GetObject", "s3:PutObject"),
        "-artifacts-",
        path("/data-capture/staging/capture.jsonl"),
    ),
    Kind(
        "prod capture objects",
        "data",
        BUCKET,
        ("s3:GetObject", "s3:PutObject"),
        "-artifacts-",
        path("/data-capture/prod/capture.jsonl"),
    ),
    Kind(
        "prod monitoring objects",
        "data",
        BUCKET,
        ("s3:GetObject", "s3:PutObject"),
        "-artifacts-",
        path("/monitoring/prod/report.json"),
    ),
    Kind(
        "model package group",
        "data",
        "AWS::SageMaker::ModelPackageGroup",
        (
            "sagemaker:DescribeModelPackageGroup",
            "sagemaker:PutModelPackageGroupPolicy",
            "sagemaker:DeleteModelPackageGroup",
        ),
    ),
    Kind(
        "model versions",
        "data",
        "AWS::SageMaker::ModelPackageGroup",
        (
            "sagemaker:ListModelPackages",
            "sagemaker:DescribeModelPackage",
            "sagemaker:CreateModelPackage",
            "sagemaker:UpdateModelPackage",
            "sagemaker:DeleteModelPackage",
        ),
        target=model_version,
    ),
    # The catalog (<project>-catalog).
    Kind(
        "glue database",
        "catalog",
        "AWS::Glue::Database",
        ("glue:GetDatabase", "glue:UpdateDatabase", "glue:DeleteDatabase"),
    ),
    Kind(
        "curated table",
        "catalog",
        "AWS::Glue::Table",
        (
            "glue:GetTable",
            "glue:GetPartitions",
            "glue:UpdateTable",
            "glue:BatchCreatePartition",
            "glue:DeleteTable",
        ),
    ),
    Kind(
        "etl job",
        "catalog",
        "AWS::Glue::Job",
        ("glue:GetJob", "glue:StartJobRun", "glue:UpdateJob"),
    ),
    Kind(
        "raw crawler", "catalog", "AWS::Glue::Crawler", ("glue:StartCrawler", "glue:UpdateCrawler")
    ),
    Kind(
        "ingest workflow",
        "catalog",
        "AWS::Glue::Workflow",
        ("glue:NotifyEvent", "glue:StartWorkflowRun"),
    ),
    Kind(
        "ingest trigger",
        "catalog",
        "AWS::Glue::Trigger",
        ("glue:StartTrigger", "glue:UpdateTrigger"),
    ),
    Kind(
        "data-quality ruleset",
        "catalog",
        "AWS::Glue::DataQualityRuleset",
        (
            "glue:GetDataQualityRuleset",
            "glue:PublishDataQuality",
            "glue:UpdateDataQualityRuleset",
        ),
    ),
    Kind("data-events topic", "catalog", "AWS::SNS::Topic", TOPIC, name="-data-events$"),
    Kind("request bus", "catalog", "AWS::Events::EventBus", ("events:PutEvents",)),
    # Training (<project>-build).
    Kind(
        "training pipeline",
        "build",
        "AWS::SageMaker::Pipeline",
        (
            "sagemaker:DescribePipeline",
            "sagemaker:StartPipelineExecution",
            "sagemaker:UpdatePipeline",
            "sagemaker:DeletePipeline",
        ),
        name="-training$",
    ),
    Kind(
        "training pipeline executions",
        "build",
        "AWS::SageMaker::Pipeline",
        ("sagemaker:DescribePipelineExecution", "sagemaker:StopPipelineExecution"),
        name="-training$",
        target=pipeline_execution,
    ),
    # Bring your own model (ADR 0021): the import pipeline and what is uploaded for it.
    Kind(
        "import pipeline",
        "build",
        "AWS::SageMaker::Pipeline",
        ("sagemaker:StartPipelineExecution", "sagemaker:UpdatePipeline"),
        name="-import$",
        imports_only=True,
    ),
    Kind(
        "import objects",
        "data",
        BUCKET,
        ("s3:GetObject", "s3:PutObject"),
        "-artifacts-",
        path("/imports/m1/import.json"),
        imports_only=True,
    ),
    # Experiment tracking (ADR 0023): the runs' experiments, trials and Track records.
    Kind(
        "experiments",
        "build",
        "AWS::SageMaker::Pipeline",
        ("sagemaker:DescribeExperiment",),
        name="-training$",
        target=run_records("experiment"),
    ),
    Kind(
        "experiment trials",
        "build",
        "AWS::SageMaker::Pipeline",
        ("sagemaker:DescribeTrial", "sagemaker:AssociateTrialComponent"),
        name="-training$",
        target=run_records("experiment-trial"),
    ),
    Kind(
        "run records",
        "build",
        "AWS::SageMaker::Pipeline",
        (
            "sagemaker:DescribeTrialComponent",
            "sagemaker:CreateTrialComponent",
            "sagemaker:UpdateTrialComponent",
        ),
        name="-training$",
        target=run_records("experiment-trial-component"),
    ),
    Kind("code-version parameter", "build", "AWS::SSM::Parameter", PARAMETER),
    Kind(
        "training guard table",
        "build",
        "AWS::DynamoDB::GlobalTable",
        ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
    ),
    Kind("start-training dead letters", "build", "AWS::SQS::Queue", QUEUE),
    Kind("build functions", "build", "AWS::Lambda::Function", FUNCTION),
    Kind(
        "cicd pipeline",
        "build",
        "AWS::CodePipeline::Pipeline",
        ("codepipeline:StartPipelineExecution",),
    ),
    Kind("build project", "build", "AWS::CodeBuild::Project", ("codebuild:StartBuild",)),
    Kind("build-events topic", "build", "AWS::SNS::Topic", TOPIC, name="-build-events$"),
    # Releases (<project>-deploy and the endpoint templates it deploys).
    Kind(
        "deploy pipeline",
        "deploy",
        "AWS::CodePipeline::Pipeline",
        ("codepipeline:StartPipelineExecution",),
    ),
    Kind(
        "production approval",
        "deploy",
        "AWS::CodePipeline::Pipeline",
        ("codepipeline:PutApprovalResult",),
        target=approvals,
    ),
    Kind("last-started parameter", "deploy", "AWS::SSM::Parameter", PARAMETER),
    Kind(
        "monitoring pipeline",
        "deploy",
        "AWS::SageMaker::Pipeline",
        (
            "sagemaker:StartPipelineExecution",
            "sagemaker:UpdatePipeline",
            "sagemaker:DeletePipeline",
        ),
        open_only=True,
    ),
    Kind(
        "monitoring function",
        "deploy",
        "AWS::Lambda::Function",
        ("lambda:InvokeFunction",),
        name="-monitoring-run$",
        open_only=True,
    ),
    Kind(
        "monitoring schedules",
        "deploy",
        "AWS::Scheduler::Schedule",
        ("scheduler:UpdateSchedule", "scheduler:DeleteSchedule"),
        open_only=True,
    ),
    Kind("deploy dead letters", "deploy", "AWS::SQS::Queue", QUEUE),
    Kind("deploy functions", "deploy", "AWS::Lambda::Function", FUNCTION),
    Kind("deploy-events topic", "deploy", "AWS::SNS::Topic", TOPIC, name="-deploy-events$"),
    # The front door (on by default): its API, and what it captures (ADR 0033).
    Kind(
        "prediction API",
        "deploy",
        "AWS::ApiGateway::RestApi",
        ("apigateway:GET", "apigateway:PATCH", "apigateway:DELETE"),
    ),
    Kind(
        "prediction API method",
        "deploy",
        "AWS::ApiGateway::RestApi",
        ("execute-api:Invoke",),
        target=api_method,
    ),
    Kind(
        "front door capture objects",
        "data",
        BUCKET,
        ("s3:GetObject", "s3:PutObject"),
        "-artifacts-",
        front_door_capture,
    ),
    Kind(
        "prod inference component",
        "endpoint-prod",
        "AWS::SageMaker::InferenceComponent",
        (
            "sagemaker:DescribeInferenceComponent",
            "sagemaker:UpdateInferenceComponent",
            "sagemaker:UpdateInferenceComponentRuntimeConfig",
            "sagemaker:DeleteInferenceComponent",
        ),
        components_only=True,
    ),
    Kind("staging endpoint", "endpoint-staging", ENDPOINT, ENDPOINT_USE),
    Kind("prod endpoint", "endpoint-prod", ENDPOINT, ENDPOINT_USE),
    Kind(
        "endpoint logs",
        "*",
        ENDPOINT,
        ("logs:PutLogEvents", "logs:GetLogEvents"),
        target=endpoint_logs,
    ),
    Kind(
        "endpoint configs",
        "*",
        "AWS::SageMaker::EndpointConfig",
        ("sagemaker:DescribeEndpointConfig", "sagemaker:DeleteEndpointConfig"),
    ),
    Kind(
        "endpoint models",
        "*",
        "AWS::SageMaker::Model",
        (
            "sagemaker:DescribeModel",
            "sagemaker:AddTags",
            "sagemaker:CreateModel",
            "sagemaker:DeleteModel",
        ),
    ),
    Kind(
        "prod endpoint scaling",
        "endpoint-prod",
        "AWS::ApplicationAutoScaling::ScalableTarget",
        (
            "application-autoscaling:RegisterScalableTarget",
            "application-autoscaling:PutScalingPolicy",
            "application-autoscaling:DeregisterScalableTarget",
        ),
    ),
    Kind(
        "prod monitoring schedules",
        "endpoint-prod",
        "AWS::SageMaker::MonitoringSchedule",
        (
            "sagemaker:DescribeMonitoringSchedule",
            "sagemaker:StopMonitoringSchedule",
            "sagemaker:DeleteMonitoringSchedule",
        ),
        monitored_only=True,
    ),
    # Everywhere in the project.
    Kind("roles", "*", "AWS::IAM::Role", ("iam:PassRole",), target=passed_role),
    Kind(
        "alarms",
        "*",
        "AWS::CloudWatch::Alarm",
        ("cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"),
    ),
    Kind(
        "log groups",
        "*",
        "AWS::Logs::LogGroup",
        ("logs:PutLogEvents", "logs:GetLogEvents"),
        target=log_stream,
    ),
    Kind("event rules", "*", "AWS::Events::Rule", ("events:DisableRule", "events:PutTargets")),
)

# Resources a project's stacks create that no kind requests directly, and why.
NOT_PROBED = {
    "AWS::IAM::Policy": "a role's policy: simulated as that role's identity policy",
    "AWS::S3::BucketPolicy": "simulated as the bucket's resource policy",
    "AWS::SNS::TopicPolicy": "simulated as the topic's resource policy",
    "AWS::SNS::Subscription": "a configured person's e-mail or https endpoint on a topic; who "
    "may publish or subscribe is the topic's, requested as the topic",
    "AWS::SQS::QueuePolicy": "simulated as the queue's resource policy",
    "AWS::Lambda::Permission": "admits AWS services only (the inventory checks)",
    "AWS::Lambda::LayerVersion": "the platform's shared Lambda code; no project data",
    "AWS::Glue::SecurityConfiguration": "names the key Glue encrypts with; no project data",
    "AWS::ApplicationAutoScaling::ScalingPolicy": "requested as its scalable target",
    "AWS::SageMaker::DataQualityJobDefinition": "named per model version by a deploy-time "
    "parameter; requested as its monitoring schedule",
    "AWS::SageMaker::ModelQualityJobDefinition": "as above",
    "AWS::SageMaker::ModelBiasJobDefinition": "as above",
    "AWS::SageMaker::ModelExplainabilityJobDefinition": "as above",
    "AWS::CDK::Metadata": "not a resource",
    "AWS::Logs::MetricFilter": "counts lines of a function's log: requested as the log group",
    "AWS::ApiGateway::Deployment": "part of the prediction API: requested as the API",
    "AWS::ApiGateway::Stage": "part of the prediction API: requested as the API and its method",
    "AWS::ApiGateway::Resource": "part of the prediction API: requested as its method",
    "AWS::ApiGateway::Method": "requested as the prediction API method (execute-api:Invoke)",
    "AWS::ApiGateway::RequestValidator": "part of the prediction API: requested as the API",
}


@dataclass(frozen=True)
class Undecided:
    """A known cross-project grant that is a decision for the platform's owners, not a bug to
    fix here: a case whose every allowed request is granted only by these statements (of
    these roles, for these actions on this kind) is an expected failure with ``reason``; any
    other grant still fails."""

    reason: str
    kind: str
    actions: frozenset[str]
    roles: frozenset[str]  # role names without <prefix>-<project>-
    statement: Callable[[dict[str, Any]], bool]


UNDECIDED = (
    Undecided(
        "ADR 0007 (Consequences) accepts it: SageMaker job ARNs are named by Pipelines per "
        "execution (pipelines-<id>-...), so a project's pipeline role's job permissions "
        "(Sid PipelineJobs: processing-job/*, training-job/*) are not project-scoped yet; left "
        "to the governance issue",
        kind="pipeline jobs",
        actions=frozenset(
            {
                "sagemaker:DescribeTrainingJob",
                "sagemaker:StopTrainingJob",
                "sagemaker:DescribeProcessingJob",
                "sagemaker:StopProcessingJob",
            }
        ),
        roles=frozenset({"sagemaker-pipeline", "monitoring-pipeline"}),
        statement=lambda s: s.get("Sid") in ("PipelineJobs", "MonitoringJobs"),
    ),
    Undecided(
        "ACCEPTED in ADR 0007 (Consequences): sagemaker:ListModelPackages is granted on "
        "Resource '*' to the pipeline, deploy, monitoring and persona roles, so "
        "every project can list every project's model versions (ARNs, status, approval, "
        "descriptions; not their artifacts, metrics files or lineage). Whether a list call can "
        "be limited to model-package/<project group>/* is to be tried in a real account "
        "(governance issue 13)",
        kind="model versions",
        actions=frozenset({"sagemaker:ListModelPackages"}),
        roles=frozenset(
            {
                "sagemaker-pipeline",
                "deploy-cfn",
                "deploy-router",
                "endpoint-test",
                "monitoring-run",
                "champion",
                "model-card",
                "release-check",
                "approver",
                "data-scientist",
                "operator",
            }
        ),
        statement=lambda s: s.get("Resource") == "*",
    ),
    Undecided(
        "ACCEPTED in ADR 0009 (Consequences; the governance issue left it): the deploy-cfn "
        "role's Sid Autoscaling "
        "grants Register/DeregisterScalableTarget and PutScalingPolicy on scalable-target/* "
        "(scalable target ids are random, not named after the endpoint), so one project's "
        "deploy role could change another project's production endpoint scaling. The role is "
        "assumable by CloudFormation only and passed only by its own deploy pipeline; tag "
        "conditions on scalable targets cannot be verified offline",
        kind="prod endpoint scaling",
        actions=frozenset(
            {
                "application-autoscaling:RegisterScalableTarget",
                "application-autoscaling:PutScalingPolicy",
                "application-autoscaling:DeregisterScalableTarget",
            }
        ),
        roles=frozenset({"deploy-cfn"}),
        statement=lambda s: s.get("Sid") == "Autoscaling",
    ),
    Undecided(
        "ACCEPTED in ADR 0009 (Consequences; the governance issue left it): with Clarify "
        "baselines on (a closed-service option, off by default), the pipeline "
        "role's Sid ShadowModel grants CreateModel, DescribeModel and AddTags on model/* "
        "(Pipelines names the model after the execution), so that project's pipeline could "
        "describe and tag other projects' endpoint models: the same class as the job ARNs",
        kind="endpoint models",
        actions=frozenset(
            {"sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:AddTags"}
        ),
        roles=frozenset({"sagemaker-pipeline"}),
        statement=lambda s: s.get("Sid") == "ShadowModel",
    ),
)

# Jobs of another project's pipeline executions: named by Pipelines, not in any template.
JOB_ACTIONS = {
    "training jobs": ("sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob"),
    "processing jobs": ("sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob"),
}


# -- cases -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IsolationCase:
    caller: str  # project A
    owner: str  # project B
    kind: Kind
    action: str

    @property
    def id(self) -> str:
        return f"{self.caller} roles cannot {self.action} {self.owner} {self.kind.label}"


ISOLATION = [
    IsolationCase(a, b, kind, action)
    for a, b in itertools.permutations(PROJECTS, 2)
    for kind in KINDS
    if kind.applies(b)
    for action in kind.actions
]

JOB_CASES = [
    (a, b, job, action)
    for a, b in itertools.permutations(PROJECTS, 2)
    for job, actions in JOB_ACTIONS.items()
    for action in actions
]


@dataclass(frozen=True)
class Flow:
    """Role ``<prefix>-<project>-<role>`` may ``action`` the project's (or the environment's
    shared) ``target`` resources."""

    role: str
    action: str
    target: str  # a Kind label, or one of SHARED
    context: Context = ()
    monitored_only: bool = False
    open_only: bool = False
    imports_only: bool = False
    captured_only: bool = False  # a production the front door captures
    components_only: bool = False  # a production of inference components
    instances_only: bool = False  # a production on instances

    def id(self, project: str) -> str:
        owner = "shared" if self.target in SHARED else project
        return f"{project} {self.role} can {self.action} {owner} {self.target}"


# The environment's shared resources a project's flows use: (stack suffix, type, logical id).
SHARED = {
    "data key": ("data", "AWS::KMS::Key", "^DataKey"),
    "ops key": ("data", "AWS::KMS::Key", "^OpsKey"),
}
FOR_AWS_RESOURCE = (("kms:GrantIsForAWSResource", "true"),)
PLAIN_HTTP = (("aws:SecureTransport", "false"),)
TO_SAGEMAKER = (("iam:PassedToService", "sagemaker.amazonaws.com"),)
PENDING = (("sagemaker:ModelApprovalStatus", "PendingManualApproval"),)
# What the endpoint templates set (network isolation, the data key): "data key" is replaced by
# its ARN when the requests are made.
DATA_KEY = "data key"
ISOLATED = (("sagemaker:NetworkIsolation", "true"),)
KEYED = (("sagemaker:VolumeKmsKeyArn", DATA_KEY),)
APPROVED = (("sagemaker:ModelApprovalStatus", "Approved"),)

FLOWS = (
    # The training pipeline reads the curated data, writes artifacts, registers the model.
    Flow("sagemaker-pipeline", "s3:ListBucket", "curated bucket"),
    Flow("sagemaker-pipeline", "s3:GetObject", "curated table objects"),
    Flow("sagemaker-pipeline", "s3:PutObject", "artifacts objects"),
    Flow("sagemaker-pipeline", "s3:GetObject", "artifacts objects"),
    Flow("sagemaker-pipeline", "sagemaker:DescribeModelPackageGroup", "model package group"),
    Flow("sagemaker-pipeline", "sagemaker:CreateModelPackage", "model versions", PENDING),
    Flow("sagemaker-pipeline", "kms:Decrypt", "data key"),
    Flow("sagemaker-pipeline", "kms:GenerateDataKey", "data key"),
    Flow("sagemaker-pipeline", "kms:CreateGrant", "data key", FOR_AWS_RESOURCE),
    Flow("sagemaker-pipeline", "iam:PassRole", "pipeline role", TO_SAGEMAKER),
    # CI: the build uploads the code and starts the pipeline; its pipeline reads the source.
    Flow("ml-build", "s3:PutObject", "artifacts objects"),
    Flow("ml-build", "sagemaker:StartPipelineExecution", "training pipeline"),
    Flow("ml-build", "ssm:PutParameter", "code-version parameter"),
    Flow("ml-build", "kms:GenerateDataKey", "data key"),
    Flow("ml-cicd", "s3:GetObject", "artifacts objects"),
    Flow("ml-cicd", "codebuild:StartBuild", "build project"),
    Flow("ml-cicd-trigger", "codepipeline:StartPipelineExecution", "cicd pipeline"),
    # The trigger starts training, with its guard and the code version.
    Flow("start-training", "sagemaker:StartPipelineExecution", "training pipeline"),
    Flow("start-training", "dynamodb:PutItem", "training guard table"),
    Flow("start-training", "dynamodb:UpdateItem", "training guard table"),
    Flow("start-training", "ssm:GetParameter", "code-version parameter"),
    Flow("start-training", "sqs:SendMessage", "start-training dead letters"),
    # The champion gate: the pipeline asks the function, which reads the registry.
    Flow("sagemaker-pipeline", "lambda:InvokeFunction", "champion function"),
    Flow("champion", "sagemaker:DescribeModelPackage", "model versions"),
    # Model cards (ADR 0020): the function reads the versions and writes their cards (an update
    # naming no approval status); what it may not do is in tests/test_model_cards.py.
    Flow("model-card", "sagemaker:DescribeModelPackage", "model versions"),
    Flow("model-card", "sagemaker:UpdateModelPackage", "model versions"),
    Flow("model-card", "sqs:SendMessage", "start-training dead letters"),
    # Imports (ADR 0021): a manifest starts the import; its check step reads the upload.
    Flow("model-import", "sagemaker:StartPipelineExecution", "import pipeline", imports_only=True),
    Flow("model-import", "s3:GetObject", "import objects", imports_only=True),
    Flow("model-import", "ssm:GetParameter", "code-version parameter", imports_only=True),
    Flow("model-import", "sqs:SendMessage", "start-training dead letters", imports_only=True),
    Flow("model-import", "kms:Decrypt", "data key", imports_only=True),
    Flow("sagemaker-pipeline", "lambda:InvokeFunction", "model-import function", imports_only=True),
    Flow("sagemaker-pipeline", "s3:GetObject", "import objects", imports_only=True),
    Flow("data-scientist", "s3:PutObject", "import objects", imports_only=True),
    # Experiment tracking (ADR 0023): the Track step records the run; data scientists and
    # operators read the project's records.
    Flow("sagemaker-pipeline", "lambda:InvokeFunction", "tracking function"),
    Flow("experiment-tracking", "sagemaker:CreateTrialComponent", "run records"),
    Flow("experiment-tracking", "sagemaker:UpdateTrialComponent", "run records"),
    Flow("experiment-tracking", "sagemaker:AssociateTrialComponent", "experiment trials"),
    Flow("experiment-tracking", "s3:GetObject", "evaluation report objects"),
    Flow("experiment-tracking", "kms:Decrypt", "data key"),
    Flow("data-scientist", "sagemaker:DescribeExperiment", "experiments"),
    Flow("data-scientist", "sagemaker:DescribeTrial", "experiment trials"),
    Flow("data-scientist", "sagemaker:DescribeTrialComponent", "run records"),
    Flow("operator", "sagemaker:DescribeTrialComponent", "run records"),
    # Fingerprints at registration, verified before every deployment.
    Flow("sagemaker-pipeline", "lambda:InvokeFunction", "fingerprint function"),
    Flow("fingerprint", "s3:GetObjectVersion", "model artifact objects"),
    # It seals them: a write-once copy (CompleteMultipartUpload with If-None-Match: *).
    Flow(
        "fingerprint",
        "s3:PutObject",
        "sealed model objects",
        (("s3:ObjectCreationOperation", "CompleteMultipartUpload"), ("s3:if-none-match", "*")),
    ),
    Flow("fingerprint", "s3:GetObjectVersion", "sealed model objects"),
    Flow("release-check", "s3:GetObjectVersion", "sealed model objects"),
    Flow("release-check", "sagemaker:DescribeModelPackage", "model versions"),
    Flow("release-check", "kms:Decrypt", "data key"),
    Flow("deploy-pipeline", "lambda:InvokeFunction", "release-check function"),
    # Releases: the router reads the registry and starts the deploy pipeline.
    Flow("deploy-router", "sagemaker:DescribeModelPackage", "model versions"),
    Flow("deploy-router", "sagemaker:DescribeModelPackageGroup", "model package group"),
    Flow("deploy-router", "codepipeline:StartPipelineExecution", "deploy pipeline"),
    Flow("deploy-router", "ssm:GetParameter", "last-started parameter"),
    Flow("deploy-router", "ssm:PutParameter", "last-started parameter"),
    Flow("deploy-router", "sqs:SendMessage", "deploy dead letters"),
    Flow("deploy-pipeline", "s3:GetObject", "release objects"),
    Flow("deploy-pipeline", "s3:PutObject", "release objects"),
    Flow("deploy-pipeline", "iam:PassRole", "deploy-cfn role"),
    Flow("deploy-pipeline", "cloudformation:UpdateStack", "endpoint stacks"),
    Flow("deploy-pipeline", "lambda:InvokeFunction", "endpoint-test function"),
    Flow("deploy-pipeline", "sns:Publish", "deploy-events topic"),
    Flow("deploy-cfn", "sagemaker:CreateModel", "endpoint models", ISOLATED),
    Flow("deploy-cfn", "sagemaker:CreateEndpointConfig", "endpoint configs", KEYED),
    Flow("deploy-cfn", "sagemaker:CreateEndpoint", "staging endpoint"),
    Flow("deploy-cfn", "sagemaker:UpdateEndpoint", "prod endpoint"),
    Flow("deploy-cfn", "sagemaker:DescribeModelPackage", "model versions"),
    Flow("deploy-cfn", "iam:PassRole", "endpoint roles", TO_SAGEMAKER),
    Flow("deploy-cfn", "application-autoscaling:RegisterScalableTarget", "prod endpoint scaling"),
    Flow("deploy-cfn", "cloudwatch:PutMetricAlarm", "endpoint alarms"),
    Flow("deploy-cfn", "kms:CreateGrant", "data key", FOR_AWS_RESOURCE),
    Flow(
        "deploy-cfn",
        "sagemaker:CreateMonitoringSchedule",
        "prod monitoring schedules",
        monitored_only=True,
    ),
    Flow("monitoring-pipeline", "lambda:InvokeFunction", "monitoring function", open_only=True),
    Flow("monitoring-pipeline", "s3:GetObject", "artifacts objects", open_only=True),
    Flow("monitoring-pipeline", "kms:Decrypt", "data key", open_only=True),
    Flow(
        "prod-monitoring-schedule",
        "sagemaker:StartPipelineExecution",
        "monitoring pipeline",
        open_only=True,
    ),
    # The version the endpoint serves: endpoint -> its config -> the variant's model (and tags).
    Flow("monitoring-run", "sagemaker:DescribeEndpoint", "prod endpoint", open_only=True),
    Flow("monitoring-run", "sagemaker:DescribeEndpointConfig", "endpoint configs", open_only=True),
    Flow("monitoring-run", "sagemaker:DescribeModel", "endpoint models", open_only=True),
    Flow("monitoring-run", "sagemaker:ListTags", "endpoint models", open_only=True),
    Flow("monitoring-run", "sagemaker:DescribeModelPackage", "model versions", open_only=True),
    Flow("endpoint-test", "sagemaker:DescribeModelPackage", "model versions"),
    Flow("endpoint-test", "sagemaker:InvokeEndpoint", "staging endpoint"),
    Flow("endpoint-test", "sqs:SendMessage", "deploy dead letters"),
    # The endpoints read their model; an instance-backed one writes its captured data (the
    # example's stagings are serverless and capture nothing; ADR 0033).
    Flow("staging-endpoint", "s3:GetObject", "sealed model objects"),
    Flow("staging-endpoint", "kms:Decrypt", "data key"),
    Flow("prod-endpoint", "s3:GetObject", "sealed model objects"),
    Flow("prod-endpoint", "s3:PutObject", "prod capture objects", instances_only=True),
    Flow("prod-endpoint", "kms:GenerateDataKey", "data key"),
    # The front door invokes production, and captures it when it is an inference component.
    Flow("front-door", "sagemaker:InvokeEndpoint", "prod endpoint"),
    Flow("front-door", "s3:PutObject", "front door capture objects", captured_only=True),
    Flow("front-door", "kms:GenerateDataKey", "data key", captured_only=True),
    Flow(
        "deploy-cfn",
        "sagemaker:UpdateInferenceComponent",
        "prod inference component",
        components_only=True,
    ),
    Flow("prod-monitor", "s3:GetObject", "curated objects", monitored_only=True),
    Flow("prod-monitor", "s3:GetObject", "prod capture objects", monitored_only=True),
    Flow("prod-monitor", "s3:PutObject", "prod monitoring objects", monitored_only=True),
    Flow("prod-monitor", "sagemaker:InvokeEndpoint", "prod endpoint", monitored_only=True),
    # Ingestion: the crawler and the ETL job read raw data and write the catalog and curated data.
    Flow("glue-etl", "s3:GetObject", "raw objects"),
    Flow("glue-etl", "s3:PutObject", "curated objects"),
    Flow("glue-etl", "glue:GetTable", "curated table"),
    Flow("glue-etl", "glue:PublishDataQuality", "data-quality ruleset"),
    Flow("glue-etl", "kms:GenerateDataKey", "data key"),
    Flow("glue-crawler", "s3:GetObject", "raw objects"),
    Flow("glue-crawler", "glue:UpdateTable", "curated table"),
    Flow("glue-crawler", "glue:BatchCreatePartition", "curated table"),
    Flow("glue-ingest-events", "glue:NotifyEvent", "ingest workflow"),
    # EventBridge publishes notifications through one role per topic.
    Flow("data-events-publisher", "sns:Publish", "data-events topic"),
    Flow("build-events-publisher", "sns:Publish", "build-events topic"),
    Flow("deploy-events-publisher", "sns:Publish", "deploy-events topic"),
    Flow("deploy-events-publisher", "kms:GenerateDataKey", "ops key"),
    # Personas (tests/test_governance.py has what each may not do).
    Flow("approver", "sagemaker:UpdateModelPackage", "model versions", APPROVED),
    Flow("approver", "codepipeline:PutApprovalResult", "production approval"),
    Flow("data-scientist", "s3:ListBucket", "curated bucket"),
    Flow("data-scientist", "sagemaker:DescribeModelPackage", "model versions"),
    Flow("data-producer", "s3:PutObject", "raw objects"),
    Flow("data-producer", "s3:PutObject", "curated objects"),
    Flow("operator", "sagemaker:DescribePipelineExecution", "training pipeline executions"),
    Flow("operator", "events:PutEvents", "request bus"),
)

# Targets only flows use (a project's own roles, stacks and function by name).
FLOW_KINDS = (
    Kind("pipeline role", "build", "AWS::IAM::Role", (), name="-sagemaker-pipeline$"),
    Kind(
        "deploy-cfn role", "deploy", "AWS::IAM::Role", (), name="-deploy-cfn$", target=passed_role
    ),
    Kind("endpoint roles", "deploy", "AWS::IAM::Role", (), name="-(staging|prod)-endpoint$"),
    Kind("endpoint-test function", "deploy", "AWS::Lambda::Function", (), name="-endpoint-test$"),
    Kind("champion function", "build", "AWS::Lambda::Function", (), name="-champion$"),
    Kind("fingerprint function", "build", "AWS::Lambda::Function", (), name="-fingerprint$"),
    Kind(
        "tracking function",
        "build",
        "AWS::Lambda::Function",
        (),
        name="-experiment-tracking$",
    ),
    Kind(
        "evaluation report objects",
        "data",
        BUCKET,
        (),
        "-artifacts-",
        path("/pipelines/0a1b2c3d4e5f/evaluation/evaluation.json"),
    ),
    Kind(
        "model-import function",
        "build",
        "AWS::Lambda::Function",
        (),
        name="-model-import$",
        imports_only=True,
    ),
    Kind(
        "curated table objects",
        "data",
        BUCKET,
        (),
        "-curated-",
        path("/table/ingest_date=2026-12-01/part-0.csv"),
    ),
    Kind(
        "model artifact objects",
        "data",
        BUCKET,
        (),
        "-artifacts-",
        path("/models/pipelines-0a1b2c3d4e5f-Train-x/output/model.tar.gz"),
    ),
    Kind(
        "sealed model objects",
        "data",
        BUCKET,
        (),
        "-artifacts-",
        path(f"/sealed/{'0' * 64}/model.tar.gz"),
    ),
    Kind("release-check function", "deploy", "AWS::Lambda::Function", (), name="-release-check$"),
    Kind("endpoint alarms", "endpoint-prod", "AWS::CloudWatch::Alarm", ()),
)

FLOW_CASES = [
    (project, flow)
    for project in PROJECTS
    for flow in FLOWS
    if (not flow.monitored_only or project in MONITORED)
    and (not flow.open_only or project in OPEN_MONITORED)
    and (not flow.imports_only or project in IMPORTING)
    and (not flow.captured_only or project in FRONT_DOOR_CAPTURED)
    and (not flow.components_only or project in COMPONENTS)
    and (not flow.instances_only or project in INSTANCE_PRODUCTION)
]


# -- the simulation ----------------------------------------------------------------------------

# The requests (about 49,000) are evaluated in parts of about the same size, one question each
# to the test process's simulator (one node process, tests/workers.py), and
# test_every_request_is_evaluated checks one part per test, so that no test takes 10 s: the whole
# evaluation took 9-15 s of one test on this machine. A part more costs little (each question's
# policies are validated again); in a node process of its own it cost 2.3-2.8 s of CPU more.
EVALUATION_PARTS = 2


@dataclass(repr=False)
class Simulation:
    inventory: Inventory
    roles: dict[str, Role]  # by ARN
    resource_policies: dict[str, dict[str, Any]]
    requests: list[Request] = field(default_factory=list)
    keys: dict[str, list[int]] = field(default_factory=dict)  # case id -> request indexes
    _parts: dict[int, list[Decision]] = field(default_factory=dict, init=False)  # part -> decisions

    def __repr__(self) -> str:
        # pytest writes the arguments of every frame of an xfailed case's traceback: the whole
        # simulation took 0.3 s per frame (40 s of the suite for the UNDECIDED cases).
        decided = sum(map(len, self._parts.values()))
        return f"Simulation({len(self.roles)} roles, {decided} decisions)"

    def part(self, index: int) -> range:
        """The indexes of the requests of part ``index`` (of EVALUATION_PARTS, in order)."""
        count = len(self.requests)
        return range(index * count // EVALUATION_PARTS, (index + 1) * count // EVALUATION_PARTS)

    def decisions_of_part(self, index: int) -> list[Decision]:
        """The decisions of part ``index``'s requests, in order, asked of the simulator when a
        test first needs one: the tests of the inventory alone (policies resolved, roles and
        resources covered) do not wait for an evaluation."""
        if index not in self._parts:
            identity = {arn: list(role.policies) for arn, role in self.roles.items()}
            requests = [self.requests[i] for i in self.part(index)]
            self._parts[index] = simulate(
                requests, identity, self.resource_policies, self.inventory.account
            )
        return self._parts[index]

    @cached_property
    def decisions(self) -> list[Decision]:
        """Every request's decision, in order (each part evaluated once)."""
        return [d for index in range(EVALUATION_PARTS) for d in self.decisions_of_part(index)]

    @cached_property
    def endpoint_stacks(self) -> set[str]:
        return {s.name for s in self.inventory.stacks if re.search(r"-endpoint-[a-z]+$", s.name)}

    def project_stacks(self, project: str) -> list[Stack]:
        return [s for s in self.inventory.stacks if s.name.startswith(f"{PREFIX}-{project}-")]

    def project_roles(self, project: str) -> list[Role]:
        names = {s.name for s in self.project_stacks(project)}
        return sorted((r for r in self.roles.values() if r.stack in names), key=lambda r: r.name)

    def resources(self, project: str, kind: Kind) -> list[Resource]:
        stacks = (
            self.project_stacks(project)
            if kind.stack == "*"
            else [self.inventory.stack(f"{PREFIX}-{project}-{kind.stack}")]
        )
        return [
            resource
            for stack in stacks
            for logical_id, raw in stack.resources.items()
            if raw["Type"] == kind.type
            for resource in [self.inventory.resource(stack, logical_id)]
            if re.search(kind.name, resource.name)
        ]

    def targets(self, project: str, kind: Kind) -> list[Target]:
        found = [t for r in self.resources(project, kind) for t in kind.target(r, self.roles)]
        assert found, f"{project} has no {kind.label} ({kind.type} in {kind.stack})"
        return found

    def shared_targets(self, label: str) -> list[Target]:
        suffix, kind, logical = SHARED[label]
        stack = self.inventory.stack(f"{PREFIX}-{suffix}")
        found = [
            self.inventory.resource(stack, logical_id)
            for logical_id, raw in stack.resources.items()
            if raw["Type"] == kind and re.search(logical, logical_id)
        ]
        assert len(found) == 1, f"{label}: {found}"
        return same(found[0], self.roles)

    def stack_targets(self, project: str) -> list[Target]:
        region, account = self.inventory.region, self.inventory.account
        return [
            Target(
                f"arn:aws:cloudformation:{region}:{account}:stack/{name}/{digest_id(name)}", None
            )
            for name in sorted(s.name for s in self.project_stacks(project))
            if name in self.endpoint_stacks
        ]

    def request(self, role: Role, action: str, target: Target) -> Request:
        # The policy of the resource the target belongs to (an object's: its bucket's).
        policy = target.resource.arn if target.resource is not None else None
        return session_request(
            role,
            self.inventory.account,
            SESSION,
            action=action,
            resource=target.arn,
            context=target.context,
            resource_policy=policy if policy in self.resource_policies else None,
        )

    def add(self, key: str, requests: list[Request]) -> None:
        assert key not in self.keys, f"two cases with the id {key}"
        assert requests, f"{key}: no requests"
        self.keys[key] = list(range(len(self.requests), len(self.requests) + len(requests)))
        self.requests.extend(requests)

    def results(self, key: str) -> list[tuple[Request, Decision]]:
        return [(self.requests[i], self.decisions[i]) for i in self.keys[key]]

    def statement(self, request: Request, reason: dict[str, Any]) -> tuple[str, Any]:
        """Where the statement a reason names is, and the statement (None if not found)."""
        index = reason.get("statementIndex")
        if reason["policyType"] == "identity":
            role = self.roles[request.identity or ""]
            documents = [d for name, d in role.policies if name == reason.get("policyIdentifier")]
            where = f"identity policy {reason.get('policyIdentifier')}"
        elif reason["policyType"] == "resource":
            documents = [self.resource_policies[request.resource_policy or ""]]
            where = f"resource policy of {request.resource_policy}"
        else:
            return json.dumps(reason), None
        if index is None or len(documents) != 1:
            return f"{where}: {reason}", None
        return f"{where}, statement {index}", as_list(documents[0]["Statement"])[index - 1]

    def explain(self, request: Request, decision: Decision) -> str:
        role = request.principal.split("/")[1]
        head = f"{role}: {decision.result} {request.action} on {request.resource}"
        if decision.error:
            return f"{head}: {decision.error}"
        lines = [head]
        for reason in decision.reasons:
            where, statement = self.statement(request, reason)
            lines.append(f"{where}: {json.dumps(statement, sort_keys=True)}")
        return "\n    ".join(lines)

    def undecided(
        self, project: str, kind: str, request: Request, decision: Decision
    ) -> str | None:
        """The reason of the UNDECIDED entry that explains an allowed request, if one does."""
        role = request.principal.split("/")[1].removeprefix(f"{PREFIX}-{project}-")
        statements = [self.statement(request, r)[1] for r in decision.reasons]
        for gap in UNDECIDED:
            if (
                gap.kind == kind
                and request.action in gap.actions
                and role in gap.roles
                and statements
                and all(s is not None and gap.statement(s) for s in statements)
            ):
                return gap.reason
        return None


def digest_id(name: str) -> str:
    d = hashlib.sha256(name.encode()).hexdigest()
    return f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:32]}"


NOTHING = "arn:aws:iam::{account}:role/{prefix}-{project}-nothing"


@pytest.fixture(scope="module")
def simulation(example_synth: Synthesized) -> Simulation:
    """Every case's requests (evaluated in parts, each when a test first asks for one of its
    decisions: ``Simulation.decisions_of_part``)."""
    assembly = stacks_of_assembly(example_synth.outdir)
    account, region = assembly[0].account, assembly[0].region
    inventory = Inventory(assembly + endpoint_stacks(example_synth.outdir, account, region))
    sim = Simulation(inventory, inventory.roles(), inventory.resource_policies())
    kinds = {k.label: k for k in (*KINDS, *FLOW_KINDS)}

    for case in ISOLATION:
        targets = sim.targets(case.owner, case.kind)
        sim.add(
            case.id,
            [
                sim.request(role, case.action, target)
                for role in sim.project_roles(case.caller)
                for target in targets
            ],
        )
    for a, b, job, action in JOB_CASES:
        execution = hashlib.sha256(b.encode()).hexdigest()[:12]  # an execution of B's pipeline
        resource_type = job.removesuffix("s").replace(" ", "-")
        arn = f"arn:aws:sagemaker:{region}:{account}:{resource_type}/pipelines-{execution}-Step"
        sim.add(
            f"{a} roles cannot {action} {b} {job}",
            [sim.request(role, action, Target(arn, None)) for role in sim.project_roles(a)],
        )
    data_key = sim.shared_targets("data key")[0].arn

    def with_data_key(context: Context) -> Context:
        return tuple((k, data_key if v == DATA_KEY else v) for k, v in context)

    for project, flow in FLOW_CASES:
        role_arn = f"arn:aws:iam::{account}:role/{PREFIX}-{project}-{flow.role}"
        assert role_arn in sim.roles, f"no role {role_arn}"
        if flow.target in SHARED:
            targets = sim.shared_targets(flow.target)
        elif flow.target == "endpoint stacks":
            targets = sim.stack_targets(project)
        else:
            targets = sim.targets(project, kinds[flow.target])
        sim.add(
            flow.id(project),
            [
                sim.request(
                    sim.roles[role_arn],
                    flow.action,
                    Target(t.arn, t.resource, t.context + with_data_key(flow.context)),
                )
                for t in targets
            ],
        )
    # Controls: a role without statements, and an insecure request the bucket policy denies.
    for project in PROJECTS:
        nothing = Role(
            name=f"{PREFIX}-{project}-nothing",
            arn=NOTHING.format(account=account, prefix=PREFIX, project=project),
            stack="control",  # in no stack: not one of the project's roles
            logical_id="Nothing",
            trusted_services=(),
            policies=(),
        )
        sim.roles[nothing.arn] = nothing
        curated = sim.targets(project, kinds["curated objects"])
        key = sim.shared_targets("data key")
        sim.add(
            f"control: {project} statement-less role is denied",
            [sim.request(nothing, "s3:GetObject", t) for t in curated]
            + [sim.request(nothing, "kms:Decrypt", t) for t in key],
        )
        pipeline_role = sim.roles[
            f"arn:aws:iam::{account}:role/{PREFIX}-{project}-sagemaker-pipeline"
        ]
        insecure = [
            sim.request(pipeline_role, "s3:GetObject", Target(t.arn, t.resource, PLAIN_HTTP))
            for t in curated
        ]
        sim.add(f"control: {project} pipeline role over plain HTTP is explicitly denied", insecure)

    return sim


# -- harness -----------------------------------------------------------------------------------


def test_every_policy_is_resolved(simulation: Simulation) -> None:
    """No intrinsic is left in any simulated policy (unresolvable ones fail the fixture)."""
    documents = [d for role in simulation.roles.values() for _, d in role.policies]
    documents += list(simulation.resource_policies.values())
    assert documents
    left = [(json.dumps(d)[:200], intrinsics_left(d)) for d in documents if intrinsics_left(d)]
    assert not left
    assert [bad for d in documents for bad in malformed(d)] == []


def test_the_parts_are_every_request_once(simulation: Simulation) -> None:
    parts = [simulation.part(index) for index in range(EVALUATION_PARTS)]
    assert [i for part in parts for i in part] == list(range(len(simulation.requests)))
    assert min(map(len, parts)) >= len(simulation.requests) // EVALUATION_PARTS > 0


@pytest.mark.parametrize("part", range(EVALUATION_PARTS))
def test_every_request_is_evaluated(simulation: Simulation, part: int) -> None:
    """The simulator accepted every request of the part and every policy, and used every
    context key given."""
    requests = [simulation.requests[i] for i in simulation.part(part)]
    decisions = simulation.decisions_of_part(part)
    assert len(decisions) == len(requests) > 0
    errors = [
        simulation.explain(r, d)
        for r, d in zip(requests, decisions, strict=True)
        if d.result not in ("Allowed", "ImplicitlyDenied", "ExplicitlyDenied")
    ]
    assert not errors, "\n".join(errors[:20])
    ignored = {
        (r.action, key)
        for r, d in zip(requests, decisions, strict=True)
        for key in d.ignored_context_keys
    }
    assert not ignored


@pytest.mark.parametrize("project", PROJECTS)
def test_controls(simulation: Simulation, project: str) -> None:
    """A broken harness cannot pass: a role without statements is denied, a real flow is
    allowed, and the bucket policy's TLS-only deny is applied."""
    denied = simulation.results(f"control: {project} statement-less role is denied")
    # (Ground truth is also explicitly denied to every role but the monitors'.)
    assert {d.result for _, d in denied} <= {"ImplicitlyDenied", "ExplicitlyDenied"}
    assert "ImplicitlyDenied" in {d.result for _, d in denied}
    allowed = simulation.results(
        f"{project} sagemaker-pipeline can s3:GetObject {project} curated table objects"
    )
    assert [d.result for _, d in allowed] == ["Allowed"] * len(allowed)
    insecure = simulation.results(
        f"control: {project} pipeline role over plain HTTP is explicitly denied"
    )
    assert [d.result for _, d in insecure] == ["ExplicitlyDenied"] * len(insecure)
    assert all(r["policyType"] == "resource" for _, d in insecure for r in d.reasons)


def test_every_role_belongs_to_a_project_or_the_environment(simulation: Simulation) -> None:
    """Roles are named after their project (ADR 0007): ``<prefix>-<project>-*`` in the
    project's stacks; the rest are the environment's own."""
    shared = {f"{PREFIX}-data", f"{PREFIX}-monitor"}
    wrong = []
    for role in simulation.roles.values():
        if role.name.endswith("-nothing"):
            continue
        project = next((p for p in PROJECTS if role.stack.startswith(f"{PREFIX}-{p}-")), None)
        if project is None:
            if role.stack not in shared:
                wrong.append((role.name, role.stack))
        elif not role.name.startswith(f"{PREFIX}-{project}-"):
            wrong.append((role.name, role.stack))
    assert not wrong
    for project in PROJECTS:
        assert len(simulation.project_roles(project)) >= 10, project


@pytest.mark.parametrize("project", PROJECTS)
def test_every_project_role_has_a_flow(simulation: Simulation, project: str) -> None:
    """Each role of the project is exercised by at least one allowed flow below (a new role
    needs its flows here)."""
    flows = {f.role for p, f in FLOW_CASES if p == project}
    roles = {r.name.removeprefix(f"{PREFIX}-{project}-") for r in simulation.project_roles(project)}
    assert roles - flows == set()


@pytest.mark.parametrize("project", PROJECTS)
def test_every_project_resource_is_probed(simulation: Simulation, project: str) -> None:
    """Every resource of the project's stacks is requested by some kind (or listed, with the
    reason, in NOT_PROBED): a new resource type or bucket fails here until it is covered."""
    probed = {
        (r.stack, r.logical_id)
        for kind in KINDS
        if kind.applies(project)
        for r in simulation.resources(project, kind)
    }
    unprobed = [
        (stack.name, logical_id, raw["Type"])
        for stack in simulation.project_stacks(project)
        for logical_id, raw in stack.resources.items()
        if (stack.name, logical_id) not in probed and raw["Type"] not in NOT_PROBED
    ]
    assert not unprobed
    assert any(s.name in simulation.endpoint_stacks for s in simulation.project_stacks(project))


# -- isolation ---------------------------------------------------------------------------------


def _denied(simulation: Simulation, key: str, caller: str, kind: str) -> None:
    """Every request of the case is denied, or each allowed one is an UNDECIDED grant."""
    allowed = [(r, d) for r, d in simulation.results(key) if d.result != "ImplicitlyDenied"]
    allowed = [(r, d) for r, d in allowed if d.result != "ExplicitlyDenied"]
    reasons = {simulation.undecided(caller, kind, r, d) for r, d in allowed}
    explained = "\n  ".join(simulation.explain(r, d) for r, d in allowed)
    if allowed and None not in reasons:
        pytest.xfail(" / ".join(sorted(str(r) for r in reasons)) + f"\n  {explained}")
    assert not allowed, f"{key}:\n  {explained}"


@pytest.mark.parametrize("case", ISOLATION, ids=lambda c: c.id)
def test_isolation(simulation: Simulation, case: IsolationCase) -> None:
    _denied(simulation, case.id, case.caller, case.kind.label)


@pytest.mark.parametrize(
    ("caller", "owner", "job", "action"),
    JOB_CASES,
    ids=[f"{a} roles cannot {action} {b} {job}" for a, b, job, action in JOB_CASES],
)
def test_isolation_of_pipeline_jobs(
    simulation: Simulation, caller: str, owner: str, job: str, action: str
) -> None:
    _denied(simulation, f"{caller} roles cannot {action} {owner} {job}", caller, "pipeline jobs")


# -- flows -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("project", "flow"), FLOW_CASES, ids=[f.id(p) for p, f in FLOW_CASES])
def test_flow(simulation: Simulation, project: str, flow: Flow) -> None:
    results = simulation.results(flow.id(project))
    denied = [simulation.explain(r, d) for r, d in results if not d.allowed]
    assert not denied, "\n  ".join(denied)
