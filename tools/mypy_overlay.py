"""aws-cdk-lib's packages as mypy should read them: without their blocks of imports for type
checkers only (docs/decisions/0030-mypy-reads-aws-cdk-lib-without-its-import-everything-blocks.md).

Usage::

    python -m tools.mypy_overlay .mypy_cache/overlay     # what `make typecheck` runs first
    MYPYPATH=.mypy_cache/overlay mypy

jsii writes, at the end of ``aws_cdk/__init__.py``, an ``if typing.TYPE_CHECKING:`` block that
imports every one of its 350-odd service modules (``aws_cdk.interfaces`` has one for its 316
modules, and a few service packages one for their ``mixins``). At run time the block is skipped
and the modules load lazily; mypy takes it as true and so reads, and type-checks, all of
aws-cdk-lib whatever the platform imports: about 60 s of a cold ``mypy`` run of 101 s.

This tool writes, for each package ``__init__.py`` of the installed aws-cdk-lib that has such a
block, the same module without it, as a stub (``__init__.pyi``) under the folder given. Put first
on mypy's search path, those stubs are read instead of the packages' ``__init__.py``, and every
other module is read from the installed package, as before. mypy then reads the modules the
platform imports and what they import, nothing else. The one difference: ``aws_cdk.aws_s3``
without an import of it would be an error (at run time it loads on first use); the platform
imports every module it uses.

Each stub starts with the aws-cdk-lib version and the SHA-256 of the module it comes from, and is
rewritten only when those change (mypy's cache stays valid across runs). A block that is not
where jsii writes it, or that holds anything but submodule imports, is an error: the tool names
the module and exits 2, rather than give mypy a module changed in a way nobody checked.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

MARKER = (
    "# Type-checking-only imports for static analyzers (pyright/mypy).\n"
    "# At runtime TYPE_CHECKING is False, preserving lazy loading.\n"
    "if typing.TYPE_CHECKING:\n"
    "    pass\n"
)
"""How jsii opens the block (aws-cdk-lib 2.2xx): two comment lines, the condition, ``pass``."""
IMPORT = "    from . import "
PACKAGE = "aws_cdk"


class OverlayError(Exception):
    """A package's block is not the one this tool knows how to leave out."""


@dataclass(frozen=True)
class Stub:
    module: str  # "aws_cdk.interfaces"
    text: str  # the stub's content, header included
    submodules: tuple[str, ...]  # what the block left out imported


def without_block(module: str, source: str, submodules: set[str]) -> tuple[str, tuple[str, ...]]:
    """``source`` without its type-checking-only block, and the submodules the block imported.
    Every line of the block must be ``from . import <name> as <name>`` for a submodule of the
    package (``submodules``): anything else is an OverlayError."""
    if source.count(MARKER) != 1:
        raise OverlayError(f"{module}: jsii's type-checking-only block was not found once")
    start = source.index(MARKER)
    end = start + len(MARKER)
    names: list[str] = []
    while source.startswith(IMPORT, end):
        line_end = source.index("\n", end)
        name, _, alias = source[end + len(IMPORT) : line_end].partition(" as ")
        if name != alias or name not in submodules:
            raise OverlayError(f"{module}: the block imports {source[end:line_end].strip()!r}")
        names.append(name)
        end = line_end + 1
    if not names:
        raise OverlayError(f"{module}: the type-checking-only block imports nothing")
    return source[:start] + source[end:], tuple(names)


def _submodules(folder: Path) -> set[str]:
    return {p.parent.name for p in folder.glob("*/__init__.py")}


def stubs(root: Path | None = None) -> list[Stub]:
    """A stub for every package ``__init__.py`` under aws-cdk-lib's ``root`` (the installed one by
    default) that has a type-checking-only block. Only packages with subpackages can have one."""
    if root is None:
        spec = importlib.util.find_spec(PACKAGE)
        if spec is None or spec.origin is None:
            raise OverlayError("aws-cdk-lib is not installed (make install)")
        root = Path(spec.origin).parent
    version = importlib.metadata.version("aws-cdk-lib")
    found: list[Stub] = []
    for init in sorted([root / "__init__.py", *root.glob("**/*/__init__.py")]):
        submodules = _submodules(init.parent)
        if not submodules:
            continue
        source = init.read_text(encoding="utf-8")
        if MARKER not in source:
            continue
        module = ".".join(init.parent.relative_to(root.parent).parts)
        text, names = without_block(module, source, submodules)
        digest = hashlib.sha256(source.encode()).hexdigest()
        header = (
            f"# {module} of aws-cdk-lib {version} (sha256 {digest}) without its type-checking-only"
            " imports: written by tools/mypy_overlay.py\n"
        )
        found.append(Stub(module, header + text, names))
    if not any(s.module == PACKAGE for s in found):
        raise OverlayError(f"{PACKAGE}: jsii's type-checking-only block was not found")
    return found


def write(folder: Path, found: list[Stub]) -> list[Path]:
    """Writes the stubs under ``folder``, each only if its content changed, and removes stubs of
    packages that no longer have a block. Returns the paths rewritten."""
    written: list[Path] = []
    wanted = {folder.joinpath(*s.module.split("."), "__init__.pyi"): s for s in found}
    for path, stub in wanted.items():
        if path.is_file() and path.read_text(encoding="utf-8") == stub.text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(stub.text, encoding="utf-8")
        written.append(path)
    for path in folder.glob(f"{PACKAGE}/**/__init__.pyi"):
        if path not in wanted:
            path.unlink()
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m tools.mypy_overlay <folder>", file=sys.stderr)
        return 2
    try:
        found = stubs()
    except OverlayError as err:
        print(f"mypy overlay: {err}; see tools/mypy_overlay.py", file=sys.stderr)
        return 2
    write(Path(args[0]), found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
