"""Readers of synthesized templates, cfn-lint, checkov, and loaders of Lambda handlers, shared by
the test modules."""

from __future__ import annotations

import functools
import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.conftest import Synthesized
from tests.workers import Worker

ROOT = Path(__file__).resolve().parent.parent
CFN_LINT = Path(sys.executable).parent / "cfn-lint"
# checkov pins its own boto3 and cfn-lint, so it lives in a venv of its own (Makefile).
CHECKOV_VENV = ROOT / ".venv-checkov" / "bin"
CHECKOV_ENV = {"BC_SKIP_MAPPING": "TRUE", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}


@functools.cache
def _cfn_lint_rules() -> Any:
    """cfn-lint's rules as its command line loads them (no options but the format): loaded once
    per test process, as one ``cfn-lint`` run loads them once for all its templates."""
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    return Runner(ConfigMixIn(["--format", "parseable"])).rules


def cfn_lint(templates: Iterable[Path | str]) -> str:
    """cfn-lint's findings over ``templates``: errors and warnings (its informational rules are
    off unless asked for, as on its command line), one line each in its parseable format, sorted
    as its command line sorts them; "" when every template is clean.

    In this process, through the runner ``cfn-lint --format parseable -- <templates>`` uses
    (its configuration, its rules, each template's own Metadata directives), so a test pays
    cfn-lint's import and rule loading once per session instead of once per call (about 1.5 s).
    The findings are the command line's, byte for byte (tests/test_cfn_lint_in_process.py).
    """
    from cfnlint.config import ConfigMixIn
    from cfnlint.formatters import ParseableFormatter
    from cfnlint.runner.template.runner import run_template_by_file_paths

    paths = [str(t) for t in templates]
    if not paths:  # cfn-lint would read a template from stdin
        raise ValueError("cfn_lint: no templates")
    config = ConfigMixIn(["--format", "parseable", "--", *paths])
    rules = _cfn_lint_rules()
    matches = sorted(
        run_template_by_file_paths(config, rules),
        key=lambda m: (m.filename, m.linenumber, m.rule.id),
    )
    return ParseableFormatter().print_matches(matches, rules, config=config) or ""


def cfn_lint_command(templates: Iterable[Path | str]) -> tuple[int, str]:
    """The exit code and standard output of cfn-lint's command line over ``templates``, in a
    process of its own: what :func:`cfn_lint` stands for."""
    done = subprocess.run(
        [str(CFN_LINT), "--format", "parseable", "--", *map(str, templates)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done.returncode, done.stdout


# This test process's checkov (tests/checkov_worker.py), started at its first use.
_CHECKOV = Worker(
    "checkov's worker",
    [str(CHECKOV_VENV / "python"), str(ROOT / "tests" / "checkov_worker.py")],
    env=CHECKOV_ENV,
)


def checkov(arguments: Sequence[str]) -> tuple[int, str]:
    """The exit code and standard output of ``checkov <arguments>``, from one checkov process
    per test process: its start-up (about 3.5 s of CPU) is paid once, and its JSONPath parser's
    tables (about 4.5 s per run) are built once, not once per call
    (tests/checkov_worker.py). The answers are the command line's (tests/test_checkov_worker.py)."""
    answer = _CHECKOV.ask(list(arguments))
    if answer["rc"] not in (0, 1):
        raise RuntimeError(f"checkov failed ({answer['rc']}): {answer['stderr'][-2000:]}")
    return answer["rc"], answer["stdout"]


def checkov_command(arguments: Sequence[str]) -> tuple[int, str]:
    """The exit code and standard output of checkov's command line, in a process of its own:
    what :func:`checkov` stands for."""
    done = subprocess.run(
        [str(CHECKOV_VENV / "checkov"), *arguments],
        capture_output=True,
        text=True,
        env=CHECKOV_ENV,
        timeout=300,
        check=False,
    )
    return done.returncode, done.stdout


def balanced_parts(paths: Sequence[Path], count: int) -> list[list[Path]]:
    """``paths`` in ``count`` parts of about the same total size, each in the order given: a
    linter's time follows the size of what it reads, so each part is a test of about the same
    length. The same paths always give the same parts."""
    size = {path: path.stat().st_size for path in paths}
    parts: list[list[Path]] = [[] for _ in range(count)]
    sizes = [0] * count
    for path in sorted(paths, key=lambda p: (-size[p], str(p))):
        lightest = sizes.index(min(sizes))
        parts[lightest].append(path)
        sizes[lightest] += size[path]
    order = {path: index for index, path in enumerate(paths)}
    return [sorted(part, key=order.__getitem__) for part in parts]


def endpoint_template(synth: Synthesized, name: str) -> dict[str, Any]:
    """A template the deploy pipeline deploys (shipped in the deploy stack's asset), by name."""
    matches = sorted(synth.outdir.glob(f"asset.*/{name}.template.json"))
    assert len(matches) == 1, matches
    template: dict[str, Any] = json.loads(matches[0].read_text())
    return template


def policy_statements(resources: dict[str, Any], role_name: str) -> list[dict[str, Any]]:
    """The statements of every inline policy attached to the role named ``role_name``."""
    role_id = next(
        k
        for k, v in resources.items()
        if v["Type"] == "AWS::IAM::Role" and v["Properties"].get("RoleName") == role_name
    )
    return [
        s
        for v in resources.values()
        if v["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in v["Properties"]["Roles"]
        for s in v["Properties"]["PolicyDocument"]["Statement"]
    ]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def load_handler(function: str) -> ModuleType:
    """``lambda/<function>/handler.py`` under the name its own tests use
    (``<function>_handler``), with the shared layer on the path."""
    layer = str(ROOT / "lambda" / "_shared" / "python")
    if layer not in sys.path:
        sys.path.append(layer)
    name = f"{function}_handler"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, ROOT / "lambda" / function / "handler.py"
        )
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def sagemaker_pipeline(resources: dict[str, Any], suffix: str = "-training") -> dict[str, Any]:
    """The properties of the one ``AWS::SageMaker::Pipeline`` named ``*<suffix>`` (a build
    stack also holds ``<prefix>-import`` when its project imports models)."""
    [pipeline] = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::SageMaker::Pipeline"
        and r["Properties"]["PipelineName"].endswith(suffix)
    ]
    properties: dict[str, Any] = pipeline
    return properties


def pipeline_steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every step of a SageMaker Pipeline definition by name, those of condition branches
    (nested ones too) included."""
    found: dict[str, dict[str, Any]] = {}

    def walk(steps: list[dict[str, Any]]) -> None:
        for step in steps:
            found[step["Name"]] = step
            if step["Type"] == "Condition":
                for branch in ("IfSteps", "ElseSteps"):
                    walk(step["Arguments"][branch])

    walk(definition["Steps"])
    return found


def flat_arn(value: Any) -> str:
    """An ARN as written in the template: Fn::Join parts and pseudo-parameters resolved."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(flat_arn(p) for p in parts)
    if isinstance(value, dict) and "Fn::Sub" in value:
        return str(value["Fn::Sub"]).replace("${AWS::Partition}", "aws")
    if value == {"Ref": "AWS::Partition"}:
        return "aws"
    if isinstance(value, dict) and "Fn::Select" in value:  # a part of an ARN
        index, split = value["Fn::Select"]
        separator, whole = split["Fn::Split"]
        return flat_arn(whole).split(str(separator))[int(index)]
    return json.dumps(value, sort_keys=True)
