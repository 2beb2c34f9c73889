"""The library knows where its functions' code is (mlops_constructs/functions), and its wheel
carries that code (constructs/setup.py).

No synthesis and no jsii: the build runs on a copy of the two folders it reads (constructs/ and
lambda/), so the checkout is left as it was (no build/, no egg-info).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mlops_constructs import functions
from mlops_constructs.functions import (
    FOLDERS,
    FUNCTIONS,
    SHARED_LAYER,
    FunctionName,
    code_in,
    function_code,
)

ROOT = Path(__file__).resolve().parents[2]
LAMBDA = ROOT / "lambda"
# What a function's folder holds besides its code: never shipped.
LEFT_OUT = shutil.ignore_patterns("tests", "conftest.py", "__pycache__", "*.pyc", "*.md")
# Where the wheel holds the bundled copies.
BUNDLE = "mlops_constructs/functions/"


def test_the_library_names_every_function_of_the_checkout() -> None:
    folders = {p.parent.name for p in LAMBDA.glob("*/handler.py")}
    assert sorted(FUNCTIONS) == list(FUNCTIONS) == sorted(folders)
    assert list((LAMBDA / SHARED_LAYER / "python").glob("platform_*.py"))


def test_the_editable_install_runs_the_checkouts_folders() -> None:
    for name in FOLDERS:
        assert function_code(name) == LAMBDA / name


def _folders(root: Path, *names: str) -> Path:
    for name in names:
        (root / name).mkdir(parents=True)
    return root


def test_a_bundled_copy_comes_before_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundled = _folders(tmp_path / "bundled", "champion", SHARED_LAYER)
    source = _folders(tmp_path / "source", "champion", "promote", SHARED_LAYER)
    monkeypatch.setattr(functions, "BUNDLED", bundled)
    monkeypatch.setattr(functions, "SOURCE", source)
    assert function_code("champion") == bundled / "champion"
    assert function_code(SHARED_LAYER) == bundled / SHARED_LAYER
    # One folder missing from the bundle (a partial install): the checkout's.
    assert function_code("promote") == source / "promote"


def test_neither_place_is_one_sentence_naming_both_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(functions, "BUNDLED", tmp_path / "bundled")
    monkeypatch.setattr(functions, "SOURCE", tmp_path / "source")
    with pytest.raises(ValueError) as raised:
        function_code("front_door")
    message = str(raised.value)
    assert str(tmp_path / "bundled" / "front_door") in message
    assert str(tmp_path / "source" / "front_door") in message
    assert "pip install -e ./constructs" in message and "pip wheel" in message
    assert message.endswith(".") and ". " not in message


def test_an_unknown_function_is_refused() -> None:
    with pytest.raises(ValueError, match="'lambda' is not a platform function: one of "):
        function_code("lambda")  # type: ignore[arg-type]


def test_a_forks_folder_of_functions_is_taken_as_it_is(tmp_path: Path) -> None:
    name: FunctionName = "release_check"
    assert code_in(tmp_path, name) == tmp_path / name
    assert code_in(None, name) == function_code(name)


# --- the build --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of what the build reads: constructs/ (without earlier build output) and lambda/."""
    root = tmp_path_factory.mktemp("checkout")
    ignore = shutil.ignore_patterns("build", "*.egg-info", "tests")
    shutil.copytree(ROOT / "constructs", root / "constructs", ignore=ignore)
    shutil.copytree(LAMBDA, root / "lambda")
    return root


def _expected() -> dict[str, bytes]:
    """What the bundle must hold: each shipped folder's files but tests and docs, and the
    module that finds them."""
    expected = {"__init__.py": (ROOT / "constructs" / BUNDLE / "__init__.py").read_bytes()}
    for name in FOLDERS:
        for path in sorted((LAMBDA / name).rglob("*")):
            relative = path.relative_to(LAMBDA)
            if path.is_file() and not LEFT_OUT("", list(relative.parts)):
                expected[str(relative)] = path.read_bytes()
    return expected


def test_the_build_step_bundles_every_function_without_its_tests(
    checkout: Path, tmp_path: Path
) -> None:
    """``build_py`` (what a wheel is made of) copies the functions; no wheel tool needed."""
    build = tmp_path / "lib"
    subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(build)],
        cwd=checkout / "constructs",
        check=True,
        capture_output=True,
    )
    bundle = build / BUNDLE
    built = {str(p.relative_to(bundle)): p.read_bytes() for p in bundle.rglob("*") if p.is_file()}
    assert built == _expected()


def _wheel_tools_missing() -> bool:
    """Whether setuptools here lacks the ``bdist_wheel`` command (setuptools 70.1 has its own;
    before it, the ``wheel`` package adds it)."""
    resolve = (
        "from setuptools.dist import Distribution; Distribution().get_command_class('bdist_wheel')"
    )
    return subprocess.run([sys.executable, "-c", resolve], capture_output=True).returncode != 0


def test_the_wheel_holds_every_function_and_the_shared_layer_and_no_tests(
    checkout: Path, tmp_path: Path
) -> None:
    if _wheel_tools_missing():
        pytest.skip("no bdist_wheel here: wheel<0.45 (for setuptools<70.1) or setuptools>=70.1")
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run(
        [*pip, "-q", "-w", str(tmp_path), str(checkout / "constructs")],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("mlops_constructs-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        bundled = {
            name.removeprefix(BUNDLE): archive.read(name)
            for name in archive.namelist()
            if name.startswith(BUNDLE)
        }
    assert bundled == _expected()
    for name in FUNCTIONS:
        assert f"{name}/handler.py" in bundled
