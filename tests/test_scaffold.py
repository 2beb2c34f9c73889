"""``mlops new-project``: the skeletons it writes work, and its configuration entry validates.

- scikit-learn and XGBoost: every problem type's skeleton runs its own tests in a subprocess
  (``python -m pytest -q`` in the skeleton's folder), which generate data, preprocess, train,
  evaluate against the gate and serve the archive, with the python of its framework's
  environment (tools/skeleton_envs.py, built by make install: exactly what the skeleton's
  requirement files install, as the project's CI installs them, ADR 0035).
- PyTorch, TensorFlow, Hugging Face (too heavy to install here): checked at synthesis level:
  the entry validates with the platform's loader and the training pipeline definition builds
  offline from it (``build_definition``/``resolve_images``, no CDK synthesis).
- The command itself: printed and appended entries load, same inputs give the same bytes,
  ruff passes on the generated code, bad input is one sentence and exit 2.
- The kit: every skeleton vendors the platform's current kit (src/mlops_kit/, with its VERSION
  manifest) and keeps no copy of what it holds (tests/test_kit.py tests the kit itself, an old
  version of it against the current platform, and ``mlops upgrade-project``).
- ``--pipeline custom`` (the project owns its training pipeline): the standard skeleton plus
  pipeline/definition.py, the Features step and their tests, the entry's ``build.pipeline:
  custom``; the scikit-learn regression one passes its own tests, which build the definition
  with the SDK through mlops_kit.pipeline, and every framework's module builds (one process,
  the CI's command's function) with the framework's images. Without the option the files are
  the standard skeleton's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_cli.main import main
from mlops_cli.scaffold import CUSTOM, FRAMEWORKS, PROBLEMS, config_entry, skeleton_files
from mlops_cli.upgrade import current_version, kit_files, parse_manifest
from mlops_constructs.training.definition import (
    EntryPoints,
    PipelineSpec,
    QualityGate,
    build_definition,
    resolve_images,
)
from stacks.config import ProjectConfig, load_config, parse_config
from tools import skeleton_envs

REPO = Path(__file__).resolve().parents[1]
RUFF = Path(sys.executable).parent / "ruff"
LIGHT = [name for name, framework in FRAMEWORKS.items() if framework.trains_here]
HEAVY = [name for name, framework in FRAMEWORKS.items() if not framework.trains_here]


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONFIG", raising=False)
    return tmp_path


def _entry_config(
    framework: str, problem: str, name: str = "demo", pipeline: str = "standard"
) -> ProjectConfig:
    entry = config_entry(name, framework, problem, f"projects/{name}", pipeline)
    return parse_config({"projects": yaml.safe_load(entry)}).projects[0]


# --------------------------------------------------------------------------------------------
# The skeletons


def _write(folder: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)


def _run_skeleton_tests(
    folder: Path, python: str, *selection: str
) -> subprocess.CompletedProcess[str]:
    """The skeleton's own tests in ``folder`` run by ``python`` (``selection``: pytest's
    arguments choosing some)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *selection],
        cwd=folder,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )


# The light skeleton whose tests run with its own pipeline (--pipeline custom), and its tests
# that build the pipeline's definition with the SDK: run by a test of their own, so that neither
# test takes 10 s (together they took 7.7-11.2 s, the SDK's import about 3.5 s of it).
CUSTOM_SKELETON = ("sklearn", "regression")
PIPELINE_TESTS = "tests/test_pipeline_definition.py"


def _scaffold(
    capsys: pytest.CaptureFixture[str], folder: Path, framework: str, problem: str
) -> None:
    custom = (framework, problem) == CUSTOM_SKELETON
    code, _, err = cli(
        capsys,
        *("new-project", "demo", "--framework", framework, "--problem", problem),
        *(("--pipeline", "custom") if custom else ()),
        *("--dir", str(folder)),
    )
    assert code == 0, err


def _passed(done: subprocess.CompletedProcess[str], count: int) -> None:
    where = f"{done.args}:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}"
    assert done.returncode == 0, where
    assert f"{count} passed" in done.stdout and "skipped" not in done.stdout, where


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("framework", LIGHT)
def test_light_skeletons_pass_their_own_tests(
    framework: str, problem: str, in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each problem type's skeleton trains, evaluates (gate passed) and serves for real: one
    skeleton per test (make test already runs two pytest processes, one per core).
    scikit-learn regression is scaffolded with its own pipeline (CUSTOM_SKELETON): here the
    standard tests (its standard files are the standard skeleton's, byte for byte: tested
    above) and the Features step's; its pipeline's tests below."""
    folder = in_tmp / f"{framework}-{problem}"
    _scaffold(capsys, folder, framework, problem)
    python = skeleton_envs.interpreter(framework)
    if (framework, problem) == CUSTOM_SKELETON:
        _passed(_run_skeleton_tests(folder, python, f"--ignore={PIPELINE_TESTS}"), 10)
    else:
        _passed(_run_skeleton_tests(folder, python), 8)


def test_the_custom_skeletons_pipeline_tests_pass(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CUSTOM_SKELETON's pipeline tests, which build the definition with the SDK: in the
    platform's venv, which has it (the skeleton's requirements-dev.txt adds it)."""
    folder = in_tmp / "custom-pipeline"
    _scaffold(capsys, folder, *CUSTOM_SKELETON)
    _passed(_run_skeleton_tests(folder, sys.executable, PIPELINE_TESTS), 3)


@pytest.mark.parametrize("framework", HEAVY)
def test_heavy_skeletons_validate_and_build_their_pipeline_offline(framework: str) -> None:
    """Synthesis level: the entry loads, its images resolve and the pipeline definition builds,
    with the gate reading the section the skeleton's evaluate.py writes."""
    for problem in PROBLEMS:
        project = _entry_config(framework, problem)
        fw = project.framework
        assert fw is not None and fw.name == framework
        images = resolve_images(
            region="us-east-1",
            framework=fw.name,
            version=fw.version,
            py_version=fw.py_version,
            base_framework=fw.base_framework,
            training_instance_type=project.build.training_instance_type,
            serving_instance_type=project.deploy.production.instance_type,
        )
        spec = PipelineSpec(
            name="mlops-dev-demo-training",
            region="us-east-1",
            role_arn="arn:aws:iam::123456789012:role/r",
            artifacts_bucket="mlops-dev-demo-artifacts-123456789012",
            input_data_uri="s3://raw/incoming/",
            model_package_group="mlops-dev-demo-models",
            images=images,
            entry_points=EntryPoints(**project.entry_points.model_dump()),
            problem_type=project.problem_type,
            gate=QualityGate(
                metric=project.gate.metric,
                threshold=project.gate.threshold,
                higher_is_better=project.gate_higher_is_better,
            ),
            training_instance_type=project.build.training_instance_type,
            hyperparameters=dict(project.build.hyperparameters),
            serving_columns=project.input_columns,
        )
        definition = json.loads(build_definition(spec))
        steps = {step["Name"]: step for step in definition["Steps"]}
        assert images.training in json.dumps(steps["Train"])
        files = skeleton_files("demo", framework, problem, "projects/demo")
        section = f"{problem}_metrics"
        assert spec.gate_json_path == f"{section}.{project.gate.metric}.value"
        assert f'SECTION = section("{problem}")' in files["src/demo_metrics.py"]
        assert "checked at synthesis level only" in files["README.md"]
        assert "synthesis level only" in files["tests/test_demo_chain.py"]
        model = files["src/demo_model.py"]
        assert f"import {FRAMEWORKS[framework].module}" in model or "from transformers" in model


def test_every_skeleton_keeps_the_contract_and_passes_ruff(tmp_path: Path) -> None:
    for framework in FRAMEWORKS:
        for problem in PROBLEMS:
            for pipeline in ("standard", CUSTOM):
                folder = tmp_path / f"{framework}-{problem}-{pipeline}"
                _write(folder, skeleton_files("abcdefghijkl", framework, problem, ".", pipeline))
                inference = (folder / "src/inference.py").read_text()
                for function in ("model_fn", "input_fn", "predict_fn", "output_fn"):
                    assert f"\ndef {function}(" in inference
                text = "".join(p.read_text() for p in folder.rglob("*") if p.is_file())
                assert "%%" not in text
    for args in (["check", "--no-cache", "."], ["format", "--check", "--no-cache", "."]):
        for folder in sorted(tmp_path.iterdir()):  # each with its own ruff.toml, as CI runs it
            done = subprocess.run([RUFF, *args], cwd=folder, capture_output=True, text=True)
            assert done.returncode == 0, f"{folder.name}: {done.stdout}{done.stderr}"


def test_every_skeleton_vendors_the_current_kit_and_keeps_no_copy_of_it() -> None:
    kit = kit_files()
    version, digests = parse_manifest(kit["VERSION"])
    assert version == current_version() and set(digests) == set(kit) - {"VERSION"}
    for framework in FRAMEWORKS:
        for problem in PROBLEMS:
            files = skeleton_files("demo", framework, problem, ".")
            assert {
                k[len("src/mlops_kit/") :]: v for k, v in files.items() if "mlops_kit/" in k
            } == kit
            assert '"mlops_kit",' in files["src/demo_model.py"]  # train.py copies it to code/
            assert "src/mlops_kit/VERSION" in files["README.md"]
            code = "".join(
                text
                for name, text in files.items()
                if name.startswith("src/") and "mlops_kit/" not in name
            )
            for copy in ("json.dumps(report", "unsupported content type", "def sha256_file"):
                assert copy not in code, f"{framework}/{problem} carries its own {copy!r}"


def test_requirements_pin_what_the_repository_pins(tmp_path: Path) -> None:
    def pins(path: Path) -> set[str]:
        lines = path.read_text().splitlines()
        return {line for line in lines if line and not line.startswith("#")}

    repository = pins(REPO / "ml/requirements.txt") | pins(
        REPO / "projects/demand/requirements.txt"
    )
    dev = pins(REPO / "ml/requirements-dev.txt")
    for framework in FRAMEWORKS:
        files = skeleton_files("demo", framework, "regression", ".")
        skeleton = {line for line in files["requirements.txt"].splitlines() if line[:1].isalpha()}
        assert skeleton and skeleton <= repository, skeleton - repository
        assert {line for line in files["requirements-dev.txt"].splitlines() if "==" in line} == dev


# --------------------------------------------------------------------------------------------
# The command


def test_the_printed_entry_loads_with_the_platform_loader(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(
        capsys,
        "new-project",
        "fraud2",
        "--framework",
        "xgboost",
        "--problem",
        "multiclass_classification",
    )
    assert code == 0 and not err
    assert (in_tmp / "projects/fraud2/src/train.py").is_file()
    entry = out[out.index("  # XGBoost") : out.index("\nnext:")]
    config = parse_config({"projects": yaml.safe_load(entry)})
    project = config.project("fraud2")
    assert project.source.path == "projects/fraud2"
    assert project.serving.classes == ("low", "medium", "high")
    assert (project.gate.metric, project.framework and project.framework.name) == (
        "weighted_f1",
        "xgboost",
    )


def test_write_config_appends_and_the_result_loads(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = in_tmp / "platform.yaml"
    original = (REPO / "config/example.yaml").read_text()
    config.write_text(original)
    code, out, err = cli(
        capsys,
        "new-project",
        "sales",
        "--framework",
        "sklearn",
        "--problem",
        "regression",
        "--write-config",
        str(config),
    )
    assert code == 0, err
    assert "appended project sales" in out
    text = config.read_text()
    assert text.startswith(original)  # appended: comments and order kept
    loaded = load_config(config)
    assert [p.name for p in loaded.projects] == ["churn", "demand", "fraud", "sales"]
    assert loaded.project("sales").source.path == "projects/sales"
    # A new file gets a projects: list with the one project.
    fresh = in_tmp / "new.yaml"
    code, _, err = cli(
        capsys,
        "new-project",
        "other",
        "--framework",
        "pytorch",
        "--problem",
        "binary_classification",
        "--write-config",
        str(fresh),
    )
    assert code == 0, err
    assert [p.name for p in load_config(fresh).projects] == ["other"]


def test_same_inputs_same_bytes(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trees = []
    for folder in ("one", "two"):
        code, _, err = cli(
            capsys,
            "new-project",
            "same",
            "--framework",
            "tensorflow",
            "--problem",
            "regression",
            "--dir",
            folder,
        )
        assert code == 0, err
        root = in_tmp / folder
        trees.append(
            {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
        )
    assert trees[0] == trees[1] and len(trees[0]) == 18 + len(kit_files())
    assert skeleton_files("same", "xgboost", "regression", ".") == skeleton_files(
        "same", "xgboost", "regression", "."
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["new-project", "demo", "--framework", "keras", "--problem", "regression"],
            "mlops: unknown framework 'keras': use one of sklearn, xgboost, pytorch, tensorflow, "
            "huggingface",
        ),
        (
            ["new-project", "demo", "--framework", "sklearn", "--problem", "ranking"],
            "mlops: unknown problem type 'ranking': use one of binary_classification, "
            "multiclass_classification, regression",
        ),
        (
            ["new-project", "Demo-1", "--framework", "sklearn", "--problem", "regression"],
            "mlops: invalid project name: 'Demo-1' is not a project name. Fix: use 2-12 "
            "lowercase letters and digits",
        ),
        (
            ["new-project", "abcdefghijklm", "--framework", "sklearn", "--problem", "regression"],
            "mlops: invalid project name: 'abcdefghijklm' is not a project name.",
        ),
        (
            ["new-project", "churn", "--framework", "xgboost", "--problem", "regression"],
            "mlops: project 'churn' already exists in the built-in default configuration: choose "
            "another name (taken: churn)",
        ),
        (
            [
                "--config",
                str(REPO / "config/example.yaml"),
                "new-project",
                "demand",
                "--framework",
                "sklearn",
                "--problem",
                "regression",
            ],
            "mlops: project 'demand' already exists in",
        ),
        (
            [
                "new-project",
                "demo",
                "--framework",
                "sklearn",
                "--problem",
                "regression",
                "--dir",
                "taken",
            ],
            "mlops: taken exists and is not empty: choose another --dir, or pass --force-dir",
        ),
        (
            ["new-project", "demo", "--framework", "sklearn"],
            "mlops: the following arguments are required: --problem",
        ),
        (
            [
                *("new-project", "demo", "--framework", "sklearn", "--problem", "regression"),
                *("--pipeline", "own"),
            ],
            "mlops: unknown pipeline 'own': use one of standard, custom",
        ),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(
    argv: list[str], message: str, in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "taken").mkdir()
    (in_tmp / "taken" / "notes.txt").write_text("mine")
    code, _, err = cli(capsys, *argv)
    assert code == 2
    assert err.startswith(message), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (in_tmp / "projects").exists()  # nothing written
    assert (in_tmp / "taken" / "notes.txt").read_text() == "mine"


def test_existing_folder_with_force_dir_and_a_name_taken_in_write_config(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = in_tmp / "projects" / "demo"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("kept")
    code, _, err = cli(
        capsys,
        "new-project",
        "demo",
        "--framework",
        "sklearn",
        "--problem",
        "regression",
        "--force-dir",
    )
    assert code == 0, err
    assert (folder / "notes.txt").read_text() == "kept" and (folder / "src/train.py").is_file()
    config = in_tmp / "platform.yaml"
    config.write_text((REPO / "config/example.yaml").read_text())
    before = config.read_bytes()
    code, _, err = cli(
        capsys,
        "new-project",
        "fraud",
        "--framework",
        "sklearn",
        "--problem",
        "regression",
        "--dir",
        "x",
        "--write-config",
        str(config),
    )
    assert code == 2 and err.startswith("mlops: project 'fraud' already exists in ")
    assert config.read_bytes() == before and not (in_tmp / "x").exists()


# --------------------------------------------------------------------------------------------
# A pipeline the team owns (--pipeline custom)

CUSTOM_FILES = {
    "pipeline/definition.py",
    "src/features.py",
    "tests/test_features.py",
    "tests/test_pipeline_definition.py",
}


def test_a_custom_pipeline_adds_its_module_and_sets_the_entry() -> None:
    for framework in FRAMEWORKS:
        for problem in PROBLEMS:
            standard = skeleton_files("demo", framework, problem, ".")
            custom = skeleton_files("demo", framework, problem, ".", CUSTOM)
            assert set(custom) - set(standard) == CUSTOM_FILES and set(standard) <= set(custom)
            changed = {k for k in standard if standard[k] != custom[k]}
            assert changed == {"README.md", "requirements-dev.txt"}
            assert custom["requirements-dev.txt"].endswith("\nsagemaker>=2.257,<3\n")
            readme = custom["README.md"]
            assert "## The training pipeline: `pipeline/definition.py`" in readme
            assert "PendingManualApproval" in readme and "TriggerReason" in readme
            module = custom["pipeline/definition.py"]
            hyperparameters = FRAMEWORKS[framework].hyperparameters
            assert f"HYPERPARAMETERS = {json.dumps(hyperparameters)}\n" in module
            assert "from demo_schema import INPUT_COLUMNS" in module
            project = _entry_config(framework, problem, pipeline=CUSTOM)
            assert (project.build.pipeline, project.build.pipeline_module) == (
                "custom",
                "pipeline/definition.py",
            )
            # The module holds the hyperparameters: the entry has none the platform would pass.
            assert project.build.hyperparameters == {}
            expected = FRAMEWORKS[framework].training_instance_type or "ml.m5.large"
            assert project.build.training_instance_type == expected
    entry = config_entry("demo", "sklearn", "regression", ".", CUSTOM)
    assert "    build:\n      pipeline: custom  # pipeline/definition.py builds it" in entry


def test_new_project_with_a_custom_pipeline_writes_it_and_appends_its_entry(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = in_tmp / "platform.yaml"
    config.write_text((REPO / "config/example.yaml").read_text())
    code, out, err = cli(
        capsys,
        "new-project",
        "sales",
        "--framework",
        "xgboost",
        "--problem",
        "binary_classification",
        "--pipeline",
        "custom",
        "--write-config",
        str(config),
    )
    assert code == 0, err
    assert "(XGBoost 1.7-1, binary_classification, its own training pipeline)" in out
    assert "  pipeline/definition.py\n" in out and "python -m mlops_kit.pipeline" in out
    folder = in_tmp / "projects/sales"
    assert {p for p in CUSTOM_FILES if (folder / p).is_file()} == CUSTOM_FILES
    assert load_config(config).project("sales").build.pipeline == "custom"
    # --pipeline standard is the default: the standard skeleton, byte for byte.
    code, out, err = cli(
        capsys,
        *("new-project", "plain", "--framework", "xgboost", "--problem", "regression"),
        *("--pipeline", "standard", "--dir", "plain"),
    )
    assert code == 0, err
    written = {
        p.relative_to(in_tmp / "plain").as_posix(): p.read_text()
        for p in (in_tmp / "plain").rglob("*")
        if p.is_file()
    }
    assert written == skeleton_files("plain", "xgboost", "regression", "plain")
    assert "pipeline:" not in out


BUILD_ALL = """
import dataclasses, json, sys
from types import MappingProxyType

for job in json.loads(sys.argv[1]):
    sys.path.insert(0, job["src"])
    from mlops_kit.pipeline import PipelineContext, main

    sample = PipelineContext.sample(job["name"], problem_type=job["problem"])
    context = dataclasses.replace(
        sample, images=MappingProxyType(job["images"]), training_instance_type=job["training"]
    )
    with open(job["context"], "w") as handle:
        handle.write(context.to_json())
    argv = ["--module", job["module"], "--out", job["out"], "--context-file", job["context"]]
    if main(argv) != 0:
        sys.exit(1)
"""


def _steps(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = {}
    for step in steps:
        found[step["Name"]] = step
        for branch in ("IfSteps", "ElseSteps"):
            found.update(_steps(step["Arguments"].get(branch, [])))
    return found


def test_every_frameworks_custom_pipeline_builds_with_its_images(tmp_path: Path) -> None:
    """Each framework's module (every problem type among them) built by mlops_kit.pipeline
    with its project's images, in one process (the SDK is imported once)."""
    jobs: list[dict[str, Any]] = []
    for index, framework in enumerate(FRAMEWORKS):
        problem = list(PROBLEMS)[index % len(PROBLEMS)]
        name, folder = f"p{index}", tmp_path / framework
        _write(folder, skeleton_files(f"p{index}", framework, problem, ".", CUSTOM))
        project = _entry_config(framework, problem, name, CUSTOM)
        fw = project.framework
        assert fw is not None
        images = resolve_images(
            region="eu-west-1",
            framework=fw.name,
            version=fw.version,
            py_version=fw.py_version,
            base_framework=fw.base_framework,
            training_instance_type=project.build.training_instance_type,
            serving_instance_type=project.deploy.production.instance_type,
        )
        jobs.append(
            {
                "name": name,
                "problem": problem,
                "src": str(folder / "src"),
                "module": str(folder / "pipeline/definition.py"),
                "context": str(folder / "context.json"),
                "out": str(folder / "definition.json"),
                "training": project.build.training_instance_type,
                "images": {
                    "training": images.training,
                    "serving": images.serving,
                    "processing": images.processing,
                    "platform": images.platform,
                },
            }
        )
    done = subprocess.run(
        [sys.executable, "-c", BUILD_ALL, json.dumps(jobs)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for job, framework in zip(jobs, FRAMEWORKS, strict=True):
        steps = _steps(json.loads(Path(job["out"]).read_text())["Steps"])
        uris: dict[str, str] = job["images"]
        train = steps["Train"]["Arguments"]
        assert train["AlgorithmSpecification"]["TrainingImage"] == uris["training"]
        assert train["ResourceConfig"]["InstanceType"] == job["training"]
        for key, value in FRAMEWORKS[framework].hyperparameters.items():
            assert train["HyperParameters"][key] == json.dumps(value)
        for step, image in (
            ("Preprocess", "processing"),
            ("Features", "processing"),
            ("MonitoringBaseline", "platform"),
            ("Evaluate", "training"),
        ):
            assert steps[step]["Arguments"]["AppSpecification"]["ImageUri"] == uris[image]
        register = steps["Register-RegisterModel"]["Arguments"]["InferenceSpecification"]
        assert register["Containers"][0]["Image"] == uris["serving"]
        challenger = steps["Champion"]["Arguments"]["challenger"]["Std:JsonGet"]["Path"]
        assert challenger.startswith(f"{job['problem']}_metrics.")
