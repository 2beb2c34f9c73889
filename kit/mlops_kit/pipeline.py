"""A training pipeline the team owns (``build.pipeline: custom``, added in 1.2.0): the platform's
context, and the command the project's CI runs to write the pipeline's definition.

    PYTHONPATH=src python -m mlops_kit.pipeline --module pipeline/definition.py --out FILE
                                                [--context-file FILE]

The project's module (``build.pipeline_module``, default ``pipeline/definition.py``) defines
``build(context)``, which builds the pipeline with the sagemaker SDK (2.x) and returns it (a
``sagemaker.workflow.pipeline.Pipeline``, or its definition as a dict). The platform's CI sets
``MLOPS_PIPELINE_CONTEXT`` to the context (:class:`PipelineContext`, JSON format 1: the role,
KMS key, buckets, functions, images and gate of the project in that environment), runs this
command after the project's tests, checks every step of the definition it writes, and creates or
updates the pipeline ``context.pipeline_name`` (docs/project-contract.md, "A pipeline the team
owns").

Code locations: a definition cannot name the code version it runs (the same definition runs
every published version), and the SDK refuses a pipeline variable as a code location under
network isolation. So the module writes them with :data:`CODE_VERSION` (``context.code(
CODE_VERSION, "src/preprocess.py")``) and this command replaces each string holding it with a
``Std:Join`` on the pipeline's ``CodeVersion`` parameter, as the platform's standard definition
does.

Bad input (no context or an invalid one, no module, no ``build``, ``build`` raising, a result of
another type, a definition that is not JSON) ends in one line on stderr and exit code 2.

Standard library only: the SDK is imported by the project's module, never by the kit (the jobs
that import the kit do not have it).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable

from .errors import DataValidationError
from .report import REQUIRED_METRICS, SECTIONS

FORMAT = 1  # the context's format this kit reads
ENV_VAR = "MLOPS_PIPELINE_CONTEXT"
# Stands for the code version in code locations; replaced by the CodeVersion parameter.
CODE_VERSION = "@@CODE_VERSION@@"
CODE_VERSION_PARAMETER = "CodeVersion"
IMAGES = ("training", "serving", "processing", "platform")
PROG = "mlops_kit.pipeline"
MODULE_NAME = "mlops_pipeline_definition"
# The SDK's behaviour offline (no instance metadata lookups, no v3 notice on every run).
SDK_ENVIRONMENT = {"SAGEMAKER_SUPPRESS_V2_WARNING": "1", "AWS_EC2_METADATA_DISABLED": "true"}
SDK_LOGGERS = ("sagemaker", "sagemaker.config")


@dataclass(frozen=True)
class Gate:
    """The project's quality gate: register only if ``metric`` passes ``threshold``
    (``>=`` when higher is better, else ``<=``)."""

    metric: str
    threshold: float
    higher_is_better: bool


@dataclass(frozen=True)
class PipelineContext:
    """What the platform gives the project's ``build(context)``: its resources in one
    environment (format 1). ``monitoring_code_uri`` is None when open monitoring is off;
    ``images["platform"]`` is AWS's scikit-learn image the platform's monitoring script runs in;
    ``subnets`` and ``security_groups`` are empty outside VPC mode."""

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
    images: Mapping[str, str]
    problem_type: str
    gate: Gate

    @property
    def vpc(self) -> bool:
        """Whether the jobs run in the project's VPC (its subnets and security groups)."""
        return bool(self.subnets)

    def code(self, version: str, path: str = "") -> str:
        """The S3 URI of a published code version's ``path`` (its folder when empty), e.g.
        ``code(CODE_VERSION, "src/preprocess.py")``."""
        uri = f"{self.code_uri.rstrip('/')}/{version}"
        return f"{uri}/{path.lstrip('/')}" if path else uri

    @classmethod
    def from_json(cls, text: str | bytes) -> PipelineContext:
        """The context of a JSON document; DataValidationError naming the field that is
        missing or mistyped, or a format other than 1. Unknown fields are ignored."""
        return _parse(text, "pipeline context")

    @classmethod
    def from_env(cls, name: str = ENV_VAR) -> PipelineContext:
        """The context in the environment variable ``name`` (the platform's CI sets it)."""
        text = os.environ.get(name, "")
        if not text.strip():
            raise DataValidationError(
                f"{name} is not set: the platform's CI sets it to the pipeline context (JSON); "
                "locally, use PipelineContext.sample() or --context-file"
            )
        return _parse(text, name)

    @classmethod
    def sample(
        cls, project: str = "demo", *, vpc: bool = False, problem_type: str = "regression"
    ) -> PipelineContext:
        """A plausible context for local tests: a development environment in a fake account
        (111111111111, eu-west-1); ``vpc``: with subnets and a security group. The gate is the
        problem type's first required metric."""
        account, region = "111111111111", "eu-west-1"
        prefix = f"mlops-dev-{project}"
        artifacts, curated = f"{prefix}-artifacts-{account}", f"{prefix}-curated-{account}"
        functions = f"arn:aws:lambda:{region}:{account}:function:{prefix}"
        image = f"141502667606.dkr.ecr.{region}.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
        metric, higher = next(iter(REQUIRED_METRICS[_problem_type(problem_type)].items()))
        return cls(
            project=project,
            pipeline_name=f"{prefix}-training",
            partition="aws",
            region=region,
            account=account,
            role_arn=f"arn:aws:iam::{account}:role/{prefix}-sagemaker-pipeline",
            kms_key_arn=f"arn:aws:kms:{region}:{account}:key/11111111-2222-3333-4444-555555555555",
            artifacts_bucket=artifacts,
            curated_bucket=curated,
            input_data_url=f"s3://{curated}/{project}/",
            code_uri=f"s3://{artifacts}/ml/code",
            monitoring_code_uri=f"s3://cdk-hnb659fds-assets-{account}-{region}/monitoring.py",
            model_package_group=f"{prefix}-models",
            champion_function_arn=f"{functions}-champion",
            fingerprint_function_arn=f"{functions}-fingerprint",
            subnets=("subnet-0123456789abcdef0", "subnet-0fedcba9876543210") if vpc else (),
            security_groups=("sg-0123456789abcdef0",) if vpc else (),
            processing_instance_type="ml.m5.large",
            training_instance_type="ml.m5.large",
            images=MappingProxyType(dict.fromkeys(IMAGES, image)),
            problem_type=problem_type,
            gate=Gate(metric=metric, threshold=0.5 if higher else 10.0, higher_is_better=higher),
        )

    def to_json(self) -> str:
        """The context as the platform writes it (format 1)."""
        document: dict[str, Any] = {"format": FORMAT}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            elif isinstance(value, Gate):
                value = {g.name: getattr(value, g.name) for g in fields(value)}
            document[item.name] = value
        return json.dumps(document, indent=2)


# --------------------------------------------------------------------------------------------
# Reading the context


class _Fields:
    """Typed reads of a JSON object's fields; errors name the field (``gate.threshold``)."""

    def __init__(self, data: Mapping[str, Any], source: str, prefix: str = "") -> None:
        self.data, self.source, self.prefix = data, source, prefix

    def fail(self, key: str, problem: str) -> DataValidationError:
        return DataValidationError(f"{self.source}: {self.prefix}{key} {problem}")

    def get(self, key: str) -> Any:
        if key not in self.data:
            raise self.fail(key, "is missing")
        return self.data[key]

    def text(self, key: str, *, s3: bool = False) -> str:
        value = self.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a non-empty string, got {value!r}")
        if s3 and not value.startswith("s3://"):
            raise self.fail(key, f"must be an s3:// URI, got {value!r}")
        return value

    def optional_s3(self, key: str) -> str | None:
        return None if self.get(key) is None else self.text(key, s3=True)

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, f"must be a list of non-empty strings, got {value!r}")
        return tuple(value)

    def number(self, key: str) -> float:
        value = self.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise self.fail(key, f"must be a number, got {value!r}")
        if not math.isfinite(value):
            raise self.fail(key, f"must be a finite number, got {value!r}")
        return float(value)

    def flag(self, key: str) -> bool:
        value = self.get(key)
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {value!r}")
        return value

    def nested(self, key: str) -> _Fields:
        value = self.get(key)
        if not isinstance(value, dict):
            raise self.fail(key, f"must be an object, got {value!r}")
        return _Fields(value, self.source, f"{self.prefix}{key}.")


def _problem_type(value: str) -> str:
    if value not in SECTIONS:
        raise DataValidationError(
            f"unknown problem type {value!r}: use one of {', '.join(SECTIONS)}"
        )
    return value


_TEXT_FIELDS = (
    "project",
    "pipeline_name",
    "partition",
    "region",
    "account",
    "role_arn",
    "kms_key_arn",
    "artifacts_bucket",
    "curated_bucket",
    "model_package_group",
    "champion_function_arn",
    "fingerprint_function_arn",
    "processing_instance_type",
    "training_instance_type",
)


def _parse(text: str | bytes, source: str) -> PipelineContext:
    try:
        data = json.loads(text)
    except (ValueError, TypeError) as error:  # JSONDecodeError and UnicodeDecodeError
        raise DataValidationError(f"{source}: not JSON: {error}") from None
    if not isinstance(data, dict):
        raise DataValidationError(f"{source}: expected a JSON object, got {type(data).__name__}")
    read = _Fields(data, source)
    version = read.get("format")
    if version != FORMAT or isinstance(version, bool):
        raise read.fail(
            "format",
            f"must be {FORMAT}, got {version!r}: this kit reads format {FORMAT} (upgrade the "
            "project's kit: mlops upgrade-project)",
        )
    values: dict[str, Any] = {key: read.text(key) for key in _TEXT_FIELDS}
    values["input_data_url"] = read.text("input_data_url", s3=True)
    values["code_uri"] = read.text("code_uri", s3=True)
    values["monitoring_code_uri"] = read.optional_s3("monitoring_code_uri")
    values["subnets"] = read.texts("subnets")
    values["security_groups"] = read.texts("security_groups")
    if bool(values["subnets"]) != bool(values["security_groups"]):
        raise read.fail("subnets", "and security_groups must be both empty or both given")
    images = read.nested("images")
    values["images"] = MappingProxyType({name: images.text(name) for name in IMAGES})
    problem = read.text("problem_type")
    if problem not in SECTIONS:
        raise read.fail("problem_type", f"must be one of {', '.join(SECTIONS)}, got {problem!r}")
    values["problem_type"] = problem
    gate = read.nested("gate")
    values["gate"] = Gate(
        metric=gate.text("metric"),
        threshold=gate.number("threshold"),
        higher_is_better=gate.flag("higher_is_better"),
    )
    return PipelineContext(**values)


# --------------------------------------------------------------------------------------------
# Building the definition


class _Refused(Exception):
    """Bad input to the command: its one-line message."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse prints usage too: one line instead
        raise _Refused(message)


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in str(text).splitlines() if line.strip())


def _context(context_file: str | None) -> PipelineContext:
    if context_file is None:
        return PipelineContext.from_env()
    try:
        text = Path(context_file).read_bytes()
    except OSError as error:
        raise _Refused(f"cannot read --context-file {context_file}: {error.strerror}") from None
    return _parse(text, context_file)


def _prepare_sdk() -> None:
    """The SDK offline and quiet: set before the module imports it (it gives its loggers a
    level only when they have none)."""
    for name, value in SDK_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    for name in SDK_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.ERROR)


def load_build(module: str) -> Callable[[PipelineContext], Any]:
    """The ``build`` function of the module at path ``module``, imported as a script is (its
    folder first on sys.path); _Refused when it cannot be."""
    path = Path(module)
    if not path.is_file():
        raise _Refused(
            f"{module} not found: give --module the path of the project's pipeline module "
            "(build.pipeline_module, default pipeline/definition.py)"
        )
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise _Refused(f"{module} cannot be imported: not a Python module")
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = loaded  # dataclasses and pickling look the module up
    try:
        spec.loader.exec_module(loaded)
    except Exception as error:  # the team's code: any error is its own
        raise _Refused(f"{module} cannot be imported: {type(error).__name__}: {error}") from None
    build = getattr(loaded, "build", None)
    if not callable(build):
        raise _Refused(f"{module} defines no build(context) function")
    return build  # type: ignore[no-any-return]


def _definition(result: Any) -> dict[str, Any]:
    """The definition of what ``build`` returned: a Pipeline (its ``definition()``) or a dict."""
    if callable(getattr(result, "definition", None)):
        try:
            text = result.definition()
        except Exception as error:
            raise _Refused(
                f"the pipeline's definition() raised {type(error).__name__}: {error}"
            ) from None
        try:
            document = json.loads(text)
        except (ValueError, TypeError) as error:
            raise _Refused(f"the pipeline's definition() is not JSON: {error}") from None
    elif isinstance(result, dict):
        try:
            document = json.loads(json.dumps(result, allow_nan=False))
        except (ValueError, TypeError) as error:
            raise _Refused(f"build(context) returned a dict that is not JSON: {error}") from None
    else:
        raise _Refused(
            f"build(context) returned {type(result).__name__}, expected a sagemaker Pipeline "
            "(sagemaker.workflow.pipeline.Pipeline) or its definition as a dict"
        )
    if not isinstance(document, dict):
        raise _Refused(f"the definition is not a JSON object: got {type(document).__name__}")
    return document


def _replace_code_version(node: Any) -> Any:
    """Every string holding CODE_VERSION as a Std:Join on the CodeVersion parameter."""
    if isinstance(node, dict):
        return {key: _replace_code_version(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_replace_code_version(value) for value in node]
    if isinstance(node, str) and CODE_VERSION in node:
        parts = node.split(CODE_VERSION)
        values: list[Any] = [parts[0]]
        for part in parts[1:]:
            values += [{"Get": f"Parameters.{CODE_VERSION_PARAMETER}"}, part]
        return {"Std:Join": {"On": "", "Values": values}}
    return node


def with_code_version(definition: dict[str, Any]) -> dict[str, Any]:
    """``definition`` with CODE_VERSION replaced; _Refused when it uses it without declaring
    the CodeVersion parameter."""
    if CODE_VERSION not in json.dumps(definition):
        return definition
    parameters = definition.get("Parameters")
    names = [p.get("Name") for p in parameters if isinstance(p, dict)] if parameters else []
    if CODE_VERSION_PARAMETER not in names:
        raise _Refused(
            f"the definition uses CODE_VERSION but declares no {CODE_VERSION_PARAMETER} "
            f'parameter: add ParameterString("{CODE_VERSION_PARAMETER}", ...) to the pipeline'
        )
    replaced: dict[str, Any] = _replace_code_version(definition)
    return replaced


def count_steps(steps: Any) -> int:
    """The steps of a definition's ``Steps``, those of condition steps' branches included."""
    total = 0
    for step in steps if isinstance(steps, list) else []:
        arguments = step.get("Arguments") if isinstance(step, dict) else None
        branches = arguments if isinstance(arguments, dict) else {}
        total += 1 + count_steps(branches.get("IfSteps")) + count_steps(branches.get("ElseSteps"))
    return total


def write_definition(module: str, out: str, context: PipelineContext) -> dict[str, Any]:
    """Import ``module``, call its ``build(context)`` and write the definition JSON (keys
    sorted, compact: the same inputs give the same bytes) to ``out``; returns it."""
    _prepare_sdk()
    build = load_build(module)
    try:
        result = build(context)
    except Exception as error:
        raise _Refused(f"build(context) raised {type(error).__name__}: {error}") from None
    definition = with_code_version(_definition(result))
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    try:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text, encoding="utf-8")
    except OSError as error:
        raise _Refused(f"cannot write --out {out}: {error.strerror}") from None
    return definition


def _parser() -> _Parser:
    parser = _Parser(
        prog=f"python -m {PROG}",
        description="Write the definition of the project's own training pipeline.",
    )
    parser.add_argument("--module", required=True, help="the module defining build(context)")
    parser.add_argument("--out", required=True, help="where to write the definition JSON")
    parser.add_argument(
        "--context-file",
        default=None,
        help=f"the pipeline context (JSON); default: the environment variable {ENV_VAR}",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command; 0 when the definition was written, 2 (one line on stderr) otherwise."""
    try:
        args = _parser().parse_args(argv)
        context = _context(args.context_file)
        definition = write_definition(args.module, args.out, context)
    except (_Refused, DataValidationError) as error:
        print(f"{PROG}: error: {_one_line(str(error))}", file=sys.stderr)
        return 2
    steps = count_steps(definition.get("Steps"))
    counted = f"{steps} step{'' if steps == 1 else 's'}"
    print(f"{PROG}: wrote the definition of {context.pipeline_name} ({counted}) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
