"""Resource names that code outside CDK needs too (tools, handlers): no aws_cdk import here."""

from __future__ import annotations

from enum import StrEnum

BATCH = "batch"  # the target name of batch scoring's monitors and template
# The object of a project's artifacts bucket that starts its CI (the S3 source).
CI_SOURCE_KEY = "ci/source/ml-project.zip"


def bucket_name(prefix: str, purpose: str, account: str) -> str:
    """``<prefix>-<purpose>-<account>``: every platform bucket's name (globally unique)."""
    return f"{prefix}-{purpose}-{account}"


def delivery_prefix(platform_name: str) -> str:
    """The prefix of the tooling account's delivery stack resources (its buckets, key)."""
    return f"{platform_name}-delivery"


def promote_name(prefix: str) -> str:
    """A serving environment's promotion function and its role (``<prefix>-promote``)."""
    return f"{prefix}-promote"


def drift_forwarder_name(prefix: str) -> str:
    """Production's drift-forwarding rule and its role (``<prefix>-drift-forwarder``)."""
    return f"{prefix}-drift-forwarder"


def release_pipeline_name(platform_name: str, project: str) -> str:
    """A project's release pipeline in the tooling account, and its role
    (``<platform>-<project>-release``)."""
    return f"{platform_name}-{project}-release"


def release_action_name(prefix: str) -> str:
    """A serving environment's role that the release pipeline's actions there run as
    (``<prefix>-release-action``)."""
    return f"{prefix}-release-action"


def deploy_cfn_name(prefix: str) -> str:
    """The role CloudFormation deploys an environment's endpoint stacks with."""
    return role_name(prefix, DEPLOY_CFN)


# A project's platform functions: each named <prefix>-<function>, as are its role and its log
# group; the dashboard lists them by these names.
START_TRAINING = "start-training"
CHAMPION = "champion"
FINGERPRINT = "fingerprint"
MODEL_CARD = "model-card"
DEPLOY_ROUTER = "deploy-router"
RELEASE_CHECK = "release-check"
ENDPOINT_TEST = "endpoint-test"
FRONT_DOOR = "front-door"
BATCH_SCORING = "batch-scoring"
MONITORING_RUN = "monitoring-run"
MODEL_IMPORT = "model-import"
EXPERIMENT_TRACKING = "experiment-tracking"


def function_name(prefix: str, function: str) -> str:
    """``<prefix>-<function>``: a project's platform function (and its role)."""
    return f"{prefix}-{function}"


def dead_letter_queue_name(prefix: str, function: str) -> str:
    """``<prefix>-<function>-dlq``: the events a function (and its rules) gave up on."""
    return f"{function_name(prefix, function)}-dlq"


def deploy_dead_letter_queue_name(prefix: str) -> str:
    """``<prefix>-deploy-dlq``: the events the deploy functions (the router or promotion, the
    staging test, batch scoring, the drift forwarder) gave up on."""
    return f"{prefix}-deploy-dlq"


def release_dead_letter_queue_name(pipeline: str) -> str:
    """``<release pipeline>-dlq``: the approvals the release router gave up on."""
    return f"{pipeline}-dlq"


def endpoint_test_name(prefix: str) -> str:
    """The staging test function and its role (``<prefix>-endpoint-test``)."""
    return function_name(prefix, ENDPOINT_TEST)


def monitoring_run_name(prefix: str) -> str:
    """The open-monitoring pipeline's Lambda steps' function and role."""
    return function_name(prefix, MONITORING_RUN)


def approval_forwarder_name(prefix: str) -> str:
    """The development environment's rule (and its role) that forwards a project's approvals
    to the tooling account's release bus (``<prefix>-approval-forwarder``)."""
    return f"{prefix}-approval-forwarder"


def release_router_name(pipeline: str) -> str:
    """The function (and role) that starts release pipeline ``pipeline`` on approvals."""
    return f"{pipeline}-router"


def template_file(prefix: str, stage: str) -> str:
    """File name of a stage's endpoint template (``staging``, ``prod``) or of batch scoring's
    monitors (``batch``) inside the templates folder and the pipeline artifacts."""
    if stage == BATCH:
        return f"{prefix}-monitor-batch.template.json"
    return f"{prefix}-endpoint-{stage}.template.json"


def stack_name(prefix: str, stage: str) -> str:
    """The CloudFormation stack a deploy or release pipeline deploys a stage's template as, at
    run time (``<prefix>-endpoint-<stage>``, ``<prefix>-monitor-batch``)."""
    return template_file(prefix, stage).removesuffix(".template.json")


def component_name(endpoint_name: str) -> str:
    """The name of the inference component of a ``scale_to_zero`` endpoint: the endpoint's own
    (one model per endpoint; InvokeEndpoint takes it as ``InferenceComponentName``)."""
    return endpoint_name


# Bring your own model (ADR 0021): a model trained elsewhere is uploaded with its manifest under
# IMPORTS_PREFIX of the project's artifacts bucket, in a folder of its own
# (imports/<name>/<model file> and imports/<name>/import.json); the manifest's creation starts
# the import pipeline.
IMPORTS_PREFIX = "imports/"
IMPORT_MANIFEST = "import.json"


def import_pipeline_name(prefix: str) -> str:
    """The pipeline that evaluates, gates and registers an imported model (``<prefix>-import``)."""
    return f"{prefix}-import"


def model_package_group_name(prefix: str) -> str:
    """A project's model registry: its model package group (``<prefix>-models``)."""
    return f"{prefix}-models"


def training_pipeline_name(prefix: str) -> str:
    """The project's training pipeline (``<prefix>-training``)."""
    return f"{prefix}-training"


# Experiment tracking (ADR 0023): each execution of a standard pipeline is the trial
# <pipeline>-<execution id> of the SageMaker Experiments experiment named after the pipeline, and
# its Track step records the run as the trial component <prefix>-<execution id>; the optional
# MLflow tracking server <prefix>-mlflow keeps its artifacts under MLFLOW_ARTIFACTS_PREFIX of the
# project's artifacts bucket.
MLFLOW_ARTIFACTS_PREFIX = "mlflow/"


def trial_name(pipeline: str, execution_id: str) -> str:
    """An execution's trial (``<pipeline>-<execution id>``, e.g. ``<prefix>-training-<id>``)."""
    return f"{pipeline}-{execution_id}"


def run_record_name(prefix: str, execution_id: str) -> str:
    """The trial component the Track step writes for an execution (``<prefix>-<id>``)."""
    return f"{prefix}-{execution_id}"


def mlflow_server_name(prefix: str) -> str:
    """A project's optional MLflow tracking server, and its role (``<prefix>-mlflow``)."""
    return f"{prefix}-mlflow"


# Roles. A project's platform roles are named <prefix>-<role> (role_name); those named after their
# function, pipeline, rule or server are above; the per-target ones have functions below.
SAGEMAKER_PIPELINE = "sagemaker-pipeline"  # the training and import pipelines' jobs and steps
MONITORING_PIPELINE = "monitoring-pipeline"  # the open-monitoring pipeline's jobs
DEPLOY_CFN = "deploy-cfn"  # CloudFormation deploying the endpoint stacks
DEPLOY_PIPELINE = "deploy-pipeline"
BATCH_MODEL = "batch-model"  # batch scoring's transform jobs
ML_BUILD = "ml-build"  # CI's build project
ML_CICD = "ml-cicd"  # the CI/CD pipeline
ML_CICD_TRIGGER = "ml-cicd-trigger"
ML_PIPELINE_CHECK = "ml-pipeline-check"
GLUE_CRAWLER = "glue-crawler"
GLUE_ETL = "glue-etl"
GLUE_INGEST_EVENTS = "glue-ingest-events"
CHAT = "chat"  # AWS Chatbot's channels
VPC_FLOW_LOGS = "vpc-flow-logs"
AUDITOR = "auditor"  # the environment's read-only audit role
# The persona roles (mlops_constructs.security.personas): the people who work with a project.
APPROVER = "approver"
DATA_SCIENTIST = "data-scientist"
DATA_PRODUCER = "data-producer"
OPERATOR = "operator"


def role_name(prefix: str, role: str) -> str:
    """``<prefix>-<role>``: a platform or persona role."""
    return f"{prefix}-{role}"


def ci_name(prefix: str, part: str) -> str:
    """``<prefix>-<part>``: the project's CI/CD pipeline (ML_CICD), its build project (ML_BUILD)
    and the check of a team's definition (ML_PIPELINE_CHECK), each named as its role."""
    return f"{prefix}-{part}"


def endpoint_role_name(prefix: str, stage: str) -> str:
    """The role a stage's endpoint containers run as (``<prefix>-<stage>-endpoint``)."""
    return f"{prefix}-{stage}-endpoint"


def monitor_role_name(prefix: str, target: str) -> str:
    """The role a target's Model Monitor jobs run as (``<prefix>-<target>-monitor``)."""
    return f"{prefix}-{target}-monitor"


def monitoring_schedule_role_name(prefix: str, target: str) -> str:
    """The role that starts a target's open monitoring on its schedule
    (``<prefix>-<target>-monitoring-schedule``)."""
    return f"{prefix}-{target}-monitoring-schedule"


def publisher_role_name(topic: str) -> str:
    """The role EventBridge publishes to topic ``topic`` through (``<topic>-publisher``)."""
    return f"{topic}-publisher"


def release_approver_name(pipeline: str) -> str:
    """The role that approves or rejects release pipeline ``pipeline``'s production
    (``<pipeline>-approver``)."""
    return f"{pipeline}-approver"


def studio_default_role_name(domain: str) -> str:
    """A Studio domain's default execution role, with no permissions (``<domain>-default``)."""
    return f"{domain}-default"


# Alarms: named <resource>-<kind> (alarm_name), the resource being an endpoint (<prefix>-<stage>),
# a monitored target (<prefix>-<target>), a project (<prefix>) or a dead-letter queue. Each kind
# has its runbook (mlops_constructs.runbooks.Runbook).
_DRIFT = "drift-"


class AlarmKind(StrEnum):
    """The end of an alarm's name."""

    # An endpoint's: they roll a blue/green deployment back.
    ERRORS_5XX = "5xx"
    LATENCY_P99 = "latency-p99"
    # An endpoint's health: they notify only.
    ERRORS_4XX = "4xx"
    CPU = "cpu"
    MEMORY = "memory"
    DISK = "disk"
    # A scale-to-zero endpoint's: it starts a copy of the model.
    NO_CAPACITY = "no-capacity"
    # A monitored target's drift (production's start retraining).
    DATA_DRIFT = f"{_DRIFT}data"
    MODEL_QUALITY_DRIFT = f"{_DRIFT}model-quality"
    ATTRIBUTION_DRIFT = f"{_DRIFT}attribution"
    # A project's failed runs.
    ETL_FAILED = "etl-failed"
    TRAINING_FAILED = "training-failed"
    CICD_FAILED = "cicd-failed"
    DEPLOY_FAILED = "deploy-failed"
    # A dead-letter queue holding a message.
    NOT_EMPTY = "not-empty"


# A real-time endpoint's alarms on its invocations (rollback), then on its health (notification).
ENDPOINT_ALARMS = (
    AlarmKind.ERRORS_5XX,
    AlarmKind.LATENCY_P99,
    AlarmKind.ERRORS_4XX,
    AlarmKind.CPU,
    AlarmKind.MEMORY,
    AlarmKind.DISK,
)
# An endpoint of inference components' (scale_to_zero): no disk metric; a request that finds no
# copy starts one.
COMPONENT_ENDPOINT_ALARMS = (
    *(kind for kind in ENDPOINT_ALARMS if kind is not AlarmKind.DISK),
    AlarmKind.NO_CAPACITY,
)


# The front door's count of the captures it could not write and of the predictions it returned
# (metric filters on its log, by endpoint; ADR 0033): shown on the dashboard, no alarm.
FRONT_DOOR_NAMESPACE = "MLOps/FrontDoor"
CAPTURES_NOT_WRITTEN = "CapturesNotWritten"
PREDICTIONS_RETURNED = "PredictionsReturned"


def alarm_name(resource: str, kind: AlarmKind) -> str:
    """``<resource>-<kind>``: an alarm of the platform."""
    return f"{resource}-{kind.value}"


def drift_alarm_prefix(target: str) -> str:
    """What the names of a target's drift alarms start with (``<target>-drift-``): the
    retraining rules and the drift forwarder match it."""
    return f"{target}-{_DRIFT}"
