"""AWS facts the configuration validates against, read offline from installed packages.

* SageMaker instance types per use, from botocore's SageMaker service model (the enums the API
  itself validates against).
* Framework images (xgboost, sklearn, pytorch, tensorflow, huggingface), from the JSON tables the
  sagemaker SDK bundles for ``sagemaker.image_uris.retrieve``. The files are located and read
  without importing ``sagemaker`` (which costs seconds); the checks mirror what ``retrieve``
  accepts, and are stricter where ``retrieve`` would silently pick another image (AWS Neuron
  instances, Graviton instances for training).
* The shape of a bring-your-own-container ECR image URI.

This module must not import ``aws_cdk`` or ``sagemaker``: the config loader calls it before jsii
starts. Every table is read once per process (``functools.cache``); a first call takes a few
tens of milliseconds.

Messages follow the project's style, ``<problem>. Fix: <what to do>``; the caller adds the field
path.
"""

from __future__ import annotations

import difflib
import functools
import gzip
import importlib.util
import json
import re
from pathlib import Path
from typing import Any, Literal, NamedTuple, cast, get_args

InstanceUse = Literal["training", "processing", "hosting", "transform"]
ImageScope = Literal["training", "inference"]

FRAMEWORKS = ("huggingface", "pytorch", "sklearn", "tensorflow", "xgboost")
"""Frameworks whose prebuilt SageMaker images ``framework_problem`` knows."""

SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)
"""The memory sizes a SageMaker serverless endpoint variant may have (MemorySizeInMB)."""

_INSTANCE_SHAPES: dict[InstanceUse, str] = {
    "training": "TrainingInstanceType",
    "processing": "ProcessingInstanceType",
    "hosting": "ProductionVariantInstanceType",
    "transform": "TransformInstanceType",
}
_EXAMPLE_INSTANCE = "ml.m5.large"  # valid for all four uses
_EXAMPLE_GPU_INSTANCE = "ml.g5.xlarge"
_NEWEST_SHOWN = 6

# As in sagemaker.fw_utils / sagemaker.image_uris (2.257.7): Graviton instances get the
# "inference_graviton" images of these frameworks, whatever scope the caller asks for.
_GRAVITON_FAMILIES = frozenset({"m6g", "m6gd", "c6g", "c6gd", "c6gn", "c7g", "r6g", "r6gd"})
_GRAVITON_FRAMEWORKS = frozenset({"tensorflow", "pytorch", "xgboost", "sklearn"})
_INSTANCE_FAMILY = re.compile(r"^ml[._]([a-z\d\-]+)\.?\w*$")  # sagemaker.utils' pattern

ECR_IMAGE_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\."
    r"(?P<region>cn-[a-z]+-\d+(?=\.amazonaws\.com\.cn/)|(?!cn-)[a-z]{2}(?:-[a-z]+)+-\d+(?=\.amazonaws\.com/))"
    r"\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})|@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
"""A private ECR image: ``<account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repo>[:tag|@digest]``.

``.amazonaws.com.cn`` goes with (and only with) the China regions ``cn-*``.
"""
_ECR_SHAPE = (
    "<12-digit account>.dkr.ecr.<region>.amazonaws.com/<repository>[:<tag>|@sha256:<64 hex>], "
    "e.g. '123456789012.dkr.ecr.us-east-1.amazonaws.com/my-model:1.0'"
)


def _package_dir(name: str) -> Path:
    """Where an installed package lives, found without importing (executing) it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the {name} package is not installed. Fix: install requirements.txt")
    return Path(spec.submodule_search_locations[0])


# --- instance types -------------------------------------------------------------------------


@functools.cache
def _instance_enums() -> dict[InstanceUse, frozenset[str]]:
    """The instance-type enums of botocore's SageMaker model, keyed by use.

    Reads the newest API version's ``service-2.json(.gz)`` directly, as botocore's loader does
    for its bundled data, without importing botocore (which alone takes ~0.2 s).
    """
    root = _package_dir("botocore") / "data" / "sagemaker"
    api = max(p for p in root.iterdir() if p.is_dir())  # API versions are dates: newest sorts last
    gz = api / "service-2.json.gz"
    raw = gzip.decompress(gz.read_bytes()) if gz.exists() else (api / "service-2.json").read_bytes()
    shapes = json.loads(raw)["shapes"]
    return {use: frozenset(shapes[shape]["enum"]) for use, shape in _INSTANCE_SHAPES.items()}


def instance_types(use: InstanceUse) -> frozenset[str]:
    """The SageMaker instance types the API accepts for ``use``, from botocore's model.

    ``training``: training jobs; ``processing``: processing jobs; ``hosting``: endpoint
    production variants; ``transform``: batch transform jobs.
    """
    if use not in _INSTANCE_SHAPES:
        raise ValueError(f"unknown instance use {use!r}; use one of {', '.join(_INSTANCE_SHAPES)}")
    return _instance_enums()[use]


def instance_type_problem(
    value: str, use: InstanceUse, field_hint: str | None = None
) -> str | None:
    """None if ``value`` is a SageMaker instance type for ``use``, else a message.

    The message suggests up to three close spellings and says for which other uses the value
    would be valid. ``field_hint`` (e.g. ``"deploy.instance_type"``) prefixes the message as
    ``"<field_hint>: "``, for checks outside a pydantic validator (which adds the location
    itself).
    """
    allowed = instance_types(use)
    if value in allowed:
        return None
    other = [u for u in _INSTANCE_SHAPES if u != use and value in instance_types(u)]
    close = difflib.get_close_matches(value, sorted(allowed), n=3, cutoff=0.6)
    msg = f"{value!r} is not a SageMaker {use} instance type"
    if other:
        msg += f" (it is one for {' and '.join(other)})"
    msg += f". Fix: use one such as {_EXAMPLE_INSTANCE!r}"
    if close:
        msg += f" (closest: {', '.join(repr(c) for c in close)})"
    return f"{field_hint}: {msg}" if field_hint else msg


# --- framework images -----------------------------------------------------------------------


@functools.cache
def _image_table(framework: str) -> dict[str, Any]:
    path = _package_dir("sagemaker") / "image_uri_config" / f"{framework}.json"
    return cast(dict[str, Any], json.loads(path.read_text(encoding="utf-8")))


def _version_key(version: str) -> tuple[int, tuple[int, ...], str]:
    """Sort key: numeric versions (``1.7-1``, ``2.8.0``) in numeric order, after names such as
    ``latest``."""
    parts = re.split(r"[.-]", version)
    if all(p.isdigit() for p in parts):
        return (1, tuple(int(p) for p in parts), "")
    return (0, (), version)


def _py_key(py: str) -> tuple[int, int]:
    """``py2`` < ``py3`` < ``py36`` < ``py39`` < ``py310`` < ``py312``."""
    digits = py.removeprefix("py")
    if not digits.isdigit():
        return (-1, -1)
    return (int(digits[0]), int(digits[1:]) if digits[1:] else -1)


def _newest(versions: Any, n: int = _NEWEST_SHOWN) -> str:
    """The ``n`` newest numeric versions, newest first, comma-separated."""
    numeric = [v for v in versions if _version_key(v)[0]]
    return ", ".join(sorted(numeric, key=_version_key, reverse=True)[:n])


def _regions(node: Any) -> set[str]:
    """Every region with an image anywhere under a (nested) table node."""
    if not isinstance(node, dict):
        return set()
    found = set(node.get("registries", {}))
    for child in node.values():
        found |= _regions(child)
    return found


def _scope_problem(framework: str, scope: str) -> str | None:
    if framework not in FRAMEWORKS:
        return (
            f"{framework!r} is not a framework with SageMaker images the platform knows. Fix: "
            f"use one of {', '.join(FRAMEWORKS)}, or a bring-your-own image URI"
        )
    if scope not in get_args(ImageScope):
        return f"{scope!r} is not an image scope. Fix: use 'training' or 'inference'"
    return None


def _scope_table(framework: str, scope: str) -> dict[str, Any]:
    """One scope's table: "versions", maybe "version_aliases" and "processors"."""
    return cast(dict[str, Any], _image_table(framework)[scope])


def framework_versions(framework: str, scope: ImageScope) -> list[str]:
    """Every version with a ``scope`` image, aliases (``2.8``, ``latest``) included, oldest first.

    Raises ValueError for a framework not in FRAMEWORKS.
    """
    if problem := _scope_problem(framework, scope):
        raise ValueError(problem)
    table = _scope_table(framework, scope)
    names = set(table["versions"]) | set(table.get("version_aliases", {}))
    return sorted(names, key=_version_key)


class _Image(NamedTuple):
    """A combination ``retrieve`` accepts, with the defaults it would pick filled in."""

    py_version: str | None  # None: the image has no Python variant (e.g. TF Serving)
    base_framework: str | None  # huggingface only


def _instance_family(instance_type: str) -> str:
    match = _INSTANCE_FAMILY.match(instance_type)
    return match[1] if match else ""


def _resolve(
    framework: str,
    version: str,
    *,
    region: str,
    scope: str,
    py_version: str | None,
    base_framework: str | None,
    instance_type: str | None,
) -> _Image | str:
    """The image ``retrieve`` would build for these arguments, or what is wrong with them.

    Follows sagemaker.image_uris.retrieve (2.257.7) step by step: scope table, version (or
    alias), huggingface base framework, Python version, region, processor.
    """
    if problem := _scope_problem(framework, scope):
        return problem
    if problem := _base_framework_problem(framework, base_framework):
        return problem
    placed = _instance_scope(framework, scope, instance_type)
    if isinstance(placed, str):
        return placed
    table_scope, family = placed
    table = _scope_table(framework, table_scope)
    kind = f"Graviton {scope}" if table_scope != scope else scope
    versions: dict[str, Any] = table["versions"]
    node = _version_node(framework, version, kind, table)
    if isinstance(node, str):
        return node
    what = f"the {framework} {kind} image {version}"
    if framework == "huggingface":
        based = _huggingface_base(node, what, base_framework)
        if isinstance(based, str):
            return based
        node, base_framework = based
        what += f" on {base_framework}"
    found = _python_leaf(node, what, py_version)
    if isinstance(found, str):
        return found
    leaf, py_version = found
    if region not in leaf["registries"]:
        return _region_problem(framework, scope, versions, what, region)
    processors: list[str] = table.get("processors") or leaf.get("processors") or []
    if problem := _processor_problem(what, family, processors, instance_type):
        return problem
    if problem := _p2_problem(framework, version, family, what):
        return problem
    return _Image(py_version=py_version, base_framework=base_framework)


def _base_framework_problem(framework: str, base_framework: str | None) -> str | None:
    """Why ``base_framework`` is wrong for ``framework`` (only huggingface images take one)."""
    if base_framework is not None and framework != "huggingface":
        return (
            f"base_framework applies only to huggingface images, not {framework}. Fix: remove "
            "base_framework"
        )
    return None


def _version_node(
    framework: str, version: str, kind: str, table: dict[str, Any]
) -> dict[str, Any] | str:
    """The scope table's entry for ``version`` (or the version it is an alias of), or which
    versions there are."""
    versions: dict[str, Any] = table["versions"]
    full_version = table.get("version_aliases", {}).get(version, version)
    if full_version not in versions:
        return (
            f"{framework} has no {kind} image for version {version!r}. Fix: use one of "
            f"{_newest(versions)}"
        )
    node: dict[str, Any] = versions[full_version]
    return node


def _p2_problem(framework: str, version: str, family: str, what: str) -> str | None:
    """Why the image cannot run on a p2 instance (PyTorch from 1.13, TensorFlow from 2.12)."""
    if family == "p2" and (
        (framework == "pytorch" and _version_key(version)[1] >= (1, 13))
        or (framework == "tensorflow" and _version_key(version)[1] >= (2, 12))
    ):
        return (
            f"{what} does not support p2 instances (deprecated from PyTorch 1.13 and "
            f"TensorFlow 2.12). Fix: use an instance type such as {_EXAMPLE_GPU_INSTANCE!r}"
        )
    return None


def _instance_scope(framework: str, scope: str, instance_type: str | None) -> tuple[str, str] | str:
    """The image table's scope and the instance family (Graviton instances have their own
    inference table), or why the instance type cannot run the framework's images."""
    if instance_type is None:
        return scope, ""
    family = _instance_family(instance_type)
    if not family:
        return (
            f"{instance_type!r} is not a SageMaker instance type. Fix: use one such as "
            f"{_EXAMPLE_INSTANCE!r}"
        )
    if family.startswith(("inf", "trn")):
        return (
            f"{instance_type!r} (AWS Inferentia/Trainium) needs an AWS Neuron image, which "
            f"the standard {framework} images are not. Fix: use a CPU or GPU instance type "
            f"such as {_EXAMPLE_INSTANCE!r}, or a bring-your-own Neuron image URI"
        )
    if family not in _GRAVITON_FAMILIES:
        return scope, family
    if framework not in _GRAVITON_FRAMEWORKS:
        return (
            f"{instance_type!r} is a Graviton (Arm) instance type, for which SageMaker "
            f"has no {framework} images. Fix: use an x86 instance type such as "
            f"{_EXAMPLE_INSTANCE!r}"
        )
    if scope == "training":
        return (
            f"{instance_type!r} is a Graviton (Arm) instance type, for which SageMaker "
            f"has only {framework} inference images. Fix: train on an x86 instance "
            f"type such as {_EXAMPLE_INSTANCE!r}"
        )
    return "inference_graviton", family


def _huggingface_base(
    node: dict[str, Any], what: str, base_framework: str | None
) -> tuple[dict[str, Any], str] | str:
    """A huggingface version's node for its base framework (the only one, or the named)."""
    bases = sorted((k for k in node if k != "version_aliases"), key=_version_key)
    if base_framework is None:
        if len(bases) != 1:
            return (
                f"{what} exists for several base frameworks. Fix: set base_framework to one "
                f"of {', '.join(bases)}"
            )
        base_framework = bases[0]
    full_base = node.get("version_aliases", {}).get(base_framework, base_framework)
    if full_base not in bases:
        return (
            f"{what} has no base framework {base_framework!r}. Fix: use one of {', '.join(bases)}"
        )
    return node[full_base], base_framework


def _python_leaf(
    node: dict[str, Any], what: str, py_version: str | None
) -> tuple[dict[str, Any], str | None] | str:
    """The image's leaf for its Python version (the only one, or the named)."""
    # A leaf has a "repository"; tensorflow 1.13.1 training nests its leaves by Python version.
    pys: list[str] = node.get("py_versions", []) if "repository" in node else list(node)
    if not pys:
        py_version = None  # retrieve ignores a py_version here: no Python variants
    elif py_version is None:
        if len(pys) > 1:
            return (
                f"{what} comes in several Python versions. Fix: set py_version to one of "
                f"{', '.join(sorted(pys, key=_py_key))} (newest: {max(pys, key=_py_key)!r})"
            )
        py_version = pys[0]
    elif py_version not in pys:
        return (
            f"{what} has no Python version {py_version!r}. Fix: use "
            + ("one of " if len(pys) > 1 else "")
            + ", ".join(sorted(pys, key=_py_key))
        )
    leaf: dict[str, Any] = node if "repository" in node else node[cast(str, py_version)]
    return leaf, py_version


def _region_problem(
    framework: str, scope: str, versions: dict[str, Any], what: str, region: str
) -> str:
    """Why the image is not in ``region``: no version of it there, or not this one."""
    there = [v for v in versions if region in _regions(versions[v])]
    if not there:
        return (
            f"SageMaker publishes no {framework} {scope} images in region {region!r}. Fix: "
            "deploy to another region (e.g. 'us-east-1') or use a bring-your-own image URI"
        )
    return (
        f"{what} is not published in region {region!r}. Fix: use a version published "
        f"there: {_newest(there)}"
    )


def _processor_problem(
    what: str, family: str, processors: list[str], instance_type: str | None
) -> str | None:
    """As retrieve's _processor: a family with its own image, else GPU for g*/p*, else CPU;
    what is wrong when the image has none for the instance type."""
    if not (family and processors):
        return None
    processor = family if family in processors else "gpu" if family[0] in "gp" else "cpu"
    if processor in processors:
        return None
    example = _EXAMPLE_GPU_INSTANCE if "gpu" in processors else _EXAMPLE_INSTANCE
    return (
        f"{what} runs on {' or '.join(processors)} instances, and {instance_type!r} is a "
        f"{processor} instance type. Fix: use an instance type such as {example!r}"
    )


def framework_problem(
    framework: str,
    version: str,
    *,
    region: str,
    scope: ImageScope,
    py_version: str | None = None,
    base_framework: str | None = None,
    instance_type: str | None = None,
) -> str | None:
    """None if the SDK has a ``scope`` image for this framework version in ``region``, else one
    message naming what is wrong and the fix.

    ``version`` may be an alias (``"2.8"`` for pytorch 2.8.0). ``py_version`` (``"py312"``) may be
    left out where the image comes in one Python version only; ``base_framework``
    (``"pytorch2.8.0"`` or the alias ``"pytorch2.8"``) applies to huggingface only and may be left
    out where the transformers version has one base. With ``instance_type`` it also checks that
    the image runs on it (CPU/GPU, Graviton, Neuron). Whatever this accepts,
    ``sagemaker.image_uris.retrieve(**retrieve_kwargs(...))`` accepts too.
    """
    resolved = _resolve(
        framework,
        version,
        region=region,
        scope=scope,
        py_version=py_version,
        base_framework=base_framework,
        instance_type=instance_type,
    )
    return resolved if isinstance(resolved, str) else None


def default_py_version(
    framework: str, version: str, scope: ImageScope, *, base_framework: str | None = None
) -> str | None:
    """The Python version to use for this image: the only one listed, else the newest.

    None when the image has no Python variants (e.g. tensorflow inference, xgboost 1.2-1 and
    later), when the framework/version is unknown, or for a huggingface version with several
    base frameworks and no ``base_framework``.
    """
    if _scope_problem(framework, scope):
        return None
    table = _scope_table(framework, scope)
    node = table["versions"].get(table.get("version_aliases", {}).get(version, version))
    if node is None:
        return None
    if framework == "huggingface":
        bases = [k for k in node if k != "version_aliases"]
        if base_framework is None and len(bases) == 1:
            base_framework = bases[0]
        node = node.get(node.get("version_aliases", {}).get(base_framework, base_framework))
        if node is None:
            return None
    pys: list[str] = node.get("py_versions", []) if "repository" in node else list(node)
    return max(pys, key=_py_key) if pys else None


def retrieve_kwargs(
    framework: str,
    version: str,
    *,
    region: str,
    scope: ImageScope,
    instance_type: str,
    py_version: str | None = None,
    base_framework: str | None = None,
) -> dict[str, str]:
    """Keyword arguments for ``sagemaker.image_uris.retrieve`` for this image.

    ``framework``, ``region``, ``version`` (as given: an alias stays an alias, as in the SDK's
    estimators), ``instance_type``, ``image_scope``, plus ``py_version`` where the image has
    Python variants (the only one when it was left out) and ``base_framework_version`` for
    huggingface. Raises ValueError with ``framework_problem``'s message if there is no image.
    """
    resolved = _resolve(
        framework,
        version,
        region=region,
        scope=scope,
        py_version=py_version,
        base_framework=base_framework,
        instance_type=instance_type,
    )
    if isinstance(resolved, str):
        raise ValueError(resolved)
    kwargs = {
        "framework": framework,
        "region": region,
        "version": version,
        "instance_type": instance_type,
        "image_scope": scope,
    }
    if resolved.py_version is not None:
        kwargs["py_version"] = resolved.py_version
    if resolved.base_framework is not None:
        kwargs["base_framework_version"] = resolved.base_framework
    return kwargs


# --- bring-your-own-container images --------------------------------------------------------


def image_uri_problem(value: str) -> str | None:
    """None if ``value`` is a private ECR image URI (see ECR_IMAGE_URI), else a message."""
    if ECR_IMAGE_URI.match(value):
        return None
    hint = ""
    if "://" in value:
        hint = " (without a scheme such as 'https://')"
    elif not re.match(r"^\d{12}\.", value):
        hint = " (it must start with the 12-digit registry account id)"
    elif ".amazonaws.com.cn/" in value and ".ecr.cn-" not in value:
        hint = " ('.amazonaws.com.cn' is for the China regions cn-* only)"
    elif ".ecr.cn-" in value and ".amazonaws.com.cn/" not in value:
        hint = " (China regions use '.amazonaws.com.cn')"
    elif re.search(r"/[^:@]*[A-Z]", value):
        hint = " (ECR repository names are lowercase)"
    return f"{value!r} is not an ECR image URI{hint}. Fix: use {_ECR_SHAPE}"
