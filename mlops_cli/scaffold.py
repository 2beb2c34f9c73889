"""``mlops new-project``: scaffold a working model project for a framework and a problem type.

    mlops new-project NAME --framework F --problem P [--pipeline standard|custom] [--dir PATH]
                      [--write-config FILE] [--force-dir]

It writes a project folder that keeps docs/project-contract.md (preprocess.py, train.py,
evaluate.py, inference.py with the four serving functions, a sample-data generator, tests that
really train on generated data, pinned requirements, pytest.ini, ruff.toml, a README stating the
contract) and prints the ``projects:`` entry of the platform configuration, or appends it to
FILE (``--write-config``) once the whole resulting configuration validates.

The files come from templates under ``mlops_cli/skeletons/`` (real files with ``%%{...}``
placeholders, suffix ``.tmpl``/``.part`` so that the repository's linters skip them):
``common/`` (what every framework shares), ``problems/<problem>/`` (label handling, sample-label
drawing, the evaluation report's metrics) and ``frameworks/<framework>/`` (the model module, the
requirements; TensorFlow Serving's handlers). Same inputs, same bytes.

``--pipeline custom`` (``build.pipeline: custom`` in the entry): the project owns its training
pipeline. ``custom/`` adds ``pipeline/definition.py`` (``build(context)``: the platform's standard
pipeline built with the sagemaker SDK, plus a Features step of the team's own,
``src/features.py``), its tests and the SDK in requirements-dev.txt; the platform's CI builds the
definition with ``python -m mlops_kit.pipeline`` and checks it (docs/project-contract.md, "A
pipeline the team owns"). Without it the files are the standard skeleton's, byte for byte.

What the project shares with the platform (writing the evaluation report, reading requests and
writing responses, the preprocess outputs the platform reads) is not in the templates: it is the
platform's versioned kit (``kit/mlops_kit``), vendored as ``src/mlops_kit/`` with its ``VERSION``
manifest (mlops_cli/upgrade.py, which ``mlops upgrade-project`` uses to replace it later).
"""

from __future__ import annotations

import argparse
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlops_cli.context import Context
from mlops_cli.errors import CliError
from mlops_cli.upgrade import PACKAGE, kit_files
from stacks.config import (
    PROBLEM_METRICS,
    PROBLEM_TYPES,
    ConfigError,
    PlatformConfig,
    ProjectConfig,
    load_config,
    parse_config,
)

SKELETONS = Path(__file__).resolve().parent / "skeletons"
STANDARD, CUSTOM = "standard", "custom"
PIPELINES = (STANDARD, CUSTOM)
"""``build.pipeline``: the platform builds the training pipeline, or the project's module does."""
# What the CI of a custom-pipeline project needs besides the standard skeleton's tools.
SDK_REQUIREMENT = "sagemaker>=2.257,<3"
CUSTOM_README = SKELETONS / CUSTOM / "README.md.part"


class _Template(string.Template):
    """``%%{name}`` placeholders: ``$`` and ``{}`` are common in Python, ``%%`` is not."""

    delimiter = "%%"


@dataclass(frozen=True)
class Framework:
    title: str
    module: str  # what the chain test imports (skipped where it is not installed)
    package: str  # the package the project's requirements would pin
    pin_example: str
    config: dict[str, str]  # the configuration's framework: entry
    hyperparameters: dict[str, str]
    trains_here: bool  # the platform's own tests train it (in .venv-skeletons/, ADR 0035)
    training_instance_type: str | None = None


@dataclass(frozen=True)
class Problem:
    title: str
    gate_metric: str
    gate_threshold: float
    label_type: str
    label_rule: str
    label_example: str
    response_example: str


FRAMEWORKS: dict[str, Framework] = {
    "sklearn": Framework(
        title="scikit-learn 1.2-1",
        module="sklearn",
        package="scikit-learn",
        pin_example="scikit-learn==1.9.1",
        config={"name": "sklearn", "version": "1.2-1", "py_version": "py3"},
        hyperparameters={"alpha": "1.0"},
        trains_here=True,
    ),
    "xgboost": Framework(
        title="XGBoost 1.7-1",
        module="xgboost",
        package="xgboost",
        pin_example="xgboost-cpu==2.1.4",
        config={"name": "xgboost", "version": "1.7-1"},
        hyperparameters={"num_round": "100", "max_depth": "4", "eta": "0.1"},
        trains_here=True,
    ),
    "pytorch": Framework(
        title="PyTorch 2.5",
        module="torch",
        package="torch",
        pin_example="torch==2.5.1",
        config={"name": "pytorch", "version": "2.5", "py_version": "py311"},
        hyperparameters={"epochs": "300", "learning_rate": "0.01", "hidden_units": "32"},
        trains_here=False,
    ),
    "tensorflow": Framework(
        title="TensorFlow 2.16",
        module="tensorflow",
        package="tensorflow",
        pin_example="tensorflow==2.16.1",
        config={"name": "tensorflow", "version": "2.16", "py_version": "py310"},
        hyperparameters={"epochs": "40", "learning_rate": "0.01", "hidden_units": "32"},
        trains_here=False,
    ),
    "huggingface": Framework(
        title="Hugging Face Transformers 4.48 on PyTorch 2.3",
        module="transformers",
        package="transformers and torch",
        pin_example="transformers==4.48.0 and torch==2.3.0",
        config={
            "name": "huggingface",
            "version": "4.48.0",
            "py_version": "py311",
            "base_framework": "pytorch2.3.0",
        },
        hyperparameters={"epochs": "300", "learning_rate": "0.01", "hidden_units": "32"},
        trains_here=False,
        training_instance_type="ml.g5.xlarge",  # its training images are GPU-only
    ),
}
"""The supported frameworks: the two the repository's venv trains, and three it only synthesizes."""

PROBLEMS: dict[str, Problem] = {
    "binary_classification": Problem(
        title="binary classification",
        gate_metric="auc",
        gate_threshold=0.75,
        label_type="int",
        label_rule="0 or 1",
        label_example="1",
        response_example='{"prediction": 1, "probability": 0.912345}',
    ),
    "multiclass_classification": Problem(
        title="multiclass classification",
        gate_metric="weighted_f1",
        gate_threshold=0.6,
        label_type="string",
        label_rule="low, medium or high",
        label_example="low",
        response_example='{"prediction": "high", "probability": 0.812345}',
    ),
    "regression": Problem(
        title="regression",
        gate_metric="r2",
        gate_threshold=0.5,
        label_type="double",
        label_rule="finite number",
        label_example="3.5",
        response_example='{"prediction": 52.123456}',
    ),
}
"""The supported problem types (the platform's), with the gate each skeleton's entry starts with."""

PAYLOADS = (
    ("text/csv", "120,35.5,4,0.3,a"),
    (
        "application/json",
        '{"instances": [{"tenure_days": 900, "amount": 12.0, "visits": 0, "score": null, '
        '"segment": "c"}]}',
    ),
)
"""The staging test's requests in the entry (config-entry.yaml.tmpl), as the chain test sends them."""

REPORT_SECTIONS = {problem: f"{problem}_metrics" for problem in PROBLEM_TYPES}


# --------------------------------------------------------------------------------------------
# Input


def check_choice(kind: str, value: str, valid: tuple[str, ...] | list[str]) -> str:
    if value not in valid:
        raise CliError(f"unknown {kind} {value!r}: use one of {', '.join(valid)}", code=2)
    return value


def check_name(name: str) -> str:
    """The configuration's own rule for a project name (2-12 lowercase letters and digits)."""
    try:
        ProjectConfig._name(name)
    except ValueError as error:
        raise CliError(f"invalid project name: {error}", code=2) from None
    return name


def _one_line(error: ConfigError) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return "; ".join(lines[1:] or lines)


def source_path(folder: Path, name: str) -> str:
    """The entry's source.path: the folder relative to the current directory (the repository
    root CI publishes), else projects/NAME."""
    try:
        relative = folder.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return f"projects/{name}"
    text = relative.as_posix()
    return text if text not in ("", ".") else "."


# --------------------------------------------------------------------------------------------
# Rendering


def _flow(mapping: dict[str, str]) -> str:
    return "{" + ", ".join(f"{key}: {value}" for key, value in mapping.items()) + "}"


def _check_notes(fw: Framework) -> dict[str, str]:
    """How the project is checked: trained in the platform's tests, or at synthesis level only."""
    heavy_note = (
        f"{fw.title} is too heavy for the platform repository's checks: this skeleton is checked "
        "at synthesis level only there (its configuration entry validates and its training "
        "pipeline definition builds, offline). Its data tests run everywhere; the training "
        f"chain test runs once {fw.package} is installed (add the image's version to "
        "requirements.txt)."
    )
    light_note = (
        "the tests train, evaluate and serve the model for real on generated data (the "
        "platform repository runs them for every scaffolded framework and problem type)."
    )
    return {
        "check_note": light_note if fw.trains_here else heavy_note,
        "chain_note": (
            "It runs wherever the framework is installed (CI installs requirements.txt)."
            if fw.trains_here
            else f"The platform repository does not install {fw.package}: there this test is "
            "skipped and the project is checked at synthesis level only."
        ),
        "chain_readme_note": ""
        if fw.trains_here
        else (
            f" Without {fw.package} installed the chain test is skipped: the project is then "
            "checked at synthesis level only."
        ),
    }


def _serving(framework: str, problem: str) -> dict[str, str]:
    """The serving entry's extras and inference.py's framework-specific parts."""
    tensorflow = framework == "tensorflow"
    return {
        "serving_extra": ""
        if problem == "regression"
        else "\n      probability_field: probability"
        + ("\n      classes: [low, medium, high]" if problem.startswith("multiclass") else ""),
        "serving_note": " (+ TF Serving handlers)" if tensorflow else "",
        # TensorFlow Serving's handlers (serving.py.part) need these in inference.py.
        "serving_stdlib": "import json\n" if tensorflow else "",
        "serving_kit": "DataValidationError, serving" if tensorflow else "serving",
    }


def _build_entry(fw: Framework, pipeline: str) -> str:
    """The entry's build: settings (after ``build:``): the hyperparameters the platform passes
    to train.py, or, for a custom pipeline, the setting (its module holds the hyperparameters)."""
    lines = ""
    if pipeline == CUSTOM:
        lines += (
            f"\n      pipeline: {CUSTOM}  # pipeline/definition.py builds it (hyperparameters too)"
        )
    if fw.training_instance_type:
        lines += f"\n      training_instance_type: {fw.training_instance_type}"
    if pipeline != CUSTOM:
        flow = _flow({key: f'"{value}"' for key, value in fw.hyperparameters.items()})
        lines += f"\n      hyperparameters: {flow}"
    return lines


def _custom(fw: Framework, pipeline: str) -> dict[str, str]:
    """What a custom pipeline adds to the standard skeleton's files (nothing for standard)."""
    if pipeline != CUSTOM:
        return dict.fromkeys(
            ("layout_src", "layout_pipeline", "pipeline_tests_note", "dev_extra"), ""
        )
    return {
        "layout_src": "\n  features.py             the Features step of the team's own pipeline",
        "layout_pipeline": "\npipeline/\n  definition.py           build(context): the training "
        "pipeline (sagemaker SDK)",
        "pipeline_tests_note": " `tests/test_features.py` runs the Features step on the "
        "generated splits; `tests/test_pipeline_definition.py` builds the training pipeline "
        'offline as CI does and checks the platform\'s rules (README, "The training pipeline").',
        "dev_extra": "\n# Builds the training pipeline (pipeline/definition.py), in tests and CI.\n"
        + SDK_REQUIREMENT,
        "hyperparameters_dict": "{"
        + ", ".join(f'"{k}": "{v}"' for k, v in fw.hyperparameters.items())
        + "}",
    }


def placeholders(
    name: str, framework: str, problem: str, source: str, pipeline: str = STANDARD
) -> dict[str, str]:
    fw, pb = FRAMEWORKS[framework], PROBLEMS[problem]
    higher = PROBLEM_METRICS[problem][pb.gate_metric]
    section = REPORT_SECTIONS[problem]
    metrics = list(PROBLEM_METRICS[problem])
    return {
        "name": name,
        "framework": framework,
        "problem": problem,
        "framework_title": fw.title,
        "problem_title": pb.title,
        "framework_module": fw.module,
        "framework_package": fw.package,
        "framework_pin_example": fw.pin_example,
        "framework_flow": _flow(
            {k: f'"{v}"' if k == "version" else v for k, v in fw.config.items()}
        ),
        "hyperparameter_usage": " ".join(f"--{k} {v}" for k, v in fw.hyperparameters.items()),
        "build_entry": _build_entry(fw, pipeline),
        **_serving(framework, problem),
        "source_path": source,
        "table_name": f"{name}_records",
        "label_type": pb.label_type,
        "label_rule": pb.label_rule,
        "label_example": pb.label_example,
        "response_example": pb.response_example,
        "input_columns_csv": "tenure_days,amount,visits,score,segment",
        "section": section,
        "metric_list": ", ".join(f"`{m}`" for m in metrics),
        "gate_metric": pb.gate_metric,
        "gate_threshold": repr(pb.gate_threshold),
        "gate_higher": repr(higher),
        "gate_path": f"{section}.{pb.gate_metric}.value",
        "gate_rule": f"{'>=' if higher else '<='} {pb.gate_threshold!r} in the generated entry",
        **_check_notes(fw),
        **_custom(fw, pipeline),
    }


def render(text: str, values: dict[str, str]) -> str:
    try:
        return _Template(text).substitute(values)
    except (KeyError, ValueError) as error:  # a template bug, not the user's input
        raise RuntimeError(f"skeleton template: {error!r}") from None


def skeleton_files(
    name: str, framework: str, problem: str, source: str, pipeline: str = STANDARD
) -> dict[str, str]:
    """Every file of the project (POSIX path -> text), in sorted order."""
    values = placeholders(name, framework, problem, source, pipeline)
    problem_dir, framework_dir = (
        SKELETONS / "problems" / problem,
        SKELETONS / "frameworks" / framework,
    )
    serving = framework_dir / "serving.py.part"
    values = {
        **values,
        "label_part": render((problem_dir / "label.py.part").read_text(), values).rstrip("\n"),
        "draw_part": render((problem_dir / "draw.py.part").read_text(), values).rstrip("\n"),
        "serving_part": render(serving.read_text(), values).rstrip("\n")
        if serving.is_file()
        else "",
        "pipeline_section": "\n\n" + render(CUSTOM_README.read_text(), values).rstrip("\n")
        if pipeline == CUSTOM
        else "",
    }
    sources: dict[str, Path] = {}
    for folder in (SKELETONS / "common", *([SKELETONS / CUSTOM] if pipeline == CUSTOM else [])):
        for path in sorted(folder.rglob("*.tmpl")):
            relative = path.relative_to(folder).as_posix()
            if relative != "config-entry.yaml.tmpl":
                sources[relative.removesuffix(".tmpl").replace("NAME", name)] = path
    sources[f"src/{name}_metrics.py"] = problem_dir / "metrics.py.tmpl"
    sources[f"src/{name}_model.py"] = framework_dir / "model.py.tmpl"
    sources["requirements.txt"] = framework_dir / "requirements.txt.tmpl"
    files = {}
    for relative in sorted(sources):
        text = render(sources[relative].read_text(encoding="utf-8"), values)
        files[relative] = re.sub(r"\n{3,}(?=\Z)", "\n", text.rstrip("\n") + "\n")
    for relative, text in kit_files().items():  # vendored as they are: no placeholders
        files[f"src/{PACKAGE}/{relative}"] = text
    return dict(sorted(files.items()))


def config_entry(
    name: str, framework: str, problem: str, source: str, pipeline: str = STANDARD
) -> str:
    """The ``projects:`` list item (YAML, indented two spaces) for the project."""
    values = placeholders(name, framework, problem, source, pipeline)
    return render((SKELETONS / "common" / "config-entry.yaml.tmpl").read_text(), values)


# --------------------------------------------------------------------------------------------
# The configuration


def _projects_indent(text: str, file: str) -> str:
    """The indentation of the list items of ``projects:``, which must be the file's last
    top-level key and a block list (the entry is appended at its end)."""
    top = [m for m in re.finditer(r"^([A-Za-z_][\w-]*)\s*:(.*)$", text, re.M)]
    if not top or top[-1].group(1) != "projects":
        raise CliError(
            f"{file}: projects: is not the file's last top-level key, so the entry cannot be "
            "appended. Fix: move projects: to the end, or add the printed entry yourself",
            code=2,
        )
    if top[-1].group(2).split("#")[0].strip():
        raise CliError(
            f"{file}: projects: is a flow list, so the entry cannot be appended. Fix: write it "
            "as a block list (- name: ...), or add the printed entry yourself",
            code=2,
        )
    item = re.search(r"^( *)- ", text[top[-1].end() :], re.M)
    return item.group(1) if item else "  "


def _reindent(entry: str, indent: str) -> str:
    return "".join(
        (indent + line[2:] if line.startswith("  ") else line)
        for line in entry.splitlines(keepends=True)
    )


def _validate(data: dict[str, Any], where: str) -> PlatformConfig:
    try:
        return parse_config(data, source=where)
    except ConfigError as error:
        raise CliError(f"{where} with project added: {_one_line(error)}", code=2) from None


def existing_config(path: str | None, what: str) -> tuple[PlatformConfig, str, dict[str, Any]]:
    """The configuration at ``path`` (None: the built-in default): validated, its text, its data."""
    if not path:
        return PlatformConfig(), "", {}
    try:
        config = load_config(path)
    except ConfigError as error:
        raise CliError(f"{what}: {_one_line(error)}", code=2) from None
    text = Path(path).read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    return config, text, data


# --------------------------------------------------------------------------------------------
# The command


def run(args: argparse.Namespace, ctx: Context) -> int:
    framework = check_choice("framework", args.framework, list(FRAMEWORKS))
    problem = check_choice("problem type", args.problem, list(PROBLEMS))
    pipeline = check_choice("pipeline", args.pipeline or STANDARD, PIPELINES)
    name = check_name(args.name)
    folder = Path(args.dir) if args.dir else Path("projects") / name
    write_to: str | None = args.write_config
    target_config = write_to or ctx.config_path
    shown = target_config or "the built-in default configuration"
    text, data = _free_target(name, folder, write_to, target_config, shown, args.force_dir)

    source = source_path(folder, name)
    entry = config_entry(name, framework, problem, source, pipeline)
    appended = _with_entry(entry, write_to, text, data, shown)

    files = skeleton_files(name, framework, problem, source, pipeline)
    fw = FRAMEWORKS[framework]
    owned = ", its own training pipeline" if pipeline == CUSTOM else ""
    _write_skeleton(ctx, folder, files, f"{name} ({fw.title}, {problem}{owned})")
    _place_entry(ctx, name, entry, write_to, appended, shown)
    ctx.say()
    _say_next(ctx, folder, name, fw, pipeline)
    return 0


def _free_target(
    name: str,
    folder: Path,
    write_to: str | None,
    target_config: str | None,
    shown: str,
    force_dir: bool,
) -> tuple[str, dict[str, Any]]:
    """The target configuration's text and data (a new ``--write-config`` FILE: empty), once
    no project there is called ``name`` and ``folder`` is absent, empty or ``force_dir``."""
    existing_names: list[str] = []
    text, data = "", dict[str, Any]()
    if not (write_to and not Path(write_to).exists()):  # a new FILE starts empty
        config, text, data = existing_config(target_config, shown)
        existing_names = [p.name for p in config.projects]
    if name in existing_names:
        raise CliError(
            f"project {name!r} already exists in {shown}: choose another name "
            f"(taken: {', '.join(existing_names)})",
            code=2,
        )
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())) and not force_dir:
        raise CliError(
            f"{folder} exists and is not empty: choose another --dir, or pass --force-dir to "
            "write the skeleton's files into it",
            code=2,
        )
    return text, data


def _with_entry(
    entry: str, write_to: str | None, text: str, data: dict[str, Any], shown: str
) -> str:
    """The configuration with ``entry`` added, validated: with ``write_to``, the file's new text
    (the entry appended at the file's indentation; a new file: ``projects:`` and the entry);
    without, "" (the entry is validated against ``data``, the configuration ``shown``)."""
    item = yaml.safe_load(entry)[0]
    appended = ""
    if write_to and text:
        indent = _projects_indent(text, write_to)
        appended = text + ("" if text.endswith("\n") else "\n") + _reindent(entry, indent)
        _validate(yaml.safe_load(appended), write_to)
    elif write_to:
        appended = "projects:\n" + entry
        _validate(yaml.safe_load(appended), write_to)
    else:
        projects = list(data.get("projects") or []) if data else []
        _validate({**data, "projects": [*projects, item]}, shown)
    return appended


def _write_skeleton(ctx: Context, folder: Path, files: dict[str, str], what: str) -> None:
    """Writes ``files`` into ``folder`` (creating folders) and lists them, as ``what``."""
    for relative, content in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    ctx.say(f"wrote {len(files)} files of project {what} to {folder}/:")
    for relative in files:
        ctx.say(f"  {relative}")


def _place_entry(
    ctx: Context, name: str, entry: str, write_to: str | None, appended: str, shown: str
) -> None:
    """With ``write_to``, writes ``appended`` to it and says so; without, prints ``entry`` to
    add under projects: of the configuration ``shown``."""
    if write_to:
        Path(write_to).write_text(appended, encoding="utf-8")
        ctx.say(f"appended project {name} to projects: of {write_to} (it validates)")
    else:
        ctx.say(f"add this entry under projects: of {shown} (or rerun with --write-config FILE):")
        ctx.say()
        ctx.say(entry.rstrip("\n"))


def _say_next(ctx: Context, folder: Path, name: str, fw: Framework, pipeline: str) -> None:
    """What to do next: run the project's tests, deploy and publish it; a custom pipeline's
    definition file and how CI builds it."""
    checks = (
        "python -m pytest -q trains, evaluates and serves it on generated data"
        if fw.trains_here
        else f"it is checked at synthesis level only until {fw.package} is installed"
    )
    ctx.say(f"next: cd {folder} and run its tests ({checks}); then deploy and mlops publish {name}")
    if pipeline == CUSTOM:
        ctx.say(
            "its training pipeline is pipeline/definition.py: the platform's CI builds it with "
            "PYTHONPATH=src python -m mlops_kit.pipeline and checks every step (README.md, "
            '"The training pipeline")'
        )


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "new-project",
        help="scaffold a working model project and its configuration entry",
        description="Write a model project that keeps docs/project-contract.md for a framework "
        "and a problem type (entry points, sample-data generator, tests that train on it, "
        "pinned requirements, README), and print its projects: entry.",
    )
    parser.add_argument("name", help="the project's name: 2-12 lowercase letters and digits")
    parser.add_argument("--framework", required=True, help=f"one of {', '.join(FRAMEWORKS)}")
    parser.add_argument("--problem", required=True, help=f"one of {', '.join(PROBLEMS)}")
    parser.add_argument(
        "--pipeline",
        default=None,
        help="standard (default): the platform builds the training pipeline from the entry; "
        "custom: the project's pipeline/definition.py builds it with the sagemaker SDK "
        "(build.pipeline: custom)",
    )
    parser.add_argument("--dir", default=None, help="the project's folder (default: projects/NAME)")
    parser.add_argument(
        "--write-config",
        metavar="FILE",
        default=None,
        help="append the entry to projects: of FILE (created if missing) once it validates",
    )
    parser.add_argument(
        "--force-dir",
        action="store_true",
        help="write into an existing, non-empty folder (the skeleton's files are overwritten)",
    )
    parser.set_defaults(run=run)


__all__ = [
    "CUSTOM",
    "FRAMEWORKS",
    "PIPELINES",
    "PROBLEMS",
    "config_entry",
    "register",
    "skeleton_files",
]
