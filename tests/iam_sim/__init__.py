"""Synthesized CloudFormation policies as concrete JSON, and an offline IAM policy simulator.

``Inventory`` reads the templates of one synthesized environment (the stacks of its cloud
assembly and the endpoint templates its deploy pipelines deploy), gives every resource the
physical name and ARN it would have in the environment's account, resolves the intrinsics of
every policy document, and collects each role's identity policies and the resource policies
(bucket, key, model package group, topic and queue policies). ``simulate`` evaluates many
requests with ``@cloud-copilot/iam-simulate`` (``simulate.mjs``; AGPL-3.0-or-later, a pinned npm
dev dependency used by tests only), in one node process that answers every ``simulate`` of a
test process (tests/workers.py).

Anything the resolver does not know fails loudly (``Unresolvable``): a statement dropped or
widened silently would let an isolation test pass for the wrong reason. Names CloudFormation
generates (no name property in the template) are ``<stack>-<logical id>-<12 hex digits>``, as
CloudFormation's own are ``<stack>-<logical id>-<random suffix>``.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.workers import Worker

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).resolve().parent / "simulate.mjs"


class Unresolvable(AssertionError):
    """An intrinsic, resource type or attribute the resolver cannot turn into a concrete value."""


@dataclass(frozen=True)
class Stack:
    name: str
    account: str
    region: str
    template: dict[str, Any]

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.template.get("Resources", {})
        return resources


@dataclass(frozen=True)
class Resource:
    stack: str
    logical_id: str
    type: str
    name: str
    arn: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class Role:
    name: str
    arn: str
    stack: str
    logical_id: str
    trusted_services: tuple[str, ...]
    policies: tuple[tuple[str, dict[str, Any]], ...]  # (policy id, resolved document)
    # The permissions boundary's policy ARN (a landing zone's: iam.permissions_boundary).
    boundary: str | None = None


def stacks_of_assembly(outdir: Path) -> list[Stack]:
    """The CloudFormation stacks of a synthesized cloud assembly (its stage assemblies too),
    with the stack name and environment of their manifest."""
    stacks: list[Stack] = []
    for manifest_path in sorted(outdir.glob("**/manifest.json")):
        manifest = json.loads(manifest_path.read_text())
        for artifact in manifest.get("artifacts", {}).values():
            if artifact.get("type") != "aws:cloudformation:stack":
                continue
            env = re.fullmatch(r"aws://(\d{12})/([a-z0-9-]+)", artifact.get("environment", ""))
            if env is None:
                raise Unresolvable(f"stack environment not concrete: {artifact.get('environment')}")
            props = artifact["properties"]
            template = json.loads((manifest_path.parent / props["templateFile"]).read_text())
            stacks.append(Stack(props["stackName"], env[1], env[2], template))
    return stacks


def endpoint_stacks(outdir: Path, account: str, region: str) -> list[Stack]:
    """The endpoint templates the deploy pipelines deploy (assets of the deploy stacks), as the
    stacks they become: named after the file, in the pipeline's own account and region."""
    return [
        Stack(
            path.name.removesuffix(".template.json"), account, region, json.loads(path.read_text())
        )
        for path in sorted(outdir.glob("asset.*/*.template.json"))
    ]


def digest(*parts: str, length: int = 12) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def fake_key_id(stack: str, logical_id: str) -> str:
    """A deterministic, UUID-shaped KMS key id per stack and logical id."""
    d = digest(stack, logical_id, length=32)
    return f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:]}"


# Resource type: (name property, ARN format). {n} is the physical name, {p} {r} {a} partition,
# region and account; a None name property means the name is always generated.
ARNS: dict[str, tuple[str | None, str]] = {
    "AWS::S3::Bucket": ("BucketName", "arn:{p}:s3:::{n}"),
    "AWS::IAM::Role": ("RoleName", "arn:{p}:iam::{a}:role/{n}"),
    "AWS::KMS::Key": (None, "arn:{p}:kms:{r}:{a}:key/{n}"),
    "AWS::SNS::Topic": ("TopicName", "arn:{p}:sns:{r}:{a}:{n}"),
    "AWS::SQS::Queue": ("QueueName", "arn:{p}:sqs:{r}:{a}:{n}"),
    "AWS::Lambda::Function": ("FunctionName", "arn:{p}:lambda:{r}:{a}:function:{n}"),
    "AWS::SageMaker::InferenceComponent": (
        "InferenceComponentName",
        "arn:{p}:sagemaker:{r}:{a}:inference-component/{n}",
    ),
    # The API's id (generated by API Gateway: its name property is not the id).
    "AWS::ApiGateway::RestApi": (None, "arn:{p}:apigateway:{r}::/restapis/{n}"),
    "AWS::Logs::LogGroup": ("LogGroupName", "arn:{p}:logs:{r}:{a}:log-group:{n}"),
    "AWS::Events::Rule": ("Name", "arn:{p}:events:{r}:{a}:rule/{n}"),
    "AWS::Events::EventBus": ("Name", "arn:{p}:events:{r}:{a}:event-bus/{n}"),
    "AWS::CloudWatch::Alarm": ("AlarmName", "arn:{p}:cloudwatch:{r}:{a}:alarm:{n}"),
    "AWS::CodeBuild::Project": ("Name", "arn:{p}:codebuild:{r}:{a}:project/{n}"),
    "AWS::CodePipeline::Pipeline": ("Name", "arn:{p}:codepipeline:{r}:{a}:{n}"),
    "AWS::SSM::Parameter": ("Name", "arn:{p}:ssm:{r}:{a}:parameter/{n}"),
    "AWS::DynamoDB::Table": ("TableName", "arn:{p}:dynamodb:{r}:{a}:table/{n}"),
    "AWS::DynamoDB::GlobalTable": ("TableName", "arn:{p}:dynamodb:{r}:{a}:table/{n}"),
    "AWS::Glue::Database": ("DatabaseInput.Name", "arn:{p}:glue:{r}:{a}:database/{n}"),
    "AWS::Glue::Table": ("TableInput.Name", "arn:{p}:glue:{r}:{a}:table/{database}/{n}"),
    "AWS::Glue::Job": ("Name", "arn:{p}:glue:{r}:{a}:job/{n}"),
    "AWS::Glue::Crawler": ("Name", "arn:{p}:glue:{r}:{a}:crawler/{n}"),
    "AWS::Glue::Workflow": ("Name", "arn:{p}:glue:{r}:{a}:workflow/{n}"),
    "AWS::Glue::Trigger": ("Name", "arn:{p}:glue:{r}:{a}:trigger/{n}"),
    "AWS::Glue::DataQualityRuleset": ("Name", "arn:{p}:glue:{r}:{a}:dataQualityRuleset/{n}"),
    "AWS::SageMaker::ModelPackageGroup": (
        "ModelPackageGroupName",
        "arn:{p}:sagemaker:{r}:{a}:model-package-group/{n}",
    ),
    "AWS::SageMaker::Pipeline": ("PipelineName", "arn:{p}:sagemaker:{r}:{a}:pipeline/{n}"),
    "AWS::Scheduler::Schedule": ("Name", "arn:{p}:scheduler:{r}:{a}:schedule/default/{n}"),
    "AWS::SageMaker::Endpoint": ("EndpointName", "arn:{p}:sagemaker:{r}:{a}:endpoint/{n}"),
    "AWS::SageMaker::EndpointConfig": (
        "EndpointConfigName",
        "arn:{p}:sagemaker:{r}:{a}:endpoint-config/{n}",
    ),
    "AWS::SageMaker::Model": ("ModelName", "arn:{p}:sagemaker:{r}:{a}:model/{n}"),
    "AWS::SageMaker::MonitoringSchedule": (
        "MonitoringScheduleName",
        "arn:{p}:sagemaker:{r}:{a}:monitoring-schedule/{n}",
    ),
    "AWS::ApplicationAutoScaling::ScalableTarget": (
        None,
        "arn:{p}:application-autoscaling:{r}:{a}:scalable-target/{n}",
    ),
}

# Resource policies the inventory does not collect: their presence fails loudly.
UNSIMULATED_RESOURCE_POLICIES = {
    "AWS::SNS::TopicInlinePolicy",
    "AWS::SQS::QueueInlinePolicy",
    "AWS::S3::AccessPoint",
    "AWS::SecretsManager::ResourcePolicy",
    "AWS::Lambda::LayerVersionPermission",
}
POLICY_PROPERTIES = {"ResourcePolicy", "RepositoryPolicyText"}  # DynamoDB tables, ECR

# Ref of these types is the ARN (else the physical name).
REF_IS_ARN = {"AWS::SNS::Topic", "AWS::SageMaker::ModelPackageGroup"}

# GetAtt attribute -> what it returns, per type: "name", "url", or a format of {arn}.
ATTRIBUTES: dict[tuple[str, str], str] = {
    ("AWS::SQS::Queue", "QueueName"): "name",
    ("AWS::SQS::Queue", "QueueUrl"): "url",
    ("AWS::SNS::Topic", "TopicArn"): "{arn}",
    ("AWS::SNS::Topic", "TopicName"): "name",
    ("AWS::SageMaker::ModelPackageGroup", "ModelPackageGroupArn"): "{arn}",
    ("AWS::SageMaker::Pipeline", "PipelineArn"): "{arn}",
    ("AWS::SageMaker::Endpoint", "EndpointName"): "name",
    ("AWS::SageMaker::EndpointConfig", "EndpointConfigName"): "name",
    ("AWS::SageMaker::Model", "ModelName"): "name",
    ("AWS::KMS::Key", "KeyId"): "name",
    ("AWS::Logs::LogGroup", "Arn"): "{arn}:*",  # a log group's Arn attribute ends in :*
}


@dataclass
class Inventory:
    """The stacks of one environment (one account and region): their resources' physical names
    and ARNs, and their policies with every intrinsic resolved."""

    stacks: list[Stack]
    partition: str = "aws"
    account: str = field(init=False)
    region: str = field(init=False)

    def __post_init__(self) -> None:
        envs = {(s.account, s.region) for s in self.stacks}
        if len(envs) != 1:
            raise Unresolvable(f"one environment at a time, got {sorted(envs)}")
        ((self.account, self.region),) = envs
        self._by_name = {s.name: s for s in self.stacks}
        if len(self._by_name) != len(self.stacks):
            raise Unresolvable("two stacks of one name")

    def stack(self, name: str) -> Stack:
        if name not in self._by_name:
            raise Unresolvable(f"no stack {name} in this environment")
        return self._by_name[name]

    # -- physical names and ARNs ---------------------------------------------------------------

    def name_of(self, stack: Stack, logical_id: str) -> str:
        """The resource's physical name: its name property, else a generated one."""
        resource = self._resource(stack, logical_id)
        kind = resource["Type"]
        if kind not in ARNS:
            raise Unresolvable(f"no physical name for {kind} ({stack.name}/{logical_id})")
        if kind == "AWS::KMS::Key":
            return fake_key_id(stack.name, logical_id)
        prop = ARNS[kind][0]
        value: Any = resource.get("Properties", {})
        for part in (prop or "").split("."):
            value = value.get(part) if isinstance(value, dict) and prop else None
        if value is None:
            return f"{stack.name}-{logical_id}-{digest(stack.name, logical_id).upper()}"
        resolved = self.resolve(value, stack)
        if not isinstance(resolved, str):
            raise Unresolvable(f"name of {stack.name}/{logical_id} is not a string: {resolved}")
        return resolved

    def arn_of(self, stack: Stack, logical_id: str) -> str:
        resource = self._resource(stack, logical_id)
        kind = resource["Type"]
        name = self.name_of(stack, logical_id)
        if kind == "AWS::SSM::Parameter":
            name = name.removeprefix("/")
        database = ""
        if kind == "AWS::Glue::Table":
            database = self.resolve(resource["Properties"]["DatabaseName"], stack)
        bus = resource["Properties"].get("EventBusName", "default")
        if kind == "AWS::Events::Rule" and bus != "default":  # rule/<bus>/<name>
            name = f"{self.resolve(bus, stack)}/{name}"
        p, r, a = self.partition, self.region, self.account
        return ARNS[kind][1].format(p=p, r=r, a=a, n=name, database=database)

    def resource(self, stack: Stack, logical_id: str) -> Resource:
        kind = self._resource(stack, logical_id)["Type"]
        return Resource(
            stack=stack.name,
            logical_id=logical_id,
            type=kind,
            name=self.name_of(stack, logical_id),
            arn=self.arn_of(stack, logical_id),
            properties=stack.resources[logical_id].get("Properties", {}),
        )

    def _resource(self, stack: Stack, logical_id: str) -> dict[str, Any]:
        resource = stack.resources.get(logical_id)
        if resource is None:
            raise Unresolvable(f"no resource {logical_id} in {stack.name}")
        return dict(resource)

    def ref(self, stack: Stack, logical_id: str) -> str:
        kind = self._resource(stack, logical_id)["Type"]
        if kind == "AWS::SQS::Queue":
            return self.get_att(stack, logical_id, "QueueUrl")
        if kind in REF_IS_ARN:
            return self.arn_of(stack, logical_id)
        if kind in ARNS:
            return self.name_of(stack, logical_id)
        if kind == "AWS::EC2::VPCEndpoint":  # the endpoint id: what aws:SourceVpce compares
            return self.vpc_endpoint_id(stack, logical_id)
        if kind == "AWS::EC2::Subnet":  # what sagemaker:VpcSubnets compares
            return self.network_id("subnet", stack, logical_id)
        raise Unresolvable(f"Ref of {kind} ({stack.name}/{logical_id})")

    @staticmethod
    def network_id(kind: str, stack: Stack, logical_id: str) -> str:
        """A deterministic subnet or security group id (``<kind>-`` and 17 hex digits)."""
        return f"{kind}-{digest(stack.name, logical_id, length=17)}"

    @staticmethod
    def vpc_endpoint_id(stack: Stack, logical_id: str) -> str:
        """A deterministic VPC endpoint id (``vpce-`` and 17 hex digits) per stack and id."""
        return f"vpce-{digest(stack.name, logical_id, length=17)}"

    @staticmethod
    def studio_domain_id(stack: Stack, logical_id: str) -> str:
        """A deterministic SageMaker Studio domain id (``d-`` and 12 hex digits)."""
        return f"d-{digest(stack.name, logical_id)}"

    def get_att(self, stack: Stack, logical_id: str, attribute: str) -> str:
        kind = self._resource(stack, logical_id)["Type"]
        if (kind, attribute) == ("AWS::EC2::SecurityGroup", "GroupId"):
            return self.network_id("sg", stack, logical_id)
        if (kind, attribute) == ("AWS::SageMaker::Domain", "DomainId"):
            return self.studio_domain_id(stack, logical_id)
        returns = ATTRIBUTES.get((kind, attribute), "{arn}" if attribute == "Arn" else None)
        if returns is None or kind not in ARNS:
            raise Unresolvable(f"GetAtt {kind}.{attribute} ({stack.name}/{logical_id})")
        if returns == "name":
            return self.name_of(stack, logical_id)
        if returns == "url":
            name = self.name_of(stack, logical_id)
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{name}"
        return returns.format(arn=self.arn_of(stack, logical_id))

    def stack_output(self, stack_name: str, output_name: str) -> Any:
        other = self.stack(stack_name)
        output = other.template.get("Outputs", {}).get(output_name)
        if output is None:
            raise Unresolvable(f"stack {stack_name} has no output {output_name}")
        return self.resolve(output["Value"], other)

    # -- intrinsics ----------------------------------------------------------------------------

    def resolve(self, value: Any, stack: Stack) -> Any:
        """``value`` with every intrinsic replaced by its concrete value; raises Unresolvable."""
        if isinstance(value, list):
            return [self.resolve(v, stack) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg, stack)
            if key == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(stack, logical_id, attribute)
            if key == "Fn::Join":
                separator, parts = arg
                return self._string(separator, key).join(
                    self._string(part, key) for part in self.resolve(parts, stack)
                )
            if key == "Fn::Sub":
                return self._sub(arg, stack)
            if key == "Fn::Select":
                index, items = self.resolve(arg, stack)
                return items[int(index)]
            if key == "Fn::Split":
                separator, text = self.resolve(arg, stack)
                return self._string(text, key).split(separator)
            if key == "Fn::GetStackOutput":
                # A weak cross-stack reference: {StackName, OutputName, Region[, RoleArn]}.
                if arg.get("Region", self.region) != self.region or "RoleArn" in arg:
                    raise Unresolvable(f"Fn::GetStackOutput outside the environment: {arg}")
                return self.stack_output(arg["StackName"], arg["OutputName"])
            if key == "Fn::ImportValue":
                return self._import(self._string(self.resolve(arg, stack), key))
            if key.startswith("Fn::") or key == "Condition":
                raise Unresolvable(f"{key} in {stack.name}: {json.dumps(arg)[:200]}")
        return {k: self.resolve(v, stack) for k, v in value.items()}

    @staticmethod
    def _string(value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise Unresolvable(f"{where} of a non-string: {value!r}")
        return value

    def _ref(self, name: str, stack: Stack) -> str:
        pseudo = {
            "AWS::Partition": self.partition,
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name.startswith("AWS::"):
            raise Unresolvable(f"pseudo parameter {name} in {stack.name}")
        if name in stack.template.get("Parameters", {}):
            raise Unresolvable(f"parameter {name} of {stack.name} (set at deploy time)")
        return self.ref(stack, name)

    def _sub(self, arg: Any, stack: Stack) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else arg
        values = {k: self.resolve(v, stack) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match[1]
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in values:
                return self._string(values[name], "Fn::Sub")
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return self.get_att(stack, logical_id, attribute)
            return self._ref(name, stack)

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def _import(self, export_name: str) -> Any:
        for other in self.stacks:
            for output in other.template.get("Outputs", {}).values():
                export = output.get("Export", {}).get("Name")
                if export is not None and self.resolve(export, other) == export_name:
                    return self.resolve(output["Value"], other)
        raise Unresolvable(f"no export {export_name}")

    # -- resources and policies ----------------------------------------------------------------

    def resources_of_type(self, kind: str) -> Iterator[tuple[Stack, str, dict[str, Any]]]:
        for stack in self.stacks:
            for logical_id, resource in stack.resources.items():
                if resource["Type"] == kind:
                    yield stack, logical_id, resource.get("Properties", {})

    def roles(self) -> dict[str, Role]:
        """Every role by ARN, with its inline and customer-managed policies resolved."""
        attached: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        found: list[tuple[Stack, str, str, dict[str, Any]]] = []
        by_name: dict[str, str] = {}
        for stack, logical_id, props in self.resources_of_type("AWS::IAM::Role"):
            if props.get("Path", "/") != "/":
                raise Unresolvable(f"Path of role {stack.name}/{logical_id}")
            arn = self.arn_of(stack, logical_id)
            found.append((stack, logical_id, arn, props))
            by_name[self.name_of(stack, logical_id)] = arn
            attached[arn] = [
                (
                    f"{stack.name}/{logical_id}/{p['PolicyName']}",
                    self.resolve(p["PolicyDocument"], stack),
                )
                for p in props.get("Policies", [])
            ]
        managed: dict[str, tuple[str, dict[str, Any]]] = {}
        for stack, logical_id, props in self.resources_of_type("AWS::IAM::ManagedPolicy"):
            name = props.get("ManagedPolicyName") or f"{stack.name}-{logical_id}"
            path = props.get("Path", "/")
            arn = f"arn:{self.partition}:iam::{self.account}:policy{path}{name}"
            managed[arn] = (
                f"{stack.name}/{logical_id}",
                self.resolve(props["PolicyDocument"], stack),
            )
        for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for stack, logical_id, props in self.resources_of_type(kind):
                if props.get("Users") or props.get("Groups"):
                    raise Unresolvable(f"{stack.name}/{logical_id} is attached to users or groups")
                document = self.resolve(props["PolicyDocument"], stack)
                for role in props.get("Roles", []):
                    name = self.resolve(role, stack)
                    if name not in by_name:
                        raise Unresolvable(f"{stack.name}/{logical_id} is attached to {name}")
                    attached[by_name[name]].append((f"{stack.name}/{logical_id}", document))
        roles: dict[str, Role] = {}
        for stack, logical_id, arn, props in found:
            for policy_arn in self.resolve(props.get("ManagedPolicyArns", []), stack):
                if policy_arn not in managed:
                    raise Unresolvable(
                        f"managed policy {policy_arn} of {stack.name}/{logical_id} is not in the "
                        "templates (AWS managed policies are not available offline)"
                    )
                attached[arn].append(managed[policy_arn])
            trust = self.resolve(props["AssumeRolePolicyDocument"], stack)
            services = sorted(
                {
                    service
                    for statement in as_list(trust["Statement"])
                    if statement.get("Effect") == "Allow"
                    for service in as_list(statement.get("Principal", {}).get("Service", []))
                }
            )
            roles[arn] = Role(
                name=self.name_of(stack, logical_id),
                arn=arn,
                stack=stack.name,
                logical_id=logical_id,
                trusted_services=tuple(services),
                policies=tuple(attached[arn]),
                boundary=self.resolve(props["PermissionsBoundary"], stack)
                if "PermissionsBoundary" in props
                else None,
            )
        return roles

    def trust_policies(self) -> dict[str, dict[str, Any]]:
        """Each role's trust policy (who may ``sts:AssumeRole`` it), by the role's ARN: the
        resource policy of an AssumeRole request."""
        return {
            self.arn_of(stack, logical_id): self.resolve(props["AssumeRolePolicyDocument"], stack)
            for stack, logical_id, props in self.resources_of_type("AWS::IAM::Role")
        }

    def resource_policies(self) -> dict[str, dict[str, Any]]:
        """Resource policies by the ARN of the resource they protect (bucket, key, model
        package group, event bus, topic, queue); two policies on one resource are merged."""
        found: dict[str, list[dict[str, Any]]] = {}

        def add(arn: str, document: Any) -> None:
            found.setdefault(arn, []).append(document)

        p = self.partition
        for stack, _, props in self.resources_of_type("AWS::S3::BucketPolicy"):
            bucket = self.resolve(props["Bucket"], stack)
            add(f"arn:{p}:s3:::{bucket}", self.resolve(props["PolicyDocument"], stack))
        for stack, logical_id, props in self.resources_of_type("AWS::KMS::Key"):
            add(self.arn_of(stack, logical_id), self.resolve(props["KeyPolicy"], stack))
        for stack, logical_id, props in self.resources_of_type("AWS::SageMaker::ModelPackageGroup"):
            if "ModelPackageGroupPolicy" in props:
                document = self.resolve(props["ModelPackageGroupPolicy"], stack)
                add(self.arn_of(stack, logical_id), document)
        for stack, logical_id, props in self.resources_of_type("AWS::Events::EventBus"):
            if "Policy" in props:
                add(self.arn_of(stack, logical_id), self.resolve(props["Policy"], stack))
        for stack, logical_id, props in self.resources_of_type("AWS::Events::EventBusPolicy"):
            # One statement per resource (its Statement property; the older Action, Principal
            # and Condition properties are not read: they fail loudly).
            if "Statement" not in props:
                raise Unresolvable(
                    f"{stack.name}/{logical_id}: an event bus policy without Statement"
                )
            bus = self.resolve(props.get("EventBusName", "default"), stack)
            if not bus.startswith("arn:"):
                bus = f"arn:{p}:events:{self.region}:{self.account}:event-bus/{bus}"
            statement = self.resolve(props["Statement"], stack)
            add(bus, {"Version": "2012-10-17", "Statement": [statement]})
        for stack, _, props in self.resources_of_type("AWS::SNS::TopicPolicy"):
            for topic in self.resolve(props["Topics"], stack):
                add(topic, self.resolve(props["PolicyDocument"], stack))
        for stack, _, props in self.resources_of_type("AWS::SQS::QueuePolicy"):
            for url in self.resolve(props["Queues"], stack):
                queue = re.fullmatch(
                    r"https://sqs\.([a-z0-9-]+)\.amazonaws\.com/(\d{12})/(.+)", url
                )
                if queue is None:
                    raise Unresolvable(f"queue URL {url}")
                arn = f"arn:{p}:sqs:{queue[1]}:{queue[2]}:{queue[3]}"
                add(arn, self.resolve(props["PolicyDocument"], stack))
        for stack, logical_id, props in self.resources_of_type("AWS::Lambda::Permission"):
            # Function policies admitting AWS services (EventBridge, CodePipeline) cannot let a
            # role in; one admitting an account or a role would have to be simulated too.
            principal = self.resolve(props["Principal"], stack)
            if not principal.endswith(".amazonaws.com"):
                raise Unresolvable(f"{stack.name}/{logical_id} admits {principal}")
        for stack in self.stacks:
            for logical_id, resource in stack.resources.items():
                props = resource.get("Properties", {})
                parts = [props, *props.get("Replicas", [])]
                if resource["Type"] in UNSIMULATED_RESOURCE_POLICIES or any(
                    POLICY_PROPERTIES & set(part) for part in parts
                ):
                    raise Unresolvable(
                        f"{resource['Type']} {stack.name}/{logical_id}: a resource policy "
                        "this inventory does not collect yet"
                    )
        return {
            arn: {
                "Version": "2012-10-17",
                "Statement": [s for d in docs for s in as_list(d["Statement"])],
            }
            for arn, docs in found.items()
        }


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def intrinsics_left(value: Any) -> list[str]:
    """Intrinsic function keys still present in ``value`` (a resolved document has none)."""
    if isinstance(value, list):
        return [k for v in value for k in intrinsics_left(v)]
    if isinstance(value, dict):
        here = [k for k in value if k == "Ref" or k.startswith("Fn::")]
        return here + [k for v in value.values() for k in intrinsics_left(v)]
    return []


ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}|aws)?:\S+")


def malformed(document: dict[str, Any]) -> list[str]:
    """Resources and principals of ``document`` that are neither "*" nor well-formed ARNs (or,
    for principals, account ids and service names). The simulator matches a malformed resource
    string like a wildcard, so a resolver slip would read as a grant: check first."""
    bad: list[str] = []
    for statement in as_list(document.get("Statement", [])):
        for key in ("Resource", "NotResource"):
            bad += [r for r in as_list(statement.get(key, [])) if r != "*" and not ARN.fullmatch(r)]
        for key in ("Principal", "NotPrincipal"):
            principal = statement.get(key, {})
            if principal == "*":
                continue
            for kind, values in principal.items():
                for value in as_list(values):
                    ok = {
                        "AWS": value == "*"
                        or re.fullmatch(r"\d{12}", value)
                        or ARN.fullmatch(value),
                        "Service": re.fullmatch(r"[a-z0-9.-]+\.amazonaws\.com", value),
                    }.get(kind, False)
                    if not ok:
                        bad.append(f"{key} {kind} {value}")
    return bad


# -- the simulator -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    principal: str  # the caller's ARN (an assumed-role session)
    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()
    identity: str | None = None  # key of the caller's policies in identity_policies
    resource_policy: str | None = None  # key of the resource's policy in resource_policies
    resource_account: str | None = None
    boundary: str | None = None  # the caller's permissions boundary (a policy ARN)


def session_request(
    role: Role,
    account: str,
    session: str,
    *,
    action: str,
    resource: str,
    context: Iterable[tuple[str, Any]] = (),
    resource_policy: str | None = None,
    resource_account: str | None = None,
) -> Request:
    """``action`` on ``resource`` by a session of ``role`` (in ``account``) over TLS, with the
    principal keys IAM sets (``aws:PrincipalArn``, ``aws:PrincipalAccount``) and ``context``."""
    return Request(
        principal=f"arn:aws:sts::{account}:assumed-role/{role.name}/{session}",
        identity=role.arn,
        action=action,
        resource=resource,
        context=tuple(
            {
                "aws:PrincipalArn": role.arn,
                "aws:PrincipalAccount": account,
                "aws:SecureTransport": "true",
                **dict(context),
            }.items()
        ),
        resource_policy=resource_policy,
        resource_account=resource_account,
        boundary=role.boundary,
    )


# The permissions boundaries the tests know, by policy name (tests/iam_sim/boundaries/), in
# every account: a landing zone's boundary is a customer managed policy of that name.
BOUNDARIES = Path(__file__).resolve().parent / "boundaries"


def boundary_document(arn: str) -> dict[str, Any]:
    """The document of the boundary policy ``arn`` (arn:<partition>:iam::<account>:policy/
    <name>); a boundary the tests do not know is an error, never ignored."""
    name = arn.rsplit(":policy/", 1)[-1]
    path = BOUNDARIES / f"{name}.json"
    if ":policy/" not in arn or not path.is_file():
        raise Unresolvable(f"no document for the permissions boundary {arn} in {BOUNDARIES}")
    document: dict[str, Any] = json.loads(path.read_text())
    return document


@dataclass(frozen=True)
class Decision:
    result: str  # Allowed, ImplicitlyDenied, ExplicitlyDenied, or Error
    # The granting statements, or the denying ones: {policyType: identity | resource | ...,
    # policyIdentifier (an identity policy's name), statementIndex (1-based), statementId}.
    reasons: tuple[dict[str, Any], ...]
    error: str | None = None
    ignored_context_keys: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.result == "Allowed"


def node_module_result(source: str) -> Any:
    """What an ES module ``source`` (run by node at the repository's root, where it resolves the
    simulator's packages) writes to stdout, parsed as JSON: the checks that the simulator's
    shortcuts answer as the library does."""
    completed = subprocess.run(
        ["node", "--input-type=module", "-e", source],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    return json.loads(completed.stdout)


def simulate(
    requests: Iterable[Request],
    identity_policies: dict[str, list[tuple[str, dict[str, Any]]]],
    resource_policies: dict[str, dict[str, Any]],
    account: str,
    *,
    simulator: Worker | None = None,
) -> list[Decision]:
    """One decision per request, evaluated by this test process's simulator (one node process,
    started at the first question), or by ``simulator``."""
    requests = list(requests)
    payload = {
        "requests": [
            {
                "principal": r.principal,
                "identity": r.identity,
                "action": r.action,
                "resource": r.resource,
                "resourceAccount": r.resource_account or account,
                "context": dict(r.context),
                "resourcePolicy": r.resource_policy,
                **({"boundary": r.boundary} if r.boundary else {}),
            }
            for r in requests
        ],
        "boundaryPolicies": {
            arn: boundary_document(arn)
            for arn in sorted({r.boundary for r in requests if r.boundary})
        },
        "identityPolicies": {
            key: [{"name": name, "policy": document} for name, document in policies]
            for key, policies in identity_policies.items()
        },
        "resourcePolicies": resource_policies,
    }
    decisions = (simulator or _SIMULATOR).ask(payload)
    if len(decisions) != len(requests):
        raise RuntimeError(f"{len(requests)} requests but {len(decisions)} decisions")
    return [
        Decision(
            result=d["result"],
            reasons=tuple(d.get("reasons", [])),
            error=d.get("error"),
            ignored_context_keys=tuple(d.get("ignoredContextKeys", [])),
        )
        for d in decisions
    ]


def new_simulator() -> Worker:
    """A simulator of its own (a node process started at its first question), as
    :func:`simulate` uses one per test process."""
    return Worker("simulate.mjs", ["node", str(SCRIPT)], cwd=ROOT)


# This test process's simulator: one node process answers every simulate() (tests/workers.py).
_SIMULATOR = new_simulator()


# -- several environments, several accounts ----------------------------------------------------


def environments_of_assembly(outdir: Path) -> dict[str, list[Stack]]:
    """The stacks of a synthesized cloud assembly by environment, each with the endpoint
    templates its stacks' assets hold (as :func:`endpoint_stacks`, in its account and region).

    A stage's stacks (its nested assembly ``assembly-<stage>``) are one environment, named after
    the stage; the app's own stacks are grouped by ``aws://<account>/<region>``."""
    environments: dict[str, list[Stack]] = {}
    for manifest_path in sorted(outdir.glob("**/manifest.json")):
        directory = manifest_path.parent
        manifest = json.loads(manifest_path.read_text())
        found: dict[str, list[Stack]] = {}
        templates: dict[str, list[Path]] = {}
        for artifact_id, artifact in manifest.get("artifacts", {}).items():
            if artifact.get("type") != "aws:cloudformation:stack":
                continue
            environment = artifact.get("environment", "")
            env = re.fullmatch(r"aws://(\d{12})/([a-z0-9-]+)", environment)
            if env is None:
                raise Unresolvable(f"stack environment not concrete: {environment}")
            props = artifact["properties"]
            template = json.loads((directory / props["templateFile"]).read_text())
            stage = directory.name.removeprefix("assembly-") if directory != outdir else ""
            name = stage or environment
            # A stage with stacks in several regions (a pipeline's replicas): one environment
            # per region, the stage's first region keeping its name.
            first = found.get(name)
            if stage and first and (first[0].account, first[0].region) != (env[1], env[2]):
                name = f"{stage}@{env[2]}"
            found.setdefault(name, []).append(Stack(props["stackName"], env[1], env[2], template))
            assets = directory / f"{artifact_id}.assets.json"
            if assets.exists():
                for asset in json.loads(assets.read_text()).get("files", {}).values():
                    source = (directory / asset["source"]["path"]).resolve()
                    if source.is_dir():
                        templates.setdefault(name, []).extend(source.glob("*.template.json"))
        for name, stacks in found.items():
            if name in environments:
                raise Unresolvable(f"environment {name} in two assemblies")
            account, region = stacks[0].account, stacks[0].region
            environments[name] = stacks + [
                Stack(p.name.removesuffix(".template.json"), account, region,
                      json.loads(p.read_text()))
                for p in sorted(set(templates.get(name, [])))
            ]  # fmt: skip
    return environments


@dataclass
class Estate:
    """Several environments, possibly in several accounts: each an :class:`Inventory` of its
    own stacks, its intrinsics resolved with its own account and region; together their roles,
    their resource policies, and the account that owns a resource.

    A request across accounts is allowed only if the caller's identity policy (in its account)
    AND the resource's policy (in the owner's account) allow it; the simulator decides which
    case applies from the caller's ARN and the resource account of the request
    (``Request.resource_account``, see :meth:`owner`)."""

    inventories: dict[str, Inventory]
    _roles: dict[str, dict[str, Role]] | None = field(default=None, init=False, repr=False)
    _policies: dict[str, dict[str, Any]] | None = field(default=None, init=False, repr=False)
    _buckets: dict[str, str] | None = field(default=None, init=False, repr=False)

    @classmethod
    def of_assembly(cls, outdir: Path) -> Estate:
        return cls({n: Inventory(s) for n, s in environments_of_assembly(outdir).items()})

    def roles(self) -> dict[str, Role]:
        """Every role of every environment by ARN (two environments in one account must not
        name a role alike)."""
        return self._merge(self._roles_by_environment())

    def roles_of(self, environment: str) -> dict[str, Role]:
        """The roles of one environment by ARN."""
        return self._roles_by_environment()[environment]

    def _roles_by_environment(self) -> dict[str, dict[str, Role]]:
        if self._roles is None:
            self._roles = {n: i.roles() for n, i in self.inventories.items()}
        return self._roles

    def resource_policies(self) -> dict[str, dict[str, Any]]:
        """Every environment's resource policies by the ARN of the resource they protect."""
        if self._policies is None:
            merged = {n: i.resource_policies() for n, i in self.inventories.items()}
            self._policies = self._merge(merged)
        return self._policies

    def trust_policies(self) -> dict[str, dict[str, Any]]:
        """Every environment's roles' trust policies by role ARN."""
        return self._merge({n: i.trust_policies() for n, i in self.inventories.items()})

    @staticmethod
    def _merge(found: dict[str, dict[str, Any]]) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        where: dict[str, str] = {}
        for environment, items in found.items():
            for arn, item in items.items():
                if arn in merged:
                    raise Unresolvable(f"{arn} in environments {where[arn]} and {environment}")
                merged[arn], where[arn] = item, environment
        return merged

    def owner(self, resource: str) -> str:
        """The account that owns ``resource`` (an ARN): the ARN's account, or for a bucket or
        an object (ARNs without an account) the account of the environment defining the
        bucket."""
        parts = resource.split(":", 5)
        if len(parts) != 6 or not parts[0] == "arn":
            raise Unresolvable(f"not an ARN: {resource}")
        if parts[4]:
            return parts[4]
        if parts[2] != "s3":
            raise Unresolvable(f"no account in {resource}")
        if self._buckets is None:
            self._buckets = {}
            for inventory in self.inventories.values():
                for stack, logical_id, _ in inventory.resources_of_type("AWS::S3::Bucket"):
                    name = inventory.name_of(stack, logical_id)
                    if name in self._buckets:
                        raise Unresolvable(f"bucket {name} defined twice")
                    self._buckets[name] = inventory.account
        bucket = parts[5].split("/", 1)[0]
        if bucket not in self._buckets:
            raise Unresolvable(f"bucket {bucket} is in no environment")
        return self._buckets[bucket]
