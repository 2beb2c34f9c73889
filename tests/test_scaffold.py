"""``mlops new-project``: the skeletons it writes work, and its configuration entry validates.

- scikit-learn and XGBoost (the venv has both): every problem type's skeleton runs its own tests
  in a subprocess (``python -m pytest -q`` in the skeleton's folder), which generate data,
  preprocess, train, evaluate against the gate and serve the archive; two at a time (2 cores).
- PyTorch, TensorFlow, Hugging Face (too heavy to install here): checked at synthesis level:
  the entry validates with the platform's loader and the training pipeline definition builds
  offline from it (``build_definition``/``resolve_images``, no CDK synthesis).
- The command itself: printed and appended entries load, same inputs give the same bytes,
  ruff passes on the generated code, bad input is one sentence and exit 2.
- The kit: every skeleton vendors the platform's current kit (src/mlops_kit/, with its VERSION
  manifest) and keeps no copy of what it holds (tests/test_kit.py tests the kit itself, an old
  version of it against the current platform, and ``mlops upgrade-project``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlops_cli.main import main
from mlops_cli.scaffold import FRAMEWORKS, PROBLEMS, config_entry, skeleton_files
from mlops_cli.upgrade import current_version, kit_files, parse_manifest
from mlops_constructs.build.definition import (
    EntryPoints,
    PipelineSpec,
    QualityGate,
    build_definition,
    resolve_images,
)
from stacks.config import ProjectConfig, load_config, parse_config

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


def _entry_config(framework: str, problem: str, name: str = "demo") -> ProjectConfig:
    entry = config_entry(name, framework, problem, f"projects/{name}")
    return parse_config({"projects": yaml.safe_load(entry)}).projects[0]


# --------------------------------------------------------------------------------------------
# The skeletons


def _run_skeleton_tests(folder: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=folder,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("framework", LIGHT)
def test_light_skeletons_pass_their_own_tests(
    framework: str, problem: str, in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each problem type's skeleton trains, evaluates (gate passed) and serves for real: one
    skeleton per test (make test already runs two pytest processes, one per core)."""
    folder = in_tmp / f"{framework}-{problem}"
    code, _, err = cli(
        capsys,
        "new-project",
        "demo",
        "--framework",
        framework,
        "--problem",
        problem,
        "--dir",
        str(folder),
    )
    assert code == 0, err
    done = _run_skeleton_tests(folder)
    assert done.returncode == 0, f"{folder.name}:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}"
    assert "8 passed" in done.stdout, done.stdout


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
            folder = tmp_path / f"{framework}-{problem}"
            for relative, text in skeleton_files("abcdefghijkl", framework, problem, ".").items():
                (folder / relative).parent.mkdir(parents=True, exist_ok=True)
                (folder / relative).write_text(text)
            inference = (folder / "src/inference.py").read_text()
            for function in ("model_fn", "input_fn", "predict_fn", "output_fn"):
                assert f"\ndef {function}(" in inference
            assert "%%" not in "".join(p.read_text() for p in folder.rglob("*") if p.is_file())
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
