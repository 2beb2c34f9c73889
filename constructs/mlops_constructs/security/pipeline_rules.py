"""The platform's rules for a SageMaker Pipeline definition, one implementation for two callers:

- the MLOps rule pack (``ml_pack.py``, rule SM5) checks the definitions the platform synthesizes,
  without a context: :func:`check_definition` ``(definition, vpc=...)``;
- a project with ``build.pipeline: custom`` builds its definition in CI with the sagemaker SDK,
  and CI checks it against the project's context before it creates or updates the pipeline::

      python3 pipeline_rules.py --definition definition.json [--context context.json]

  (the context defaults to the environment variable ``MLOPS_PIPELINE_CONTEXT``, which the
  platform writes). Exit 0: it complies; 1: findings, reported per step with the fix, and the
  pipeline is not upserted; 2: an input that cannot be checked (one line on stderr).

Standard library only and no imports from the platform: the platform ships this single file as
an asset and CI runs it on a stock image.

Every rule has a stable id and a short code (:data:`RULES`). Without a context only the rules
the synth-time pack has always checked run (keys present, inter-container encryption, VPC config
in VPC mode, registration pending approval); with one, every value must be the project's own:
its data key ARN, role, buckets, functions, model package group, subnets and security groups.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn

FORMAT: Final = 1
CONTEXT_VARIABLE: Final = "MLOPS_PIPELINE_CONTEXT"
# The step name of findings about the pipeline as a whole.
PIPELINE: Final = "(pipeline)"

TRAINING: Final = "Training"
# A tuning step's training job definition has a training job's fields (its candidates' jobs).
TUNING: Final = "Tuning"
PROCESSING_LIKE: Final = ("Processing", "QualityCheck", "ClarifyCheck")
JOB_STEP_TYPES: Final = (TRAINING, TUNING, *PROCESSING_LIKE)
# What a team's pipeline role may run (not tuning: that is the standard pipeline's option);
# what it would need for the others.
ALLOWED_STEP_TYPES: Final = (
    TRAINING,
    *PROCESSING_LIKE,
    "Lambda",
    "Condition",
    "Fail",
    "RegisterModel",
)
_NEEDS: Final = {  # the SDK's StepTypeEnum
    "Model": "sagemaker:CreateModel",
    "Transform": "sagemaker:CreateTransformJob",
    "Tuning": "sagemaker:CreateHyperParameterTuningJob",
    "EMR": "the EMR actions (elasticmapreduce:AddJobFlowSteps)",
    "Callback": "sqs:SendMessage (a callback step's queue)",
    "AutoML": "sagemaker:CreateAutoMLJobV2",
    "EndpointConfig": "sagemaker:CreateEndpointConfig",
    "Endpoint": "sagemaker:CreateEndpoint",
    "InferenceComponent": "sagemaker:CreateInferenceComponent",
    "Lineage": "the lineage actions (sagemaker:AddAssociation)",
}
PENDING: Final = "PendingManualApproval"
# The parameters the platform's trigger starts every execution with.
REQUIRED_PARAMETERS: Final = ("InputDataUrl", "CodeVersion", "TriggerReason")
# The version's customer metadata the Fingerprint step must provide (lambda/fingerprint), and
# the output of the fingerprint function each one is; and the registered model's artifact.
SEALED_METADATA: Final = {
    "ModelArtifactSha256": "model_sha256",
    "ModelArtifactVersion": "model_version",
    "MonitoringBaselineSha256": "baseline_sha256",
    "MonitoringBaselineVersion": "baseline_version",
    "MonitoringBaseline": "baseline_uri",
}
SEALED_MODEL_OUTPUT: Final = "model_uri"

_OUTPUT_GET = re.compile(
    r"^Steps\.(?P<step>[A-Za-z0-9_-]+)\.OutputParameters\[(?P<q>['\"])(?P<output>[^'\"]+)(?P=q)\]$"
)
_KEY_ALIAS = re.compile(r"^(arn:[^:]+:kms:[^:]*:[^:]*:)?alias/")
_KEY_ID = re.compile(r"^(mrk-[0-9a-f]{32}|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12})$")
_KEY_ARN = re.compile(r"^arn:[a-z-]+:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")
_DEFAULT_BUCKET = re.compile(r"^sagemaker-[a-z0-9-]+-\d{12}$")


class InputError(ValueError):
    """An input the rules cannot check (the CLI's exit 2); the message names the problem."""


class ContextError(InputError):
    """The context is missing, malformed, of another format, or a field is missing/mistyped."""


class DefinitionError(InputError):
    """The definition is not a SageMaker Pipeline definition (a JSON object with Steps)."""


# --- the context ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gate:
    """The project's quality gate (informational for a custom pipeline)."""

    metric: str
    threshold: float
    higher_is_better: bool


@dataclass(frozen=True)
class PipelineContext:
    """What the platform knows of a project's pipeline (format 1), from
    ``MLOPS_PIPELINE_CONTEXT``. VPC mode is a non-empty ``subnets``."""

    format: int
    project: str
    pipeline_name: str
    partition: str
    region: str
    account: str
    role_arn: str
    kms_key_arn: str
    artifacts_bucket: str
    curated_bucket: str
    input_data_url: str
    code_uri: str
    monitoring_code_uri: str | None
    model_package_group: str
    champion_function_arn: str
    fingerprint_function_arn: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    processing_instance_type: str
    training_instance_type: str
    images: dict[str, str] = field(hash=False)
    problem_type: str
    gate: Gate

    @property
    def vpc(self) -> bool:
        return bool(self.subnets)

    @classmethod
    def from_json(cls, text: str) -> PipelineContext:
        """Parse the context; :class:`ContextError` names what is wrong. Unknown fields are
        ignored (a newer platform may add some)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ContextError(
                f"the context is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})"
            ) from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> PipelineContext:
        if not isinstance(data, dict):
            raise ContextError("the context is not a JSON object")
        if "format" not in data:
            raise ContextError("the context has no field 'format'")
        version = data["format"]
        if version != FORMAT or isinstance(version, bool):
            raise ContextError(
                f"the context's format is {json.dumps(version)}; this checker reads format"
                f" {FORMAT}: use the checker the platform ships with the context"
            )
        gate = _field(data, "gate", dict)
        return cls(
            format=FORMAT,
            project=_text(data, "project"),
            pipeline_name=_text(data, "pipeline_name"),
            partition=_text(data, "partition"),
            region=_text(data, "region"),
            account=_text(data, "account"),
            role_arn=_text(data, "role_arn", prefix="arn:"),
            kms_key_arn=_key_arn(data),
            artifacts_bucket=_text(data, "artifacts_bucket"),
            curated_bucket=_text(data, "curated_bucket"),
            input_data_url=_text(data, "input_data_url", prefix="s3://"),
            code_uri=_text(data, "code_uri", prefix="s3://"),
            monitoring_code_uri=_text(data, "monitoring_code_uri", prefix="s3://", null=True),
            model_package_group=_text(data, "model_package_group"),
            champion_function_arn=_text(data, "champion_function_arn", prefix="arn:"),
            fingerprint_function_arn=_text(data, "fingerprint_function_arn", prefix="arn:"),
            subnets=_strings(data, "subnets"),
            security_groups=_strings(data, "security_groups"),
            processing_instance_type=_text(data, "processing_instance_type"),
            training_instance_type=_text(data, "training_instance_type"),
            images=_images(data),
            problem_type=_text(data, "problem_type"),
            gate=Gate(
                metric=_text(gate, "metric", name="gate.metric"),
                threshold=float(_field(gate, "threshold", (int, float), name="gate.threshold")),
                higher_is_better=_field(
                    gate, "higher_is_better", bool, name="gate.higher_is_better"
                ),
            ),
        )


_TYPE_NAMES: Final = {
    str: "a string",
    dict: "an object",
    list: "a list",
    bool: "true or false",
    (int, float): "a number",
}


def _field(data: dict[str, Any], key: str, kind: Any, *, name: str = "") -> Any:
    name = name or key
    if key not in data:
        raise ContextError(f"the context has no field '{name}'")
    value = data[key]
    # JSON's true and false are ints to isinstance: a number is never a bool here.
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ContextError(
            f"the context's field '{name}' is {_short(value)}, not {_TYPE_NAMES[kind]}"
        )
    return value


def _text(
    data: dict[str, Any], key: str, *, name: str = "", prefix: str = "", null: bool = False
) -> Any:
    name = name or key
    if null and key in data and data[key] is None:
        return None
    value: str = _field(data, key, str, name=name)
    if not value or not value.startswith(prefix):
        wanted = f"a string starting with {prefix!r}" if prefix else "a non-empty string"
        raise ContextError(f"the context's field '{name}' is {_short(value)}, not {wanted}")
    return value


def _key_arn(data: dict[str, Any]) -> str:
    value: str = _text(data, "kms_key_arn")
    if not _KEY_ARN.match(value):
        raise ContextError(
            f"the context's field 'kms_key_arn' is {_short(value)}, not a KMS key ARN"
            " (arn:<partition>:kms:<region>:<account>:key/<id>)"
        )
    return value


def _strings(data: dict[str, Any], key: str) -> tuple[str, ...]:
    values: list[Any] = _field(data, key, list)
    if not all(isinstance(v, str) and v for v in values):
        raise ContextError(f"the context's field '{key}' is not a list of non-empty strings")
    return tuple(values)


def _images(data: dict[str, Any]) -> dict[str, str]:
    images: dict[str, Any] = _field(data, "images", dict)
    for name, uri in images.items():
        if not isinstance(uri, str):
            raise ContextError(
                f"the context's field 'images.{name}' is {_short(uri)}, not a string"
            )
    return dict(images)


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- rules and findings -------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """A rule: its stable id, the finding's short code, what it requires, whether it needs the
    context, and the general fix."""

    id: str
    code: str
    requires: str
    context_only: bool
    fix: str


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "PL1",
            "VolumeKmsKeyId",
            "Every job encrypts its storage volumes with the project's data key.",
            False,
            "pass volume_kms_key=<the context's kms_key_arn> to the estimator or processor.",
        ),
        Rule(
            "PL2",
            "OutputKmsKeyId",
            "Every job encrypts its outputs with the project's data key.",
            False,
            "pass output_kms_key=<the context's kms_key_arn> to the estimator or processor.",
        ),
        Rule(
            "PL3",
            "InterContainerTrafficEncryption",
            "Every job encrypts the traffic between its containers.",
            False,
            "encrypt_inter_container_traffic=True on the estimator, or in the processor's"
            " NetworkConfig.",
        ),
        Rule(
            "PL4",
            "NetworkIsolation",
            "Every job runs network-isolated (data in and out through S3 only).",
            True,
            "enable_network_isolation=True on the estimator, or in the processor's NetworkConfig.",
        ),
        Rule(
            "PL5",
            "VpcConfig",
            "In VPC mode, every job runs in the platform's subnets and security groups.",
            False,
            "pass subnets= and security_group_ids= (the context's subnets and security_groups)"
            " to the estimator, or in the processor's NetworkConfig.",
        ),
        Rule(
            "PL6",
            "RoleArn",
            "Every job runs as the project's pipeline role.",
            True,
            "pass role=<the context's role_arn>.",
        ),
        Rule(
            "PL7",
            "S3Location",
            "Jobs read and write only the project's buckets: artifacts (read, write), curated"
            " (read) and the platform's monitoring script (read).",
            True,
            "give every input, output and code location as an explicit S3 URI under the"
            " context's code_uri or the artifacts bucket.",
        ),
        Rule(
            "PL8",
            "Function",
            "Lambda steps call only the platform's champion and fingerprint functions.",
            True,
            "call the context's champion_function_arn or fingerprint_function_arn; do other work"
            " in a processing step.",
        ),
        Rule(
            "PL9",
            "ModelApprovalStatus",
            "A model is registered PendingManualApproval, literally: approval is a person's.",
            False,
            f'register with approval_status="{PENDING}".',
        ),
        Rule(
            "PL10",
            "ModelPackageGroupName",
            "Models are registered in the project's model package group.",
            True,
            "model_package_group_name=<the context's model_package_group>.",
        ),
        Rule(
            "PL11",
            "Sealed",
            "A registered model is sealed: its artifact and fingerprints come from the"
            " platform's fingerprint function.",
            True,
            "register model_data=Steps.<Fingerprint>.OutputParameters['model_uri'] and the"
            " fingerprint outputs as customer metadata, as the platform's standard definition"
            " does.",
        ),
        Rule(
            "PL12",
            "StepType",
            "The pipeline has only steps the project's pipeline role may run.",
            True,
            "use Training, Processing, QualityCheck, ClarifyCheck, Lambda (the platform's"
            " functions), Condition, Fail and RegisterModel steps.",
        ),
        Rule(
            "PL13",
            "Parameters",
            "The pipeline declares the String parameters the platform's trigger starts it with.",
            True,
            "declare ParameterString InputDataUrl, CodeVersion and TriggerReason and use them.",
        ),
    )
}
_BY_CODE: Final = {rule.code: rule for rule in RULES.values()}


@dataclass(frozen=True)
class Finding:
    """One step (or ``(pipeline)``) breaking one rule: what is wrong and how to fix it."""

    step: str
    rule: str
    code: str
    message: str
    fix: str

    @property
    def nag_id(self) -> str:
        """``<StepName>:<Code>``, the finding id of the MLOps rule pack's SM5."""
        return f"{self.step}:{self.code}"


def _finding(step: str, code: str, message: str, fix: str = "") -> Finding:
    rule = _BY_CODE[code]
    fix = fix or rule.fix
    return Finding(step, rule.id, code, message, fix[0].upper() + fix[1:])


# --- the definition ---------------------------------------------------------------------------


def pipeline_steps(definition: Any) -> list[dict[str, Any]]:
    """Every step of ``definition`` in order, a condition's IfSteps then ElseSteps right after
    it; :class:`DefinitionError` if it is not a pipeline definition."""
    if not isinstance(definition, dict):
        raise DefinitionError(
            "the definition is not a JSON object (a pipeline definition has a Steps list)"
        )
    if not isinstance(definition.get("Steps"), list):
        raise DefinitionError("the definition has no Steps list: it is not a pipeline definition")
    found: list[dict[str, Any]] = []

    def walk(steps: Any, where: str) -> None:
        if not isinstance(steps, list):
            raise DefinitionError(f"{where} is not a list of steps")
        for i, step in enumerate(steps):
            if not isinstance(step, dict):
                raise DefinitionError(f"{where}[{i}] is not a step (a JSON object)")
            found.append(step)
            args = step.get("Arguments")
            if isinstance(args, dict):
                name = step.get("Name", f"{where}[{i}]")
                for branch in ("IfSteps", "ElseSteps"):
                    if branch in args:
                        walk(args[branch], f"{name}.{branch}")

    walk(definition["Steps"], "Steps")
    return found


def job_steps(definition: Any) -> Iterator[dict[str, Any]]:
    """The steps that run processing or training jobs, also inside condition branches."""
    for step in pipeline_steps(definition):
        if step.get("Type") in JOB_STEP_TYPES:
            yield step


def check_definition(
    definition: dict[str, Any], context: PipelineContext | None = None, *, vpc: bool = False
) -> list[Finding]:
    """The findings of ``definition``, the pipeline's first (``(pipeline)``), then per step in
    order. Without ``context``: the synth-time rules, in VPC mode if ``vpc``; with it, all rules
    against the context's values (VPC mode is the context's)."""
    steps = pipeline_steps(definition)
    in_vpc = context.vpc if context is not None else vpc
    parameters = _parameters(definition)
    findings: list[Finding] = []
    if context is not None:
        findings += _check_parameters(parameters)
    for step in steps:
        kind = step.get("Type")
        name = str(step.get("Name", "?"))
        if kind in JOB_STEP_TYPES:
            findings += _check_job(name, step, context, in_vpc, parameters)
        elif kind == "Lambda" and context is not None:
            findings += _check_function(name, step, context)
        elif kind == "RegisterModel":
            findings += _check_register(name, step, context, steps)
        if context is not None and kind not in ALLOWED_STEP_TYPES:
            needs = _NEEDS.get(str(kind), f"what a {kind} step needs")
            findings.append(
                _finding(
                    name,
                    "StepType",
                    f"a {kind} step: the project's pipeline role is not granted {needs}.",
                )
            )
    return findings


def _parameters(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    declared = definition.get("Parameters")
    if not isinstance(declared, list):
        return {}
    return {
        p["Name"]: p for p in declared if isinstance(p, dict) and isinstance(p.get("Name"), str)
    }


def _check_parameters(parameters: dict[str, dict[str, Any]]) -> list[Finding]:
    missing = [n for n in REQUIRED_PARAMETERS if parameters.get(n, {}).get("Type") != "String"]
    if not missing:
        return []
    names = ("parameters " if len(missing) > 1 else "parameter ") + ", ".join(missing)
    return [
        _finding(
            PIPELINE,
            "Parameters",
            f"no String {names}: the platform's trigger starts every execution with"
            f" {', '.join(REQUIRED_PARAMETERS)}.",
        )
    ]


def value_at(data: Any, *path: str) -> Any:
    """``data[path[0]][path[1]]...``, or None where a level is missing or not an object (the
    MLOps pack reads templates with it too)."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def is_true(value: Any) -> bool:
    """True as JSON or CloudFormation writes it: ``true`` or the string ``"true"`` (any case)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _describe(value: Any) -> str:
    """A value for a message: a string as it is, a Get as what it gets."""
    get = value.get("Get") if isinstance(value, dict) else None
    if isinstance(get, str):
        return get
    return value if isinstance(value, str) and len(value) <= 200 else _short(value)


# --- job steps ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """Where a job step keeps each setting: a training job's or a processing job's fields."""

    training: bool
    args: dict[str, Any]

    def at(self, training: tuple[str, ...], processing: tuple[str, ...]) -> tuple[Any, str]:
        path = training if self.training else processing
        return value_at(self.args, *path), ".".join(path)


def _check_job(
    name: str,
    step: dict[str, Any],
    context: PipelineContext | None,
    vpc: bool,
    parameters: dict[str, dict[str, Any]],
) -> list[Finding]:
    """The findings on the job step ``name``: its keys and traffic encryption, its network,
    and (with a context) its role and locations, in that order."""
    job, kind = _job(step)
    where = {TRAINING: "estimator", TUNING: "estimator", "Processing": "processor"}.get(
        str(kind), "CheckJobConfig"
    )
    findings = _check_encryption(name, job, kind, context, where)
    findings += _check_network(name, job, context, vpc)
    if context is not None:
        findings += _check_role(name, job, context)
        findings += _check_locations(name, job.args, context, parameters)
    return findings


def _job(step: dict[str, Any]) -> tuple[_Job, Any]:
    """The job a step runs (a tuning step's: its candidates' training job definition), and
    the step's type."""
    args, kind = step.get("Arguments"), step.get("Type")
    args = args if isinstance(args, dict) else {}
    if kind == TUNING:  # its candidates' training job definition
        definition = args.get("TrainingJobDefinition")
        args = definition if isinstance(definition, dict) else {}
    return _Job(kind in (TRAINING, TUNING), args), kind


def _check_encryption(
    name: str, job: _Job, kind: Any, context: PipelineContext | None, where: str
) -> list[Finding]:
    """The job's volume and output keys, and its inter-container traffic encryption."""
    findings: list[Finding] = []
    tuned = "HyperParameterTuningResourceConfig"
    resources = tuned if kind == TUNING and tuned in job.args else "ResourceConfig"
    volume, path = job.at(
        (resources, "VolumeKmsKeyId"),
        ("ProcessingResources", "ClusterConfig", "VolumeKmsKeyId"),
    )
    findings += _check_key(name, "VolumeKmsKeyId", volume, path, "volume_kms_key", context, where)
    has_outputs = job.training or bool(job.args.get("ProcessingOutputConfig"))
    output, path = job.at(("OutputDataConfig", "KmsKeyId"), ("ProcessingOutputConfig", "KmsKeyId"))
    if has_outputs:
        findings += _check_key(
            name, "OutputKmsKeyId", output, path, "output_kms_key", context, where
        )

    traffic, path = job.at(
        ("EnableInterContainerTrafficEncryption",),
        ("NetworkConfig", "EnableInterContainerTrafficEncryption"),
    )
    if not is_true(traffic):
        findings.append(_finding(name, "InterContainerTrafficEncryption", f"{path} is not true."))
    return findings


def _check_network(
    name: str, job: _Job, context: PipelineContext | None, vpc: bool
) -> list[Finding]:
    """The job's network isolation (with a context: the role creates no other jobs) and, in
    VPC mode, its subnets and security groups."""
    findings: list[Finding] = []
    if context is not None:
        isolated, path = job.at(
            ("EnableNetworkIsolation",), ("NetworkConfig", "EnableNetworkIsolation")
        )
        if not is_true(isolated):
            findings.append(
                _finding(
                    name,
                    "NetworkIsolation",
                    f"{path} is not true: the pipeline role may create only network-isolated"
                    " jobs, so SageMaker would refuse this one at run time.",
                )
            )
    vpc_config, path = job.at(("VpcConfig",), ("NetworkConfig", "VpcConfig"))
    if vpc:
        findings += _check_vpc(name, vpc_config, path, context)
    return findings


def _check_role(name: str, job: _Job, context: PipelineContext) -> list[Finding]:
    """The job runs as the project's pipeline role."""
    role = job.args.get("RoleArn")
    if role == context.role_arn:
        return []
    return [
        _finding(
            name,
            "RoleArn",
            f"the job runs as {_describe(role) if role else 'no role'}, not the"
            f" project's pipeline role {context.role_arn}.",
            f"pass role={context.role_arn!r}.",
        )
    ]


def _check_key(
    name: str,
    code: str,
    value: Any,
    path: str,
    argument: str,
    context: PipelineContext | None,
    where: str,
) -> list[Finding]:
    if context is not None and value == context.kms_key_arn:
        return []
    missing = f"{path} is not set: the job's data would not be encrypted with the project's key."
    if context is None:
        return [_finding(name, code, missing)] if not value else []
    condition = (
        "sagemaker:VolumeKmsKeyArn" if code == "VolumeKmsKeyId" else "sagemaker:OutputKmsKeyArn"
    )
    fix = (
        f"pass {argument}={context.kms_key_arn!r} to the {where}: the key's full ARN, which"
        f" the pipeline role's IAM condition {condition} compares (an alias or a key id is"
        " refused at run time)."
    )
    if not value:
        return [_finding(name, code, missing, fix)]
    if not isinstance(value, str):
        what = f"comes from {_describe(value)}, not the project's key ARN given literally"
    elif _KEY_ALIAS.match(value):
        what = f"is the alias {value}, not the key's ARN"
    elif _KEY_ID.match(value):
        what = f"is the key id {value}, not the key's ARN"
    else:
        what = f"is {value}, another key than the project's data key"
    return [_finding(name, code, f"{path} {what}.", fix)]


def _check_vpc(name: str, config: Any, path: str, context: PipelineContext | None) -> list[Finding]:
    if not config:
        return [
            _finding(
                name,
                "VpcConfig",
                f"{path} is not set in VPC mode: the job would run outside the platform's VPC.",
            )
        ]
    if context is None:
        return []
    problems = []
    for key, wanted in (
        ("Subnets", context.subnets),
        ("SecurityGroupIds", context.security_groups),
    ):
        given = value_at(config, key)
        names = (
            given if isinstance(given, list) and all(isinstance(v, str) for v in given) else None
        )
        if names is None or set(names) != set(wanted):
            problems.append(f"{path}.{key} is {_short(given)}, not {_short(sorted(wanted))}")
    if not problems:
        return []
    return [
        _finding(
            name,
            "VpcConfig",
            "; ".join(problems) + ": the pipeline role may create jobs only in the platform's"
            " subnets and security groups.",
            f"pass subnets={list(context.subnets)!r} and security_group_ids="
            f"{list(context.security_groups)!r}.",
        )
    ]


# --- S3 locations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Known:
    """What is known of a value before the run: its text, or the beginning of it."""

    text: str
    complete: bool  # whether text is the whole value
    parameters: tuple[str, ...] = ()  # the parameters whose default values are in text

    def __add__(self, other: _Known) -> _Known:
        return _Known(self.text + other.text, other.complete, self.parameters + other.parameters)


_UNKNOWN: Final = _Known("", False)


@dataclass(frozen=True)
class _Location:
    path: str  # where in the step's Arguments
    known: _Known
    write: bool


def _value(value: Any, parameters: dict[str, dict[str, Any]]) -> _Known:
    """What is known of ``value`` before the run. A parameter is its default value (what the
    platform's trigger does not set, nobody should); other Gets (step properties, execution
    variables) and functions are unknown."""
    if isinstance(value, str):
        return _Known(value, True)
    if isinstance(value, bool):
        return _Known("true" if value else "false", True)
    if isinstance(value, int | float):
        return _Known(str(value), True)
    if not isinstance(value, dict) or len(value) != 1:
        return _UNKNOWN
    get = value.get("Get")
    if isinstance(get, str) and get.startswith("Parameters."):
        name = get.removeprefix("Parameters.")
        default = parameters.get(name, {}).get("DefaultValue")
        if default is None or isinstance(default, dict | list):
            return _UNKNOWN
        return _value(default, parameters) + _Known("", True, (name,))
    join = value.get("Std:Join")
    if isinstance(join, dict) and isinstance(join.get("Values"), list):
        on = _value(join.get("On", ""), parameters)
        known = _Known("", True)
        for i, part in enumerate(join["Values"]):
            pieces = [on, _value(part, parameters)] if i else [_value(part, parameters)]
            for piece in pieces:
                known += piece
                if not known.complete:
                    return known
        return known
    return _UNKNOWN


def _is_expression(value: dict[str, Any]) -> bool:
    return len(value) == 1 and next(iter(value)) in ("Get", "Std:Join", "Std:JsonGet")


def _locations(
    node: Any, parameters: dict[str, dict[str, Any]], path: tuple[str, ...] = ()
) -> Iterator[_Location]:
    """Every S3 location in ``node`` (a step's Arguments), with where it is."""
    if isinstance(node, dict):
        if _is_expression(node):
            known = _value(node, parameters)
            if known.text.startswith("s3://"):
                yield _Location(_path(path), known, _writes(path))
            return
        for key, value in node.items():
            yield from _locations(value, parameters, (*path, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _locations(value, parameters, (*path, f"[{i}]"))
    elif isinstance(node, str):
        text = node
        if text.startswith('"'):  # a JSON-quoted hyperparameter (sagemaker_submit_directory)
            try:
                text = json.loads(text)
            except json.JSONDecodeError:
                return
            if not isinstance(text, str):
                return
        if text.startswith("s3://"):
            yield _Location(_path(path), _Known(text, True), _writes(path))


def _path(path: tuple[str, ...]) -> str:
    return ".".join(path).replace(".[", "[")


def _writes(path: tuple[str, ...]) -> bool:
    """Whether a location at ``path`` is written: outputs (ProcessingOutputConfig,
    OutputDataConfig, every S3OutputPath) and checkpoints."""
    return any("Output" in key or key.startswith("Checkpoint") for key in path)


def _check_locations(
    name: str,
    args: dict[str, Any],
    context: PipelineContext,
    parameters: dict[str, dict[str, Any]],
) -> list[Finding]:
    findings = []
    artifacts = f"s3://{context.artifacts_bucket}/"
    code = context.code_uri.rstrip("/") + "/"
    for location in _locations(args, parameters):
        known = location.known
        rest = known.text.removeprefix("s3://")
        bucket: str | None = rest.split("/", 1)[0]
        if "/" not in rest and not known.complete:
            bucket = None
        verb = "writes to" if location.write else "reads"
        shown = known.text + ("" if known.complete else "...")
        names = ", ".join(dict.fromkeys(known.parameters))
        plural = "s" if len(set(known.parameters)) > 1 else ""
        source = f" (the default value of parameter{plural} {names})" if names else ""
        what = f"{location.path} {verb} {shown}{source}"
        fix = (
            f"write under {artifacts}."
            if location.write
            else f"give an explicit S3 URI under {code} (code) or {artifacts}"
            f" (other files); data is read from {context.input_data_url} (InputDataUrl)."
        )
        if bucket == context.artifacts_bucket:
            continue
        if bucket == context.curated_bucket:
            if not location.write:
                continue
            problem = "the curated bucket, which pipelines only read"
        elif known.complete and known.text == context.monitoring_code_uri and not location.write:
            continue
        elif bucket is None:
            problem = "a bucket not known before the run"
        elif _DEFAULT_BUCKET.match(bucket):
            problem = (
                f"SageMaker's default bucket {bucket}, where the SDK uploads what is given as a"
                " local path, outside the project's buckets"
            )
            fix += (
                " The SDK uploads a local code path (source_dir=, code=) there: pass the code's"
                " S3 URI under code_uri instead."
            )
        else:
            problem = f"the bucket {bucket}, outside the project's buckets"
        findings.append(_finding(name, "S3Location", f"{what}: {problem}.", fix))
    return findings


# --- Lambda and RegisterModel steps -------------------------------------------------------------


def _check_function(name: str, step: dict[str, Any], context: PipelineContext) -> list[Finding]:
    arn = step.get("FunctionArn")
    if arn in (context.champion_function_arn, context.fingerprint_function_arn):
        return []
    return [
        _finding(
            name,
            "Function",
            f"the step calls {_describe(arn)}, not one of the platform's functions: the"
            " pipeline role may invoke only the champion and fingerprint functions.",
            f"call {context.champion_function_arn} (champion gate) or"
            f" {context.fingerprint_function_arn} (fingerprint); do other work in a processing"
            " step.",
        )
    ]


def _check_register(
    name: str,
    step: dict[str, Any],
    context: PipelineContext | None,
    steps: list[dict[str, Any]],
) -> list[Finding]:
    args = step.get("Arguments")
    args = args if isinstance(args, dict) else {}
    findings = []
    status = args.get("ModelApprovalStatus")
    if status != PENDING:
        if isinstance(status, dict):
            what = f"comes from {_describe(status)}: whoever starts a run could set it to Approved"
        elif status is None:
            what = "is not set"
        else:
            what = f"is {_short(status)}: the version would skip the approval"
        findings.append(_finding(name, "ModelApprovalStatus", f"ModelApprovalStatus {what}."))
    if context is None:
        return findings
    group = args.get("ModelPackageGroupName")
    if group != context.model_package_group:
        findings.append(
            _finding(
                name,
                "ModelPackageGroupName",
                f"the model is registered in {_describe(group)}, not the project's group"
                f" {context.model_package_group}.",
                f"model_package_group_name={context.model_package_group!r}.",
            )
        )
    problems = _unsealed(args, context, steps)
    if problems:
        findings.append(
            _finding(
                name,
                "Sealed",
                "the version is not sealed: "
                + "; ".join(problems)
                + ". The release check refuses to deploy a version registered otherwise.",
            )
        )
    return findings


def _unsealed(
    args: dict[str, Any], context: PipelineContext, steps: list[dict[str, Any]]
) -> list[str]:
    fingerprints = {
        str(s.get("Name"))
        for s in steps
        if s.get("Type") == "Lambda" and s.get("FunctionArn") == context.fingerprint_function_arn
    }
    if not fingerprints:
        return [f"no Lambda step calls the fingerprint function {context.fingerprint_function_arn}"]

    def fingerprint_output(value: Any) -> str | None:
        get = value.get("Get") if isinstance(value, dict) and len(value) == 1 else None
        match = _OUTPUT_GET.match(get) if isinstance(get, str) else None
        return match["output"] if match and match["step"] in fingerprints else None

    problems = []
    containers = value_at(args, "InferenceSpecification", "Containers")
    if not isinstance(containers, list) or not containers:
        problems.append("it has no InferenceSpecification.Containers")
    else:
        for i, container in enumerate(containers):
            url = value_at(container, "ModelDataUrl")
            if fingerprint_output(url) != SEALED_MODEL_OUTPUT:
                problems.append(
                    f"Containers[{i}].ModelDataUrl is {_describe(url)}, not the fingerprint"
                    f" step's output {SEALED_MODEL_OUTPUT}"
                )
    metadata = args.get("CustomerMetadataProperties")
    metadata = metadata if isinstance(metadata, dict) else {}
    for key, output in SEALED_METADATA.items():
        if key == "MonitoringBaseline" and key not in metadata and not context.monitoring_code_uri:
            continue  # open monitoring is off: the version has no monitoring baseline
        if fingerprint_output(metadata.get(key)) != output:
            given = _describe(metadata[key]) if key in metadata else "missing"
            problems.append(
                f"CustomerMetadataProperties.{key} is {given}, not the fingerprint step's"
                f" output {output}"
            )
    return problems


# --- the report and the command -----------------------------------------------------------------


def report(findings: Sequence[Finding], pipeline_name: str, *, steps: int | None = None) -> str:
    """The findings for people: a header, then per step one line per finding (rule id, code,
    what is wrong, the fix). ``steps``: how many were checked (said when it complies)."""
    if not findings:
        checked = f" ({steps} steps checked)" if steps is not None else ""
        return f"Pipeline {pipeline_name} complies with the platform's rules{checked}.\n"
    count = f"{len(findings)} finding{'s' if len(findings) != 1 else ''}"
    lines = [
        f"Pipeline {pipeline_name}: {count}, not upserted. Fix every finding and run the build"
        " again."
    ]
    by_step: dict[str, list[Finding]] = {}
    for finding in findings:
        by_step.setdefault(finding.step, []).append(finding)
    for step, found in by_step.items():
        lines += ["", f"{step}:"]
        lines += [f"  {f.rule} {f.code}: {f.message} Fix: {f.fix}" for f in found]
    return "\n".join(lines) + "\n"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise InputError(message)


def _read(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise InputError(f"cannot read the {what} {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise InputError(f"the {what} {path} is not UTF-8 text") from None


def _load(path: str) -> dict[str, Any]:
    try:
        data = json.loads(_read(path, "definition"))
    except json.JSONDecodeError as e:
        raise DefinitionError(
            f"the definition {path} is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})"
        ) from None
    try:
        pipeline_steps(data)
    except DefinitionError as e:
        raise DefinitionError(f"{path}: {e}") from None
    result: dict[str, Any] = data
    return result


def main(argv: Sequence[str]) -> int:
    """``--definition FILE [--context FILE]``: print the report; 0 complies, 1 findings,
    2 an input that cannot be checked (one line on stderr)."""
    parser = _Parser(
        prog="pipeline_rules.py",
        description="Check a SageMaker Pipeline definition against the platform's rules.",
    )
    parser.add_argument("--definition", required=True, help="the pipeline definition (JSON)")
    parser.add_argument(
        "--context", help=f"the project's pipeline context (JSON); default: ${CONTEXT_VARIABLE}"
    )
    try:
        options = parser.parse_args(list(argv))
        if options.context is not None:
            text, source = _read(options.context, "context"), options.context
        elif os.environ.get(CONTEXT_VARIABLE):
            text, source = os.environ[CONTEXT_VARIABLE], CONTEXT_VARIABLE
        else:
            raise ContextError(f"no context: pass --context FILE or set {CONTEXT_VARIABLE}")
        try:
            context = PipelineContext.from_json(text)
        except ContextError as e:
            raise ContextError(f"{source}: {e}") from None
        definition = _load(options.definition)
        findings = check_definition(definition, context)
    except InputError as e:
        print(f"pipeline_rules: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    steps = len(pipeline_steps(definition))
    print(report(findings, context.pipeline_name, steps=steps), end="")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
