"""tools/mypy_overlay.py: mypy reads aws-cdk-lib's packages without their type-checking-only
imports of every submodule (ADR 0030), and nothing else about them changes."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

from tools import mypy_overlay
from tools.mypy_overlay import MARKER, OverlayError, Stub, stubs, without_block, write

INSTALLED = Path(importlib.util.find_spec("aws_cdk").origin or "").parent  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def installed() -> dict[str, Stub]:
    return {stub.module: stub for stub in stubs()}


def test_the_root_stub_leaves_out_exactly_the_imports_of_every_submodule(
    installed: dict[str, Stub],
) -> None:
    """The block imported every module aws-cdk-lib loads lazily (its _SUBMODULES), and the stub
    is the module's statements but that one ``if``."""
    source = (INSTALLED / "__init__.py").read_text()
    before = ast.parse(source).body
    lazy = next(
        node.value
        for node in before
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "_SUBMODULES" for t in node.targets)
    )
    stub = installed["aws_cdk"]
    assert set(stub.submodules) == set(ast.literal_eval(lazy)) and len(stub.submodules) > 300
    (block,) = [
        node
        for node in before
        if isinstance(node, ast.If)
        and ast.unparse(node.test) == "typing.TYPE_CHECKING"
        and any(isinstance(s, ast.ImportFrom) and s.level == 1 for s in node.body)
    ]
    assert len(block.body) == 1 + len(stub.submodules)  # pass, then the imports
    kept = [node for node in before if node is not block]
    after = ast.parse(stub.text).body
    assert [type(node).__name__ for node in after] == [type(node).__name__ for node in kept]
    # The stub has a header line; the block had two comment lines, its ``if`` and its body.
    shift = 2 + len(block.body)
    assert [n.lineno for n in after[-5:]] == [n.lineno - shift for n in kept[-5:]]


def test_every_stub_is_its_package_without_the_block(installed: dict[str, Stub]) -> None:
    assert (
        "aws_cdk.interfaces" in installed and len(installed["aws_cdk.interfaces"].submodules) > 300
    )
    for module, stub in installed.items():
        source = INSTALLED.parent.joinpath(*module.split("."), "__init__.py").read_text()
        assert MARKER in source and MARKER not in stub.text, module
        assert stub.text.startswith(f"# {module} of aws-cdk-lib "), module
        body = stub.text.split("\n", 1)[1]
        assert len(body) < len(source) and all(line in source for line in body.splitlines()[:50]), (
            module
        )


def _package(root: Path, init: str, submodules: tuple[str, ...] = ("aws_s3", "aws_iam")) -> Path:
    package = root / "aws_cdk"
    for name in submodules:
        (package / name).mkdir(parents=True)
        (package / name / "__init__.py").write_text("")
    (package / "__init__.py").write_text(init)
    return package


BLOCK = MARKER + "    from . import aws_s3 as aws_s3\n    from . import aws_iam as aws_iam\n"


def test_a_package_tree_gets_its_stub(tmp_path: Path) -> None:
    package = _package(tmp_path, "import typing\nX = 1\n" + BLOCK + "\nY = 2\n")
    (found,) = stubs(package)
    assert found.module == "aws_cdk" and found.submodules == ("aws_s3", "aws_iam")
    assert found.text.endswith("import typing\nX = 1\n\nY = 2\n")


@pytest.mark.parametrize(
    ("init", "message"),
    [
        ("X = 1\n", "aws_cdk: jsii's type-checking-only block was not found"),
        (BLOCK + BLOCK, "aws_cdk: jsii's type-checking-only block was not found once"),
        (
            MARKER + "    from . import aws_s3 as s3\n",
            "the block imports 'from . import aws_s3 as s3'",
        ),
        (
            MARKER + "    from . import aws_ec2 as aws_ec2\n",
            "imports 'from . import aws_ec2 as aws_ec2'",
        ),
        (MARKER + "    import os\n", "the type-checking-only block imports nothing"),
    ],
)
def test_a_block_it_does_not_know_is_an_error(tmp_path: Path, init: str, message: str) -> None:
    with pytest.raises(OverlayError, match=re.escape(message)):
        stubs(_package(tmp_path, "import typing\n" + init))


def test_without_block_keeps_what_follows_the_imports() -> None:
    text, names = without_block("m", f"a\n{BLOCK}    x = 1\n", {"aws_s3", "aws_iam"})
    assert names == ("aws_s3", "aws_iam") and text == "a\n    x = 1\n"


def test_stubs_are_written_once_rewritten_when_changed_and_removed_when_gone(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "overlay"
    first = [Stub("aws_cdk", "one", ("a",)), Stub("aws_cdk.interfaces", "two", ("b",))]
    assert write(folder, first) == [
        folder / "aws_cdk" / "__init__.pyi",
        folder / "aws_cdk" / "interfaces" / "__init__.pyi",
    ]
    assert write(folder, first) == []  # unchanged: mypy's cache stays valid
    assert write(folder, [Stub("aws_cdk", "uno", ("a",))]) == [folder / "aws_cdk" / "__init__.pyi"]
    assert (folder / "aws_cdk" / "__init__.pyi").read_text() == "uno"
    assert not (folder / "aws_cdk" / "interfaces" / "__init__.pyi").exists()


def test_the_command_writes_the_installed_stubs(
    tmp_path: Path, installed: dict[str, Stub], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mypy_overlay, "stubs", lambda: list(installed.values()))
    assert mypy_overlay.main([str(tmp_path)]) == 0
    assert sorted(
        p.relative_to(tmp_path).parent.as_posix() for p in tmp_path.rglob("*.pyi")
    ) == sorted(m.replace(".", "/") for m in installed)


def test_an_unknown_block_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def fail() -> list[Stub]:
        raise OverlayError("aws_cdk: jsii's type-checking-only block was not found")

    monkeypatch.setattr(mypy_overlay, "stubs", fail)
    assert mypy_overlay.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        "mypy overlay: aws_cdk: jsii's type-checking-only block was not found; "
        "see tools/mypy_overlay.py\n"
    )
    assert mypy_overlay.main([]) == 2 and "usage:" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
