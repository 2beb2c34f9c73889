"""The scripts run in AWS's prebuilt images, not in this interpreter: keep them compatible.

- scikit-learn 1.2-1 image, all steps (preprocess, train, evaluate, serving): Python 3.8/3.9,
  numpy 1.2x, scikit-learn 1.2.1 (train.py only uses it); no network, so nothing can be
  pip-installed at run time.

The tests run on a newer Python, so these checks read the source: Python 3.8 grammar, no
3.9+-only built-in API at run time, and per script, the third-party modules it imports (through
the shared modules too). Module names must not clash with another project's when both src/
folders share a test process. A fresh, isolated interpreter then runs preprocess.py with numpy
alone. (test_demand_inference checks that the model archive serves on its own.)
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from demand_model import SERVING_CODE
from demand_support import GOOD_ROWS, PROJECT_DIR, SRC_DIR, write_raw

SOURCES = sorted(SRC_DIR.glob("*.py"))
LOCAL_MODULES = {p.stem for p in SOURCES}
# The entry points keep the names the platform's contract gives them; every other module of
# src/ (and every helper of tests/) carries the project's prefix, so none can shadow the churn
# example's modules (or be shadowed by them) when both projects' folders are on one sys.path.
ENTRY_POINTS = {"preprocess", "train", "evaluate", "inference", "generate_data"}
PREFIX = "demand_"
# Third-party top-level modules each entry point may import (its local imports included).
ALLOWED_IMPORTS = {
    "preprocess.py": {"numpy"},
    "generate_data.py": {"numpy"},
    "train.py": {"numpy", "sklearn"},
    "evaluate.py": {"numpy"},
    "inference.py": {"numpy"},  # no scikit-learn at serving time: the model is plain JSON
}
# Built-in methods and functions newer than Python 3.8 (or than numpy 1.2x).
NEWER_ATTRIBUTES = {
    "removeprefix",  # 3.9
    "removesuffix",  # 3.9
    "is_relative_to",  # 3.9
    "with_stem",  # 3.9
    "bit_count",  # 3.10
    "BooleanOptionalAction",  # 3.9
    "UTC",  # datetime.UTC, 3.11
    "trapezoid",  # numpy 2.0
}
NEWER_MODULES = {"zoneinfo", "graphlib", "tomllib"}
NEWER_TYPING = {"Annotated", "ParamSpec", "TypeAlias", "TypeGuard", "Self", "Never", "override"}
# `int | None` builds a type only from Python 3.10 on (outside annotations).
BUILTIN_TYPES = {"int", "float", "str", "bytes", "bool", "list", "dict", "tuple", "set", "object"}
# Names that cannot be subscripted at run time on Python 3.8 (fine inside annotations, which
# `from __future__ import annotations` leaves unevaluated).
NOT_SUBSCRIPTABLE = {
    "list",
    "dict",
    "tuple",
    "set",
    "frozenset",
    "type",
    "Callable",
    "Iterable",
    "Iterator",
    "Mapping",
    "Sequence",
}


def _annotation_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes inside annotations (not evaluated at run time)."""
    roots: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign | ast.arg) and node.annotation is not None:
            roots.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
            roots.append(node.returns)
    return {id(n) for root in roots for n in ast.walk(root)}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes inside ``if TYPE_CHECKING:`` blocks."""
    ids: set[int] = set()
    for node in ast.walk(tree):
        test = node.test if isinstance(node, ast.If) else None
        if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
            assert isinstance(node, ast.If)
            ids |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return ids


def _is_type_name(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return node.value is None
    return isinstance(node, ast.Name) and node.id in BUILTIN_TYPES


def _problems(path: Path) -> Iterator[str]:
    source = path.read_text(encoding="utf-8")
    try:
        tree = ast.parse(source, filename=path.name, feature_version=(3, 8))
    except SyntaxError as err:
        yield f"line {err.lineno}: not Python 3.8 syntax: {err.msg}"
        return
    body = tree.body[1:] if ast.get_docstring(tree) else tree.body
    first = body[0] if body else None
    if not (
        isinstance(first, ast.ImportFrom)
        and first.module == "__future__"
        and [a.name for a in first.names] == ["annotations"]
    ):
        yield "the first statement must be `from __future__ import annotations`"
    skip = _annotation_nodes(tree) | _type_checking_nodes(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        line = getattr(node, "lineno", "?")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            function, keywords = node.func.id, {k.arg for k in node.keywords}
            if function == "zip" and "strict" in keywords:
                yield f"line {line}: zip(strict=...) needs Python 3.10"
            if function in ("isinstance", "issubclass") and any(
                isinstance(a, ast.BinOp) for a in node.args[1:]
            ):
                yield f"line {line}: {function}(x, A | B) needs Python 3.10"
            if function == "dataclass":
                for keyword in sorted(
                    str(k) for k in keywords & {"slots", "kw_only", "match_args"}
                ):
                    yield f"line {line}: dataclass({keyword}=...) needs Python 3.10"
        elif isinstance(node, ast.Attribute) and node.attr in NEWER_ATTRIBUTES:
            yield f"line {line}: .{node.attr} is newer than the containers' Python / numpy"
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            if node.value.id in NOT_SUBSCRIPTABLE:
                yield f"line {line}: {node.value.id}[...] outside an annotation needs Python 3.9"
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            if any(_is_type_name(side) for side in (node.left, node.right)):
                yield f"line {line}: X | Y of types outside an annotation needs Python 3.10"
        elif isinstance(node, ast.Import | ast.ImportFrom):
            modules = (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            )
            for module in modules:
                if module and module.split(".")[0] in NEWER_MODULES:
                    yield f"line {line}: module {module} is newer than Python 3.8"
            if isinstance(node, ast.ImportFrom) and node.module == "typing":
                for alias in node.names:
                    if alias.name in NEWER_TYPING:
                        yield f"line {line}: typing.{alias.name} is newer than Python 3.8"


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_the_source_runs_on_python_3_8(path: Path) -> None:
    assert list(_problems(path)) == []


def test_the_compatibility_check_finds_what_it_looks_for(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        textwrap.dedent(
            """
            import json
            from typing import TypeAlias
            X = dict[str, int]
            zip([], [], strict=True)
            isinstance(1, int | float)
            "a".removeprefix("b")
            Number = int | float
            flags = 1 | 2
            def f(x: list[int], y: int | None) -> dict[str, int]: ...
            """
        )
    )
    problems = list(_problems(bad))
    assert len(problems) == 8, problems  # 1 | 2 and the annotations of f are fine
    match = tmp_path / "match.py"
    match.write_text("from __future__ import annotations\nmatch 1:\n    case 1:\n        pass\n")
    (problem,) = _problems(match)
    assert "not Python 3.8 syntax: Pattern matching is only supported" in problem


def _imports(path: Path) -> set[str]:
    """Top-level module names imported anywhere in a file, TYPE_CHECKING blocks excepted."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree)
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names - {"__future__"}


def _closure(entry: str) -> tuple[set[str], set[str]]:
    """(local modules, third-party modules) an entry point imports, transitively."""
    local: set[str] = set()
    third_party: set[str] = set()
    pending = [entry.removesuffix(".py")]
    while pending:
        module = pending.pop()
        if module in local:
            continue
        local.add(module)
        for name in _imports(SRC_DIR / f"{module}.py"):
            if name in LOCAL_MODULES:
                pending.append(name)
            elif name not in sys.stdlib_module_names:
                third_party.add(name)
    return local, third_party


@pytest.mark.parametrize("entry", sorted(ALLOWED_IMPORTS))
def test_each_script_imports_only_what_its_container_has(entry: str) -> None:
    _, third_party = _closure(entry)
    assert third_party <= ALLOWED_IMPORTS[entry]


def test_the_serving_code_is_inference_and_what_it_imports() -> None:
    local, _ = _closure("inference.py")
    assert {f"{m}.py" for m in local} == set(SERVING_CODE)


def test_module_names_cannot_clash_with_another_projects() -> None:
    assert {p.stem for p in SOURCES} - ENTRY_POINTS == {
        p.stem for p in SOURCES if p.stem.startswith(PREFIX)
    }
    assert ENTRY_POINTS <= LOCAL_MODULES
    helpers = {p.stem for p in (PROJECT_DIR / "tests").glob("*.py")} - {"conftest"}
    assert all(name.startswith(("test_demand_", "demand_")) for name in helpers), helpers
    # Nothing in src/ that a container would act on (a requirements.txt would be pip-installed,
    # which fails without network) or that does not belong in the upload.
    others = [p.name for p in SRC_DIR.iterdir() if p.suffix != ".py" and p.name != "__pycache__"]
    assert others == []


def test_the_tests_never_import_an_entry_point_by_its_bare_name() -> None:
    """The churn example's tests import ``evaluate`` etc.: in a shared process, the first
    import of a name wins. These tests load the entry points under names of their own."""
    for path in (PROJECT_DIR / "tests").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        allowed = _type_checking_nodes(tree)  # for mypy only
        for node in ast.walk(tree):
            if id(node) in allowed:
                continue
            if isinstance(node, ast.Import):
                names = {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = {node.module}
            else:
                continue
            assert not names & ENTRY_POINTS, f"{path.name} line {node.lineno}"


PREPROCESS_PROBE = textwrap.dedent(
    """
    import runpy, sys
    src, *argv = sys.argv[1:]
    for blocked in ("sklearn", "joblib", "pandas", "scipy", "xgboost"):
        sys.modules[blocked] = None  # importing it now raises ImportError
    sys.path.insert(0, src)  # the pipeline sets PYTHONPATH=/opt/ml/processing/source
    sys.argv = ["preprocess.py", *argv]
    runpy.run_path(src + "/preprocess.py", run_name="__main__")
    """
)


def test_preprocess_runs_with_numpy_alone(tmp_path: Path) -> None:
    write_raw(tmp_path / "in" / "sales.csv", GOOD_ROWS)
    result = subprocess.run(
        [
            sys.executable,
            "-I",  # no PYTHONPATH, no user site, no current directory on sys.path
            "-B",  # no __pycache__ in src/
            "-c",
            PREPROCESS_PROBE,
            str(SRC_DIR),
            "--input-dir",
            str(tmp_path / "in"),
            "--output-dir",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "manifest" / "manifest.json").is_file()
