"""Bring your own model (ADR 0021), offline: a demand model trained ELSEWHERE (its chain, run
here) and packed as a notebook packs it (no code/, or a stale code/ of its own) goes through the
import pipeline's steps in order and comes out servable and gated: CheckImport (the real handler,
the construct's environment, moto) accepts it with the uploaded bytes' SHA-256; Package (the
platform's script) swaps any code/ for the project's src/; Evaluate (evaluate.py on the packaged
archive) gives the original chain's RMSE, within the configured gate; the packaged archive serves
the staging payloads from its own code/. Another framework's model is rejected by the check,
naming both frameworks, and nothing after it runs.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import io
import json
import math
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import boto3
import pytest
from moto import mock_aws

from mlops_constructs.names import IMPORT_MANIFEST, IMPORTS_PREFIX, import_pipeline_name
from stacks.config import load_config
from tests.templates import load_handler

ROOT = Path(__file__).resolve().parents[1]
DEMAND = ROOT / "projects" / "demand"
SRC = DEMAND / "src"
PACKAGE_SCRIPT = ROOT / "constructs/mlops_constructs/assets/imports/package_model.py"
CONFIG = load_config(ROOT / "config" / "example.yaml").project("demand")
REGION = "us-east-1"
PREFIX = "mlops-dev-demand"
ARTIFACTS = f"{PREFIX}-artifacts-123456789012"
FOLDER = f"{IMPORTS_PREFIX}q3/"
MODEL_KEY = f"{FOLDER}model.tar.gz"
MANIFEST_URI = f"s3://{ARTIFACTS}/{FOLDER}{IMPORT_MANIFEST}"
SKLEARN = {"framework": "sklearn", "framework_version": "1.2-1"}
STALE_CODE = {"inference.py": b"raise RuntimeError('stale')\n", "requirements.txt": b"sk==0.1\n"}

# demand's test helpers, imported as its conftest imports them: their folder and src/ APPENDED to
# sys.path (never shadowing another module), and no bytecode written into src/.
for folder in (DEMAND / "tests", SRC):
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
support = importlib.import_module("demand_support")
sys.dont_write_bytecode = writes_bytecode
handler = load_handler("model_import")

assert CONFIG.framework is not None
# The function's environment as ModelImport._function sets it for demand.
ENVIRONMENT = {
    "PIPELINE_NAME": import_pipeline_name(PREFIX),
    "ARTIFACTS_BUCKET": ARTIFACTS,
    "IMPORTS_PREFIX": IMPORTS_PREFIX,
    "CODE_VERSION_PARAMETER": f"/{PREFIX}/ml/code-version",
    "PROJECT": CONFIG.name,
    "MAX_ARTIFACT_BYTES": str(CONFIG.build.model_import.max_artifact_gib * 1024**3),
    "EXPECTED_FRAMEWORK": CONFIG.framework.name,
    "EXPECTED_FRAMEWORK_VERSION": CONFIG.framework.version,
}


@contextmanager
def offline_aws() -> Iterator[tuple[Any, str]]:
    """moto's S3 (the versioned artifacts bucket) and a KMS key's ARN; the function's settings
    in the environment, and moto's fake credentials, nothing of the developer's."""
    with pytest.MonkeyPatch.context() as env, mock_aws():
        for name in ("AWS_PROFILE", "AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", "EXPECTED_IMAGE"):
            env.delenv(name, raising=False)
        env.setenv("AWS_DEFAULT_REGION", REGION)
        for name, value in ENVIRONMENT.items():
            env.setenv(name, value)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=ARTIFACTS)
        s3.put_bucket_versioning(Bucket=ARTIFACTS, VersioningConfiguration={"Status": "Enabled"})
        key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        yield s3, key


def notebook_archive(model_dir: Path, code: dict[str, bytes] | None = None) -> bytes:
    """model.tar.gz as a notebook packs it (tar -czf model.tar.gz -C <model dir> .): the model
    files without train.py's code/, plus ``code`` as a code/ folder of its own if given."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(model_dir, ".", filter=lambda m: None if m.name == "./code" else m)
        for name, data in (code or {}).items():
            info = tarfile.TarInfo(f"./code/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class ImportRun(NamedTuple):
    uploaded: bytes
    check: dict[str, str]  # CheckImport's answer
    steps: tuple[str, ...]  # the steps that ran, in order
    job: Path  # the steps' local folders: import/, model/ (Package's output), evaluation/


def flags(**options: object) -> list[str]:
    """``--model-dir <dir>`` ... of ``model_dir=<dir>`` ..."""
    return [a for k, v in options.items() for a in (f"--{k.replace('_', '-')}", str(v))]


def check_import(aws: tuple[Any, str], archive: bytes, serving: dict[str, str]) -> dict[str, str]:
    """Upload the archive, then its manifest, as `mlops import-model` does (SSE-KMS); the
    CheckImport step's answer."""
    s3, key = aws
    sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key}
    s3.put_object(Bucket=ARTIFACTS, Key=MODEL_KEY, Body=archive, **sse)
    manifest = {"format": 1, "model": "model.tar.gz", **serving, "trained_by": "ana"}
    body = (json.dumps(manifest, indent=2) + "\n").encode()
    s3.put_object(Bucket=ARTIFACTS, Key=f"{FOLDER}{IMPORT_MANIFEST}", Body=body, **sse)
    event = {"manifest_uri": MANIFEST_URI, "code_version": "v7abc", "execution_id": "q3run1"}
    answer: dict[str, str] = handler.handler(event, None)
    return answer


def run_import(
    aws: tuple[Any, str], archive: bytes, serving: dict[str, str], job: Path, test_dir: Path
) -> ImportRun:
    """CheckImport -> ImportAccepted -> Package -> Evaluate, each step on what the one before
    produced, in the step's local folders under ``job``."""
    check = check_import(aws, archive, serving)
    if check["status"] != "ok":  # ImportRejected: a FailStep
        return ImportRun(archive, check, ("CheckImport",), job)
    bucket, key = check["model_uri"].removeprefix("s3://").split("/", 1)
    (job / "import").mkdir(parents=True)
    aws[0].download_file(bucket, key, str(job / "import" / key.rsplit("/", 1)[-1]))
    sha256 = check["artifact_sha256"]
    options = flags(model_dir=job / "import", source=SRC, out=job / "model", expected_sha256=sha256)
    command = [sys.executable, str(PACKAGE_SCRIPT), *options]
    env = {"PYTHONDONTWRITEBYTECODE": "1"}
    support.checked(subprocess.run(command, env=env, capture_output=True, text=True, timeout=120))
    options = flags(model_dir=job / "model", test_dir=test_dir, output_dir=job / "evaluation")
    support.checked(support.run_script("evaluate.py", *options, env={"PYTHONPATH": str(SRC)}))
    return ImportRun(archive, check, ("CheckImport", "Package", "Evaluate"), job)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """demand trained "elsewhere": one chain for the module."""
    return support.run_chain(tmp_path_factory.mktemp("elsewhere"))


@pytest.fixture(scope="module", params=["model-files-only", "stale-code"])
def imported(
    request: pytest.FixtureRequest, chain: Any, tmp_path_factory: pytest.TempPathFactory
) -> ImportRun:
    code = STALE_CODE if request.param == "stale-code" else None
    archive = notebook_archive(chain.model_dir, code)
    with offline_aws() as aws:
        job = tmp_path_factory.mktemp(request.param)
        return run_import(aws, archive, SKLEARN, job, chain.processed_dir / "test")


def archive_files(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


@contextmanager
def served_from(code_dir: Path) -> Iterator[ModuleType]:
    """code/inference.py as the serving toolkit imports it (SAGEMAKER_SUBMIT_DIRECTORY first on
    sys.path), as a unique module whose imports come from code/ too (the project's modules of the
    same names set aside); sys.path and sys.modules are restored afterwards."""
    names, unique = [p.stem for p in code_dir.glob("*.py")], "imported_demand_inference"
    aside = {name: sys.modules.pop(name) for name in names if name in sys.modules}
    sys.path.insert(0, str(code_dir))
    try:
        spec = importlib.util.spec_from_file_location(unique, code_dir / "inference.py")
        assert spec is not None and spec.loader is not None
        sys.modules[unique] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(code_dir))
        for name in [*names, unique]:
            sys.modules.pop(name, None)
        sys.modules.update(aside)


def test_check_accepts_the_foreign_archive(imported: ImportRun) -> None:
    check = imported.check
    assert (check["status"], check["reason"]) == ("ok", "none")
    assert check["model_uri"] == f"s3://{ARTIFACTS}/{MODEL_KEY}"
    assert check["artifact_sha256"] == hashlib.sha256(imported.uploaded).hexdigest()
    assert check["artifact_bytes"] == str(len(imported.uploaded))
    assert check["serving"] == "sklearn 1.2-1"
    assert check["description"] == "model q3 imported into demand (trained by ana)"
    assert imported.steps == ("CheckImport", "Package", "Evaluate")


def test_package_keeps_the_model_and_serves_only_the_projects_code(
    imported: ImportRun, chain: Any
) -> None:
    files = archive_files((imported.job / "model" / "model.tar.gz").read_bytes())
    model = {n: data for n, data in files.items() if not n.startswith("code/")}
    code = {n.removeprefix("code/"): data for n, data in files.items() if n.startswith("code/")}
    assert model == {"demand-model.json": (chain.model_dir / "demand-model.json").read_bytes()}
    published = {
        p.relative_to(SRC).as_posix(): p.read_bytes()
        for p in sorted(SRC.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert code == published
    brought = archive_files(imported.uploaded)  # a stale code/ of the archive is gone:
    assert all(code.get(n[len("./code/") :]) != b for n, b in brought.items() if "code/" in n)


def test_packaged_model_passes_the_gate_as_trained(imported: ImportRun, chain: Any) -> None:
    gate = CONFIG.gate
    assert (gate.metric, gate.direction, gate.threshold) == ("rmse", "lower", 55)
    evaluation = json.loads((imported.job / "evaluation" / "evaluation.json").read_text())
    value = evaluation["regression_metrics"][gate.metric]["value"]
    assert value <= gate.threshold
    assert value == chain.evaluation["regression_metrics"][gate.metric]["value"]


def test_packaged_archive_serves_the_staging_payloads(
    imported: ImportRun, chain: Any, tmp_path: Path
) -> None:
    model_dir = tmp_path / "opt-ml-model"  # what hosting unpacks to /opt/ml/model
    with tarfile.open(imported.job / "model" / "model.tar.gz") as tar:
        if hasattr(tarfile, "data_filter"):  # 3.11.4+: Debian 12's 3.11.2 has no filters
            tar.extractall(model_dir, filter="data")
        else:  # the archive is this test's own
            tar.extractall(model_dir)
    payloads = CONFIG.deploy.test_payloads
    assert [p.content_type for p in payloads] == ["text/csv", "application/json"]
    assert payloads[0].body == "5,21.5,3.49,1,0"
    path, features_module = list(sys.path), sys.modules.get("demand_features")
    with served_from(model_dir / "code") as inference:
        assert Path(inference.load_model.__code__.co_filename).parent == model_dir / "code"
        served = inference.model_fn(str(model_dir))
        trained = inference.model_fn(str(chain.model_dir))  # the model as trained elsewhere
        for payload in payloads:
            features = inference.input_fn(payload.body, payload.content_type)
            body, content_type = inference.output_fn(
                inference.predict_fn(features, served), "application/json"
            )
            assert content_type == "application/json"
            [prediction] = json.loads(body)["predictions"]
            assert math.isfinite(prediction["units_sold"]) and prediction["units_sold"] >= 0
            assert json.loads(body) == inference.predict_fn(features, trained)
    assert sys.path == path and sys.modules.get("demand_features") is features_module
    assert "imported_demand_inference" not in sys.modules


def test_another_frameworks_model_is_rejected_and_nothing_runs(tmp_path: Path) -> None:
    (tmp_path / "xgboost").mkdir()
    (tmp_path / "xgboost" / "xgboost-model").write_bytes(b"a booster")
    archive = notebook_archive(tmp_path / "xgboost")
    xgboost = {"framework": "xgboost", "framework_version": "1.7-1"}
    with offline_aws() as aws:
        run = run_import(aws, archive, xgboost, tmp_path / "job", tmp_path / "test")
    assert run.check["status"] == "rejected"
    assert "xgboost 1.7-1" in run.check["reason"] and "sklearn 1.2-1" in run.check["reason"]
    assert run.check["model_uri"] == run.check["artifact_sha256"] == "none"
    assert run.check["artifact_bytes"] == "0"  # the archive was never read
    assert run.steps == ("CheckImport",)
    assert not (tmp_path / "job").exists()
