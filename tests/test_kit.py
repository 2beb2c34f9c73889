"""The project kit (``kit/mlops_kit``, vendored into every scaffolded project as
``src/mlops_kit/``) and ``mlops upgrade-project``, without synthesis.

- The kit itself, every version kept (the current one and the frozen ones under kit/versions/,
  loaded from their files): the evaluation report per problem type, request parsing and its
  errors, responses, the preprocess outputs; what 1.1.0 added; what 1.2.0 added, the pipeline a
  team owns (``mlops_kit.pipeline``: the platform's context, each field's error, and the command
  CI runs, with each bad input's one line and exit code 2; tests/test_scaffold.py builds the
  skeleton's real SDK pipeline with it).
- Its compatibility: Python 3.8 code with the standard library only (it runs in AWS's framework
  images), the platform's own tables of sections and metrics, a CHANGELOG entry per version.
- An old-version project against the current platform: a scikit-learn binary classification
  project carrying the frozen 1.0.0 kit runs its own tests (they train, evaluate and serve), and
  the platform's CURRENT readers accept what it wrote: the quality gate's JSON path and the
  champion gate's check of the value, the staging test's response check, open monitoring's
  capture parser and baseline statistics.
- ``mlops upgrade-project``: every frozen version -> current (``--check``, the CHANGELOG entries
  in between, idempotence; the project's tests pass after 1.0.0 -> current), each refusal.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import hashlib
import importlib
import importlib.util
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from mlops_cli.main import main
from mlops_cli.scaffold import config_entry, skeleton_files
from mlops_cli.upgrade import (
    KIT,
    PACKAGE,
    current_version,
    frozen_versions,
    kit_files,
    kit_source,
    parse_manifest,
    version_key,
)
from mlops_constructs.security import pipeline_rules
from mlops_constructs.training.definition import (
    REPORT_SECTIONS,
    PipelineImages,
    PipelineSpec,
    QualityGate,
)
from stacks.config import PROBLEM_METRICS, ProjectConfig, parse_config
from tests.python_code import imported_modules
from tests.test_monitoring_code import py38_problems
from tools import skeleton_envs

ROOT = Path(__file__).resolve().parent.parent
MONITORING = ROOT / "constructs/mlops_constructs/assets/monitoring/monitoring.py"
LAYER = ROOT / "lambda" / "_shared" / "python"
CURRENT = current_version()
VERSIONS = [*frozen_versions(), CURRENT]
MODULES = ("errors", "report", "serving", "outputs", "pipeline")  # pipeline: since 1.2.0
COLUMNS = ("tenure_days", "amount", "visits", "score", "segment")


def _load(name: str, path: Path, package: Path | None = None) -> ModuleType:
    """The module (or package) at ``path`` under the unique ``name``, loaded once, without
    writing bytecode next to the repository's sources."""
    if name not in sys.modules:
        locations = [str(package)] if package else None
        spec = importlib.util.spec_from_file_location(
            name, path, submodule_search_locations=locations
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses and relative imports look it up
        writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
        try:
            spec.loader.exec_module(module)
            for sub in MODULES if package else ():
                if package and (package / f"{sub}.py").is_file():  # pipeline: since 1.2.0
                    importlib.import_module(f"{name}.{sub}")
        finally:
            sys.dont_write_bytecode = writes_bytecode
    return sys.modules[name]


def kit(version: str) -> ModuleType:
    """A kit version as a package (``kit(v).report``, ...), the frozen ones included."""
    source = kit_source(None if version == CURRENT else version)
    name = f"mlops_kit_{version.replace('.', '_')}"
    return _load(name, source / "__init__.py", package=source)


def lambda_handler(name: str, function: str) -> ModuleType:
    """A function's handler.py with the shared layer on the path (as lambda/conftest.py loads it)."""
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))
    return _load(name, ROOT / "lambda" / function / "handler.py")


# --------------------------------------------------------------------------------------------
# The kit: the evaluation report

REGRESSION_REPORT = """{
  "regression_metrics": {
    "rmse": {
      "value": 3.21,
      "standard_deviation": "NaN"
    },
    "mae": {
      "value": 2.5,
      "standard_deviation": "NaN"
    },
    "mse": {
      "value": 10.3041,
      "standard_deviation": "NaN"
    },
    "r2": {
      "value": 0.8,
      "standard_deviation": "NaN"
    }
  }
}
"""


@pytest.mark.parametrize("version", VERSIONS)
def test_the_report_is_the_format_the_skeletons_wrote(version: str, tmp_path: Path) -> None:
    report = kit(version).report
    metrics = {"rmse": 3.21, "mae": 2.5, "mse": 10.3041, "r2": 0.8}
    written = report.write_report(tmp_path, "regression", metrics)
    assert (tmp_path / "evaluation.json").read_text() == REGRESSION_REPORT
    assert written == json.loads(REGRESSION_REPORT)
    for problem in PROBLEM_METRICS:
        values = {name: 0.5 for name in report.metric_names(problem)}
        document = report.write_report(tmp_path / problem, problem, {**values, "extra": 1.0})
        assert list(document) == [report.section(problem)]
        assert list(document[report.section(problem)]) == [*values, "extra"]
    with pytest.raises(ValueError, match=r"^unknown problem type 'ranking': use one of binary_"):
        report.section("ranking")


@pytest.mark.parametrize("version", VERSIONS)
def test_the_kits_tables_are_the_platforms(version: str) -> None:
    report = kit(version).report
    assert report.SECTIONS == REPORT_SECTIONS
    for problem, metrics in PROBLEM_METRICS.items():
        assert list(report.REQUIRED_METRICS[problem].items()) == list(metrics.items())
        assert report.metric_names(problem) == tuple(metrics)


def test_1_1_refuses_a_report_the_gates_cannot_read(tmp_path: Path) -> None:
    report = kit(CURRENT).report
    good = {"rmse": 1.0, "mae": 1, "mse": 1.0, "r2": 0.5}
    assert report.validate_report(report.build_report("regression", good), "regression") == []
    entries = report.build_report("regression", good)["regression_metrics"]
    cases: list[tuple[Any, list[str]]] = [
        ([], ["no regression_metrics object"]),
        ({"regression_metrics": {**entries, "extra": {"value": float("nan")}}}, []),
        (
            report.build_report("regression", {"rmse": float("nan"), "mae": True, "r2": "1"}),
            [
                "regression_metrics.rmse.value must be a finite number, got nan",
                "regression_metrics.mae.value must be a finite number, got True",
                "regression_metrics.mse is missing",
                "regression_metrics.r2.value must be a finite number, got '1'",
            ],
        ),
        (
            {"regression_metrics": {**entries, "mse": {"value": float("inf")}, "r2": 2}},
            [
                "regression_metrics.mse.value must be a finite number, got inf",
                "regression_metrics.r2.value must be a finite number, got None",
            ],
        ),
    ]
    for document, problems in cases:
        assert report.validate_report(document, "regression") == problems
    for problem, metrics in PROBLEM_METRICS.items():  # every problem type's required metrics
        section = REPORT_SECTIONS[problem]
        complete = report.build_report(problem, dict.fromkeys(metrics, 0.5))
        assert report.validate_report(complete, problem) == []
        for metric in metrics:
            partial = {section: {k: v for k, v in complete[section].items() if k != metric}}
            assert report.validate_report(partial, problem) == [f"{section}.{metric} is missing"]
        other = next(p for p in PROBLEM_METRICS if p != problem)
        assert report.validate_report(complete, other) == [f"no {REPORT_SECTIONS[other]} object"]
    with pytest.raises(ValueError) as refused:
        report.write_report(tmp_path, "binary_classification", {"auc": float("nan")})
    assert str(refused.value).startswith(
        "evaluation.json: binary_classification_metrics.auc.value must be a finite number, "
        "got nan; binary_classification_metrics.accuracy is missing; "
    )
    assert not (tmp_path / "evaluation.json").exists()
    # 1.0.0 wrote such a report: the difference CHANGELOG.md documents.
    old = kit("1.0.0").report
    assert not hasattr(old, "validate_report")
    old.write_report(tmp_path, "binary_classification", {"auc": float("nan")})
    assert "NaN" in (tmp_path / "evaluation.json").read_text()


# --------------------------------------------------------------------------------------------
# The kit: serving


def _records(serving: ModuleType, body: str | bytes, content_type: str) -> list[Any]:
    return list(serving.request_records(body, content_type, COLUMNS))


@pytest.mark.parametrize("version", VERSIONS)
def test_requests_become_raw_records_of_the_serving_columns(version: str) -> None:
    serving = kit(version).serving
    body = "tenure_days,amount,visits,score,segment\n120,35.5,4,,a\n\n  \n900,12.0,0,-1.2,c\n"
    expected = [
        ("line 2", dict(zip(COLUMNS, ["120", "35.5", "4", "", "a"], strict=True))),
        ("line 5", dict(zip(COLUMNS, ["900", "12.0", "0", "-1.2", "c"], strict=True))),
    ]
    assert _records(serving, body, "text/csv") == expected
    assert _records(serving, body.encode(), "Text/CSV; charset=utf-8") == expected
    instance = {"tenure_days": 900, "amount": 12.0, "visits": 0, "score": None, "segment": "c"}
    document = json.dumps({"instances": [instance, {"extra": 1}]})
    assert _records(serving, document, "application/json") == [
        ("instance 0", instance),
        ("instance 1", {"extra": 1}),  # the project's own parsing names what is missing
    ]
    # Lazily: the project's parsing of line 1 runs before line 2 is read.
    records = serving.request_records("1,2,3,4,a\n1,2\n", "text/csv", COLUMNS)
    assert next(records)[0] == "line 1"
    with pytest.raises(ValueError, match=r"^line 2: expected 5 values"):
        next(records)


BAD_REQUESTS = [
    (
        "application/x-npy",
        "1",
        "unsupported content type 'application/x-npy'; send text/csv or application/json",
    ),
    (
        "text/csv",
        "1,2,3,4",
        "line 1: expected 5 values (tenure_days,amount,visits,score,segment), got 4",
    ),
    ("text/csv", "\n \n", "the request holds no instances"),
    ("text/csv", b"\xff\xfe", "the request body is not UTF-8 text"),
    (
        "application/json",
        "{",
        "the request body is not valid JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)",
    ),
    (
        "application/json",
        "[1]",
        'expected {"instances": [...]}, each an object keyed by tenure_days, amount, visits, '
        "score, segment",
    ),
    ("application/json", '{"instances": [1]}', "instance 0: expected an object, got 1"),
    ("application/json", '{"instances": []}', "the request holds no instances"),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("content_type", "body", "message"), BAD_REQUESTS)
def test_bad_requests_keep_their_messages(
    version: str, content_type: str, body: str | bytes, message: str
) -> None:
    module = kit(version)
    with pytest.raises(module.DataValidationError) as refused:
        _records(module.serving, body, content_type)
    assert str(refused.value) == message
    assert isinstance(refused.value, ValueError)  # the containers answer it with a 4xx


@pytest.mark.parametrize("version", VERSIONS)
def test_responses_are_predictions_in_json(version: str) -> None:
    serving = kit(version).serving
    document = serving.response({"prediction": p} for p in (1, 0))
    assert document == {"predictions": [{"prediction": 1}, {"prediction": 0}]}
    expected = ('{"predictions": [{"prediction": 1}, {"prediction": 0}]}', "application/json")
    for accept in (None, "", "*/*", "application/json", "Application/JSON; charset=utf-8"):
        assert serving.encode_response(document, accept) == expected
    with pytest.raises(ValueError) as refused:
        serving.encode_response(document, "text/csv")
    assert str(refused.value) == "unsupported accept type 'text/csv'; accept application/json"


# --------------------------------------------------------------------------------------------
# The kit: the preprocess outputs


@pytest.mark.parametrize("version", VERSIONS)
def test_the_preprocess_outputs_the_platform_reads(version: str, tmp_path: Path) -> None:
    outputs = kit(version).outputs
    requests = [["120", "35.5", "4", "", "a"], ["9", "1,5", "0", 'say "x"', "b"]]
    digest = outputs.write_baseline(tmp_path, COLUMNS, requests)
    baseline = (tmp_path / "baseline/baseline.csv").read_bytes()
    assert baseline == (
        b'tenure_days,amount,visits,score,segment\n120,35.5,4,,a\n9,"1,5",0,"say ""x""",b\n'
    )
    assert digest == hashlib.sha256(baseline).hexdigest()
    digest = outputs.write_labelled(tmp_path, requests, ["1", "0"])
    labelled = (tmp_path / "labelled/labelled.csv").read_bytes()
    assert labelled == b'120,35.5,4,,a,1\n9,"1,5",0,"say ""x""",b,0\n'
    assert digest == outputs.sha256_file(tmp_path / "labelled/labelled.csv")
    path = outputs.write_manifest(tmp_path, {"seed": 42, "rows": {"total": 2, "test": 1}})
    assert path.read_text() == (
        '{\n  "rows": {\n    "test": 1,\n    "total": 2\n  },\n  "seed": 42\n}\n'
    )
    (tmp_path / "in" / "b").mkdir(parents=True)
    for name in ("in/b/x.CSV", "in/a.csv", "in/notes.txt"):
        (tmp_path / name).write_text("h\n")
    assert [p.name for p in outputs.csv_files(tmp_path / "in")] == ["a.csv", "x.CSV"]
    with pytest.raises(ValueError, match=r"is not a directory$"):
        outputs.csv_files(tmp_path / "missing")


# --------------------------------------------------------------------------------------------
# The kit: the pipeline a team owns (1.2.0)


def pipeline_kit() -> ModuleType:
    return kit(CURRENT).pipeline  # type: ignore[no-any-return]


REMOVED: Any = object()  # a field sample_document leaves out
ENV = "MLOPS_PIPELINE_CONTEXT"


def sample_document(**changes: Any) -> dict[str, Any]:
    """The sample context as the platform writes it, with ``changes`` (``gate__metric``: a
    nested field; REMOVED: the field left out)."""
    document: dict[str, Any] = json.loads(pipeline_kit().PipelineContext.sample("sales").to_json())
    for key, value in changes.items():
        *outer, field = key.split("__")
        target = document[outer[0]] if outer else document
        if value is REMOVED:
            del target[field]
        else:
            target[field] = value
    return document


@pytest.mark.parametrize("vpc", [False, True])
def test_the_kit_and_the_pipeline_rules_read_the_context_alike(vpc: bool) -> None:
    """The context has two readers on purpose, one per place it is read: the kit in the team's
    build (vendored into the project) and ``pipeline_rules.py`` in the platform's check (one
    standard-library file on a stock image); neither can import the other. They agree field by
    field (the rules' reader keeps ``format``, which the kit checks and drops)."""
    written = pipeline_kit().PipelineContext.sample("sales", vpc=vpc)
    read = pipeline_rules.PipelineContext.from_json(written.to_json())
    kit_fields = {f.name: getattr(written, f.name) for f in dataclasses.fields(written)}
    rule_fields = {f.name: getattr(read, f.name) for f in dataclasses.fields(read)}
    assert rule_fields.pop("format") == 1
    assert list(rule_fields) == list(kit_fields)
    assert {k: v for k, v in rule_fields.items() if k != "gate"} == {
        k: v for k, v in kit_fields.items() if k != "gate"
    }
    assert dataclasses.asdict(read.gate) == dataclasses.asdict(written.gate)


def test_the_pipeline_context_reads_the_platforms_json() -> None:
    pipeline = pipeline_kit()
    context = pipeline.PipelineContext.from_json(
        json.dumps({**sample_document(), "added_later": {"x": 1}})  # unknown fields: ignored
    )
    assert context == pipeline.PipelineContext.sample("sales")
    assert pipeline.PipelineContext.from_json(context.to_json()) == context
    assert json.loads(context.to_json())["format"] == 1
    assert (context.project, context.pipeline_name) == ("sales", "mlops-dev-sales-training")
    assert (context.account, context.region, context.vpc) == ("111111111111", "eu-west-1", False)
    assert context.images["platform"].endswith("sagemaker-scikit-learn:1.2-1-cpu-py3")
    assert context.gate == pipeline.Gate(metric="rmse", threshold=10.0, higher_is_better=False)
    assert context.code("v1", "src/train.py") == (
        "s3://mlops-dev-sales-artifacts-111111111111/ml/code/v1/src/train.py"
    )
    assert context.code("v1") == "s3://mlops-dev-sales-artifacts-111111111111/ml/code/v1"
    vpc = pipeline.PipelineContext.sample("sales", vpc=True, problem_type="binary_classification")
    assert vpc.vpc and vpc.subnets and vpc.security_groups
    assert (vpc.problem_type, vpc.gate.metric, vpc.gate.higher_is_better) == (
        "binary_classification",
        "auc",
        True,
    )
    off = pipeline.PipelineContext.from_json(json.dumps(sample_document(monitoring_code_uri=None)))
    assert off.monitoring_code_uri is None
    with pytest.raises(AttributeError):
        context.project = "other"  # frozen


CONTEXT_ERRORS: list[tuple[str | dict[str, Any], str]] = [
    ("{", "not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ("[1]", "expected a JSON object, got list"),
    (
        sample_document(format=2),
        "format must be 1, got 2: this kit reads format 1 (upgrade the project's kit: mlops "
        "upgrade-project)",
    ),
    (sample_document(format=REMOVED), "format is missing"),
    (sample_document(format=True), "format must be 1, got True"),
    (sample_document(role_arn=REMOVED), "role_arn is missing"),
    (sample_document(kms_key_arn=""), "kms_key_arn must be a non-empty string, got ''"),
    (sample_document(account=111111111111), "account must be a non-empty string, got 111111111111"),
    (sample_document(input_data_url="curated/sales/"), "input_data_url must be an s3:// URI"),
    (sample_document(monitoring_code_uri=3), "monitoring_code_uri must be a non-empty string"),
    (sample_document(subnets="subnet-1"), "subnets must be a list of non-empty strings"),
    (
        sample_document(subnets=["subnet-1"]),
        "subnets and security_groups must be both empty or both given",
    ),
    (sample_document(images=["x"]), "images must be an object, got ['x']"),
    (sample_document(images__platform=REMOVED), "images.platform is missing"),
    (sample_document(problem_type="ranking"), "problem_type must be one of binary_classif"),
    (sample_document(gate="rmse"), "gate must be an object, got 'rmse'"),
    (sample_document(gate__threshold="10"), "gate.threshold must be a number, got '10'"),
    (sample_document(gate__threshold=True), "gate.threshold must be a number, got True"),
    (sample_document(gate__higher_is_better=0), "gate.higher_is_better must be true or "),
    (sample_document(gate__metric=REMOVED), "gate.metric is missing"),
]


@pytest.mark.parametrize(("document", "message"), CONTEXT_ERRORS)
def test_a_bad_pipeline_context_names_the_field(
    document: str | dict[str, Any], message: str
) -> None:
    pipeline = pipeline_kit()
    text = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(pipeline.DataValidationError) as refused:
        pipeline.PipelineContext.from_json(text)
    assert str(refused.value).startswith(f"pipeline context: {message}"), str(refused.value)


def test_the_context_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = pipeline_kit()
    context = pipeline.PipelineContext.sample("sales")
    monkeypatch.setenv("MLOPS_PIPELINE_CONTEXT", context.to_json())
    assert pipeline.PipelineContext.from_env() == context
    monkeypatch.setenv("OTHER", json.dumps(sample_document(region=REMOVED)))
    with pytest.raises(ValueError, match=r"^OTHER: region is missing$"):
        pipeline.PipelineContext.from_env("OTHER")
    monkeypatch.setenv("MLOPS_PIPELINE_CONTEXT", " ")
    with pytest.raises(ValueError, match=r"^MLOPS_PIPELINE_CONTEXT is not set: the platform's CI"):
        pipeline.PipelineContext.from_env()


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """What the command changes in its process (sys.path, the SDK's environment and loggers,
    the module it imports), restored after the test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setitem(sys.modules, "mlops_pipeline_definition", ModuleType("placeholder"))
    for name in ("SAGEMAKER_SUPPRESS_V2_WARNING", "AWS_EC2_METADATA_DISABLED", ENV):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    for name in ("sagemaker", "sagemaker.config"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.getLogger(name).level)
    return monkeypatch


DICT_MODULE = """
import os

SEEN = dict(os.environ)  # at import: the SDK's offline settings are already there


def build(context):
    return {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "CodeVersion", "Type": "String", "DefaultValue": "initial"}],
        "Steps": [
            {
                "Name": "Preprocess",
                "Type": "Processing",
                "Arguments": {
                    "Code": context.code("@@CODE_VERSION@@", "src/preprocess.py"),
                    "Env": [os.environ["SAGEMAKER_SUPPRESS_V2_WARNING"], SEEN["AWS_EC2_METADATA_DISABLED"]],
                    "KmsKeyId": context.kms_key_arn,
                },
            }
        ],
    }
"""


def run_pipeline(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    """``python -m mlops_kit.pipeline argv`` in-process (the current kit)."""
    capsys.readouterr()
    code = pipeline_kit().main(list(argv))
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def test_the_command_writes_a_dict_modules_definition(
    isolated: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = tmp_path / "pipeline" / "definition.py"
    module.parent.mkdir()
    module.write_text(DICT_MODULE)
    context = pipeline_kit().PipelineContext.sample("sales")
    isolated.setenv(ENV, context.to_json())
    out = tmp_path / "out" / "definition.json"
    done = run_pipeline(capsys, "--module", str(module), "--out", str(out))
    assert (done.code, done.err) == (0, "")
    assert done.out == (
        f"mlops_kit.pipeline: wrote the definition of mlops-dev-sales-training (1 step) to {out}\n"
    )
    code = {
        "Std:Join": {
            "On": "",
            "Values": [
                "s3://mlops-dev-sales-artifacts-111111111111/ml/code/",
                {"Get": "Parameters.CodeVersion"},
                "/src/preprocess.py",
            ],
        }
    }
    written = out.read_text()
    assert json.loads(written)["Steps"][0]["Arguments"] == {
        "Code": code,
        "Env": ["1", "true"],
        "KmsKeyId": context.kms_key_arn,
    }
    assert written == json.dumps(json.loads(written), sort_keys=True, separators=(",", ":"))
    # The same from --context-file, and the same bytes again.
    (tmp_path / "context.json").write_text(context.to_json())
    isolated.delenv(ENV)
    again = run_pipeline(
        capsys,
        "--module",
        str(module),
        "--out",
        str(out),
        "--context-file",
        f"{tmp_path}/context.json",
    )
    assert again.code == 0 and out.read_text() == written


BAD_MODULES = {
    "no-build": ("VALUE = 1\n", "{module} defines no build(context) function"),
    "import-error": (
        "import not_installed_anywhere\n",
        "{module} cannot be imported: ModuleNotFoundError: No module named "
        "'not_installed_anywhere'",
    ),
    "syntax-error": ("def build(context)\n", "{module} cannot be imported: SyntaxError: "),
    "build-raises": (
        "def build(context):\n    raise KeyError(context.images['gpu'])\n",
        "build(context) raised KeyError: 'gpu'",
    ),
    "wrong-type": (
        "def build(context):\n    return [1]\n",
        "build(context) returned list, expected a sagemaker Pipeline "
        "(sagemaker.workflow.pipeline.Pipeline) or its definition as a dict",
    ),
    "dict-not-json": (
        "def build(context):\n    return {'Steps': {1, 2}}\n",
        "build(context) returned a dict that is not JSON: Object of type set is not JSON "
        "serializable",
    ),
    "definition-not-json": (
        "class P:\n    def definition(self):\n        return 'Steps:\\n  - x'\n\n"
        "def build(context):\n    return P()\n",
        "the pipeline's definition() is not JSON: Expecting value: line 1 column 1 (char 0)",
    ),
    "definition-raises": (
        "class P:\n    def definition(self):\n        raise ValueError('bad\\nrole')\n\n"
        "def build(context):\n    return P()\n",
        "the pipeline's definition() raised ValueError: bad role",
    ),
    "not-an-object": (
        "class P:\n    def definition(self):\n        return '[]'\n\n"
        "def build(context):\n    return P()\n",
        "the definition is not a JSON object: got list",
    ),
    "code-version-undeclared": (
        "def build(context):\n    return {'Steps': [context.code('@@CODE_VERSION@@')]}\n",
        "the definition uses CODE_VERSION but declares no CodeVersion parameter: add "
        'ParameterString("CodeVersion", ...) to the pipeline',
    ),
}


@pytest.mark.parametrize("case", BAD_MODULES)
def test_a_bad_module_is_one_line_and_exit_2(
    case: str, isolated: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, message = BAD_MODULES[case]
    module = tmp_path / "definition.py"
    module.write_text(source)
    isolated.setenv(ENV, pipeline_kit().PipelineContext.sample().to_json())
    out = tmp_path / "out.json"
    done = run_pipeline(capsys, "--module", str(module), "--out", str(out))
    assert (done.code, done.out) == (2, "")
    assert done.err.startswith(f"mlops_kit.pipeline: error: {message.format(module=module)}")
    assert len(done.err.splitlines()) == 1 and "Traceback" not in done.err
    assert not out.exists()


def test_bad_arguments_and_contexts_are_one_line_and_exit_2(
    isolated: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = tmp_path / "definition.py"
    module.write_text(DICT_MODULE)
    (tmp_path / "v2.json").write_text(json.dumps(sample_document(format=2)))
    out = str(tmp_path / "out.json")
    cases = [
        (["--module", str(module)], "the following arguments are required: --out"),
        (["--module", str(module), "--out", out], f"{ENV} is not set: the platform's CI sets it"),
        (
            ["--module", str(module), "--out", out, "--context-file", f"{tmp_path}/none.json"],
            f"cannot read --context-file {tmp_path}/none.json: No such file or directory",
        ),
        (
            ["--module", str(module), "--out", out, "--context-file", f"{tmp_path}/v2.json"],
            f"{tmp_path}/v2.json: format must be 1, got 2",
        ),
        (
            ["--module", "pipeline/nope.py", "--out", out, "--context-file", f"{tmp_path}/v2.json"],
            f"{tmp_path}/v2.json: format must be 1",  # the context is read first
        ),
    ]
    for argv, message in cases:
        done = run_pipeline(capsys, *argv)
        assert (done.code, done.out) == (2, ""), argv
        assert done.err.startswith(f"mlops_kit.pipeline: error: {message}"), done.err
        assert len(done.err.splitlines()) == 1
    isolated.setenv(ENV, pipeline_kit().PipelineContext.sample().to_json())
    missing = run_pipeline(capsys, "--module", "pipeline/nope.py", "--out", out)
    assert missing.code == 2 and missing.err == (
        "mlops_kit.pipeline: error: pipeline/nope.py not found: give --module the path of the "
        "project's pipeline module (build.pipeline_module, default pipeline/definition.py)\n"
    )
    assert not Path(out).exists()


def test_python_m_mlops_kit_pipeline_as_ci_runs_it(tmp_path: Path) -> None:
    """The exact command of the project's CI, in a project folder with the kit vendored."""
    write_project(tmp_path, "sklearn", "regression", CURRENT)
    (tmp_path / "pipeline").mkdir()
    (tmp_path / "pipeline/definition.py").write_text(DICT_MODULE)
    context = pipeline_kit().PipelineContext.sample("demo")
    env = {
        **os.environ,
        "PYTHONPATH": "src",
        ENV: context.to_json(),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    command = [sys.executable, "-m", "mlops_kit.pipeline", "--module", "pipeline/definition.py"]
    done = subprocess.run(
        [*command, "--out", "build/definition.json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert json.loads((tmp_path / "build/definition.json").read_text())["Version"] == "2020-12-01"
    env[ENV] = "{}"
    done = subprocess.run(
        [*command, "--out", "x.json"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr == f"mlops_kit.pipeline: error: {ENV}: format is missing\n"


# --------------------------------------------------------------------------------------------
# The kit: compatibility and versions


def _kit_sources() -> list[Path]:
    return [
        path
        for version in VERSIONS
        for path in sorted(kit_source(None if version == CURRENT else version).rglob("*.py"))
    ]


@pytest.mark.parametrize("path", _kit_sources(), ids=lambda p: p.relative_to(KIT).as_posix())
def test_the_kit_is_python_3_8_code_with_the_standard_library_only(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert list(py38_problems(source)) == []
    outside = sorted(imported_modules(source) - set(sys.stdlib_module_names))
    assert not outside, f"{path.name} imports {outside}: the kit is standard library only"


def test_every_version_has_a_changelog_entry_and_the_frozen_ones_differ() -> None:
    changelog = (KIT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## (\d+\.\d+\.\d+)$", changelog, flags=re.M)
    assert headings == sorted(VERSIONS, key=lambda v: tuple(map(int, v.split("."))), reverse=True)
    assert CURRENT == "1.2.0" and frozen_versions() == ["1.0.0", "1.1.0"]
    for version in VERSIONS:
        module = kit(version)
        assert module.__version__ == version
        assert int(version.split(".")[0]) == module.CONTRACT_VERSION
    for version in frozen_versions():
        assert kit_files(version) != kit_files(), f"{version} is the current kit"
        assert set(kit_files(version)) <= set(kit_files())  # a minor version only adds
    assert set(kit_files()) - set(kit_files("1.1.0")) == {"pipeline.py"}
    # 1.1.0 is frozen as it was released: only __version__ tells the current kit's old modules
    # from it (1.2.0 added a module and changed none).
    for name, text in kit_files("1.1.0").items():
        if name not in ("VERSION", "__init__.py"):
            assert text == kit_files()[name], name


def test_the_manifest_lists_every_vendored_file_with_its_digest() -> None:
    files = kit_files()
    version, digests = parse_manifest(files["VERSION"])
    assert version == CURRENT
    assert set(digests) == set(files) - {"VERSION"} == {f"{m}.py" for m in (*MODULES, "__init__")}
    for name, digest in digests.items():
        assert digest == hashlib.sha256(files[name].encode()).hexdigest()
    assert files["VERSION"].startswith(f"mlops-kit {CURRENT}\n# ")
    for bad in ("", "mlops-kit 1.1\n", f"mlops-kit {CURRENT}\nabc  x.py\n"):
        with pytest.raises(ValueError):
            parse_manifest(bad)


# --------------------------------------------------------------------------------------------
# An old-version project against the current platform


def write_project(folder: Path, framework: str, problem: str, kit_version: str) -> None:
    """What ``mlops new-project demo`` writes, with the kit of ``kit_version`` vendored."""
    for relative, text in skeleton_files("demo", framework, problem, ".").items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    vendored = folder / "src" / PACKAGE
    shutil.rmtree(vendored)
    vendored.mkdir()
    for relative, text in kit_files(kit_version).items():
        (vendored / relative).write_text(text)


def run_project_tests(folder: Path, basetemp: Path) -> subprocess.CompletedProcess[str]:
    """``python -m pytest -q`` in the (scikit-learn) project's folder, as its CI runs it, with
    what its requirement files install (tools/skeleton_envs.py); its temporary files (the
    preprocess outputs, the trained model, the report) are kept under ``basetemp``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    python = skeleton_envs.interpreter("sklearn")
    return subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={basetemp}"],
        cwd=folder,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )


@dataclass
class OldProject:
    folder: Path
    tests: subprocess.CompletedProcess[str]
    data: Path  # the project tests' preprocess outputs
    chain: Path  # their model, archive, evaluation report and served model

    @property
    def config(self) -> ProjectConfig:
        entry = config_entry("demo", "sklearn", "binary_classification", ".")
        return parse_config({"projects": yaml.safe_load(entry)}).projects[0]


@pytest.fixture(scope="module")
def old_project(tmp_path_factory: pytest.TempPathFactory) -> OldProject:
    """A scikit-learn binary classification project with the frozen 1.0.0 kit, after its own
    tests ran (they train, evaluate and serve)."""
    root = tmp_path_factory.mktemp("old")
    write_project(root / "demo", "sklearn", "binary_classification", "1.0.0")
    done = run_project_tests(root / "demo", root / "run")
    # Where the project's fixtures (tests/conftest.py, the chain test) put them: pytest's
    # mktemp("data") and mktemp("chain") under --basetemp.
    return OldProject(root / "demo", done, root / "run/data0/output", root / "run/chain0")


def test_an_old_kit_project_passes_its_own_tests(old_project: OldProject) -> None:
    done = old_project.tests
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-2000:]}"
    assert "8 passed" in done.stdout, done.stdout
    for manifest in (
        old_project.folder / "src/mlops_kit/VERSION",
        old_project.chain / "served/code/mlops_kit/VERSION",  # what the endpoint imports
    ):
        assert parse_manifest(manifest.read_text())[0] == "1.0.0"


def test_the_current_gates_read_an_old_kit_projects_report(old_project: OldProject) -> None:
    project = old_project.config
    gate = QualityGate(
        metric=project.gate.metric,
        threshold=project.gate.threshold,
        higher_is_better=project.gate_higher_is_better,
    )
    spec = PipelineSpec(
        name="mlops-dev-demo-training",
        region="us-east-1",
        artifacts_bucket="mlops-dev-demo-artifacts-123456789012",
        input_data_uri="s3://raw/incoming/",
        model_package_group="mlops-dev-demo-models",
        images=PipelineImages(training="t", serving="s", processing="p", platform="p"),
        problem_type=project.problem_type,
        gate=gate,
        serving_columns=project.input_columns,
    )
    value: Any = json.loads((old_project.chain / "evaluation/evaluation.json").read_text())
    for key in spec.gate_json_path.split("."):  # the QualityGate step's JsonGet
        value = value[key]
    assert isinstance(value, float) and value >= gate.threshold  # ConditionGreaterThanOrEqualTo
    champion = lambda_handler("champion_handler", "champion")
    request = champion.parse_event({"challenger": value, "execution_id": "exec-1"})
    assert request.challenger == value


def _serve(served: Path, requests: list[tuple[str, str]]) -> list[str]:
    """The served model's four functions on ``requests``, from the model archive alone."""
    script = (
        "import json, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import inference\n"
        "model = inference.model_fn(sys.argv[2])\n"
        "for content_type, body in json.loads(sys.stdin.read()):\n"
        "    features = inference.input_fn(body, content_type)\n"
        "    print(inference.output_fn(inference.predict_fn(features, model), '*/*')[0])\n"
    )
    done = subprocess.run(
        [
            skeleton_envs.interpreter("sklearn"),
            "-I",
            "-c",
            script,
            str(served / "code"),
            str(served),
        ],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def _capture_line(content_type: str, body: str, response: str, index: int) -> str:
    """One SageMaker data-capture record of a request and its response."""
    encoded = base64.b64encode(body.encode()).decode() if index % 2 else body
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": content_type,
                    "mode": "INPUT",
                    "data": encoded,
                    "encoding": "BASE64" if index % 2 else content_type.split("/")[1].upper(),
                },
                "endpointOutput": {
                    "observedContentType": "application/json",
                    "mode": "OUTPUT",
                    "data": response,
                    "encoding": "JSON",
                },
            },
            "eventMetadata": {"eventId": f"event-{index}", "inferenceTime": "2025-01-01T00:00:00Z"},
            "eventVersion": "0",
        }
    )


def test_the_current_staging_test_and_monitoring_read_an_old_kit_projects_serving(
    old_project: OldProject,
) -> None:
    project = old_project.config
    columns = tuple(project.input_columns)
    requests: list[tuple[str, str]] = [
        (p.content_type, p.body) for p in project.deploy.test_payloads
    ]
    requests.append(("text/csv", ",".join(columns) + "\n120,35.5,4,,a\n900,12.0,0,-1.2,c\n"))
    responses = _serve(old_project.chain / "served", requests)
    staging = lambda_handler("endpoint_test_handler", "endpoint_test")
    contract = staging.load_contract(
        {
            "RESPONSE_CONTRACT": json.dumps(
                {
                    "problem_type": project.problem_type,
                    "prediction_field": project.serving.prediction_field,
                    "probability_field": project.serving.probability_field,
                    "classes": list(project.serving.classes) or None,
                    "input_columns": list(columns),
                }
            )
        }
    )
    monitoring = _load("kit_platform_monitoring", MONITORING)
    settings = monitoring.QualitySettings(
        problem_type=project.problem_type,
        prediction_field=project.serving.prediction_field,
        probability_field=project.serving.probability_field,
    )
    for index, ((content_type, body), response) in enumerate(zip(requests, responses, strict=True)):
        rows = staging.count_rows(content_type, body, f"payload {index}", columns)
        assert staging.check_response(f"payload {index}", response.encode(), rows, contract) is None
        capture = monitoring.parse_capture(
            _capture_line(content_type, body, response, index), columns
        )
        assert len(capture.rows) == len(capture.predictions) == rows
        assert all(row.cells is not None and row.error is None for row in capture.rows)
        for prediction in capture.predictions:
            predicted, score = monitoring.prediction_value(prediction, settings)
            assert predicted in (0, 1) and score is not None and 0.0 <= score <= 1.0
    statistics = monitoring.baseline_statistics(old_project.data / "baseline", columns)
    manifest = json.loads((old_project.data / "manifest/manifest.json").read_text())
    assert statistics["row_count"] == manifest["rows"]["train"] > 0
    assert set(statistics["features"]) == set(columns)
    with (old_project.data / "labelled/labelled.csv").open(newline="") as handle:
        labelled = list(csv.reader(handle))
    assert len(labelled) == manifest["rows"]["test"] and {r[-1] for r in labelled} == {"0", "1"}


# --------------------------------------------------------------------------------------------
# mlops upgrade-project


@dataclass
class Result:
    code: int
    out: str
    err: str


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    """``mlops argv`` in-process: exit code, stdout and stderr."""
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return Result(code, captured.out, captured.err)


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def vendored(folder: Path) -> dict[str, str]:
    return {name: data.decode() for name, data in tree(folder / "src" / PACKAGE).items()}


@pytest.mark.parametrize("installed", frozen_versions())
def test_upgrade_project_check_upgrade_and_again(
    installed: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "demo"
    write_project(folder, "sklearn", "regression", installed)
    before = tree(folder)
    checked = cli(capsys, "upgrade-project", str(folder), "--check")
    assert checked.code == 1 and not checked.err
    assert checked.out.startswith(
        f"{folder}: mlops-kit {installed} -> {CURRENT} is available; what "
    )
    # The CHANGELOG entries after the installed version, newest first.
    newer = [v for v in reversed(VERSIONS) if version_key(v) > version_key(installed)]
    assert re.findall(r"^  ## (\S+)$", checked.out, flags=re.M) == newer
    assert ("validate_report" in checked.out) == (installed == "1.0.0")  # 1.1.0's entry
    assert "mlops_kit.pipeline" in checked.out  # 1.2.0's entry
    assert tree(folder) == before  # --check only reports
    upgraded = cli(capsys, "upgrade-project", str(folder))
    assert upgraded.code == 0 and not upgraded.err
    assert upgraded.out.startswith(
        f"upgraded {folder}/src/mlops_kit from mlops-kit {installed} to {CURRENT}; what "
        f"changed:\n  ## {CURRENT}\n"
    )
    assert vendored(folder) == kit_files()
    after = tree(folder)
    assert {k: v for k, v in after.items() if PACKAGE not in k} == {
        k: v for k, v in before.items() if PACKAGE not in k
    }
    assert sorted(p.name for p in (folder / "src").iterdir() if p.name.startswith(".")) == []
    # Again: nothing to do, nothing changed; a CRLF checkout of the kit is no local edit.
    init = folder / "src/mlops_kit/__init__.py"
    init.write_bytes(init.read_bytes().replace(b"\n", b"\r\n"))
    for argv in (["--check"], []):
        again = cli(capsys, "upgrade-project", str(folder), *argv)
        assert (again.code, again.err) == (0, "")
        assert (
            again.out == f"{folder}: mlops-kit {CURRENT} is current; the platform's is {CURRENT}\n"
        )
    assert tree(folder) == {**after, "src/mlops_kit/__init__.py": init.read_bytes()}


def test_an_upgraded_project_passes_its_own_tests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "demo"
    write_project(folder, "sklearn", "multiclass_classification", "1.0.0")
    assert cli(capsys, "upgrade-project", str(folder)).code == 0
    done = run_project_tests(folder, tmp_path / "run")
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-2000:]}"
    assert "8 passed" in done.stdout, done.stdout
    served = tmp_path / "run/chain0/served/code/mlops_kit/VERSION"
    assert parse_manifest(served.read_text())[0] == CURRENT


def _edit(folder: Path) -> None:
    kit_dir = folder / "src" / PACKAGE
    (kit_dir / "serving.py").write_text((kit_dir / "serving.py").read_text() + "# mine\n")
    (kit_dir / "outputs.py").unlink()
    (kit_dir / "notes.py").write_text("")
    (kit_dir / "__pycache__").mkdir()
    (kit_dir / "__pycache__" / "serving.cpython-311.pyc").write_bytes(b"\0")  # not an edit


def _manifest_version(version: str) -> Any:
    def change(folder: Path) -> None:
        manifest = folder / "src" / PACKAGE / "VERSION"
        text = manifest.read_text()
        manifest.write_text(re.sub(r"^mlops-kit \S+", f"mlops-kit {version}", text))

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda folder: shutil.rmtree(folder),
            "mlops: {folder} is not a folder: give the project's folder",
        ),
        (
            lambda folder: shutil.rmtree(folder / "src" / PACKAGE),
            "mlops: {folder} is not a model project with the platform's kit (no "
            "src/mlops_kit/VERSION). Fix: give the folder mlops new-project wrote",
        ),
        (
            lambda folder: (folder / "src/mlops_kit/VERSION").write_text("kit 1\n"),
            "mlops: {folder}/src/mlops_kit/VERSION is not a kit manifest: its first line is not "
            '"mlops-kit X.Y.Z". Fix: restore it (git checkout)',
        ),
        (
            _edit,
            "mlops: {folder}/src/mlops_kit was changed locally (notes.py added, outputs.py "
            "missing, serving.py edited): an upgrade would overwrite it. Fix: move your code out "
            "of src/mlops_kit/ (it is the platform's), restore its files (git checkout -- "
            "src/mlops_kit), then rerun",
        ),
        (
            _manifest_version("2.0.0"),
            f"mlops: {{folder}} has mlops-kit 2.0.0, a newer major version than this platform's "
            f"{CURRENT}: the platform may not read its outputs. Fix: upgrade the platform",
        ),
    ],
    ids=["missing", "not-a-project", "bad-manifest", "edited", "newer-major"],
)
def test_upgrade_project_refuses_in_one_sentence(
    change: Any, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "demo"
    write_project(folder, "sklearn", "regression", "1.0.0")
    change(folder)
    before = tree(folder) if folder.exists() else {}
    for argv in ([], ["--check"]):
        refused = cli(capsys, "upgrade-project", str(folder), *argv)
        assert refused.code == 2 and not refused.out
        assert refused.err.startswith(message.format(folder=folder)), refused.err
        assert len(refused.err.strip().splitlines()) == 1
        assert (tree(folder) if folder.exists() else {}) == before


def test_a_newer_minor_version_is_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "demo"
    write_project(folder, "sklearn", "regression", CURRENT)
    _manifest_version("1.9.0")(folder)
    before = tree(folder)
    for argv in ([], ["--check"]):
        result = cli(capsys, "upgrade-project", str(folder), *argv)
        assert (result.code, result.err) == (0, "")
        assert result.out == (
            f"{folder}: mlops-kit 1.9.0 is current (newer than the platform's: nothing to do); "
            f"the platform's is {CURRENT}\n"
        )
    assert tree(folder) == before


def test_upgrade_project_imports_neither_cdk_nor_sagemaker(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    write_project(folder, "sklearn", "regression", "1.0.0")
    script = (
        "import sys\n"
        "from mlops_cli.main import main\n"
        "code = main(['upgrade-project', sys.argv[1]])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('aws_cdk', 'jsii', 'sagemaker', 'numpy'))\n"
        "print(code, heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.splitlines()[-1] == "0 []"
    assert vendored(folder) == kit_files()


def test_upgrade_project_is_listed_and_needs_a_path(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "upgrade-project" in capsys.readouterr().out
    result = cli(capsys, "upgrade-project")
    assert result.code == 2
    assert result.err.startswith("mlops: the following arguments are required: path")
