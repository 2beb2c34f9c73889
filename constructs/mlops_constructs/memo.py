"""An on-disk memo for what synthesis computes with the sagemaker SDK: pipeline definitions and
image URIs. An unchanged project then never imports the SDK (seconds per synth: its import,
jumpstart, pandas, scipy) nor rebuilds its definitions.

An entry is keyed by everything its value depends on: the inputs (a spec dataclass, or the
arguments of a lookup), the installed sagemaker SDK's version, the Python version, and the
source of this package (any change to the code that builds a definition misses). An entry holds
its own key and the SHA-256 of its value: a corrupt, truncated or foreign entry is ignored and
rebuilt, so a hit is byte-identical to a fresh build.

Where: ``$MLOPS_SYNTH_CACHE`` (``off`` disables it), else ``$XDG_CACHE_HOME/mlops-platform``,
else ``~/.cache/mlops-platform``. A cache that cannot be written is skipped silently.

No sagemaker import here (nor aws_cdk): this module decides whether the SDK is needed at all.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

FORMAT = 1
PACKAGE = Path(__file__).resolve().parent


def cache_dir() -> Path | None:
    """The memo's folder, or None when ``MLOPS_SYNTH_CACHE=off``."""
    setting = os.environ.get("MLOPS_SYNTH_CACHE", "")
    if setting.lower() in {"off", "0", "false", "no"}:
        return None
    if setting:
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mlops-platform" / "synth"


@cache
def code_digest() -> str:
    """SHA-256 over this package's Python source and asset files (paths and contents)."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.update(str(path.relative_to(PACKAGE)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


@cache
def _sdk_version() -> str:
    try:
        return metadata.version("sagemaker")
    except metadata.PackageNotFoundError:
        return "none"


@cache
def library_versions() -> dict[str, str]:
    """The installed versions of the libraries a synthesized template depends on (the CDK,
    its construct base and the rule packs): part of the key of what a template app builds."""
    versions = {}
    for name in ("aws-cdk-lib", "constructs", "cdk-nag"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "none"
    return versions


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"__type__": type(value).__qualname__, **_plain(dataclasses.asdict(value))}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def memo_key(kind: str, inputs: Any) -> str:
    """The key of ``inputs`` for ``kind``: changes with any input, the SDK, Python or the code."""
    material = {
        "format": FORMAT,
        "kind": kind,
        "inputs": _plain(inputs),
        "sagemaker": _sdk_version(),
        "python": list(sys.version_info[:2]),
        "code": code_digest(),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def _entry(folder: Path, kind: str, key: str) -> Path:
    return folder / f"{kind}-{key[:40]}.json"


def _read(path: Path, kind: str, key: str) -> str | None:
    try:
        entry = json.loads(path.read_text())
        value = entry["value"]
        valid = (
            entry.get("format") == FORMAT
            and entry.get("kind") == kind
            and entry.get("key") == key
            and isinstance(value, str)
            and entry.get("sha256") == hashlib.sha256(value.encode()).hexdigest()
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return value if valid else None


def _write(path: Path, kind: str, key: str, value: str) -> None:
    entry = {
        "format": FORMAT,
        "kind": kind,
        "key": key,
        "sha256": hashlib.sha256(value.encode()).hexdigest(),
        "value": value,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
            json.dump(entry, f)
        os.replace(f.name, path)  # atomic: a reader sees the old entry or the new one
    except OSError:
        return


def empty() -> bool:
    """Whether every value will be computed: the memo is off, or holds no entry yet (a fresh
    clone, a CI machine). ``app.py`` then starts the SDK's process early (sdk_process.py)."""
    folder = cache_dir()
    if folder is None:
        return True
    try:
        return not any(folder.glob("*.json"))
    except OSError:
        return True


def memoized(kind: str, inputs: Any, compute: Callable[[], str]) -> str:
    """``compute()``, or its value from an earlier call with the same key."""
    return memoized_later(kind, inputs, lambda: Later.now(compute())).get()


class Later:
    """A string known now, or asked for now and read when first needed (a value the SDK's
    process computes while the app goes on building: sdk_process.ask)."""

    def __init__(self, read: Callable[[], str]) -> None:
        self._read = read
        self._value: str | None = None

    @classmethod
    def now(cls, value: str) -> Later:
        later = cls(lambda: value)
        later._value = value
        return later

    @property
    def ready(self) -> bool:
        return self._value is not None

    def get(self) -> str:
        if self._value is None:
            self._value = self._read()
        return self._value


def memoized_later(kind: str, inputs: Any, ask: Callable[[], Later]) -> Later:
    """:func:`memoized` for a value that may come later: a hit is known now; a miss is asked
    for now (``ask()``) and written to the memo when first read."""
    folder = cache_dir()
    if folder is None:
        return ask()
    key = memo_key(kind, inputs)
    path = _entry(folder, kind, key)
    hit = _read(path, kind, key)
    if hit is not None:
        return Later.now(hit)
    asked = ask()

    def read() -> str:
        value = asked.get()
        _write(path, kind, key, value)
        return value

    return Later.now(read()) if asked.ready else Later(read)
