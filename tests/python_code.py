"""What tests read of Python source files: the modules a file imports."""

from __future__ import annotations

import ast


def imported_modules(source: str, *, when_run: bool = False) -> set[str]:
    """The top-level names of the modules ``source`` imports by absolute name, nested imports
    included (``import a.b`` and ``from a.b import c`` give ``a``; relative imports none). With
    ``when_run``, not those under ``if TYPE_CHECKING:``, which never run."""
    tree = ast.parse(source)
    typing_only = (
        {
            id(node)
            for branch in ast.walk(tree)
            if isinstance(branch, ast.If) and getattr(branch.test, "id", None) == "TYPE_CHECKING"
            for statement in branch.body
            for node in ast.walk(statement)
        }
        if when_run
        else set()
    )
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names
