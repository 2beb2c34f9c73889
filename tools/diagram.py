"""Architecture diagram (Mermaid) of the synthesized app, generated from a cloud assembly.

Usage::

    python -m tools.diagram --cdk-out cdk.out --title "mlops" [--output FILE]
    python -m tools.diagram --write docs/architecture.md     # what `make diagram` runs

The first form reads a cloud assembly (``cdk.out``) and prints (or writes) one Mermaid flowchart.
The second synthesizes the two topologies of docs/architecture.md offline, each into a temporary
directory (``stacks.app_builder.build_app``, the configurations of tools/configurations.py, which
the test suite's fixtures synthesize too), and rewrites that file. Nothing here calls AWS.

What is drawn, and where each part comes from:

- **Subgraphs**: accounts and environments (the nested assemblies of manifest.json and each stack
  artifact's ``aws://account/region``), projects (the ``project`` tag the platform puts on every
  resource of a project's stacks), and stacks. The endpoint templates the pipelines deploy are
  stacks too: each ``*.template.json`` of a file asset some stack's ``*.assets.json`` ships, in
  the account and region its ``Metadata.DeploysTo`` names, under the environment and project whose
  stack names share the longest prefix with its own. Stacks are ordered by their dependencies in
  manifest.json.
- **Nodes**: the main resources (``KINDS``: buckets, Glue jobs, crawlers and workflows, SageMaker
  pipelines, model registries, CodePipelines, Lambda functions, endpoints, event buses, schedules,
  SNS topics, dashboards), one node per stack for its CloudWatch alarms, one per stack without
  any of those for its named IAM roles, and a node for each default event bus another account
  sends to. A stack's resources that take part in no drawn flow share one node.
- **Edges**, derived from the templates (with the tables below):
  EventBridge rules (the ``EventPattern``'s detail-type and status filter as the label; the
  source is the resource the pattern names, or the rule's bus for a custom bus, or the default
  bus for events another account forwards; each target, including cross-account bus ARNs);
  EventBridge Scheduler schedules (target and pipeline parameters); CodePipeline stages and
  actions (Lambda invokes, manual approvals' topics, S3 sources, CodeBuild projects whose build
  spec starts a SageMaker pipeline, artifact stores, and CloudFormation deployments, drawn to the
  stack they deploy, or to the environment when a stage deploys several); SageMaker pipeline
  definitions (Lambda steps, RegisterModel's model package group); Glue triggers (workflow ->
  job); crawlers' S3 targets; endpoint configs' data capture destination; alarm actions; and
  CloudWatch metric namespaces (a function whose environment names the namespace of an alarm's
  metric).
- **Explicit tables** (what the templates cannot say by themselves): ``ENV_FLOWS``, which Lambda
  environment variables name what a function starts, reads or writes; ``ACTION_PARAMETERS``,
  which parameters of a pipeline's Lambda action name what it works on; ``GLUE_ARGS``, which Glue
  job arguments are its input and output; ``QUALIFIERS``, which event-pattern fields make the
  edge label (the status or key a rule filters on); and the node shapes and colours.

Several projects in one environment are drawn once: the alphabetically first project's
resources, in a subgraph labelled "per project: a, b, c" (edges to the other projects' copies are
left out). Output is deterministic: sorted, node ids from resource names, no hashes. What the
tool cannot resolve, and rules whose events no drawn resource sends, are printed on stderr as
notes; the output is checked against the Mermaid subset it writes (``check_mermaid``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Json = dict[str, Any]
STACK_ARTIFACT = "aws:cloudformation:stack"
NESTED_ASSEMBLY = "cdk:cloud-assembly"
ASSET_MANIFEST = "cdk:asset-manifest"


class DiagramError(Exception):
    """Bad input (no cloud assembly, unreadable template): one message, exit code 2."""


# --- the cloud assembly ---------------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    """One CloudFormation template of the assembly, where it deploys and whose it is."""

    name: str
    stage: str
    """The nested assembly (CDK Stage) it belongs to; "" at the assembly's root."""
    project: str | None
    account: str
    region: str
    template: Json
    depends_on: tuple[str, ...] = ()
    asset: bool = False
    """A template shipped as a file asset (deployed by a pipeline, not by the CDK CLI)."""

    @property
    def resources(self) -> Json:
        resources: Json = self.template.get("Resources", {})
        return resources


def _read(path: Path) -> Json:
    try:
        data: Json = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DiagramError(f"{path}: {error}") from error
    return data


def load_assembly(cdk_out: Path) -> list[Stack]:
    """Every stack of the cloud assembly in ``cdk_out`` (nested assemblies and the endpoint
    templates its asset manifests ship included), sorted by name."""
    manifest = cdk_out / "manifest.json"
    if not manifest.is_file():
        raise DiagramError(f"{manifest}: no cloud assembly there (synthesize first)")
    stacks, templates = _assembly(manifest, stage="")
    by_name = {s.name: s for s in stacks}
    for path in sorted(set(templates)):
        asset = _asset_stack(path, stacks)
        by_name.setdefault(asset.name, asset)
    return sorted(by_name.values(), key=lambda s: s.name)


def _assembly(manifest: Path, stage: str) -> tuple[list[Stack], list[Path]]:
    artifacts: Json = _read(manifest).get("artifacts", {})
    names = {
        key: a["properties"]["stackName"]
        for key, a in artifacts.items()
        if a.get("type") == STACK_ARTIFACT and "stackName" in a.get("properties", {})
    }
    stacks: list[Stack] = []
    templates: list[Path] = []
    for key, artifact in sorted(artifacts.items()):
        kind, props = artifact.get("type"), artifact.get("properties", {})
        if kind == NESTED_ASSEMBLY:
            nested = manifest.parent / props["directoryName"] / "manifest.json"
            more, files = _assembly(nested, props.get("displayName", props["directoryName"]))
            stacks += more
            templates += files
        elif kind == ASSET_MANIFEST:
            templates += _asset_templates(manifest.parent / props["file"])
        elif kind == STACK_ARTIFACT:
            stacks.append(_stack(manifest.parent, key, artifact, stage, names))
    return stacks, templates


def _stack(
    directory: Path, key: str, artifact: Json, stage: str, names: Mapping[str, str]
) -> Stack:
    props = artifact["properties"]
    template = _read(directory / props["templateFile"])
    account, region = _environment(artifact.get("environment", ""))
    deps = tuple(sorted(names[d] for d in artifact.get("dependencies", []) if d in names))
    return Stack(
        name=names.get(key, key),
        stage=stage,
        project=_project_tag(template),
        account=account,
        region=region,
        template=template,
        depends_on=deps,
    )


def _environment(uri: str) -> tuple[str, str]:
    """``aws://account/region`` -> (account, region)."""
    parts = uri.removeprefix("aws://").split("/")
    return (parts[0], parts[1]) if len(parts) == 2 else ("unknown-account", "unknown-region")


def _project_tag(template: Json) -> str | None:
    """The one value of the ``project`` tag of the template's resources, if they share one."""
    values: set[str] = set()
    for resource in template.get("Resources", {}).values():
        tags = resource.get("Properties", {}).get("Tags")
        if isinstance(tags, dict):
            value = tags.get("project")
        elif isinstance(tags, list):
            value = next((t.get("Value") for t in tags if t.get("Key") == "project"), None)
        else:
            value = None
        if isinstance(value, str):
            values.add(value)
    return values.pop() if len(values) == 1 else None


def _asset_templates(assets_manifest: Path) -> list[Path]:
    """The CloudFormation templates inside the file assets a stack's asset manifest ships."""
    files: Json = _read(assets_manifest).get("files", {})
    found: list[Path] = []
    for asset in files.values():
        source = asset.get("source", {})
        if source.get("packaging") == "zip" and "path" in source:
            found += (assets_manifest.parent / source["path"]).resolve().glob("*.template.json")
    return found


def _asset_stack(path: Path, stacks: Sequence[Stack]) -> Stack:
    """A template shipped as an asset, placed where its ``Metadata.DeploysTo`` says, beside the
    stacks whose names share the longest prefix with its own."""
    template = _read(path)
    name = path.name.removesuffix(".template.json")
    target = template.get("Metadata", {}).get("DeploysTo", {})
    there = [
        s for s in stacks if (s.account, s.region) == (target.get("Account"), target.get("Region"))
    ]
    candidates = there or list(stacks)
    if not candidates:
        raise DiagramError(f"{path}: a template shipped as an asset, and no stack to place it by")
    best = max(sorted(candidates, key=lambda s: s.name), key=lambda s: len(_prefix([s.name, name])))
    return Stack(
        name=name,
        stage=best.stage,
        project=best.project,
        account=target.get("Account", best.account),
        region=target.get("Region", best.region),
        template=template,
        asset=True,
    )


def _prefix(names: Sequence[str]) -> str:
    """The longest common prefix of ``names`` that ends with "-" (names are dash-separated)."""
    common = names[0] if names else ""
    for name in names[1:]:
        while not name.startswith(common):
            common = common[:-1]
    return common[: common.rfind("-") + 1]


# --- intrinsic functions ----------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """A resource type drawn as a node: its title, name property, ARN format and category."""

    key: str
    title: str
    name_property: str
    arn: str | None
    category: str
    ref_is_arn: bool = False


KINDS: dict[str, Kind] = {
    "AWS::S3::Bucket": Kind("bucket", "S3 bucket", "BucketName", "arn:aws:s3:::{name}", "storage"),
    "AWS::SageMaker::ModelPackageGroup": Kind(
        "registry",
        "model registry",
        "ModelPackageGroupName",
        "arn:aws:sagemaker:{region}:{account}:model-package-group/{name}",
        "storage",
    ),
    "AWS::Glue::Crawler": Kind("crawler", "Glue crawler", "Name", None, "compute"),
    "AWS::Glue::Job": Kind(
        "gluejob", "Glue job", "Name", "arn:aws:glue:{region}:{account}:job/{name}", "compute"
    ),
    "AWS::Lambda::Function": Kind(
        "fn",
        "Lambda function",
        "FunctionName",
        "arn:aws:lambda:{region}:{account}:function:{name}",
        "compute",
    ),
    "AWS::Glue::Workflow": Kind(
        "workflow",
        "Glue workflow",
        "Name",
        "arn:aws:glue:{region}:{account}:workflow/{name}",
        "orchestration",
    ),
    "AWS::SageMaker::Pipeline": Kind(
        "smpipeline",
        "SageMaker pipeline",
        "PipelineName",
        "arn:aws:sagemaker:{region}:{account}:pipeline/{name}",
        "orchestration",
    ),
    "AWS::CodePipeline::Pipeline": Kind(
        "codepipeline",
        "CodePipeline",
        "Name",
        "arn:aws:codepipeline:{region}:{account}:{name}",
        "orchestration",
    ),
    "AWS::Events::EventBus": Kind(
        "bus",
        "EventBridge bus",
        "Name",
        "arn:aws:events:{region}:{account}:event-bus/{name}",
        "events",
    ),
    "AWS::Scheduler::Schedule": Kind("schedule", "EventBridge schedule", "Name", None, "events"),
    "AWS::SageMaker::Endpoint": Kind(
        "smendpoint",
        "SageMaker endpoint",
        "EndpointName",
        "arn:aws:sagemaker:{region}:{account}:endpoint/{name}",
        "serving",
    ),
    "AWS::SNS::Topic": Kind(
        "topic", "SNS topic", "TopicName", "arn:aws:sns:{region}:{account}:{name}", "observe", True
    ),
    "AWS::CloudWatch::Dashboard": Kind(
        "dashboard", "CloudWatch dashboard", "DashboardName", None, "observe"
    ),
}
PSEUDO = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": ""}


class _Unresolved(Exception):
    pass


class Assembly:
    """The stacks, and the string value of a template expression where it can be known
    offline (pseudo parameters, parameter defaults, resource names, Join, Sub, stack outputs)."""

    def __init__(self, stacks: Sequence[Stack]) -> None:
        self.stacks = list(stacks)
        self.by_name = {s.name: s for s in stacks}

    def text(self, value: Any, stack: Stack) -> str | None:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, dict) or len(value) != 1:
            return None
        ((function, argument),) = value.items()
        handler = self._FUNCTIONS.get(function)
        return handler(self, argument, stack) if handler else None

    def name(self, stack: Stack, logical_id: str) -> str | None:
        """The physical name of a resource of a drawn kind, if its template sets it."""
        resource = stack.resources.get(logical_id, {})
        kind = KINDS.get(resource.get("Type", ""))
        if kind is None:
            return None
        return self.text(resource.get("Properties", {}).get(kind.name_property), stack)

    def arn(self, stack: Stack, logical_id: str) -> str | None:
        kind = KINDS.get(stack.resources.get(logical_id, {}).get("Type", ""))
        name = self.name(stack, logical_id)
        if kind is None or kind.arn is None or name is None:
            return None
        return kind.arn.format(region=stack.region, account=stack.account, name=name)

    def _ref(self, target: Any, stack: Stack) -> str | None:
        pseudo = {"AWS::AccountId": stack.account, "AWS::Region": stack.region, **PSEUDO}
        if target in pseudo or target == "AWS::StackName":
            return pseudo.get(target, stack.name)
        parameter = stack.template.get("Parameters", {}).get(target)
        if parameter is not None:
            return self.text(parameter.get("Default"), stack)
        kind = KINDS.get(stack.resources.get(target, {}).get("Type", ""))
        if kind is not None and kind.ref_is_arn:
            return self.arn(stack, target)
        return self.name(stack, target)

    def _get_att(self, argument: Any, stack: Stack) -> str | None:
        logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
        return self.arn(stack, logical_id) if attribute == "Arn" else None

    def _join(self, argument: Any, stack: Stack) -> str | None:
        separator, parts = argument
        texts = [self.text(part, stack) for part in parts]
        return None if any(t is None for t in texts) else separator.join(t or "" for t in texts)

    def _sub(self, argument: Any, stack: Stack) -> str | None:
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def replace(match: re.Match[str]) -> str:
            key = match.group(1)
            if key.startswith("!"):
                return "${" + key[1:] + "}"
            if key in variables:
                value = variables[key]
            else:
                value = {"Fn::GetAtt": key.split(".", 1)} if "." in key else {"Ref": key}
            resolved = self.text(value, stack)
            if resolved is None:
                raise _Unresolved(key)
            return resolved

        try:
            return re.sub(r"\$\{([^}]+)\}", replace, text)
        except _Unresolved:
            return None

    def _stack_output(self, argument: Any, stack: Stack) -> str | None:
        other = self.by_name.get(argument.get("StackName"))
        if other is None:
            return None
        output = other.template.get("Outputs", {}).get(argument.get("OutputName"), {})
        return self.text(output.get("Value"), other)

    _FUNCTIONS: dict[str, Callable[[Assembly, Any, Stack], str | None]] = {
        "Ref": _ref,
        "Fn::GetAtt": _get_att,
        "Fn::Join": _join,
        "Fn::Sub": _sub,
        "Fn::GetStackOutput": _stack_output,
    }


# --- the graph ------------------------------------------------------------------------------


@dataclass
class Node:
    id: str
    kind: str
    category: str
    title: str
    name: str
    group: str
    account: str
    region: str
    label: str = ""

    def __post_init__(self) -> None:
        self.label = self.label or f"{self.title}<br/>{self.name}"


@dataclass
class Group:
    id: str
    label: str
    parent: str | None
    order: tuple[int, str]


@dataclass
class Graph:
    nodes: dict[str, Node]
    groups: dict[str, Group]
    edges: dict[tuple[str, str, str], list[str]]
    """(source, target, style) -> labels; a source or target may be a group (subgraph)."""
    notes: list[str] = field(default_factory=list)
    """References the tool could not resolve (printed on stderr by the command line)."""


@dataclass(frozen=True)
class Alarm:
    name: str
    namespaces: frozenset[str]
    node: str


# Which Lambda environment variables name what the function starts, reads or writes:
# variable -> (edge label, True when the flow goes from the named resource to the function).
ENV_FLOWS: dict[str, tuple[str, bool]] = {
    "PIPELINE_NAME": ("starts", False),
    "DEPLOY_PIPELINE": ("starts", False),
    "SOURCE_BUCKET": ("sealed files", True),
    "TARGET_BUCKET": ("verified copy", False),
    "ENDPOINT_NAME": ("watches", False),
}
# A function that writes data capture (the front door of a scale_to_zero production, ADR 0033)
# has this variable beside CAPTURE_URI; one that only reads capture (the monitoring) has not.
CAPTURE_WRITER = "CAPTURE_PERCENT"
# Which parameters of a CodePipeline Lambda action name what the function works on:
# parameter -> (edge label, kinds of node it names).
ACTION_PARAMETERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "endpoint_name": ("invokes", ("smendpoint",))
}
# The variable naming the CloudWatch namespace a function publishes metrics to.
METRICS_VARIABLE = "METRICS_NAMESPACE"
# Which Glue job arguments are its input (True: drawn from the bucket) and output.
GLUE_ARGS: dict[str, tuple[str, bool]] = {
    "--source_path": ("reads", True),
    "--target_path": ("writes", False),
}
# The event-pattern fields whose values label a rule's edge (after its detail-type).
QUALIFIERS = frozenset(
    {
        "state",
        "value",
        "ModelApprovalStatus",
        "currentPipelineExecutionStatus",
        "key",
        "ExitMessage",
    }
)
# Notifications (to SNS topics) are dotted, deployments thick, every other flow solid.
ARROWS = {"flow": "-->", "notify": "-.->", "deploy": "==>"}
SHAPES = {
    "storage": ('[("', '")]'),
    "compute": ('["', '"]'),
    "orchestration": ('[["', '"]]'),
    "events": ('{{"', '"}}'),
    "serving": ('(["', '"])'),
    "observe": ('>"', '"]'),
    "other": ('("', '")'),
}
STYLES = {
    "storage": "fill:#e8f5e9,stroke:#2e7d32",
    "compute": "fill:#fff3e0,stroke:#ef6c00",
    "orchestration": "fill:#e3f2fd,stroke:#1565c0",
    "events": "fill:#f3e5f5,stroke:#6a1b9a",
    "serving": "fill:#ffebee,stroke:#c62828",
    "observe": "fill:#fffde7,stroke:#f9a825",
    "other": "fill:#f5f5f5,stroke:#616161",
}
CATEGORY_ORDER = {c: i for i, c in enumerate(SHAPES)}


def _id(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9]+", "_", p).strip("_") for p in parts if p)


def _strip_hash(logical_id: str) -> str:
    return re.sub(r"[0-9A-F]{8}$", "", logical_id)


def _names_label(title: str, names: Sequence[str]) -> str:
    """``title`` and ``names``, their common prefix written once."""
    names = sorted(names)
    prefix = _prefix(names) if len(names) > 1 else ""
    if not prefix:
        return "<br/>".join([title, *names])
    rest = [n[len(prefix) :] for n in names]
    lines = [", ".join(rest[i : i + 3]) for i in range(0, len(rest), 3)]
    return "<br/>".join([f"{title} {prefix}*", *lines])


def _leaves(value: Any) -> Iterator[tuple[bool, str]]:
    """(is a prefix, text) of every string an event pattern matches."""
    if isinstance(value, str):
        yield False, value
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, dict):
        if isinstance(value.get("prefix"), str):
            yield True, value["prefix"]
            return
        for item in value.values():
            yield from _leaves(item)


def _qualifiers(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in QUALIFIERS and isinstance(item, list):
                yield from (f"{p}*" if prefix else p for prefix, p in _leaves(item))
            else:
                yield from _qualifiers(item)


def _pattern_label(pattern: Json) -> str:
    """An event pattern as an edge label: its detail-type, then the status or key it filters."""
    kinds = pattern.get("detail-type") or pattern.get("source") or ["event"]
    qualifiers = list(dict.fromkeys(_qualifiers(pattern.get("detail", {}))))
    return ", ".join(kinds) + (f": {', '.join(qualifiers)}" if qualifiers else "")


def _namespaces(alarm: Json) -> Iterator[str]:
    if isinstance(alarm.get("Namespace"), str):
        yield alarm["Namespace"]
    for metric in alarm.get("Metrics", []):
        namespace = metric.get("MetricStat", {}).get("Metric", {}).get("Namespace")
        if isinstance(namespace, str):
            yield namespace


def _logical_id(value: Any) -> str | None:
    """The logical id a ``Ref`` or ``Fn::GetAtt`` points to."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    ((function, argument),) = value.items()
    if function == "Ref" and isinstance(argument, str):
        return argument
    if function == "Fn::GetAtt":
        return str(argument.split(".")[0] if isinstance(argument, str) else argument[0])
    return None


def _definition(value: Json) -> tuple[Json | None, dict[str, Any]]:
    """A SageMaker pipeline's definition (parsed) and the variables of its ``Fn::Sub``."""
    body: Any = value.get("PipelineDefinitionBody")
    variables: dict[str, Any] = {}
    if isinstance(body, dict) and "Fn::Sub" in body:
        sub = body["Fn::Sub"]
        body, variables = (sub, {}) if isinstance(sub, str) else (sub[0], dict(sub[1]))
    elif isinstance(body, dict) and "Fn::Join" in body:
        separator, parts = body["Fn::Join"]
        texts = []
        for index, part in enumerate(parts):
            if not isinstance(part, str):
                variables[f"part{index}"] = part
                part = f"${{part{index}}}"
            texts.append(part)
        body = separator.join(texts)
    if not isinstance(body, str):
        return None, {}
    try:
        definition: Json = json.loads(body)
    except ValueError:
        return None, {}
    return definition, variables


def _steps(steps: Any) -> Iterator[Json]:
    """Every step of a SageMaker pipeline definition, those inside conditions included."""
    for step in steps if isinstance(steps, list) else []:
        if isinstance(step, dict):
            yield step
            arguments = step.get("Arguments")
            if isinstance(arguments, dict):
                yield from _steps(arguments.get("IfSteps"))
                yield from _steps(arguments.get("ElseSteps"))


def _trigger_label(trigger: Json) -> str:
    batching = trigger.get("EventBatchingCondition")
    if trigger.get("Type") == "EVENT" and isinstance(batching, dict):
        window = f" or {batching['BatchWindow']} s" if "BatchWindow" in batching else ""
        return f"starts: batch of {batching.get('BatchSize', 1)} events{window}"
    schedule = trigger.get("Schedule")
    return f"starts: {schedule}" if isinstance(schedule, str) else "starts"


def _ranks(stacks: Sequence[Stack]) -> dict[str, int]:
    """Each stack's depth in manifest.json's dependencies (templates shipped as assets last)."""
    by_name = {s.name: s for s in stacks}
    ranks: dict[str, int] = {}

    def rank(name: str, seen: frozenset[str]) -> int:
        if name not in ranks:
            deps = [d for d in by_name[name].depends_on if d in by_name and d not in seen]
            ranks[name] = 1 + max((rank(d, seen | {name}) for d in deps), default=-1)
        return ranks[name]

    for stack in stacks:
        if not stack.asset:
            rank(stack.name, frozenset())
    last = 1 + max(ranks.values(), default=0)
    return {**{s.name: last for s in stacks if s.asset}, **ranks}


class _Builder:
    """Builds the graph of one assembly: groups, nodes, then each kind of edge."""

    def __init__(self, assembly: Assembly) -> None:
        self.assembly = assembly
        self.nodes: dict[str, Node] = {}
        self.groups: dict[str, Group] = {}
        self.edges: dict[tuple[str, str, str], list[str]] = {}
        self.notes: list[str] = []
        self.logical: dict[tuple[str, str], str] = {}
        self.named: dict[str, list[str]] = {}
        self.alarms: list[Alarm] = []
        self.stack_group: dict[str, str] = {}
        self.env_group: dict[tuple[str, str], str] = {}
        self.default_bus: dict[tuple[str, str], str] = {}
        self.project_groups: dict[str, tuple[str, str]] = {}
        self.pipeline_params: dict[str, list[dict[str, str]]] = {}
        self.invoked_by: dict[str, list[str]] = {}

    def graph(self) -> Graph:
        self.layout()
        self.add_nodes()
        self.add_default_buses()
        for add in (
            self.add_schedules,
            self.add_sagemaker_pipelines,
            self.add_rules,
            self.add_codepipelines,
            self.add_functions,
            self.add_glue,
            self.add_endpoints,
            self.add_alarm_actions,
        ):
            add()
        self.collapse_projects()
        self.merge_unconnected()
        self.prune_groups()
        return Graph(self.nodes, self.groups, self.edges, self.notes)

    # groups

    def _group(self, group_id: str, label: str, parent: str | None, order: tuple[int, str]) -> str:
        if group_id in self.groups:
            self.groups[group_id].order = min(self.groups[group_id].order, order)
        else:
            self.groups[group_id] = Group(group_id, label, parent, order)
        return group_id

    def layout(self) -> None:
        """Accounts (and the environments in each), projects, stacks."""
        ranks = _ranks(self.assembly.stacks)
        places: dict[tuple[str, str], list[Stack]] = {}
        for stack in self.assembly.stacks:
            places.setdefault((stack.account, stack.region), []).append(stack)
        for (account, region), stacks in sorted(places.items()):
            stages = self._environments(account, region, stacks, ranks)
            for stack in stacks:
                self._stack_group(stack, stages[stack.stage], ranks)

    def _environments(
        self, account: str, region: str, stacks: Sequence[Stack], ranks: Mapping[str, int]
    ) -> dict[str, str]:
        """One subgraph per account and region; one per environment inside it when it holds
        several. Stacks outside any environment (the assembly's root) join the account's."""
        where = f"account {account}, {region}"
        order = (min(ranks[s.name] for s in stacks), account)
        stages = sorted({s.stage for s in stacks if s.stage})
        if len(stages) <= 1:
            label = f"{stages[0]}: {where}" if stages else where
            top = self._group(_id("env", account, region), label, None, order)
            groups = {s.stage: top for s in stacks}
        else:
            top = self._group(_id("account", account, region), where, None, order)
            groups = {"": top}
            for stage in stages:
                first = min(ranks[s.name] for s in stacks if s.stage == stage)
                groups[stage] = self._group(
                    _id("env", stage, account, region), stage, top, (first, stage)
                )
        self.env_group[(account, region)] = top
        return groups

    def _stack_group(self, stack: Stack, parent: str, ranks: Mapping[str, int]) -> None:
        order = (ranks[stack.name], stack.name)
        if stack.project:
            project = _id(parent, stack.project)
            self.project_groups[project] = (parent, stack.project)
            parent = self._group(project, f"project {stack.project}", parent, order)
        self.stack_group[stack.name] = self._group(
            _id("stack", stack.name), stack.name, parent, order
        )

    def _path(self, group_id: str) -> list[str]:
        path: list[str] = []
        current: str | None = group_id
        while current is not None:
            path.insert(0, current)
            current = self.groups[current].parent
        return path

    # nodes

    def _where(self, node_id: str) -> tuple[str, str]:
        return self.nodes[node_id].account, self.nodes[node_id].region

    def _add(self, node: Node, *keys: str | None) -> str:
        self.nodes[node.id] = node
        for key in keys:
            if key:
                self.named.setdefault(key, []).append(node.id)
        return node.id

    def add_nodes(self) -> None:
        for stack in self.assembly.stacks:
            group = self.stack_group[stack.name]
            alarms: list[tuple[str, Json]] = []
            for logical_id, resource in stack.resources.items():
                rtype, props = resource.get("Type", ""), resource.get("Properties", {})
                if rtype == "AWS::CloudWatch::Alarm":
                    alarms.append((logical_id, props))
                elif rtype in KINDS:
                    self._resource_node(stack, logical_id, KINDS[rtype], group)
                elif rtype == "AWS::Events::Rule" and "ScheduleExpression" in props:
                    self._schedule_rule(stack, logical_id, props, group)
            if alarms:
                self._alarm_node(stack, alarms, group)
            if not any(n.group == group for n in self.nodes.values()):
                self._roles_node(stack, group)

    def _resource_node(self, stack: Stack, logical_id: str, kind: Kind, group: str) -> None:
        name = self.assembly.name(stack, logical_id) or _strip_hash(logical_id)
        node_id = _id(kind.key, name)
        if node_id in self.nodes:
            node_id = _id(kind.key, stack.name, name)
        node = Node(
            node_id, kind.key, kind.category, kind.title, name, group, stack.account, stack.region
        )
        self.logical[(stack.name, logical_id)] = self._add(
            node, name, self.assembly.arn(stack, logical_id)
        )

    def _schedule_rule(self, stack: Stack, logical_id: str, props: Json, group: str) -> None:
        name = self.assembly.text(props.get("Name"), stack) or _strip_hash(logical_id)
        title = f"EventBridge rule {props['ScheduleExpression']}"
        node = Node(
            _id("rule", stack.name, name),
            "rule",
            "events",
            title,
            name,
            group,
            stack.account,
            stack.region,
        )
        self.logical[(stack.name, logical_id)] = self._add(node)

    def _alarm_node(self, stack: Stack, alarms: Sequence[tuple[str, Json]], group: str) -> None:
        names = [self.assembly.text(p.get("AlarmName"), stack) or _strip_hash(i) for i, p in alarms]
        label = _names_label("CloudWatch alarms", names)
        node = Node(
            _id("alarms", stack.name),
            "alarms",
            "observe",
            "CloudWatch alarms",
            stack.name,
            group,
            stack.account,
            stack.region,
            label,
        )
        self._add(node)
        for (logical_id, props), name in zip(alarms, names, strict=True):
            self.alarms.append(Alarm(name, frozenset(_namespaces(props)), node.id))
            self.logical[(stack.name, logical_id)] = node.id

    def _roles_node(self, stack: Stack, group: str) -> None:
        """A stack without any drawn resource: its named IAM roles (or its size)."""
        roles = [
            self.assembly.text(r.get("Properties", {}).get("RoleName"), stack)
            for r in stack.resources.values()
            if r.get("Type") == "AWS::IAM::Role"
        ]
        names = [r for r in roles if r]
        label = _names_label("IAM roles", names) if names else f"{len(stack.resources)} resources"
        node = Node(
            _id("roles", stack.name),
            "roles",
            "other",
            "IAM roles",
            stack.name,
            group,
            stack.account,
            stack.region,
            label,
        )
        self._add(node)

    def add_default_buses(self) -> None:
        """A node for each default event bus a rule of another stack sends events to."""
        pattern = re.compile(r"arn:aws[a-z-]*:events:([a-z0-9-]+):(\d{12}):event-bus/default")
        for stack, _, props in self._resources("AWS::Events::Rule"):
            for target in props.get("Targets", []):
                arn = self.assembly.text(target.get("Arn"), stack) or ""
                match = pattern.fullmatch(arn)
                where = (match.group(2), match.group(1)) if match else ("", "")
                if match and where in self.env_group and where not in self.default_bus:
                    group = self.env_group[where]
                    node = Node(
                        _id("bus_default", *where),
                        "bus",
                        "events",
                        "EventBridge bus",
                        "default",
                        group,
                        *where,
                    )
                    self.default_bus[where] = self._add(node, arn)

    # references

    def _resources(self, resource_type: str) -> Iterator[tuple[Stack, str, Json]]:
        for stack in self.assembly.stacks:
            for logical_id, resource in stack.resources.items():
                if resource.get("Type") == resource_type:
                    yield stack, logical_id, resource.get("Properties", {})

    def node_for(self, value: Any, stack: Stack, kinds: Sequence[str] = ()) -> str | None:
        """The node a template expression points to: a resource of the same template, another
        stack's output, or a name or ARN (preferably in the same account and region)."""
        logical_id = _logical_id(value)
        if logical_id is not None and (stack.name, logical_id) in self.logical:
            return self.logical[(stack.name, logical_id)]
        if isinstance(value, dict) and isinstance(value.get("Fn::GetStackOutput"), dict):
            output = value["Fn::GetStackOutput"]
            other = self.assembly.by_name.get(output.get("StackName"))
            outputs = other.template.get("Outputs", {}) if other else {}
            if other is not None and output.get("OutputName") in outputs:
                return self.node_for(outputs[output["OutputName"]].get("Value"), other, kinds)
        text = self.assembly.text(value, stack)
        return self.by_text(text, stack, kinds) if text else None

    def by_text(self, text: str, stack: Stack, kinds: Sequence[str] = ()) -> str | None:
        if text.startswith("s3://"):
            text = text.removeprefix("s3://").split("/", 1)[0]
        found = [n for n in self.named.get(text, []) if not kinds or self.nodes[n].kind in kinds]
        local = [n for n in found if self._where(n) == (stack.account, stack.region)]
        chosen = sorted(set(local or found))
        return chosen[0] if len(chosen) == 1 else None

    def edge(self, source: str | None, target: str | None, label: str, style: str = "") -> None:
        if source is None or target is None or source == target:
            return
        if not style:
            node = self.nodes.get(target)
            style = "notify" if node is not None and node.kind == "topic" else "flow"
        labels = self.edges.setdefault((source, target, style), [])
        if label and label not in labels:
            labels.append(label)

    # edges: EventBridge

    def add_rules(self) -> None:
        """Each rule's events, from the resource its pattern names (or its bus), to each
        target."""
        for stack, logical_id, props in self._resources("AWS::Events::Rule"):
            pattern = props.get("EventPattern")
            if isinstance(pattern, dict):
                sources = self._rule_sources(stack, props, pattern)
                label = _pattern_label(pattern)
                if not sources:
                    self.notes.append(
                        f"{stack.name}: rule {_strip_hash(logical_id)}: no drawn resource "
                        f"sends what it matches ({label})"
                    )
            else:
                sources, label = [self.logical[(stack.name, logical_id)]], "starts"
            targets = props.get("Targets", [])
            if not targets:
                self.notes.append(f"{stack.name}: rule {_strip_hash(logical_id)} has no target")
            for target in targets:
                node = self.node_for(target.get("Arn"), stack)
                if node is None:
                    arn = self.assembly.text(target.get("Arn"), stack)
                    self.notes.append(
                        f"{stack.name}: rule {_strip_hash(logical_id)}: target {arn} not drawn"
                    )
                for source in sources:
                    self.edge(source, node, label)

    def _rule_sources(self, stack: Stack, props: Json, pattern: Json) -> list[str]:
        """A custom bus's rule: the bus. A default bus's rule: the resources of this account
        its pattern names, else this account's default bus node when another account forwards
        the events it matches."""
        bus = props.get("EventBusName")
        if bus is not None and self.assembly.text(bus, stack) != "default":
            node = self.node_for(bus, stack, ("bus",))
            return [node] if node else []
        resources = [self.assembly.text(r, stack) for r in pattern.get("resources", [])]
        leaves = [*_leaves(pattern.get("detail", {})), *((False, r) for r in resources if r)]
        matched: set[str] = set()
        for is_prefix, text in leaves:
            if is_prefix:
                matched.update(a.node for a in self.alarms if a.name.startswith(text))
            else:
                matched.update(self.named.get(text, []))
        here = (stack.account, stack.region)
        local = sorted(n for n in matched if self._where(n) == here)
        if local:
            return local
        if matched and here in self.default_bus:
            return [self.default_bus[here]]
        return []

    def add_schedules(self) -> None:
        """EventBridge Scheduler schedules: their target, with its pipeline parameters."""
        for stack, logical_id, props in self._resources("AWS::Scheduler::Schedule"):
            target = props.get("Target", {})
            node = self.node_for(target.get("Arn"), stack)
            listed = target.get("SageMakerPipelineParameters", {}).get("PipelineParameterList", [])
            parameters = {str(p["Name"]): str(p["Value"]) for p in listed}
            words = [f"{k}={v}" for k, v in sorted(parameters.items())]
            label = ", ".join([str(props.get("ScheduleExpression", "starts")), *words])
            self.edge(self.logical[(stack.name, logical_id)], node, label)
            if node is not None and parameters:
                self.pipeline_params.setdefault(node, []).append(parameters)

    # edges: pipelines

    def add_sagemaker_pipelines(self) -> None:
        """A definition's Lambda steps and the model package group it registers in."""
        for stack, logical_id, props in self._resources("AWS::SageMaker::Pipeline"):
            node = self.logical[(stack.name, logical_id)]
            definition, variables = _definition(props.get("PipelineDefinition", {}))
            if definition is None:
                self.notes.append(
                    f"{stack.name}: pipeline {self.nodes[node].name}: definition not read"
                )
                continue
            steps: dict[str, list[str]] = {}
            for step in _steps(definition.get("Steps")):
                target = self._step_target(step, variables, stack)
                if target is not None:
                    steps.setdefault(target, []).append(str(step.get("Name")))
            for target, names in steps.items():
                if self.nodes[target].kind == "registry":
                    self.edge(node, target, f"registers: step {', '.join(names)}")
                else:
                    self.edge(node, target, f"step{'s' * (len(names) > 1)} {', '.join(names)}")
                    self.invoked_by.setdefault(target, []).append(node)

    def _step_target(self, step: Json, variables: Mapping[str, Any], stack: Stack) -> str | None:
        if step.get("Type") == "Lambda":
            value = step.get("FunctionArn")
            variable = re.fullmatch(r"\$\{([^}]+)\}", value) if isinstance(value, str) else None
            if variable is not None and variable.group(1) in variables:
                value = variables[variable.group(1)]
            return self.node_for(value, stack, ("fn",))
        if step.get("Type") == "RegisterModel":
            group = step.get("Arguments", {}).get("ModelPackageGroupName")
            return self.node_for(group, stack, ("registry",))
        return None

    def add_codepipelines(self) -> None:
        """Each stage's actions; its CloudFormation deployments numbered in stage order."""
        for stack, logical_id, props in self._resources("AWS::CodePipeline::Pipeline"):
            node = self.logical[(stack.name, logical_id)]
            wave = 0
            for stage in props.get("Stages", []):
                deployed, approval = self._stage(node, stack, stage)
                if deployed:
                    wave += 1
                    self._deployment(node, f"{wave}. {stage.get('Name')}", deployed, approval)
            stores = [props.get("ArtifactStore")] + [
                s.get("ArtifactStore") for s in props.get("ArtifactStores", [])
            ]
            for store in (s for s in stores if isinstance(s, dict)):
                bucket = self.node_for(store.get("Location"), stack, ("bucket",))
                if not any({node, bucket} == {k[0], k[1]} for k in self.edges):
                    self.edge(node, bucket, "artifact store")

    def _stage(self, node: str, stack: Stack, stage: Json) -> tuple[list[str], bool]:
        """Draws a stage's actions but its deployments: (stacks it deploys, has an approval)."""
        deployed: list[str] = []
        approval = False
        for action in stage.get("Actions", []):
            provider = action.get("ActionTypeId", {}).get("Provider")
            config = action.get("Configuration", {})
            label = f"{stage.get('Name')}: {self.assembly.text(action.get('Name'), stack)}"
            if provider == "CloudFormation":
                name = self.assembly.text(config.get("StackName"), stack)
                if name and name not in deployed:
                    deployed.append(name)
            elif provider == "Manual":
                approval = True
                if "NotificationArn" in config:
                    self.edge(node, self.node_for(config["NotificationArn"], stack), label)
            else:
                self._action(node, stack, str(provider), config, label)
        return deployed, approval

    def _action(self, node: str, stack: Stack, provider: str, config: Json, label: str) -> None:
        if provider == "Lambda":
            target = self.node_for(config.get("FunctionName"), stack, ("fn",))
            if target is None:
                self.notes.append(f"{self.nodes[node].name}: {label}: function not drawn")
            self.edge(node, target, label)
            self._user_parameters(target, stack, config.get("UserParameters"))
        elif provider == "S3":
            bucket = self.node_for(config.get("S3Bucket"), stack, ("bucket",))
            if bucket is not None and not any(k[:2] == (bucket, node) for k in self.edges):
                self.edge(
                    bucket, node, f"source {self.assembly.text(config.get('S3ObjectKey'), stack)}"
                )
        elif provider == "CodeBuild":
            project = stack.resources.get(_logical_id(config.get("ProjectName")) or "", {})
            spec = project.get("Properties", {}).get("Source", {}).get("BuildSpec")
            text = self.assembly.text(spec, stack) or ""
            for name in re.findall(r"start-pipeline-execution\s+--pipeline-name\s+([\w-]+)", text):
                self.edge(node, self.by_text(name, stack, ("smpipeline",)), label)

    def _user_parameters(self, function: str | None, stack: Stack, value: Any) -> None:
        """What a Lambda action's parameters name for the function (ACTION_PARAMETERS)."""
        try:
            parameters = json.loads(self.assembly.text(value, stack) or "{}")
        except ValueError:
            return
        for key, (label, kinds) in ACTION_PARAMETERS.items():
            named = parameters.get(key) if isinstance(parameters, dict) else None
            if isinstance(named, str):
                self.edge(function, self.by_text(named, stack, kinds), label)

    def _deployment(self, node: str, label: str, names: Sequence[str], approval: bool) -> None:
        """To the deployed stack, or to the smallest subgraph holding the stage's stacks."""
        groups = [self.stack_group[n] for n in names if n in self.stack_group]
        for name in names:
            if name not in self.stack_group:
                self.notes.append(
                    f"{self.nodes[node].name}: {label}: stack {name} not in the assembly"
                )
        if not groups:
            return
        after = " after approval" if approval else ""
        text = (
            f"{label}: deploy{after}"
            if len(groups) == 1
            else f"{label}: {len(groups)} stacks{after}"
        )
        common = self._path(groups[0])
        for group in groups[1:]:
            path = self._path(group)
            while common != path[: len(common)]:
                common = common[:-1]
        if common and common[-1] not in self._path(self.nodes[node].group):
            self.edge(node, common[-1], text, "deploy")
        else:
            for group in groups:
                self.edge(node, group, text, "deploy")

    # edges: functions, Glue, endpoints, alarms

    def add_functions(self) -> None:
        """What a function's environment names (ENV_FLOWS), and the alarms on the metrics of the
        namespace it publishes to."""
        for stack, logical_id, props in self._resources("AWS::Lambda::Function"):
            node = self.logical[(stack.name, logical_id)]
            variables = props.get("Environment", {}).get("Variables", {})
            for variable, value in sorted(variables.items()):
                text = self.assembly.text(value, stack)
                if text is None:
                    continue
                if variable == METRICS_VARIABLE:
                    here = (stack.account, stack.region)
                    alarms = {a.node for a in self.alarms if text in a.namespaces}
                    for alarm in sorted(a for a in alarms if self._where(a) == here):
                        self.edge(node, alarm, f"metrics {text}")
                elif variable == "CAPTURE_URI" and CAPTURE_WRITER in variables:
                    self.edge(node, self.node_for(value, stack, ("bucket",)), "data capture")
                elif variable in ENV_FLOWS:
                    label, inbound = ENV_FLOWS[variable]
                    for name in self._expand(text, node):
                        target = self.by_text(name, stack)
                        source, target = (target, node) if inbound else (node, target)
                        self.edge(source, target, label)

    def _expand(self, text: str, node: str) -> list[str]:
        """``text`` with its ``{parameter}`` placeholders filled in from the parameters the
        schedules give the pipelines that invoke the function ``node``."""
        if "{" not in text:
            return [text]
        names = []
        for pipeline in self.invoked_by.get(node, []):
            for parameters in self.pipeline_params.get(pipeline, []):
                try:
                    names.append(text.format_map({k.lower(): v for k, v in parameters.items()}))
                except (KeyError, ValueError, IndexError):
                    continue
        return names

    def add_glue(self) -> None:
        """Workflow triggers, jobs' input and output (GLUE_ARGS), crawlers' S3 targets."""
        for stack, _, props in self._resources("AWS::Glue::Trigger"):
            workflow = self.node_for(props.get("WorkflowName"), stack, ("workflow",))
            for action in props.get("Actions", []):
                started = self.node_for(action.get("JobName") or action.get("CrawlerName"), stack)
                self.edge(workflow, started, _trigger_label(props))
        for stack, logical_id, props in self._resources("AWS::Glue::Job"):
            job = self.logical[(stack.name, logical_id)]
            for argument, value in sorted(props.get("DefaultArguments", {}).items()):
                if argument in GLUE_ARGS:
                    label, inbound = GLUE_ARGS[argument]
                    bucket = self.node_for(value, stack, ("bucket",))
                    source, target = (bucket, job) if inbound else (job, bucket)
                    self.edge(source, target, label)
        for stack, logical_id, props in self._resources("AWS::Glue::Crawler"):
            crawler = self.logical[(stack.name, logical_id)]
            for target in props.get("Targets", {}).get("S3Targets", []):
                self.edge(crawler, self.node_for(target.get("Path"), stack, ("bucket",)), "crawls")

    def add_endpoints(self) -> None:
        """An endpoint's data capture, to the bucket its endpoint config names."""
        for stack, logical_id, props in self._resources("AWS::SageMaker::Endpoint"):
            config_id = _logical_id(props.get("EndpointConfigName")) or ""
            config = stack.resources.get(config_id, {}).get("Properties", {})
            destination = config.get("DataCaptureConfig", {}).get("DestinationS3Uri")
            if destination is not None:
                bucket = self.node_for(destination, stack, ("bucket",))
                self.edge(self.logical[(stack.name, logical_id)], bucket, "data capture")

    def add_alarm_actions(self) -> None:
        for stack, logical_id, props in self._resources("AWS::CloudWatch::Alarm"):
            for action in props.get("AlarmActions", []):
                self.edge(
                    self.logical[(stack.name, logical_id)], self.node_for(action, stack), "ALARM"
                )

    # simplification

    def collapse_projects(self) -> None:
        """Several projects in one environment: the first one's subgraph stands for all."""
        by_parent: dict[str, list[tuple[str, str]]] = {}
        for group, (parent, project) in sorted(self.project_groups.items()):
            by_parent.setdefault(parent, []).append((project, group))
        dropped: set[str] = set()
        for members in by_parent.values():
            members.sort()
            names = ", ".join(project for project, _ in members)
            kept = self.groups[members[0][1]]
            kept.label = f"per project: {names}" if len(members) > 1 else f"project {names}"
            dropped.update(group for _, group in members[1:])
        while True:
            inside = {g.id for g in self.groups.values() if g.parent in dropped} - dropped
            if not inside:
                break
            dropped |= inside
        gone = dropped | {n.id for n in self.nodes.values() if n.group in dropped}
        self.groups = {k: g for k, g in self.groups.items() if k not in gone}
        self.nodes = {k: n for k, n in self.nodes.items() if k not in gone}
        self.edges = {k: v for k, v in self.edges.items() if k[0] not in gone and k[1] not in gone}

    def merge_unconnected(self) -> None:
        """A stack's resources that take part in no drawn flow share one node."""
        linked = {end for source, target, _ in self.edges for end in (source, target)}
        idle: dict[str, list[Node]] = {}
        for node in self.nodes.values():
            if node.id not in linked and node.kind not in ("alarms", "roles"):
                idle.setdefault(node.group, []).append(node)
        for group, nodes in sorted(idle.items()):
            if len(nodes) < 2:
                continue
            for node in nodes:
                del self.nodes[node.id]
            categories = {n.category for n in nodes}
            category = categories.pop() if len(categories) == 1 else "other"
            label = "<br/>".join(sorted(f"{n.title} {n.name}" for n in nodes))
            first = nodes[0]
            merged = Node(
                _id("more", group),
                "more",
                category,
                "",
                group,
                group,
                first.account,
                first.region,
                label,
            )
            self.nodes[merged.id] = merged

    def prune_groups(self) -> None:
        """Drops subgraphs left without nodes."""
        while True:
            used = {n.group for n in self.nodes.values()} | {g.parent for g in self.groups.values()}
            empty = [k for k in self.groups if k not in used]
            if not empty:
                return
            for key in empty:
                del self.groups[key]


def build_graph(assembly: Assembly) -> Graph:
    return _Builder(assembly).graph()


# --- Mermaid ----------------------------------------------------------------------------------


def _clean(text: str) -> str:
    """Text safe inside a quoted Mermaid label (``<br/>`` kept as the only markup)."""
    for bad, good in (('"', "'"), ("#", ""), (";", ","), ("|", "/"), ("`", "'")):
        text = text.replace(bad, good)
    parts = text.split("<br/>")
    table = str.maketrans("<>[]{}", "()()()")
    return "<br/>".join(p.translate(table) for p in parts)


def render(graph: Graph, title: str) -> str:
    """The graph as a Mermaid flowchart: subgraphs, nodes, edges, then classes; sorted."""
    lines = ["---", f'title: "{_clean(title)}"', "---", "flowchart TB"]
    lines += _render_group(graph, None, 1)
    for (source, target, style), labels in sorted(graph.edges.items()):
        text = _clean("<br/>".join(labels))
        arrow = ARROWS[style] + (f'|"{text}"|' if text else "")
        lines.append(f"  {source} {arrow} {target}")
    for category, style in STYLES.items():
        members = sorted(n.id for n in graph.nodes.values() if n.category == category)
        if members:
            lines.append(f"  classDef {category} {style}")
            lines.append(f"  class {','.join(members)} {category}")
    return "\n".join(lines) + "\n"


def _render_group(graph: Graph, parent: str | None, depth: int) -> list[str]:
    indent = "  " * depth
    lines = []
    nodes = sorted(
        (n for n in graph.nodes.values() if n.group == parent),
        key=lambda n: (CATEGORY_ORDER[n.category], n.name, n.id),
    )
    for node in nodes:
        opening, closing = SHAPES[node.category]
        lines.append(f"{indent}{node.id}{opening}{_clean(node.label)}{closing}")
    children = sorted(
        (g for g in graph.groups.values() if g.parent == parent), key=lambda g: (g.order, g.id)
    )
    for group in children:
        lines.append(f'{indent}subgraph {group.id} ["{_clean(group.label)}"]')
        lines += _render_group(graph, group.id, depth + 1)
        lines.append(f"{indent}end")
    return lines


MERMAID_ID = r"[A-Za-z0-9_]+"
RESERVED = {
    "end",
    "subgraph",
    "graph",
    "flowchart",
    "class",
    "classdef",
    "style",
    "linkstyle",
    "click",
    "direction",
    "default",
}
SUBGRAPH_LINE = re.compile(rf'subgraph ({MERMAID_ID}) \["([^"]*)"\]')
EDGE_LINE = re.compile(rf'({MERMAID_ID}) (-->|-\.->|==>)(?:\|"([^"]*)"\|)? ({MERMAID_ID})')
CLASSDEF_LINE = re.compile(r"classDef ([a-z]+) [a-z-]+:[^\s\";]+")
CLASS_LINE = re.compile(rf"class ({MERMAID_ID}(?:,{MERMAID_ID})*) ([a-z]+)")
NODE_LINES = [
    re.compile(rf"({MERMAID_ID}){re.escape(opening)}([^\"]*){re.escape(closing)}")
    for opening, closing in SHAPES.values()
]


def _label_errors(label: str) -> list[str]:
    bare = label.replace("<br/>", "")
    bad = sorted(set(bare) & set('"#;|`<>[]{}'))
    if not bare.strip():
        return ["empty label"]
    return [f"label {label!r}: characters {''.join(bad)}"] if bad else []


class _MermaidCheck:
    """The subset of Mermaid flowchart syntax ``render`` writes, checked line by line."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.open: list[str] = []
        self.parents: dict[str, tuple[str, ...]] = {}
        self.edges: list[tuple[int, str, str]] = []
        self.classes: set[str] = set()
        self.members: list[tuple[int, list[str], str]] = []

    def line(self, number: int, line: str) -> None:
        node = next((m for m in (p.fullmatch(line) for p in NODE_LINES) if m), None)
        if line == "end":
            if not self.open:
                self.errors.append(f"line {number}: end without subgraph")
            self.open = self.open[:-1]
        elif match := SUBGRAPH_LINE.fullmatch(line):
            self._define(number, match.group(1), match.group(2))
            self.open.append(match.group(1))
        elif match := EDGE_LINE.fullmatch(line):
            if match.group(3) is not None:
                self.errors += [f"line {number}: {e}" for e in _label_errors(match.group(3))]
            self.edges.append((number, match.group(1), match.group(4)))
        elif match := CLASSDEF_LINE.fullmatch(line):
            self.classes.add(match.group(1))
        elif match := CLASS_LINE.fullmatch(line):
            self.members.append((number, match.group(1).split(","), match.group(2)))
        elif node is not None:
            self._define(number, node.group(1), node.group(2))
        else:
            self.errors.append(f"line {number}: not understood: {line}")

    def _define(self, number: int, name: str, label: str) -> None:
        if name in self.parents:
            self.errors.append(f"line {number}: {name} defined twice")
        if name.lower() in RESERVED or name.lower().startswith("end"):
            self.errors.append(f"line {number}: {name} is a Mermaid keyword")
        self.errors += [f"line {number}: {e}" for e in _label_errors(label)]
        self.parents[name] = tuple(self.open)

    def finish(self) -> list[str]:
        if self.open:
            self.errors.append(f"subgraphs not closed: {', '.join(self.open)}")
        for number, source, target in self.edges:
            undefined = [n for n in (source, target) if n not in self.parents]
            if undefined:
                self.errors.append(f"line {number}: edge to undefined {', '.join(undefined)}")
            elif target in self.parents[source] or source in self.parents[target]:
                self.errors.append(f"line {number}: edge between a subgraph and its content")
        for number, names, category in self.members:
            if category not in self.classes:
                self.errors.append(f"line {number}: class {category} not defined")
            self.errors += [
                f"line {number}: class of undefined {n}" for n in names if n not in self.parents
            ]
        return self.errors


def check_mermaid(text: str) -> list[str]:
    """Errors in ``text`` as a Mermaid flowchart of the subset ``render`` writes (balanced
    subgraphs, ids, quoted labels without forbidden characters, edges between defined nodes
    or subgraphs); [] when it is valid."""
    lines = text.splitlines()
    start = 0
    if lines and lines[0] == "---":
        if "---" not in lines[1:]:
            return ["front matter not closed"]
        start = lines.index("---", 1) + 1
        bad = [
            f"line {i + 2}: {t}"
            for i, t in enumerate(lines[1 : start - 1])
            if not re.fullmatch(r'title: "[^"#;]*"', t)
        ]
        if bad:
            return [f"front matter: {b}" for b in bad]
    if len(lines) <= start or not re.fullmatch(r"flowchart (TB|TD|BT|LR|RL)", lines[start]):
        return [f"line {start + 1}: no flowchart header"]
    check = _MermaidCheck()
    for number, line in enumerate(lines[start + 1 :], start=start + 2):
        if line.strip():
            check.line(number, line.strip())
    return check.finish()


INTRO = """# Architecture

Two pictures of the platform, generated from the synthesized app, not drawn by hand:
`tools/diagram.py` reads a cloud assembly (`cdk.out`: its manifest.json, every stack's template,
and the endpoint templates the pipelines deploy, which the app ships as file assets) and writes
Mermaid, which GitHub renders. `make diagram` synthesizes both configurations offline and rewrites
this file; `tests/test_architecture.py` fails when the file no longer matches the app. Do not
edit it by hand.

How to read them:

- **Subgraphs**: an account and region (with its environment), a project, a stack (its
  CloudFormation name). The `*-endpoint-<stage>` stacks are the templates a pipeline deploys once
  a version is approved, shown in the account their `DeploysTo` metadata names.
- **Nodes**: the main resources. Cylinders hold data (S3 buckets, model registries); rectangles
  run code (Lambda functions, Glue jobs and crawlers); double-edged boxes orchestrate
  (CodePipelines, SageMaker pipelines, Glue workflows); hexagons are event buses and schedules;
  rounded boxes are SageMaker endpoints; flags are CloudWatch alarms (one node per stack), SNS
  topics and dashboards; grey boxes list a stack's IAM roles, or resources that take part in no
  drawn flow. Other IAM roles and policies, keys, queues and log groups are left out.
- **Edges**: solid arrows start or feed something: an EventBridge rule (labelled with the
  event's detail-type and the status or key it filters), a schedule, a pipeline's action or
  step, a function's environment naming what it starts, reads or writes. Thick arrows are a
  pipeline's CloudFormation deployments, numbered in stage order. Dotted arrows are
  notifications to SNS topics (failures, alarms, what waits for a person).
- Several projects would be drawn once, in a subgraph labelled "per project: ..."; both
  configurations below have one, churn.
"""
STANDALONE_LEGEND = """The built-in default configuration (`stacks.config.PlatformConfig()`): one environment,
`dev`, deployed on its own with `cdk deploy`, trains, registers, deploys and monitors. From the
raw bucket: an object under `incoming/` notifies the ingest workflow, which runs the ETL job once
per batch; its success starts the guarded `start-training` function, which starts the training
pipeline; the pipeline registers a version (pending approval). Approving it starts the deploy
router, then the deploy pipeline: staging, its test, a manual approval, production. A schedule
runs the monitoring pipeline on production; its drift alarms retrain through the same guard.
The account and region are the placeholders synthesis uses without credentials."""
DELIVERED_LEGEND = """config/example.yaml's accounts with one project, churn (the suite's
`multi_account_synth`). The tooling account's platform pipeline deploys the release stack, then
each account in a wave of its own, production after an approval. Development trains and
registers and serves nothing. Approving a version there forwards the event to the tooling
account's release bus, whose router starts the release pipeline: per serving account `Promote`
(the sealed files, copied from development's artifacts bucket into the account's own and
verified), `Deploy` (the endpoint stack), staging's `Test`, and an approval before production.
Production's drift alarms go to development's default bus, where they retrain."""


# --- docs/architecture.md -----------------------------------------------------------------------


@dataclass(frozen=True)
class Topology:
    """One diagram of docs/architecture.md: the configuration it is synthesized from
    (tools/configurations.py) and its text."""

    key: str
    heading: str
    title: str
    legend: str


TOPOLOGIES = (
    Topology(
        key="standalone",
        heading="Standalone: one environment deployed on its own",
        title="mlops, standalone: the built-in default configuration",
        legend=STANDALONE_LEGEND,
    ),
    Topology(
        key="delivered",
        heading="Delivered: tooling, development, staging and production accounts",
        title="mlops, delivered: config/example.yaml's accounts, project churn",
        legend=DELIVERED_LEGEND,
    ),
)


def diagram(cdk_out: Path, title: str) -> tuple[str, Graph]:
    """The Mermaid flowchart of the cloud assembly in ``cdk_out``, checked, and its graph."""
    graph = build_graph(Assembly(load_assembly(cdk_out)))
    text = render(graph, title)
    errors = check_mermaid(text)
    if errors:
        raise DiagramError(f"the generated Mermaid is not valid: {'; '.join(errors[:5])}")
    return text, graph


def architecture_document(outdirs: Mapping[str, Path], notes: list[str] | None = None) -> str:
    """docs/architecture.md, from each topology's cloud assembly (``outdirs[topology.key]``);
    what could not be resolved is added to ``notes``."""
    parts = [INTRO]
    for topology in TOPOLOGIES:
        text, graph = diagram(outdirs[topology.key], topology.title)
        if notes is not None:
            notes += [f"{topology.key}: {note}" for note in graph.notes]
        counts = f"Drawn: {len(graph.nodes)} nodes, {len(graph.edges)} edges."
        parts.append(
            f"## {topology.heading}\n\n{topology.legend}\n\n{counts}\n\n```mermaid\n{text}```\n"
        )
    return "\n".join(parts)


# What the test suite's conftest.py sets before aws_cdk is imported, so that `make diagram`
# synthesizes exactly what its fixtures do.
SYNTH_ENVIRONMENT = {
    "CDK_VALIDATION": "false",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "AWS_EC2_METADATA_DISABLED": "true",
    "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
}


def synthesize(topology: str, outdir: Path) -> None:
    """Synthesizes a topology's configuration into ``outdir`` (offline: no credentials)."""
    os.environ.update(SYNTH_ENVIRONMENT)
    for variable in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION", "CDK_CONTEXT_JSON"):
        os.environ.pop(variable, None)
    import aws_cdk as cdk

    from stacks.app_builder import build_app, project_context
    from tools import configurations

    if topology == "standalone":
        config = configurations.standalone()
    else:
        config = configurations.delivered(single_account=False)
    context = {**project_context(), "@aws-cdk/core:failSynthOnValidationErrors": False}
    app = cdk.App(outdir=str(outdir), context=context)
    build_app(config, app)
    app.synth()


README = Path(__file__).resolve().parent.parent / "README.md"
README_START = "<!-- diagram: standalone (make diagram writes it; do not edit) -->"
README_END = "<!-- /diagram -->"


def first_diagram(document: str) -> str:
    """The first ```mermaid block of an architecture document (the standalone topology)."""
    start = document.index("```mermaid\n")
    return document[start : document.index("```\n", start + 11) + 4]


def with_diagram(readme: str, block: str) -> str:
    """``readme`` with ``block`` between its diagram markers."""
    head, found, rest = readme.partition(README_START)
    if not found or README_END not in rest:
        raise DiagramError(f"README.md has no {README_START} ... {README_END} section")
    return f"{head}{README_START}\n{block}{README_END}{rest.split(README_END, 1)[1]}"


def write_document(path: Path) -> list[str]:
    """Synthesizes every topology into a temporary directory and writes ``path`` (and the
    standalone diagram into the README); the notes."""
    with tempfile.TemporaryDirectory(prefix="mlops-diagram-") as tmp:
        outdirs = {t.key: Path(tmp) / t.key for t in TOPOLOGIES}
        for key, outdir in outdirs.items():
            synthesize(key, outdir)
        notes: list[str] = []
        text = architecture_document(outdirs, notes)
    path.write_text(text)
    README.write_text(with_diagram(README.read_text(), first_diagram(text)))
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.diagram",
        description="Mermaid architecture diagram of a synthesized cloud assembly (no AWS).",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--cdk-out", type=Path, help="a cloud assembly (cdk.out) to draw")
    source.add_argument(
        "--write", type=Path, metavar="FILE", help="synthesize both topologies, write FILE"
    )
    parser.add_argument("--title", default="Architecture", help="the diagram's title")
    parser.add_argument("--output", type=Path, help="write the Mermaid here (default: stdout)")
    args = parser.parse_args(argv)
    try:
        if args.write is not None:
            notes = write_document(args.write)
            text = f"wrote {args.write}\n"
        else:
            text, graph = diagram(args.cdk_out, args.title)
            notes = graph.notes
    except DiagramError as error:
        print(f"diagram: {error}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"diagram: note: {note}", file=sys.stderr)
    if args.output is not None:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
