"""``mlops upgrade-project``: bring a model project's vendored kit to the platform's version.

    mlops upgrade-project PATH [--check]

What a project shares with the platform (the evaluation report, the serving contract, the
preprocess outputs the platform reads) is the kit, ``mlops_kit`` (``kit/`` in this repository,
docs/decisions/0015-project-kit.md). The SageMaker jobs run with network isolation and get the
project's ``src/`` only, so ``mlops new-project`` does not install it: it vendors it into
``src/mlops_kit/`` with a manifest, ``src/mlops_kit/VERSION``: the version, then the SHA-256 of
each vendored file (``sha256sum -c`` format), so that local edits are seen.

This command reads that manifest and replaces ``src/mlops_kit/`` with the platform's current
version, printing the CHANGELOG entries in between; ``--check`` only reports (exit 1 when an
upgrade is available, 0 when the project is current). It refuses, with one sentence and exit 2, a
folder that is not a project with the kit, a kit whose files were edited (named), and a kit of a
newer major version than the platform's. Running it twice changes nothing the second time.

The vendoring itself (:func:`kit_files`) is shared with ``mlops new-project``. Standard library
only: the command never imports the CDK or the SageMaker SDK.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
from pathlib import Path
from typing import Any

from mlops_cli.context import Context
from mlops_cli.errors import CliError

KIT = Path(__file__).resolve().parent.parent / "kit"
PACKAGE = "mlops_kit"
MANIFEST = "VERSION"
NAME = "mlops-kit"
_VERSION = re.compile(r'^__version__ = "(\d+\.\d+\.\d+)"$', re.M)
_SEMVER = re.compile(r"\d+\.\d+\.\d+")
_DIGEST_LINE = re.compile(r"([0-9a-f]{64})  (\S+)")
MANIFEST_NOTE = (
    "# The MLOps platform's project kit (kit/ in the platform repository), vendored: do not edit\n"
    "# these files. `mlops upgrade-project <project>` replaces this folder with the platform's\n"
    "# current version and refuses while a file below no longer has its SHA-256.\n"
)


# --------------------------------------------------------------------------------------------
# Versions and the vendored files


def version_key(version: str) -> tuple[int, int, int]:
    major, minor, patch = (int(part) for part in version.split("."))
    return major, minor, patch


def kit_source(version: str | None = None) -> Path:
    """The kit's package folder: the current one (``version`` None or the current version's),
    or a frozen earlier ``version``."""
    if version is None or version == source_version(KIT / PACKAGE):
        return KIT / PACKAGE
    return KIT / "versions" / version / PACKAGE


def source_version(source: Path) -> str:
    """The ``__version__`` of the kit package at ``source``."""
    found = _VERSION.search((source / "__init__.py").read_text(encoding="utf-8"))
    if found is None:
        raise RuntimeError(f'{source}/__init__.py: no __version__ = "X.Y.Z"')
    return found.group(1)


def current_version() -> str:
    """The version ``mlops new-project`` vendors and ``mlops upgrade-project`` upgrades to."""
    return source_version(kit_source())


def frozen_versions() -> list[str]:
    """The earlier versions kept in ``kit/versions/`` (for the compatibility tests), oldest first."""
    folders = (KIT / "versions").glob(f"*/{PACKAGE}/__init__.py")
    return sorted((p.parents[1].name for p in folders), key=version_key)


def digest(data: bytes) -> str:
    """SHA-256 of a vendored file's bytes, line ends normalised (a CRLF checkout is no edit)."""
    return hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest()


def manifest_text(version: str, files: dict[str, str]) -> str:
    lines = [f"{NAME} {version}\n", MANIFEST_NOTE]
    lines += [f"{digest(text.encode('utf-8'))}  {name}\n" for name, text in sorted(files.items())]
    return "".join(lines)


def kit_files(version: str | None = None) -> dict[str, str]:
    """The files of ``src/mlops_kit/`` (path inside it -> text, sorted), the manifest included:
    the current version, or a frozen earlier ``version``."""
    source = kit_source(version)
    files = {
        path.relative_to(source).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(source.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    files[MANIFEST] = manifest_text(source_version(source), files)
    return dict(sorted(files.items()))


def parse_manifest(text: str) -> tuple[str, dict[str, str]]:
    """(version, file -> SHA-256) of a manifest; ValueError saying what is wrong."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    head = lines[0].split() if lines else []
    if len(head) != 2 or head[0] != NAME or not _SEMVER.fullmatch(head[1]):
        raise ValueError(f'its first line is not "{NAME} X.Y.Z"')
    files = {}
    for line in lines[1:]:
        found = _DIGEST_LINE.fullmatch(line.strip())
        if found is None:
            raise ValueError(f"{line.strip()!r} is not a SHA-256 and a file name")
        files[found.group(2)] = found.group(1)
    return head[1], files


# --------------------------------------------------------------------------------------------
# The project


def read_project(project: Path) -> tuple[str, dict[str, str]]:
    """The vendored kit's version and file digests; refuses a folder that is not a project."""
    if not project.is_dir():
        raise CliError(f"{project} is not a folder: give the project's folder", code=2)
    manifest = project / "src" / PACKAGE / MANIFEST
    if not manifest.is_file():
        raise CliError(
            f"{project} is not a model project with the platform's kit (no src/{PACKAGE}/"
            f"{MANIFEST}). Fix: give the folder mlops new-project wrote (the one with src/)",
            code=2,
        )
    try:
        return parse_manifest(manifest.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise CliError(
            f"{manifest} is not a kit manifest: {error}. Fix: restore it (git checkout)", code=2
        ) from None


def local_edits(vendored: Path, listed: dict[str, str]) -> list[str]:
    """The vendored files that differ from the manifest: edited, missing or added."""
    present = {
        path.relative_to(vendored).as_posix()
        for path in vendored.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    } - {MANIFEST}
    edits = [f"{name} added" for name in sorted(present - set(listed))]
    for name, expected in sorted(listed.items()):
        if name not in present:
            edits.append(f"{name} missing")
        elif digest((vendored / name).read_bytes()) != expected:
            edits.append(f"{name} edited")
    return sorted(edits)


def changelog_entries(installed: str, target: str) -> list[str]:
    """The lines of kit/CHANGELOG.md's sections after ``installed`` up to ``target``."""
    lines: list[str] = []
    keep = False
    for line in (KIT / "CHANGELOG.md").read_text(encoding="utf-8").splitlines():
        heading = re.fullmatch(r"## (\d+\.\d+\.\d+)\b.*", line)
        if heading:
            version = version_key(heading.group(1))
            keep = version_key(installed) < version <= version_key(target)
        elif line.startswith("## "):
            keep = False
        if keep:
            lines.append(line)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def replace_kit(vendored: Path, files: dict[str, str]) -> None:
    """``vendored`` replaced by ``files``: written next to it first, then swapped in."""
    staging = vendored.with_name(f".{PACKAGE}.new")
    retired = vendored.with_name(f".{PACKAGE}.old")
    for leftover in (staging, retired):
        shutil.rmtree(leftover, ignore_errors=True)
    for relative, text in files.items():
        path = staging / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    vendored.rename(retired)
    staging.rename(vendored)
    shutil.rmtree(retired)


# --------------------------------------------------------------------------------------------
# The command


def check_upgradable(project: Path, installed: str, listed: dict[str, str], current: str) -> None:
    """Refuses a kit of a newer major version than the platform's, and a kit edited locally."""
    if version_key(installed)[0] > version_key(current)[0]:
        raise CliError(
            f"{project} has {NAME} {installed}, a newer major version than this platform's "
            f"{current}: the platform may not read its outputs. Fix: upgrade the platform "
            "repository (git pull) before this project",
            code=2,
        )
    edits = local_edits(project / "src" / PACKAGE, listed)
    if edits:
        raise CliError(
            f"{project}/src/{PACKAGE} was changed locally ({', '.join(edits)}): an upgrade "
            f"would overwrite it. Fix: move your code out of src/{PACKAGE}/ (it is the "
            f"platform's), restore its files (git checkout -- src/{PACKAGE}), then rerun",
            code=2,
        )


def run(args: argparse.Namespace, ctx: Context) -> int:
    project = Path(args.path)
    installed, listed = read_project(project)
    current = current_version()
    check_upgradable(project, installed, listed, current)
    if version_key(installed) >= version_key(current):
        newer = " (newer than the platform's: nothing to do)" if installed != current else ""
        ctx.say(f"{project}: {NAME} {installed} is current{newer}; the platform's is {current}")
        return 0
    entries = changelog_entries(installed, current)
    if args.check:
        ctx.say(f"{project}: {NAME} {installed} -> {current} is available; what changed:")
        for line in entries:
            ctx.say(f"  {line}" if line else "")
        ctx.say(f"upgrade with: mlops upgrade-project {project}")
        return 1
    replace_kit(project / "src" / PACKAGE, kit_files())
    ctx.say(f"upgraded {project}/src/{PACKAGE} from {NAME} {installed} to {current}; what changed:")
    for line in entries:
        ctx.say(f"  {line}" if line else "")
    if version_key(installed)[0] < version_key(current)[0]:
        ctx.say("a new major version: change the project's code as the entries above say")
    ctx.say(f"next: run the project's tests (cd {project} && python -m pytest -q), then publish it")
    return 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "upgrade-project",
        help="bring a model project's vendored kit (src/mlops_kit/) to the platform's version",
        description="Replace a model project's src/mlops_kit/ (the kit mlops new-project vendored: "
        "the evaluation report, serving and preprocess outputs the platform reads) with the "
        "platform's current version, and print what changed. Refuses a kit edited locally.",
    )
    parser.add_argument("path", help="the project's folder (the one with src/)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="only report: exit 1 when an upgrade is available, 0 when the project is current",
    )
    parser.set_defaults(run=run)


__all__ = ["current_version", "kit_files", "register"]
