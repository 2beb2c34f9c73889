"""Idle-cost report: what the synthesized app costs per month while nothing happens.

"Idle" means no job runs and no request arrives. What still bills then is what stays provisioned:
KMS keys, NAT gateways, interface endpoints, dashboards, alarms, real-time endpoint instances,
MLflow tracking servers and a few more. Usage-billed resources (S3, Lambda, Glue, Step Functions,
SageMaker Pipelines, EventBridge, ...) cost nothing while idle and are listed as free.

The report reads CloudFormation templates only (``cdk.out/**/*.template.json``), never AWS, and
prices them with ``tools/prices.json``. A resource type that is neither priced nor known to be
free is reported as unknown, never counted as zero.

Each template is priced in its stack's region and attributed to its stack's account, both read from
the cloud assembly: a stack artifact's environment (``aws://account/region`` in a manifest.json),
or, for a template shipped as a file asset (the deploy pipeline's endpoint templates under
``cdk.out/asset.<hash>/``), the one account and region its ``*.assets.json`` destinations publish it
to. When neither says, the price table's default region is assumed and the account is unknown,
each with a note. After the total, the report sums the stacks per account.

Usage: ``python -m tools.idle_cost [--region R] [--cdk-out DIR] [--show-free]``
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

PRICES_FILE = Path(__file__).with_name("prices.json")
DEFAULT_CDK_OUT = Path("cdk.out")

Kind = Literal["cost", "free", "unpriced", "unknown"]
"""How a line's amount was obtained.

cost: computed from the price table (may be 0, e.g. a gateway endpoint); free: a type that costs
nothing while idle; unpriced: it costs money while idle but the table has no price for it;
unknown: a resource type this tool does not know (or knows to bill, but does not price).
Cost and free lines carry an amount; unpriced and unknown lines carry None, never zero.
"""


class IdleCostError(Exception):
    """Bad input (missing or unreadable cdk.out, template or price table): one message, exit 2."""


# --- data -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostLine:
    """One row of the report: the monthly idle cost of one resource (or one endpoint variant)."""

    stack: str
    logical_id: str
    resource_type: str
    monthly_usd: float | None
    how: str
    kind: Kind


@dataclass
class StackCost:
    """The lines of one template, priced with one region's prices."""

    name: str
    display_name: str
    template: Path | None
    region: str
    price_region: str
    lines: list[CostLine]
    account: str | None = None
    account_why: str = "not read from a cloud assembly"
    """Why ``account`` is None (ignored when it is known)."""

    @property
    def total(self) -> float:
        """Monthly USD of the priced lines; unpriced and unknown lines are not in it."""
        return sum(line.monthly_usd for line in self.lines if line.monthly_usd is not None)


@dataclass
class AccountCost:
    """The stacks of one AWS account (None: unknown), for the per-account summary."""

    account: str | None
    stacks: list[StackCost]

    @property
    def regions(self) -> list[str]:
        """The regions of its stacks, sorted."""
        return sorted({stack.region for stack in self.stacks})

    @property
    def total(self) -> float:
        """Monthly USD of its stacks (priced lines only)."""
        return sum(stack.total for stack in self.stacks)


@dataclass
class CostReport:
    """The whole report: per-stack lines and totals, unknown types, notes."""

    stacks: list[StackCost]
    notes: list[str]
    as_of: str
    hours_per_month: float

    @property
    def lines(self) -> list[CostLine]:
        """Every line of every stack, in report order."""
        return [line for stack in self.stacks for line in stack.lines]

    @property
    def stack_totals(self) -> dict[str, float]:
        """Monthly USD per stack name."""
        return {stack.name: stack.total for stack in self.stacks}

    @property
    def total(self) -> float:
        """Monthly USD of all stacks (priced lines only)."""
        return sum(stack.total for stack in self.stacks)

    @property
    def accounts(self) -> list[AccountCost]:
        """The stacks grouped by account, sorted by account id, the unknown account last."""
        groups: dict[str | None, list[StackCost]] = {}
        for stack in self.stacks:
            groups.setdefault(stack.account, []).append(stack)
        known = sorted(account for account in groups if account is not None)
        order: list[str | None] = [*known, *([None] if None in groups else [])]
        return [AccountCost(account, groups[account]) for account in order]

    @property
    def account_totals(self) -> dict[str | None, float]:
        """Monthly USD per account id (None: unknown), in summary order."""
        return {account.account: account.total for account in self.accounts}

    @property
    def unknown_types(self) -> dict[str, int]:
        """Resource types that were not priced and are not known to be free, with their counts."""
        counts = Counter(line.resource_type for line in self.lines if line.kind == "unknown")
        return dict(sorted(counts.items()))

    @property
    def unpriced(self) -> list[CostLine]:
        """Lines that bill while idle but have no price in the table (amount unknown)."""
        return [line for line in self.lines if line.kind == "unpriced"]


# --- prices ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegionPrices:
    """The price table of one region, as in prices.json."""

    region: str
    values: Mapping[str, Any]
    unverified: frozenset[str]


@dataclass(frozen=True)
class PriceTable:
    """prices.json, loaded."""

    path: Path
    as_of: str
    hours_per_month: float
    default_region: str
    regions: Mapping[str, RegionPrices]

    def for_region(self, region: str) -> tuple[RegionPrices, str | None]:
        """The prices of ``region``, or the default region's and a note saying so."""
        if region in self.regions:
            return self.regions[region], None
        fallback = self.regions[self.default_region]
        return fallback, (
            f"No prices for region {region} in {self.path.name}: "
            f"{self.default_region} prices were used instead."
        )


def load_prices(path: Path = PRICES_FILE) -> PriceTable:
    """Reads and checks the price table."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        regions = {
            name: RegionPrices(
                region=name,
                values=values,
                unverified=frozenset(values.get("_unverified", [])),
            )
            for name, values in data["regions"].items()
        }
        table = PriceTable(
            path=path,
            as_of=str(data["as_of"]),
            hours_per_month=float(data["hours_per_month"]),
            default_region=str(data["default_region"]),
            regions=regions,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise IdleCostError(f"{path}: not a usable price table ({error!r})") from error
    if table.default_region not in regions:
        raise IdleCostError(f"{path}: default_region {table.default_region} has no prices")
    return table


# --- known types ----------------------------------------------------------------------------

# Types that cost nothing while no job runs and no request arrives, with the reason shown.
FREE_TYPES: dict[str, str] = {
    "AWS::CDK::Metadata": "CDK metadata, not a resource",
    "AWS::CloudFormation::CustomResource": "custom resource: its Lambda bills per invocation",
    "AWS::CloudFormation::WaitConditionHandle": "no charge",
    "AWS::CloudFormation::Stack": "nested stack: its own template is reported separately",
    "AWS::IAM::Role": "no charge",
    "AWS::IAM::Policy": "no charge",
    "AWS::IAM::ManagedPolicy": "no charge",
    "AWS::IAM::InstanceProfile": "no charge",
    "AWS::IAM::ServiceLinkedRole": "no charge",
    "AWS::IAM::OIDCProvider": "no charge",
    "AWS::S3::Bucket": "storage and requests only (0 while empty)",
    "AWS::S3::BucketPolicy": "no charge",
    "AWS::KMS::Alias": "no charge (the key is priced)",
    "AWS::Glue::Database": "first million catalog objects free",
    "AWS::Glue::Table": "first million catalog objects free",
    "AWS::Glue::Partition": "first million catalog objects free",
    "AWS::Glue::Crawler": "bills per DPU-hour of a run",
    "AWS::Glue::Job": "bills per DPU-hour of a run",
    "AWS::Glue::Trigger": "no charge (the job run bills)",
    "AWS::Glue::Workflow": "no charge (the runs bill)",
    "AWS::Glue::Classifier": "no charge",
    "AWS::Glue::Connection": "no charge",
    "AWS::Glue::SecurityConfiguration": "no charge",
    "AWS::Glue::DataQualityRuleset": "bills per DPU-hour of an evaluation run",
    "AWS::Events::Rule": "bills per event (AWS service events free)",
    "AWS::Events::EventBus": "bills per event",
    "AWS::Events::EventBusPolicy": "no charge",
    "AWS::Scheduler::Schedule": "bills per invocation",
    "AWS::Scheduler::ScheduleGroup": "no charge",
    "AWS::SNS::Topic": "bills per request and delivery",
    "AWS::SNS::TopicPolicy": "no charge",
    "AWS::SNS::Subscription": "no charge (deliveries bill)",
    "AWS::SQS::Queue": "bills per request",
    "AWS::SQS::QueuePolicy": "no charge",
    "AWS::CloudTrail::Trail": "first management-event trail free; data events bill per event",
    "AWS::Lambda::Function": "bills per request and duration",
    # A REST API bills per request (and per hour of a cache cluster, priced on its stage).
    "AWS::ApiGateway::RestApi": "bills per request",
    "AWS::ApiGateway::Deployment": "no charge",
    "AWS::ApiGateway::Resource": "no charge",
    "AWS::ApiGateway::Method": "no charge (requests bill on the API)",
    "AWS::ApiGateway::RequestValidator": "no charge",
    "AWS::Lambda::Permission": "no charge",
    "AWS::Lambda::EventSourceMapping": "no charge (invocations bill)",
    "AWS::Lambda::EventInvokeConfig": "no charge",
    "AWS::Lambda::LayerVersion": "no charge",
    "AWS::Lambda::LayerVersionPermission": "no charge",
    "AWS::Lambda::Url": "no charge (invocations bill)",
    "AWS::StepFunctions::StateMachine": "bills per state transition or duration",
    "AWS::StepFunctions::Activity": "no charge",
    "AWS::SageMaker::Pipeline": "bills only the jobs a run starts",
    "AWS::SageMaker::ModelPackageGroup": "no charge",
    "AWS::SageMaker::ModelPackage": "no charge (artifacts are S3 objects)",
    "AWS::SageMaker::Model": "no charge (an endpoint running it bills)",
    "AWS::SageMaker::InferenceComponent": (
        "no charge by itself (its copies run on the endpoint's instances, priced on its config)"
    ),
    "AWS::SageMaker::ModelCard": "no charge",
    "AWS::SageMaker::Image": "no charge",
    "AWS::SageMaker::ImageVersion": "no charge",
    "AWS::SageMaker::MonitoringSchedule": "bills the processing job of each run",
    "AWS::SageMaker::DataQualityJobDefinition": "bills per job run",
    "AWS::SageMaker::ModelQualityJobDefinition": "bills per job run",
    "AWS::SageMaker::ModelBiasJobDefinition": "bills per job run",
    "AWS::SageMaker::ModelExplainabilityJobDefinition": "bills per job run",
    "AWS::Logs::LogGroup": "bills per GB ingested and stored (0 without ingestion)",
    "AWS::Logs::LogStream": "no charge",
    "AWS::Logs::MetricFilter": "no charge (custom metrics bill when emitted)",
    "AWS::Logs::SubscriptionFilter": "no charge",
    "AWS::Logs::ResourcePolicy": "no charge",
    "AWS::Logs::QueryDefinition": "no charge (queries bill per GB scanned)",
    "AWS::CloudWatch::AnomalyDetector": "priced through the alarms that use it",
    "AWS::Chatbot::SlackChannelConfiguration": "no charge: AWS Chatbot is free ($0)",
    "AWS::Chatbot::MicrosoftTeamsChannelConfiguration": "no charge: AWS Chatbot is free ($0)",
    "AWS::EC2::VPC": "no charge",
    "AWS::EC2::Subnet": "no charge",
    "AWS::EC2::RouteTable": "no charge",
    "AWS::EC2::Route": "no charge",
    "AWS::EC2::SubnetRouteTableAssociation": "no charge",
    "AWS::EC2::InternetGateway": "no charge (data transfer bills)",
    "AWS::EC2::EgressOnlyInternetGateway": "no charge (data transfer bills)",
    "AWS::EC2::VPCGatewayAttachment": "no charge",
    "AWS::EC2::SecurityGroup": "no charge",
    "AWS::EC2::SecurityGroupIngress": "no charge",
    "AWS::EC2::SecurityGroupEgress": "no charge",
    "AWS::EC2::NetworkAcl": "no charge",
    "AWS::EC2::NetworkAclEntry": "no charge",
    "AWS::EC2::SubnetNetworkAclAssociation": "no charge",
    "AWS::EC2::FlowLog": "bills per GB of flow logs delivered",
    "AWS::EC2::LaunchTemplate": "no charge",
    "AWS::ECR::Repository": "storage only (0 while empty)",
    "AWS::ECS::Cluster": "no charge (tasks bill)",
    "AWS::ECS::TaskDefinition": "no charge",
    "AWS::ApplicationAutoScaling::ScalableTarget": "no charge (MinCapacity is applied to the target)",
    "AWS::Athena::WorkGroup": "bills per TB scanned",
    "AWS::Athena::NamedQuery": "no charge",
    "AWS::LakeFormation::DataLakeSettings": "no charge",
    "AWS::LakeFormation::Permissions": "no charge",
    "AWS::LakeFormation::PrincipalPermissions": "no charge",
    "AWS::LakeFormation::Resource": "no charge",
    "AWS::CodeBuild::Project": "bills per build minute",
    "AWS::Backup::BackupVault": "storage only",
    "AWS::Backup::BackupPlan": "no charge (backups bill storage)",
    "AWS::Backup::BackupSelection": "no charge",
}

# Types that bill while idle but that this tool does not price: reported as unknown types.
UNPRICED_RUNNING_TYPES = frozenset(
    {
        "AWS::EC2::Instance",
        "AWS::RDS::DBInstance",
        "AWS::RDS::DBCluster",
        "AWS::SageMaker::NotebookInstance",
        "AWS::ElastiCache::CacheCluster",
        "AWS::ElastiCache::ReplicationGroup",
        "AWS::OpenSearchService::Domain",
        "AWS::EKS::Cluster",
        "AWS::Redshift::Cluster",
    }
)

_CHATBOT_NOTE = (
    "Chat channels (AWS Chatbot, now Amazon Q Developer in chat applications): the service and "
    "its channel configurations cost nothing; what their notifications use bills by use "
    "(SNS deliveries, the /aws/chatbot log group's ingestion), so 0 while idle."
)

# SageMaker Studio (ADR 0022): what a user keeps in the domain's home file system (EFS) is
# unknowable from a template; priced at this many GB per user profile, a stated assumption.
STUDIO_HOME_GB_PER_USER = 1.0
# A space's EBS volume when the template sets no default (SageMaker's default and minimum).
STUDIO_SPACE_GB = 5

# Printed once per report when the type occurs, because the free/priced line alone misleads.
TYPE_NOTES: dict[str, str] = {
    "AWS::SageMaker::Domain": (
        "SageMaker Studio: the domain costs nothing; its apps (JupyterLab, Code Editor) bill "
        "their instance only while they run, and the domain's idle shutdown stops them; "
        "storage bills while it exists: the home EFS (priced at an assumed "
        f"{STUDIO_HOME_GB_PER_USER:g} GB per user profile: whatever users keep there) and each "
        "private space's EBS volume (priced as one space per user profile at the domain's "
        "default size). Deleting a space deletes its volume; the home EFS outlives the domain."
    ),
    "AWS::Chatbot::SlackChannelConfiguration": _CHATBOT_NOTE,
    "AWS::Chatbot::MicrosoftTeamsChannelConfiguration": _CHATBOT_NOTE,
    "AWS::CloudWatch::Dashboard": (
        "CloudWatch: the first 3 dashboards per account are free; ignored here, every dashboard "
        "is counted."
    ),
    "AWS::CloudWatch::Alarm": (
        "CloudWatch alarms: priced per alarm metric (1 for a simple alarm, one per MetricStat of "
        "a metric-math alarm, 3 per metric for anomaly detection); the 10 free alarm metrics per "
        "account are ignored."
    ),
    "AWS::ApplicationAutoScaling::ScalingPolicy": (
        "Target tracking scaling policies: Application Auto Scaling creates and manages two "
        "CloudWatch alarms per policy (scale out, scale in), billed per alarm metric like the "
        "template's own; counted as two even with DisableScaleIn. Step scaling policies have "
        "none: the alarm that starts one is its own resource."
    ),
    "AWS::CloudTrail::Trail": (
        "CloudTrail: the first copy of an account's management events is free, a further one "
        "(a second trail that keeps them, such as one beside an organization trail) bills $2.00 "
        "per 100,000 events; data events bill $0.10 per 100,000, none while idle. Management "
        "events happen while the platform is idle (any API call in the account), so a trail that "
        "keeps them and copies them to CloudWatch Logs also ingests them there ($0.50/GB in "
        "us-east-1). Not in the totals: both depend on the account's activity."
    ),
    "AWS::EC2::NatGateway": (
        "NAT gateways also bill per GB processed; a public NAT gateway's Elastic IP is priced on "
        "its AWS::EC2::EIP line."
    ),
    "AWS::EC2::FlowLog": "VPC flow logs bill per GB delivered: 0 while idle.",
    "AWS::SageMaker::MonitoringSchedule": (
        "Model Monitor schedules start a processing job on every tick, traffic or not; each run "
        "bills its instance for the run's minutes (a daily run on one ml.m5.large for 10 minutes "
        "is about $0.60/month per monitor). Not in the totals: the duration depends on the data."
    ),
    "AWS::Scheduler::Schedule": (
        "Open monitoring schedules start the project's monitoring pipeline on every tick: with "
        "a deployed model and captured traffic a run bills one or two processing jobs (a daily "
        "run on one ml.m5.large for about 5 minutes is about $0.30/month per stage and check) "
        "and two Lambda calls; without them it ends at its first Lambda step (fractions of a "
        "cent). With monitor.attributions the data job also scores rows x permutations x "
        "(features + 1) rows through the model (100 x 8 x 6 = 4,800 at the defaults with 5 "
        "features: a minute or two more, about $0.10/month per stage, daily). Not in the "
        "totals: runs bill per use."
    ),
    "AWS::SageMaker::EndpointConfig": (
        "SageMaker endpoints: idle instances = ScalableTarget MinCapacity if the variant has one, "
        "else ManagedInstanceScaling MinInstanceCount, else InitialInstanceCount. An endpoint "
        "config is counted when an endpoint of the same template uses it, or when that cannot "
        "be told (fixed name, exported, or an endpoint whose config does not resolve)."
    ),
    "AWS::SageMaker::InferenceComponent": (
        "SageMaker inference components (hosting scale_to_zero): with ManagedInstanceScaling "
        "MinInstanceCount 0 and the copies' ScalableTarget MinCapacity 0 the endpoint has no "
        "instance while idle; the first request after idle fails while a copy and an instance "
        "start (minutes), and each instance bills from then until the copies scale back in. The "
        "scale-out alarm on NoCapacityInvocationFailures is priced like any alarm."
    ),
}


# --- intrinsic functions --------------------------------------------------------------------


def _flatten(value: Any) -> str | None:
    """Renders a string property: Ref/GetAtt become ``${LogicalId}``, other intrinsics ``?``.

    Enough to read service names and scalable-target resource ids built with Fn::Join/Fn::Sub.
    """
    if isinstance(value, str):
        return value
    if not (isinstance(value, dict) and len(value) == 1):
        return None
    ((function, argument),) = value.items()
    target = _target(value)
    if target is not None:
        return "${" + target + "}"
    if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
        delimiter, parts = argument
        if isinstance(delimiter, str) and isinstance(parts, list):
            return delimiter.join(_flatten(part) or "?" for part in parts)
    if function == "Fn::Sub":
        text = argument[0] if isinstance(argument, list) and argument else argument
        if isinstance(text, str):
            # ${Resource.Attribute} names the same resource as ${Resource}.
            return re.sub(r"\$\{([^}!.]+)\.[^}]*\}", r"${\1}", text)
    return None


def _target(value: Any) -> str | None:
    """The logical id that ``{"Ref": X}`` or ``{"Fn::GetAtt": [X, ...]}`` points at."""
    if not (isinstance(value, dict) and len(value) == 1):
        return None
    if isinstance(value.get("Ref"), str):
        return str(value["Ref"])
    attribute = value.get("Fn::GetAtt")
    if isinstance(attribute, list) and attribute and isinstance(attribute[0], str):
        return attribute[0]
    if isinstance(attribute, str):
        return attribute.split(".", 1)[0]
    return None


def _references(value: Any) -> set[str]:
    """Every logical id referenced anywhere inside ``value`` (Ref, GetAtt, Fn::Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        target = _target(value)
        if target is not None:
            found.add(target)
        sub = value.get("Fn::Sub")
        text = sub[0] if isinstance(sub, list) and sub else sub
        if isinstance(text, str):
            found.update(re.findall(r"\$\{([^}!.]+)", text))
        for item in value.values():
            found |= _references(item)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return found


def _int(value: Any) -> int | None:
    """An integer property, or None when it is an intrinsic or missing."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _usd(amount: float) -> str:
    """A unit price: cents when exact ($3.00), else as precise as the table ($0.045)."""
    return f"${amount:.2f}" if round(amount, 2) == amount else f"${amount:g}"


# --- per-template context -------------------------------------------------------------------


class _Notes:
    """Notes in first-seen order, each once."""

    def __init__(self) -> None:
        self._notes: dict[str, None] = {}

    def add(self, note: str) -> None:
        self._notes.setdefault(note, None)

    def as_list(self) -> list[str]:
        return list(self._notes)


@dataclass
class _Template:
    """One template being priced: its resources, prices and the SageMaker cross-references."""

    stack: str
    resources: Mapping[str, Any]
    outputs: Any
    prices: RegionPrices
    hours: float
    notes: _Notes
    endpoint_configs: dict[str, str | None] = field(default_factory=dict)
    scaling: dict[tuple[str, str, str], tuple[int, str]] = field(default_factory=dict)

    def price(self, key: str, item: str | None = None) -> float | None:
        """A price from the region's table (None if missing); flags figures marked unverified."""
        value = self.prices.values.get(key)
        if item is not None:
            value = value.get(item) if isinstance(value, dict) else None
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        if key in self.prices.unverified:
            self.notes.add(
                f"Used {self.prices.region} '{key}' from prices.json, marked unverified: check it "
                "against its AWS pricing page."
            )
        return float(value)

    def line(
        self,
        logical_id: str,
        resource_type: str,
        amount: float | None,
        how: str,
        kind: Kind = "cost",
    ) -> CostLine:
        """A line of this stack; an amount of None makes it unpriced."""
        if amount is None and kind == "cost":
            kind = "unpriced"
        return CostLine(self.stack, logical_id, resource_type, amount, how, kind)

    def missing(self, logical_id: str, resource_type: str, key: str, item: str = "") -> CostLine:
        """The unpriced line for a price the table lacks."""
        what = f"{key} {item}".strip()
        return self.line(
            logical_id,
            resource_type,
            None,
            f"no price for {what} in {self.prices.region} (tools/prices.json)",
        )

    def of_type(self, resource_type: str) -> dict[str, Mapping[str, Any]]:
        """Logical id -> Properties of every resource of ``resource_type``."""
        return {
            logical_id: _properties(resource)
            for logical_id, resource in self.resources.items()
            if isinstance(resource, dict) and resource.get("Type") == resource_type
        }


def _properties(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    properties = resource.get("Properties")
    return properties if isinstance(properties, dict) else {}


def _link_sagemaker(tpl: _Template) -> None:
    """Ties endpoints to their configs and scalable targets to endpoint variants."""
    configs = tpl.of_type("AWS::SageMaker::EndpointConfig")
    config_by_name = {
        props["EndpointConfigName"]: logical_id
        for logical_id, props in configs.items()
        if isinstance(props.get("EndpointConfigName"), str)
    }
    endpoints = tpl.of_type("AWS::SageMaker::Endpoint")
    for logical_id, props in endpoints.items():
        reference = props.get("EndpointConfigName")
        target = _target(reference)
        if target in configs:
            tpl.endpoint_configs[logical_id] = target
        elif isinstance(reference, str) and reference in config_by_name:
            tpl.endpoint_configs[logical_id] = config_by_name[reference]
        else:
            tpl.endpoint_configs[logical_id] = None

    endpoint_by_name = {
        props["EndpointName"]: logical_id
        for logical_id, props in endpoints.items()
        if isinstance(props.get("EndpointName"), str)
    }
    targets = tpl.of_type("AWS::ApplicationAutoScaling::ScalableTarget")
    for logical_id, props in targets.items():
        if props.get("ServiceNamespace") != "sagemaker":
            continue
        if props.get("ScalableDimension") == "sagemaker:inference-component:DesiredCopyCount":
            # Copies of an inference component run on the endpoint's instances, whose idle
            # count is its config's ManagedInstanceScaling minimum.
            continue
        match = re.fullmatch(r"endpoint/(.+)/variant/(.+)", _flatten(props.get("ResourceId")) or "")
        endpoint = None
        if match:
            token = match.group(1)
            token_target = token[2:-1] if token.startswith("${") and token.endswith("}") else None
            endpoint = token_target if token_target in endpoints else endpoint_by_name.get(token)
        minimum = _int(props.get("MinCapacity"))
        dimension = props.get("ScalableDimension")
        if match is None or endpoint is None or minimum is None or not isinstance(dimension, str):
            tpl.notes.add(
                f"{tpl.stack}: ScalableTarget {logical_id} could not be tied to an endpoint "
                "variant of this template; its MinCapacity was not applied."
            )
            continue
        tpl.scaling[(endpoint, match.group(2), dimension)] = (minimum, logical_id)


# --- pricers --------------------------------------------------------------------------------

Pricer = Callable[[_Template, str, str, Mapping[str, Any]], list[CostLine]]


def _monthly(key: str, label: str) -> Pricer:
    """A pricer for a flat monthly price per resource."""

    def price(
        tpl: _Template, logical_id: str, rtype: str, props: Mapping[str, Any]
    ) -> list[CostLine]:
        amount = tpl.price(key)
        if amount is None:
            return [tpl.missing(logical_id, rtype, key)]
        return [tpl.line(logical_id, rtype, amount, f"{label}: {_usd(amount)}/month")]

    return price


def _hourly(key: str, label: str) -> Pricer:
    """A pricer for a flat hourly price per resource, run all month."""

    def price(
        tpl: _Template, logical_id: str, rtype: str, props: Mapping[str, Any]
    ) -> list[CostLine]:
        hourly = tpl.price(key)
        if hourly is None:
            return [tpl.missing(logical_id, rtype, key)]
        how = f"{label}: {_usd(hourly)}/h x {tpl.hours:g} h"
        return [tpl.line(logical_id, rtype, hourly * tpl.hours, how)]

    return price


def _kms_key(
    tpl: _Template, logical_id: str, rtype: str, props: Mapping[str, Any]
) -> list[CostLine]:
    if props.get("EnableKeyRotation") is True:
        tpl.notes.add(
            "KMS: the first and the second automatic rotation of a key each add $1/month; a "
            "rotating key costs up to $3/month after two years. Priced here at the first year."
        )
    if props.get("MultiRegion") is True:
        tpl.notes.add(
            "KMS: every replica of a multi-Region key is one more key ($1/month in its region); "
            "AWS::KMS::ReplicaKey resources are priced on their own lines."
        )
    amount = tpl.price("kms_key_month")
    if amount is None:
        return [tpl.missing(logical_id, rtype, "kms_key_month")]
    return [tpl.line(logical_id, rtype, amount, f"customer managed key: {_usd(amount)}/month")]


def _vpc_endpoint(
    tpl: _Template, logical_id: str, rtype: str, props: Mapping[str, Any]
) -> list[CostLine]:
    endpoint_type = props.get("VpcEndpointType")
    service = _flatten(props.get("ServiceName")) or ""
    if endpoint_type == "Gateway" or (
        endpoint_type is None and service.endswith((".s3", ".dynamodb"))
    ):
        return [tpl.line(logical_id, rtype, 0.0, "Gateway endpoint (S3/DynamoDB): no charge")]
    if endpoint_type not in (None, "Interface"):
        return [
            tpl.line(logical_id, rtype, None, f"{endpoint_type} endpoint: not priced by this tool")
        ]
    subnets = props.get("SubnetIds")
    if isinstance(subnets, list) and subnets:
        zones, basis = len(subnets), f"{len(subnets)} AZ(s) from SubnetIds"
    else:
        zones, basis = 2, "2 AZs assumed (SubnetIds not a literal list)"
        tpl.notes.add(
            f"{tpl.stack}: interface endpoint {logical_id} has no literal SubnetIds list: "
            "2 AZs assumed."
        )
    hourly = tpl.price("vpc_interface_endpoint_az_hour")
    if hourly is None:
        return [tpl.missing(logical_id, rtype, "vpc_interface_endpoint_az_hour")]
    how = f"Interface endpoint, {basis} x {_usd(hourly)}/AZ-h x {tpl.hours:g} h"
    if endpoint_type is None:
        how += " (VpcEndpointType missing, not an S3/DynamoDB service: taken as Interface)"
    return [tpl.line(logical_id, rtype, zones * hourly * tpl.hours, how)]


def _metric_stats(metrics: list[Any]) -> list[Any]:
    """The MetricStats of a metric-math query: CloudWatch bills one alarm metric for each."""
    return [m["MetricStat"] for m in metrics if isinstance(m, dict) and "MetricStat" in m]


def _alarm(tpl: _Template, logical_id: str, rtype: str, props: Mapping[str, Any]) -> list[CostLine]:
    metrics = props.get("Metrics")
    if isinstance(metrics, list):
        stats = _metric_stats(metrics)
        periods = [_int(stat.get("Period")) for stat in stats if isinstance(stat, dict)]
        anomaly = any(
            "ANOMALY_DETECTION_BAND" in str(m.get("Expression", ""))
            for m in metrics
            if isinstance(m, dict)
        )
        count = len(stats) * (3 if anomaly else 1)
        shape = "anomaly detection, 3 per metric" if anomaly else "metric math"
        if count == 0:
            # A query-only alarm (e.g. Metrics Insights): at least one alarm metric.
            count, shape = 1, "no MetricStat: 1 assumed"
    else:
        periods = [_int(props.get("Period"))]
        count, shape = 1, "simple alarm"
    high = any(period is not None and period < 60 for period in periods)
    return _alarm_metrics_line(
        tpl, logical_id, rtype, count, high, f"{count} alarm metric(s) ({shape})"
    )


def _alarm_metrics_line(
    tpl: _Template, logical_id: str, rtype: str, count: int, high: bool, what: str
) -> list[CostLine]:
    """``count`` alarm metrics of one resolution (``high``: under 60 s), ``what`` they are."""
    key = (
        "cloudwatch_alarm_high_resolution_metric_month"
        if high
        else "cloudwatch_alarm_standard_metric_month"
    )
    unit = tpl.price(key)
    if unit is None:
        return [tpl.missing(logical_id, rtype, key)]
    resolution = "high" if high else "standard"
    how = f"{what} x {_usd(unit)}/month, {resolution} resolution"
    return [tpl.line(logical_id, rtype, count * unit, how)]


def _scaling_policy(
    tpl: _Template, logical_id: str, rtype: str, props: Mapping[str, Any]
) -> list[CostLine]:
    """A target tracking policy's alarms: Application Auto Scaling creates and manages two
    CloudWatch alarms per policy (scale out, scale in), billed like any alarm. A step scaling
    policy has none of its own: the alarm that starts it is a resource of the template."""
    if props.get("PolicyType") != "TargetTrackingScaling":
        return [tpl.line(logical_id, rtype, 0.0, "step scaling: its alarm is priced", "free")]
    config = props.get("TargetTrackingScalingPolicyConfiguration")
    config = config if isinstance(config, dict) else {}
    predefined = config.get("PredefinedMetricSpecification")
    metric_type = predefined.get("PredefinedMetricType") if isinstance(predefined, dict) else None
    custom = config.get("CustomizedMetricSpecification")
    custom_metrics = custom.get("Metrics") if isinstance(custom, dict) else None
    per_alarm = 1
    if isinstance(custom_metrics, list):
        per_alarm = max(1, len(_metric_stats(custom_metrics)))
    high = isinstance(metric_type, str) and metric_type.endswith("HighResolution")
    what = f"target tracking: 2 managed alarms (scale out, scale in) x {per_alarm} metric(s)"
    return _alarm_metrics_line(tpl, logical_id, rtype, 2 * per_alarm, high, what)


def _nat_gateway(
    tpl: _Template, logical_id: str, rtype: str, props: Mapping[str, Any]
) -> list[CostLine]:
    label = "private NAT gateway" if props.get("ConnectivityType") == "private" else "NAT gateway"
    return _hourly("nat_gateway_hour", label)(tpl, logical_id, rtype, props)


def _secret(
    tpl: _Template, logical_id: str, rtype: str, props: Mapping[str, Any]
) -> list[CostLine]:
    unit = tpl.price("secretsmanager_secret_month")
    if unit is None:
        return [tpl.missing(logical_id, rtype, "secretsmanager_secret_month")]
    replicas = props.get("ReplicaRegions")
    copies = 1 + (len(replicas) if isinstance(replicas, list) else 0)
    how = f"{copies} secret(s) incl. replicas x {_usd(unit)}/month"
    return [tpl.line(logical_id, rtype, copies * unit, how)]


def _mlflow(
    tpl: _Template, logical_id: str, rtype: str, props: Mapping[str, Any]
) -> list[CostLine]:
    size = props.get("TrackingServerSize", "Small")  # the service default
    if not isinstance(size, str):
        return [tpl.line(logical_id, rtype, None, "TrackingServerSize is not a literal")]
    hourly = tpl.price("sagemaker_mlflow_tracking_server_hour", size)
    if hourly is None:
        return [tpl.missing(logical_id, rtype, "sagemaker_mlflow_tracking_server_hour", size)]
    how = f"{size} tracking server: {_usd(hourly)}/h x {tpl.hours:g} h (+ metadata storage)"
    return [tpl.line(logical_id, rtype, hourly * tpl.hours, how)]


def _lambda_alias(
    tpl: _Template, logical_id: str, rtype: str, props: Mapping[str, Any]
) -> list[CostLine]:
    if "ProvisionedConcurrencyConfig" in props:
        how = "provisioned concurrency bills while idle: not priced by this tool"
        return [tpl.line(logical_id, rtype, None, how)]
    return [tpl.line(logical_id, rtype, 0.0, "bills per request and duration", "free")]


def _dynamodb_table(
    tpl: _Template, logical_id: str, rtype: str, props: Mapping[str, Any]
) -> list[CostLine]:
    if props.get("BillingMode") == "PAY_PER_REQUEST":
        return [tpl.line(logical_id, rtype, 0.0, "on-demand: requests and storage only", "free")]
    how = "provisioned capacity bills while idle: not priced by this tool"
    return [tpl.line(logical_id, rtype, None, how)]


def _codepipeline(
    tpl: _Template, logical_id: str, rtype: str, props: Mapping[str, Any]
) -> list[CostLine]:
    if props.get("PipelineType") == "V2":
        return [tpl.line(logical_id, rtype, 0.0, "V2: billed per action execution minute", "free")]
    # V1 pipelines (and pipelines without a type, which are V1) bill per active month.
    return _monthly("codepipeline_v1_active_pipeline_month", "V1 pipeline, active month")(
        tpl, logical_id, rtype, props
    )


def _api_stage(
    tpl: _Template, logical_id: str, rtype: str, props: Mapping[str, Any]
) -> list[CostLine]:
    if props.get("CacheClusterEnabled") is True:
        how = "a cache cluster bills per hour while idle: not priced by this tool"
        return [tpl.line(logical_id, rtype, None, how)]
    return [tpl.line(logical_id, rtype, 0.0, "no cache cluster: requests bill on the API", "free")]


def _ssm_parameter(
    tpl: _Template, logical_id: str, rtype: str, props: Mapping[str, Any]
) -> list[CostLine]:
    if props.get("Tier") in ("Advanced", "Intelligent-Tiering"):
        how = "advanced parameters bill per month: not priced by this tool"
        return [tpl.line(logical_id, rtype, None, how)]
    return [tpl.line(logical_id, rtype, 0.0, "standard parameter: no charge", "free")]


def _idle_count(
    tpl: _Template,
    endpoint: str | None,
    variant_name: str,
    dimension: str,
    fallbacks: Sequence[tuple[Any, str]],
) -> tuple[int | None, str]:
    """The idle value of a scalable variant dimension, and where it came from.

    A ScalableTarget's MinCapacity wins: with no traffic, target tracking scales in to it.
    ``fallbacks`` are (value, source) pairs tried in order when there is no scalable target.
    """
    scaled = tpl.scaling.get((endpoint or "", variant_name, dimension))
    if scaled is not None:
        return scaled[0], f"MinCapacity of {scaled[1]}"
    for value, source in fallbacks:
        if _int(value) is not None:
            return _int(value), source
    return None, "not literal"


def _variant_line(
    tpl: _Template,
    logical_id: str,
    rtype: str,
    variant: Any,
    endpoint: str | None,
    suffix: str,
) -> CostLine:
    """The idle cost of one production variant, run by ``endpoint`` (None: no endpoint here)."""
    if not isinstance(variant, dict):
        return tpl.line(logical_id, rtype, None, f"production variant is not literal{suffix}")
    name = variant.get("VariantName")
    label = f"variant {name}" if isinstance(name, str) else "variant ?"
    key = name if isinstance(name, str) else ""
    serverless = variant.get("ServerlessConfig")
    if isinstance(serverless, dict):
        return _serverless_line(tpl, logical_id, rtype, serverless, endpoint, key, label, suffix)

    managed = variant.get("ManagedInstanceScaling")
    minimum = (
        managed.get("MinInstanceCount")
        if isinstance(managed, dict) and managed.get("Status") == "ENABLED"
        else None
    )
    count, source = _idle_count(
        tpl,
        endpoint,
        key,
        "sagemaker:variant:DesiredInstanceCount",
        [
            (minimum, "ManagedInstanceScaling minimum"),
            (variant.get("InitialInstanceCount"), "InitialInstanceCount"),
        ],
    )
    instance_type = variant.get("InstanceType")
    if not isinstance(instance_type, str) or count is None:
        how = f"{label}: instance type or count not literal{suffix}"
        return tpl.line(logical_id, rtype, None, how)
    hourly = tpl.price("sagemaker_hosting_instance_hour", instance_type)
    if hourly is None:
        how = (
            f"{label}: {count} x {instance_type}, no price for {instance_type} in "
            f"{tpl.prices.region} (tools/prices.json){suffix}"
        )
        return tpl.line(logical_id, rtype, None, how)
    how = (
        f"{label}: {count} x {instance_type} ({source}) x {_usd(hourly)}/h"
        f" x {tpl.hours:g} h{suffix}"
    )
    if count == 0 and minimum is not None:
        tpl.notes.add(_wake_up_note(instance_type, tpl.prices.region, hourly, tpl.hours))
    return tpl.line(logical_id, rtype, count * hourly * tpl.hours, how)


# What one wake-up of a scale-to-zero endpoint bills, in minutes of one instance (an estimate,
# ADR 0014): the instance's start-up and the model's load (about 5), the 15 one-minute datapoints
# target tracking's scale-in alarm waits for after the last request, the instance's release
# (about 5).
WAKE_UP_MINUTES = 25
QUIET_MINUTES = 15


def _wake_up_note(instance_type: str, region: str, hourly: float, hours: float) -> str:
    wake = hourly * WAKE_UP_MINUTES / 60
    return (
        f"Scale-to-zero endpoints on {instance_type} ({region}): each wake-up bills about "
        f"{WAKE_UP_MINUTES} minutes of one instance, ${wake:.2f} (an estimate: start-up about 5, "
        f"target tracking's scale-in {QUIET_MINUTES} minutes after the last request, release "
        "about 5); "
        f"requests less than {QUIET_MINUTES} minutes apart keep it running, up to "
        f"${hourly * hours:.2f}/month per instance. Not in the totals: wake-ups bill per use."
    )


def _serverless_line(
    tpl: _Template,
    logical_id: str,
    rtype: str,
    serverless: Mapping[str, Any],
    endpoint: str | None,
    variant_name: str,
    label: str,
    suffix: str,
) -> CostLine:
    """A serverless variant: free idle unless it keeps provisioned concurrency warm."""
    dimension = "sagemaker:variant:DesiredProvisionedConcurrency"
    if "ProvisionedConcurrency" not in serverless and (
        (endpoint or "", variant_name, dimension) not in tpl.scaling
    ):
        return tpl.line(logical_id, rtype, 0.0, f"{label}: serverless, scales to zero{suffix}")
    concurrency, source = _idle_count(
        tpl,
        endpoint,
        variant_name,
        dimension,
        [(serverless.get("ProvisionedConcurrency"), "ProvisionedConcurrency")],
    )
    memory = _int(serverless.get("MemorySizeInMB"))
    if concurrency is None or memory is None:
        how = f"{label}: serverless, provisioned concurrency or memory not literal{suffix}"
        return tpl.line(logical_id, rtype, None, how)
    price_key = "sagemaker_serverless_provisioned_concurrency_gb_hour"
    gb_hour = tpl.price(price_key)
    if gb_hour is None:
        return tpl.missing(logical_id, rtype, price_key)
    tpl.notes.add(
        "SageMaker serverless provisioned concurrency is approximated as provisioned concurrency "
        "x memory GB x a per-GB-hour price, all month long (request duration and data processed "
        "are usage, not idle cost)."
    )
    gigabytes = memory / 1024
    how = (
        f"{label}: serverless, {concurrency} provisioned ({source}) x {gigabytes:g} GB"
        f" x {_usd(gb_hour)}/GB-h x {tpl.hours:g} h{suffix}"
    )
    return tpl.line(logical_id, rtype, concurrency * gigabytes * gb_hour * tpl.hours, how)


def _variants(props: Mapping[str, Any]) -> list[Any]:
    """Production and shadow variants: both run instances."""
    found: list[Any] = []
    for key in ("ProductionVariants", "ShadowProductionVariants"):
        value = props.get(key)
        if isinstance(value, list):
            found.extend(value)
    return found


def _endpoint(
    tpl: _Template, logical_id: str, rtype: str, props: Mapping[str, Any]
) -> list[CostLine]:
    config = tpl.endpoint_configs.get(logical_id)
    if config is None:
        how = (
            "EndpointConfigName is not an endpoint config of this template: cannot tell its "
            "instances (a config counted as 'cannot tell' elsewhere may carry them)"
        )
        return [tpl.line(logical_id, rtype, None, how)]
    suffix = f" (config {config})"
    config_props = _properties(tpl.resources[config])
    lines = [
        _variant_line(tpl, logical_id, rtype, variant, logical_id, suffix)
        for variant in _variants(config_props)
    ]
    return lines or [tpl.line(logical_id, rtype, None, f"config {config} has no literal variants")]


def _endpoint_config(
    tpl: _Template, logical_id: str, rtype: str, props: Mapping[str, Any]
) -> list[CostLine]:
    users = sorted(ep for ep, config in tpl.endpoint_configs.items() if config == logical_id)
    if users:
        how = f"instances priced on endpoint {', '.join(users)}"
        return [tpl.line(logical_id, rtype, 0.0, how)]
    reason = _cannot_tell(tpl, logical_id, props)
    if reason is None:
        how = "no endpoint of this template uses it: no instances run"
        return [tpl.line(logical_id, rtype, 0.0, how)]
    suffix = f" (no endpoint here uses it; counted because {reason})"
    lines = [
        _variant_line(tpl, logical_id, rtype, variant, None, suffix) for variant in _variants(props)
    ]
    return lines or [tpl.line(logical_id, rtype, None, f"no literal variants{suffix}")]


def _cannot_tell(tpl: _Template, logical_id: str, props: Mapping[str, Any]) -> str | None:
    """Why an endpoint config that no endpoint here uses may still run, or None if it cannot."""
    unresolved = sorted(ep for ep, config in tpl.endpoint_configs.items() if config is None)
    if unresolved:
        return f"endpoint {', '.join(unresolved)} has an unresolvable config"
    if logical_id in _references(tpl.outputs):
        return "it is exported in Outputs"
    if "EndpointConfigName" in props:
        return "it has a fixed name an endpoint elsewhere could use"
    return None


def _studio_domain(
    tpl: _Template, logical_id: str, rtype: str, props: Mapping[str, Any]
) -> list[CostLine]:
    """No charge for the domain; its home EFS at the assumed size per user profile here."""
    users = len(tpl.of_type("AWS::SageMaker::UserProfile"))
    unit = tpl.price("efs_standard_storage_gb_month")
    if unit is None:
        return [tpl.missing(logical_id, rtype, "efs_standard_storage_gb_month")]
    how = (
        f"domain: no charge; home EFS: {users} user profile(s) x {STUDIO_HOME_GB_PER_USER:g} GB "
        f"assumed x {_usd(unit)}/GB-month"
    )
    return [tpl.line(logical_id, rtype, users * STUDIO_HOME_GB_PER_USER * unit, how)]


def _studio_settings(tpl: _Template, props: Mapping[str, Any]) -> tuple[int, int | None]:
    """A profile's space volume (GB) and idle timeout (minutes, None: no idle shutdown): its
    own settings, else its template's domain's defaults, else SageMaker's."""
    domains = list(tpl.of_type("AWS::SageMaker::Domain").values())
    layers = [props.get("UserSettings")] + [d.get("DefaultUserSettings") for d in domains[:1]]
    size: int | None = None
    idle: int | None = None
    for settings in (s for s in layers if isinstance(s, dict)):
        storage = settings.get("SpaceStorageSettings", {}).get("DefaultEbsStorageSettings", {})
        size = size or _int(storage.get("DefaultEbsVolumeSizeInGb"))
        lab = settings.get("JupyterLabAppSettings", {}).get("AppLifecycleManagement", {})
        idle_settings = lab.get("IdleSettings", {})
        if idle is None and idle_settings.get("LifecycleManagement") == "ENABLED":
            idle = _int(idle_settings.get("IdleTimeoutInMinutes"))
    return size or STUDIO_SPACE_GB, idle


def _studio_profile(
    tpl: _Template, logical_id: str, rtype: str, props: Mapping[str, Any]
) -> list[CostLine]:
    """One private space per user profile, its EBS volume at the default size; apps bill by use."""
    size, idle = _studio_settings(tpl, props)
    unit = tpl.price("sagemaker_studio_space_storage_gb_month")
    if unit is None:
        return [tpl.missing(logical_id, rtype, "sagemaker_studio_space_storage_gb_month")]
    stops = (
        f"stopped after {idle} idle minutes"
        if idle
        else "no idle shutdown here: a running app bills until it is stopped"
    )
    how = (
        f"one private space assumed: its {size} GB EBS volume x {_usd(unit)}/GB-month; its "
        f"apps bill only while running ({stops})"
    )
    return [tpl.line(logical_id, rtype, size * unit, how)]


PRICERS: dict[str, Pricer] = {
    "AWS::KMS::Key": _kms_key,
    "AWS::KMS::ReplicaKey": _monthly("kms_key_month", "multi-Region replica key"),
    "AWS::EC2::NatGateway": _nat_gateway,
    "AWS::EC2::EIP": _hourly("public_ipv4_hour", "public IPv4 address"),
    "AWS::EC2::VPCEndpoint": _vpc_endpoint,
    "AWS::CloudWatch::Dashboard": _monthly("cloudwatch_dashboard_month", "dashboard"),
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::ApplicationAutoScaling::ScalingPolicy": _scaling_policy,
    "AWS::CloudWatch::CompositeAlarm": _monthly(
        "cloudwatch_composite_alarm_month", "composite alarm"
    ),
    "AWS::SageMaker::Endpoint": _endpoint,
    "AWS::SageMaker::EndpointConfig": _endpoint_config,
    "AWS::SageMaker::MlflowTrackingServer": _mlflow,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::Route53::HostedZone": _monthly("route53_hosted_zone_month", "hosted zone"),
    "AWS::Lambda::Alias": _lambda_alias,
    "AWS::Lambda::Version": _lambda_alias,
    "AWS::DynamoDB::Table": _dynamodb_table,
    "AWS::DynamoDB::GlobalTable": _dynamodb_table,
    "AWS::CodePipeline::Pipeline": _codepipeline,
    "AWS::SSM::Parameter": _ssm_parameter,
    "AWS::ApiGateway::Stage": _api_stage,
    "AWS::SageMaker::Domain": _studio_domain,
    "AWS::SageMaker::UserProfile": _studio_profile,
}


def _resource_lines(tpl: _Template, logical_id: str, resource: Any) -> list[CostLine]:
    """The lines of one resource: priced, free, or unknown (never silently dropped)."""
    rtype = resource.get("Type") if isinstance(resource, dict) else None
    if not isinstance(rtype, str):
        return [tpl.line(logical_id, "?", None, "resource without a Type", "unknown")]
    if rtype in TYPE_NOTES:
        tpl.notes.add(TYPE_NOTES[rtype])
    pricer = PRICERS.get(rtype)
    if pricer is not None:
        lines = pricer(tpl, logical_id, rtype, _properties(resource))
        condition = resource.get("Condition")
        if isinstance(condition, str):
            # Conditional resources may not exist; count them, but say so.
            lines = [
                CostLine(
                    line.stack,
                    line.logical_id,
                    line.resource_type,
                    line.monthly_usd,
                    f"{line.how} [Condition {condition}: counted as created]",
                    line.kind,
                )
                for line in lines
            ]
        return lines
    if rtype in FREE_TYPES:
        return [tpl.line(logical_id, rtype, 0.0, FREE_TYPES[rtype], "free")]
    if rtype.startswith("Custom::"):
        how = "custom resource: its Lambda bills per invocation"
        return [tpl.line(logical_id, rtype, 0.0, how, "free")]
    if rtype in UNPRICED_RUNNING_TYPES:
        how = "bills while it runs, idle or not: not priced by this tool"
        return [tpl.line(logical_id, rtype, None, how, "unknown")]
    how = "neither priced nor known to be free: check by hand"
    return [tpl.line(logical_id, rtype, None, how, "unknown")]


# --- building reports -----------------------------------------------------------------------


def _price_stack(
    template: Mapping[str, Any],
    *,
    name: str,
    display_name: str,
    path: Path | None,
    region: str,
    prices: PriceTable,
    notes: _Notes,
    account: str | None = None,
    account_why: str = "not read from a cloud assembly",
) -> StackCost:
    region_prices, fallback = prices.for_region(region)
    if fallback is not None:
        notes.add(fallback)
    resources = template.get("Resources")
    if not isinstance(resources, dict):
        resources = {}
    tpl = _Template(
        stack=name,
        resources=resources,
        outputs=template.get("Outputs", {}),
        prices=region_prices,
        hours=prices.hours_per_month,
        notes=notes,
    )
    _link_sagemaker(tpl)
    lines = [
        line
        for logical_id, resource in resources.items()
        for line in _resource_lines(tpl, logical_id, resource)
    ]
    return StackCost(
        name, display_name, path, region, region_prices.region, lines, account, account_why
    )


def _finish(stacks: list[StackCost], notes: _Notes, prices: PriceTable) -> CostReport:
    log_regions = sorted(
        {
            stack.price_region
            for stack in stacks
            if any(line.resource_type == "AWS::Logs::LogGroup" for line in stack.lines)
        }
    )
    if log_regions:
        rates = ", ".join(
            f"${prices.regions[region].values.get('cloudwatch_logs_storage_gb_month')}/GB-month"
            f" in {region}"
            for region in log_regions
        )
        notes.add(
            "CloudWatch Logs: log groups cost nothing without ingestion; what was ingested is "
            f"stored at {rates} (not counted)."
        )
    header = (
        f"Prices: {prices.path.name} as of {prices.as_of}: list on-demand USD, no free tier, "
        f"{prices.hours_per_month:g} hours per month; its 'source' names the AWS pricing page of "
        "each figure."
    )
    return CostReport(stacks, [header, *notes.as_list()], prices.as_of, prices.hours_per_month)


def report_for_templates(
    templates: Mapping[str, Mapping[str, Any]],
    *,
    region: str = "us-east-1",
    prices: PriceTable | None = None,
) -> CostReport:
    """Prices template dicts (stack name -> template), all in ``region``."""
    table = prices or load_prices()
    notes = _Notes()
    stacks = [
        _price_stack(
            template,
            name=name,
            display_name=name,
            path=None,
            region=region,
            prices=table,
            notes=notes,
        )
        for name, template in templates.items()
    ]
    return _finish(stacks, notes, table)


Environment = tuple[str | None, str | None]
"""Where a template is deployed: (account, region), None where unknown."""

_ACCOUNT_ID = re.compile(r"(?<!\d)\d{12}(?!\d)")
_NO_REGION = "no region in the cloud assembly manifest"


@dataclass(frozen=True)
class StackSource:
    """A template found under cdk.out, with what the cloud assembly says about where it goes."""

    template: Path
    name: str
    display_name: str
    region: str | None
    account: str | None = None
    region_why: str = _NO_REGION
    """Why ``region`` is None (ignored when it is known)."""
    account_why: str = "no account in the cloud assembly"
    """Why ``account`` is None (ignored when it is known)."""


def _concrete(value: Any) -> str | None:
    """A literal account or region; None for placeholders (unknown-region, ${AWS::Region})."""
    if not isinstance(value, str) or not value or value.startswith("unknown-") or "${" in value:
        return None
    return value


def _environment(environment: Any) -> Environment:
    """The account and region of ``aws://account/region``, None where environment-agnostic."""
    if not isinstance(environment, str) or not environment.startswith("aws://"):
        return None, None
    account, _, region = environment.removeprefix("aws://").partition("/")
    return _concrete(account), _concrete(region)


def _destination(destination_id: str, destination: Any) -> Environment:
    """Where one asset destination publishes: its region, and the account that its id
    (``<account>-<region>-...``), publishing role or bucket name carries."""
    if not isinstance(destination, dict):
        return None, None
    account = None
    for text in (destination_id, destination.get("assumeRoleArn"), destination.get("bucketName")):
        match = _ACCOUNT_ID.search(text) if isinstance(text, str) else None
        if match is not None:
            account = match.group()
            break
    return account, _concrete(destination.get("region"))


def _read_asset_manifest(path: Path, assets: dict[Path, set[Environment]]) -> None:
    """Adds the file assets of one ``*.assets.json`` to ``assets``: resolved source path ->
    the (account, region) pairs of its destinations, merged over every asset manifest."""
    try:
        files = json.loads(path.read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError) as error:
        raise IdleCostError(f"{path}: unreadable asset manifest ({error})") from error
    for asset in files.values() if isinstance(files, dict) else ():
        if not isinstance(asset, dict):
            continue
        source = asset.get("source")
        source_path = source.get("path") if isinstance(source, dict) else None
        destinations = asset.get("destinations")
        if not isinstance(source_path, str) or not isinstance(destinations, dict):
            continue
        pairs = {_destination(str(key), value) for key, value in destinations.items()}
        if pairs:
            assets.setdefault((path.parent / source_path).resolve(), set()).update(pairs)


def _asset_of(
    template: Path, root: Path, assets: Mapping[Path, set[Environment]]
) -> tuple[Path, set[Environment]] | None:
    """The file asset that ships ``template``: the template itself or a folder holding it."""
    path = template.resolve()
    for candidate in (path, *path.parents):
        if candidate == root:
            break
        if candidate in assets:
            return candidate, assets[candidate]
    return None


def _pairs(pairs: set[Environment]) -> str:
    return ", ".join(
        f"{account or '?'}/{region or '?'}"
        for account, region in sorted(pairs, key=lambda pair: (pair[0] or "", pair[1] or ""))
    )


def _only(values: set[str]) -> str | None:
    return next(iter(values)) if len(values) == 1 else None


@dataclass
class _CloudAssembly:
    """What the cloud assembly manifests under cdk.out say, merged over every manifest."""

    stacks: dict[Path, StackSource] = field(default_factory=dict)
    """Resolved template path -> the stack artifact that deploys it."""
    folder_regions: dict[Path, set[str]] = field(default_factory=dict)
    """Resolved assembly folder -> the concrete regions of its stack artifacts."""
    folder_accounts: dict[Path, set[str]] = field(default_factory=dict)
    """Resolved assembly folder -> the concrete accounts of its stack artifacts."""
    assets: dict[Path, set[Environment]] = field(default_factory=dict)
    """Resolved file asset source -> the (account, region) pairs it is published to."""


def discover_stacks(cdk_out: Path) -> list[StackSource]:
    """Every ``*.template.json`` under ``cdk_out`` (nested assemblies too), in path order.

    Account and region: a stack artifact's environment in its manifest.json; else, for a
    template shipped as a file asset (e.g. ``asset.<hash>/<name>.template.json``), the
    destinations of that asset in the assembly's ``*.assets.json`` files when they name exactly
    one account-region pair; else what the stacks of the template's folder agree on; else None.
    """
    root = cdk_out.resolve()
    assembly = _CloudAssembly()
    for manifest in sorted(cdk_out.glob("**/manifest.json")):
        _read_cloud_assembly_manifest(manifest, assembly)
    sources = []
    for template in sorted(cdk_out.glob("**/*.template.json")):
        source = assembly.stacks.get(template.resolve())
        if source is not None:
            sources.append(
                StackSource(
                    template,
                    source.name,
                    source.display_name,
                    source.region,
                    source.account,
                    source.region_why,
                    source.account_why,
                )
            )
        else:
            sources.append(_unlisted_template(template, root, assembly))
    return sources


def _read_cloud_assembly_manifest(manifest: Path, assembly: _CloudAssembly) -> None:
    """Adds one ``manifest.json``'s stack artifacts and asset manifests to ``assembly``;
    raises IdleCostError when the manifest or one of its asset manifests is unreadable."""
    try:
        artifacts = json.loads(manifest.read_text(encoding="utf-8")).get("artifacts", {})
    except (OSError, ValueError, AttributeError) as error:
        raise IdleCostError(f"{manifest}: unreadable cloud assembly manifest ({error})") from error
    for artifact_id, artifact in artifacts.items():
        if not isinstance(artifact, dict):
            continue
        properties = artifact.get("properties", {})
        if artifact.get("type") == "cdk:asset-manifest":
            if isinstance(properties.get("file"), str):
                _read_asset_manifest(manifest.parent / properties["file"], assembly.assets)
            continue
        if artifact.get("type") == "aws:cloudformation:stack":
            _record_stack_artifact(manifest, artifact_id, artifact, assembly)


def _record_stack_artifact(
    manifest: Path, artifact_id: str, artifact: dict[str, Any], assembly: _CloudAssembly
) -> None:
    """Records one stack artifact of ``manifest`` (skipped without a template file): its
    template's StackSource, and its concrete account and region under its assembly folder."""
    properties = artifact.get("properties", {})
    template_file = properties.get("templateFile")
    if not isinstance(template_file, str):
        return
    environment = artifact.get("environment")
    account, region = _environment(environment)
    path = (manifest.parent / template_file).resolve()
    assembly.stacks[path] = StackSource(
        template=manifest.parent / template_file,
        name=str(properties.get("stackName") or artifact_id),
        display_name=str(artifact.get("displayName") or artifact_id),
        region=region,
        account=account,
        account_why=(
            f"environment-agnostic stack ({environment})"
            if isinstance(environment, str)
            else "no environment in the cloud assembly manifest"
        ),
    )
    if region is not None:
        assembly.folder_regions.setdefault(manifest.parent.resolve(), set()).add(region)
    if account is not None:
        assembly.folder_accounts.setdefault(manifest.parent.resolve(), set()).add(account)


def _unlisted_template(template: Path, root: Path, assembly: _CloudAssembly) -> StackSource:
    """The StackSource of a template that is not a stack artifact: where its ``DeploysTo``
    metadata says, else its asset's single destination, else (e.g. a nested stack) what its
    assembly folder's stacks agree on; the reasons say why the account or region is unknown."""
    name = template.name.removesuffix(".template.json")
    folder = template.parent.resolve()
    region = _only(assembly.folder_regions.get(folder, set()))
    account = _only(assembly.folder_accounts.get(folder, set()))
    region_why = _NO_REGION
    account_why = "not a stack artifact, and no asset destination names its account"
    asset = _asset_of(template, root, assembly.assets)
    declared = _deploys_to(template)
    if declared is not None:
        # The template says where its pipeline deploys it (a release pipeline in another
        # account ships it as its own asset).
        account, region = declared
    elif asset is not None:
        asset_path, pairs = asset
        if len(pairs) == 1:
            [(asset_account, asset_region)] = pairs
            region = asset_region or region
            account = asset_account or account
            account_why = f"the destination of its asset {asset_path.name} names no account"
        else:
            region_why = account_why = (
                f"its asset {asset_path.name} is published to {len(pairs)} account-regions "
                f"({_pairs(pairs)})"
            )
    return StackSource(template, name, name, region, account, region_why, account_why)


def _deploys_to(template: Path) -> tuple[str, str] | None:
    """The (account, region) a template's ``Metadata.DeploysTo`` names, if concrete."""
    try:
        metadata = json.loads(template.read_text(encoding="utf-8")).get("Metadata") or {}
    except (OSError, ValueError, AttributeError):
        return None  # read again, and reported, when it is priced
    target = metadata.get("DeploysTo") if isinstance(metadata, dict) else None
    if not isinstance(target, dict):
        return None
    account, region = _concrete(target.get("Account")), _concrete(target.get("Region"))
    if account is None or region is None or not _ACCOUNT_ID.fullmatch(account):
        return None
    return account, region


def build_report(
    cdk_out: Path = DEFAULT_CDK_OUT,
    *,
    region: str | None = None,
    prices: PriceTable | None = None,
) -> CostReport:
    """Prices every template under ``cdk_out``.

    Region: ``region`` if given, else the stack's region in the cloud assembly (its environment
    in the manifest, or its asset's destination: ``discover_stacks``), else the price table's
    default region (us-east-1). Account: the cloud assembly's, else None (unknown).
    """
    if not cdk_out.is_dir():
        raise IdleCostError(f"{cdk_out}: no such directory (run `make synth` first)")
    table = prices or load_prices()
    notes = _Notes()
    stacks = []
    for source in discover_stacks(cdk_out):
        try:
            template = json.loads(source.template.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise IdleCostError(f"{source.template}: unreadable template ({error})") from error
        stack_region = region or source.region
        if stack_region is None:
            stack_region = table.default_region
            notes.add(f"{source.name}: {source.region_why}: {table.default_region} assumed.")
        stacks.append(
            _price_stack(
                template,
                name=source.name,
                display_name=source.display_name,
                path=source.template,
                region=stack_region,
                prices=table,
                notes=notes,
                account=source.account,
                account_why=source.account_why,
            )
        )
    return _finish(stacks, notes, table)


# --- output ---------------------------------------------------------------------------------


def _amount(line: CostLine) -> str:
    return "unknown" if line.monthly_usd is None else f"{line.monthly_usd:,.2f}"


def _free_summary(lines: Sequence[CostLine], width: int = 100) -> list[str]:
    """ "+ N resources free while idle: ..." wrapped between items, never inside one."""
    counts = Counter(line.resource_type for line in lines)
    items = [f"{count} {rtype}" for rtype, count in sorted(counts.items())]
    out = [f"  + {len(lines)} resources free while idle:"]
    for item in items:
        if len(out[-1]) + len(item) + 2 > width:
            out.append("   ")
        out[-1] += f" {item},"
    out[-1] = out[-1].rstrip(",")
    return out


def _account_summary(report: CostReport) -> list[str]:
    """The per-account table (after the total): account, region(s), stacks, monthly USD; the
    unknown account last, then why each of its stacks has no account."""
    accounts = report.accounts
    if not accounts:
        return []
    header = ("Account", "Region(s)", "Stacks", "USD/month")
    rows = [
        (
            account.account or "unknown",
            ", ".join(account.regions),
            str(len(account.stacks)),
            f"{account.total:,.2f}",
        )
        for account in accounts
    ]
    widths = [max(len(cells[i]) for cells in (header, *rows)) for i in range(len(header))]

    def row(cells: tuple[str, str, str, str]) -> str:
        account, regions, stacks, amount = cells
        return (
            f"  {account:<{widths[0]}}  {regions:<{widths[1]}}  {stacks:>{widths[2]}}"
            f"  {amount:>{widths[3]}}"
        )

    out = ["", "Idle cost per account:", row(header), *(row(cells) for cells in rows)]
    unknown = accounts[-1]
    if unknown.account is None:
        reasons: dict[str, list[str]] = {}
        for stack in unknown.stacks:
            reasons.setdefault(stack.account_why, []).append(stack.name)
        out.append("  Account unknown:")
        for why, names in reasons.items():
            out.extend(
                textwrap.wrap(
                    f"{', '.join(names)}: {why}.",
                    width=100,
                    initial_indent="    ",
                    subsequent_indent="      ",
                    break_long_words=False,
                    break_on_hyphens=False,
                )
            )
    return out


def format_report(report: CostReport, *, show_free: bool = False) -> str:
    """The report as text: a table per stack, the total, the total per account, unknown types,
    then notes."""
    shown = [
        [line for line in stack.lines if show_free or line.kind != "free"]
        for stack in report.stacks
    ]
    row = _row_format([line for lines in shown for line in lines])
    out = [
        "Idle cost: monthly USD of what stays running while no job runs and no request arrives",
    ]
    for stack, stack_rows in zip(report.stacks, shown, strict=True):
        out.extend(_stack_table(stack, stack_rows, row, show_free=show_free))
    out.extend(_total(report))
    out.extend(_account_summary(report))
    out.extend(_unknown_types(report))
    out.extend(_unpriced(report))
    out.append("")
    out.append("Notes:")
    out.extend(f"  - {note}" for note in report.notes)
    return "\n".join(out)


_Row = Callable[[str, str, str, str], str]


def _row_format(rows: Sequence[CostLine]) -> _Row:
    """A table row from its logical ID, type, amount and how: the first three columns as wide
    as their heading or widest cell among ``rows``, trailing blanks stripped."""
    id_width = max([len("Logical ID"), *(len(line.logical_id) for line in rows)])
    type_width = max([len("Type"), *(len(line.resource_type) for line in rows)])
    amount_width = max([len("USD/month"), *(len(_amount(line)) for line in rows)])

    def row(logical_id: str, rtype: str, amount: str, how: str) -> str:
        return (
            f"  {logical_id:<{id_width}}  {rtype:<{type_width}}  {amount:>{amount_width}}  {how}"
        ).rstrip()

    return row


def _stack_title(stack: StackCost) -> str:
    """``Stack <name> (<display name>), region <region> (priced as <region>), <template>``,
    each parenthesis and the template only where they add something."""
    title = f"Stack {stack.name}"
    if stack.display_name != stack.name:
        title += f" ({stack.display_name})"
    title += f", region {stack.region}"
    if stack.price_region != stack.region:
        title += f" (priced as {stack.price_region})"
    if stack.template is not None:
        title += f", {stack.template}"
    return title


def _stack_table(
    stack: StackCost, stack_rows: Sequence[CostLine], row: _Row, *, show_free: bool
) -> list[str]:
    """A blank line, the stack's title and table: its ``stack_rows``, a summary of its free
    resources unless ``show_free`` (then they are rows), its subtotal."""
    out = ["", _stack_title(stack), row("Logical ID", "Type", "USD/month", "How")]
    out.extend(
        row(line.logical_id, line.resource_type, _amount(line), line.how) for line in stack_rows
    )
    free = [line for line in stack.lines if line.kind == "free"]
    if free and not show_free:
        out.extend(_free_summary(free))
    out.append(row("Subtotal", "", f"{stack.total:,.2f}", ""))
    return out


def _total(report: CostReport) -> list[str]:
    """A blank line and the total over every stack, with how many resources have no price."""
    not_priced = [line for line in report.lines if line.monthly_usd is None]
    count = len(report.stacks)
    total = f"TOTAL ({count} stack{'' if count == 1 else 's'}): {report.total:,.2f} USD/month"
    if not_priced:
        total += f", plus {len(not_priced)} resource(s) with unknown cost (below)"
    return ["", total]


def _unknown_types(report: CostReport) -> list[str]:
    """A blank line and the unknown resource types with their counts and stacks (or none)."""
    out = ["", "Unknown resource types (not in the totals; check them by hand):"]
    if report.unknown_types:
        width = max(len(rtype) for rtype in report.unknown_types)
        for rtype, number in report.unknown_types.items():
            stacks = sorted({line.stack for line in report.lines if line.resource_type == rtype})
            out.append(f"  {rtype:<{width}}  x{number}  ({', '.join(stacks)})")
    else:
        out.append("  none")
    return out


def _unpriced(report: CostReport) -> list[str]:
    """The resources that bill while idle but have no price, after a blank line; none: []."""
    if not report.unpriced:
        return []
    return [
        "",
        "Resources that bill while idle but have no price (not in the totals):",
        *(
            f"  {line.stack}: {line.logical_id} ({line.resource_type}): {line.how}"
            for line in report.unpriced
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point: prints the report, returns the exit code (2 on bad input)."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.idle_cost",
        description="Monthly USD cost of what the synthesized stacks keep running while idle.",
    )
    parser.add_argument(
        "--cdk-out",
        type=Path,
        default=DEFAULT_CDK_OUT,
        help="cloud assembly directory (default: cdk.out)",
    )
    parser.add_argument(
        "--region",
        help="price every stack in this region (default: each stack's region, else us-east-1)",
    )
    parser.add_argument(
        "--prices", type=Path, default=PRICES_FILE, help="price table (default: tools/prices.json)"
    )
    parser.add_argument(
        "--show-free", action="store_true", help="also list the resources that are free idle"
    )
    args = parser.parse_args(argv)
    try:
        report = build_report(args.cdk_out, region=args.region, prices=load_prices(args.prices))
    except IdleCostError as error:
        print(f"idle-cost: {error}", file=sys.stderr)
        return 2
    if not report.stacks:
        print(f"idle-cost: no *.template.json under {args.cdk_out}", file=sys.stderr)
        return 2
    print(format_report(report, show_free=args.show_free))
    return 0


if __name__ == "__main__":
    sys.exit(main())
