"""What tests read of Python source files: the modules a file imports, and what in a file
Python 3.8 cannot run (the scripts and the kit that run in AWS's framework images)."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator


def _type_checking_blocks(tree: ast.AST) -> list[ast.AST]:
    """The statements of every ``if TYPE_CHECKING:`` block (never run)."""
    return [
        statement
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
        for statement in node.body
    ]


def _within(roots: Iterable[ast.AST]) -> set[int]:
    """ids of ``roots`` and of every node inside them."""
    return {id(node) for root in roots for node in ast.walk(root)}


def imported_modules(source: str, *, when_run: bool = False) -> set[str]:
    """The top-level names of the modules ``source`` imports by absolute name, nested imports
    included (``import a.b`` and ``from a.b import c`` give ``a``; relative imports none). With
    ``when_run``, not those under ``if TYPE_CHECKING:``, which never run."""
    tree = ast.parse(source)
    typing_only = _within(_type_checking_blocks(tree)) if when_run else set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


# Python 3.8 (AWS's framework and processing images): what its grammar and standard library
# lack, for py38_problems; a caller adds the names of its own dependencies' newer API.
NEWER_ATTRIBUTES = frozenset(
    {"removeprefix", "removesuffix", "is_relative_to", "with_stem", "bit_count",
     "BooleanOptionalAction", "UTC", "pairwise"}
)  # fmt: skip
NEWER_MODULES = frozenset({"zoneinfo", "graphlib", "tomllib"})
NEWER_TYPING = frozenset(
    {"Annotated", "ParamSpec", "TypeAlias", "TypeGuard", "Self", "Never", "override"}
)  # fmt: skip
NOT_SUBSCRIPTABLE = frozenset(
    {"list", "dict", "tuple", "set", "frozenset", "type", "Callable", "Iterable", "Iterator",
     "Mapping", "Sequence"}
)  # fmt: skip


def _unevaluated(tree: ast.AST) -> set[int]:
    """ids of the nodes Python does not evaluate: annotations (with `from __future__ import
    annotations`) and `if TYPE_CHECKING:` blocks."""
    roots = _type_checking_blocks(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign | ast.arg) and node.annotation is not None:
            roots.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
            roots.append(node.returns)
    return _within(roots)


def py38_problems(
    source: str,
    *,
    newer_attributes: Iterable[str] = (),
    not_subscriptable: Iterable[str] = (),
    attributes_newer_than: str = "Python 3.8",
) -> Iterator[str]:
    """What in ``source`` Python 3.8 cannot run, one line each: its syntax, APIs newer than
    3.8 (and the caller's ``newer_attributes``, newer than ``attributes_newer_than``), subscripted
    builtins outside annotations (and ``not_subscriptable``); annotations and ``if
    TYPE_CHECKING:`` blocks are not evaluated under ``from __future__ import annotations``,
    which must come first."""
    newer = NEWER_ATTRIBUTES | set(newer_attributes)
    plain = NOT_SUBSCRIPTABLE | set(not_subscriptable)
    try:
        tree = ast.parse(source, feature_version=(3, 8))
    except SyntaxError as err:
        yield f"line {err.lineno}: not Python 3.8 syntax: {err.msg}"
        return
    body = tree.body[1:] if ast.get_docstring(tree) else tree.body
    first = body[0] if body else None
    if not (isinstance(first, ast.ImportFrom) and first.module == "__future__"):
        yield "the first statement must be `from __future__ import annotations`"
    skip = _unevaluated(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        line = getattr(node, "lineno", "?")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "zip" and any(k.arg == "strict" for k in node.keywords):
                yield f"line {line}: zip(strict=...) needs Python 3.10"
            if node.func.id in ("isinstance", "issubclass") and any(
                isinstance(a, ast.BinOp) for a in node.args[1:]
            ):
                yield f"line {line}: isinstance(x, A | B) needs Python 3.10"
            if node.func.id == "dataclass" and any(
                k.arg in ("slots", "kw_only", "match_args") for k in node.keywords
            ):
                yield f"line {line}: dataclass(slots/kw_only/match_args) needs Python 3.10"
        elif isinstance(node, ast.Attribute) and node.attr in newer:
            yield f"line {line}: .{node.attr} is newer than {attributes_newer_than}"
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            if node.value.id in plain:
                yield f"line {line}: {node.value.id}[...] outside an annotation needs Python 3.9"
        elif isinstance(node, ast.Match):
            yield f"line {line}: match needs Python 3.10"
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
