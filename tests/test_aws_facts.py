"""AWS facts read offline: instance types (botocore), framework images (sagemaker SDK tables),
ECR image URIs. The image checks are cross-checked against the SDK's own
``sagemaker.image_uris.retrieve`` in one module-scoped fixture."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stacks.aws_facts import (
    ECR_IMAGE_URI,
    FRAMEWORKS,
    default_py_version,
    framework_problem,
    framework_versions,
    image_uri_problem,
    instance_type_problem,
    instance_types,
    retrieve_kwargs,
)

# --- instance types -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "use", "valid"),
    [
        ("ml.m5.medium", "training", False),
        ("ml.p3.large", "training", False),
        ("ml.g6.xlarge", "training", True),
        ("ml.g6.xlarge", "hosting", True),
        ("ml.inf2.xlarge", "hosting", True),
        ("ml.t2.medium", "hosting", True),
        ("ml.t3.medium", "processing", True),
        ("ml.t3.medium", "hosting", False),
        ("ml.m5.large", "transform", True),
        ("ml.m5.large", "training", True),
    ],
)
def test_instance_types(value, use, valid):
    assert (value in instance_types(use)) is valid
    assert (instance_type_problem(value, use) is None) is valid


def test_instance_types_come_from_botocore():
    import botocore.loaders

    model = botocore.loaders.create_loader().load_service_model("sagemaker", "service-2")
    shapes = {
        "training": "TrainingInstanceType",
        "processing": "ProcessingInstanceType",
        "hosting": "ProductionVariantInstanceType",
        "transform": "TransformInstanceType",
    }
    for use, shape in shapes.items():
        assert instance_types(use) == frozenset(model["shapes"][shape]["enum"])  # type: ignore[arg-type]


def test_instance_type_message():
    msg = instance_type_problem("ml.m5.medium", "training")
    assert msg is not None
    assert msg.startswith(
        "'ml.m5.medium' is not a SageMaker training instance type. Fix: use one such as "
        "'ml.m5.large' (closest: "
    )
    assert "'ml.m5.large'" in msg.split("closest:")[1]


def test_instance_type_message_names_other_uses_and_field():
    msg = instance_type_problem("ml.t3.medium", "hosting", "deploy.instance_type")
    assert msg is not None
    assert msg.startswith("deploy.instance_type: 'ml.t3.medium' is not a SageMaker hosting")
    assert "(it is one for training and processing)" in msg
    assert "'ml.t2.medium'" in msg  # a close hosting type


def test_instance_type_without_close_match():
    msg = instance_type_problem("gpu", "transform")
    assert (
        msg
        == "'gpu' is not a SageMaker transform instance type. Fix: use one such as 'ml.m5.large'"
    )


def test_unknown_use_is_an_error():
    with pytest.raises(ValueError, match="unknown instance use"):
        instance_types("serving")  # type: ignore[arg-type]


# --- framework images -----------------------------------------------------------------------


def test_versions_sorted_with_aliases():
    xgb = framework_versions("xgboost", "training")
    assert xgb[0] == "latest"  # names before numbers
    assert xgb.index("0.90-2") < xgb.index("1") < xgb.index("1.7-1") < xgb.index("3.0-5")
    pytorch = framework_versions("pytorch", "training")
    assert {"2.8", "2.8.0", "1.13", "1.13.1"} <= set(pytorch)
    assert pytorch.index("1.9.0") < pytorch.index("1.10.0") < pytorch.index("2.0.0")
    assert "1.4-2" in framework_versions("sklearn", "training")
    assert "1.4-2" not in framework_versions("sklearn", "inference")
    with pytest.raises(ValueError, match="not a framework"):
        framework_versions("mxnet", "training")


@pytest.mark.parametrize(
    ("framework", "version", "kwargs"),
    [
        ("xgboost", "1.7-1", {"scope": "training"}),
        ("xgboost", "1.7-1", {"scope": "inference", "instance_type": "ml.g5.xlarge"}),
        ("xgboost", "latest", {"scope": "inference"}),
        ("sklearn", "1.2-1", {"scope": "training", "py_version": "py3"}),
        ("sklearn", "1.2-1", {"scope": "inference"}),  # the only py_version is the default
        ("pytorch", "2.8", {"scope": "training", "instance_type": "ml.m5.large"}),
        ("pytorch", "2.6.0", {"scope": "inference", "py_version": "py312"}),
        ("pytorch", "2.3", {"scope": "inference", "instance_type": "ml.c6g.xlarge"}),
        ("tensorflow", "2.19", {"scope": "training", "py_version": "py312"}),
        ("tensorflow", "2.19", {"scope": "inference", "py_version": "py312"}),  # ignored
        ("tensorflow", "1.13", {"scope": "training", "py_version": "py3"}),
        ("huggingface", "4.56", {"scope": "training", "instance_type": "ml.g5.xlarge"}),
        ("huggingface", "4.26", {"scope": "inference", "base_framework": "pytorch1.13"}),
        ("huggingface", "4.26.0", {"scope": "inference", "base_framework": "tensorflow2.11.0"}),
    ],
)
def test_framework_accepted(framework, version, kwargs):
    assert framework_problem(framework, version, region="us-east-1", **kwargs) is None


@pytest.mark.parametrize(
    ("framework", "version", "kwargs", "message"),
    [
        (
            "xgboost",
            "9.9",
            {"scope": "training"},
            "xgboost has no training image for version '9.9'. Fix: use one of 3.0-5, 1.7-1, "
            "1.5-1, 1.3-1, 1.2-2, 1.2-1",
        ),
        (
            "mxnet",
            "1.8",
            {"scope": "training"},
            "'mxnet' is not a framework with SageMaker images the platform knows. Fix: use one "
            "of huggingface, pytorch, sklearn, tensorflow, xgboost, or a bring-your-own image URI",
        ),
        (
            "sklearn",
            "1.4-2",
            {"scope": "inference"},
            "sklearn has no inference image for version '1.4-2'. Fix: use one of 1.2-1, 1.0-1, "
            "0.23-1, 0.20.0",
        ),
        (
            "sklearn",
            "1.2-1",
            {"scope": "training", "py_version": "py310"},
            "the sklearn training image 1.2-1 has no Python version 'py310'. Fix: use py3",
        ),
        (
            "pytorch",
            "2.8",
            {"scope": "training", "py_version": "py310"},
            "the pytorch training image 2.8 has no Python version 'py310'. Fix: use py312",
        ),
        (
            "pytorch",
            "1.8.0",
            {"scope": "training"},
            "the pytorch training image 1.8.0 comes in several Python versions. Fix: set "
            "py_version to one of py3, py36 (newest: 'py36')",
        ),
        (
            "pytorch",
            "2.8",
            {"scope": "inference"},
            "pytorch has no inference image for version '2.8'. Fix: use one of 2.6.0, 2.5.1, "
            "2.4.0, 2.3.0, 2.2.0, 2.1.0",
        ),
        (
            "xgboost",
            "1.7-1",
            {"scope": "training", "region": "mars-north-1"},
            "SageMaker publishes no xgboost training images in region 'mars-north-1'. Fix: "
            "deploy to another region (e.g. 'us-east-1') or use a bring-your-own image URI",
        ),
        (
            "huggingface",
            "4.56",
            {"scope": "training", "region": "eu-central-2"},
            "the huggingface training image 4.56 on pytorch2.8.0 is not published in region "
            "'eu-central-2'. Fix: use a version published there: 4.17.0, 4.12.3, 4.11.0, "
            "4.10.2, 4.6.1, 4.5.0",
        ),
        (
            "tensorflow",
            "2.19",
            {"scope": "training", "region": "us-iso-east-1"},
            "the tensorflow training image 2.19 is not published in region 'us-iso-east-1'. Fix: "
            "use a version published there: 2.14.1, 2.13.0, 2.11.0, 2.10.1, 2.9.2, 2.8.0",
        ),
        (
            "huggingface",
            "4.10.2",
            {"scope": "training"},
            "the huggingface training image 4.10.2 exists for several base frameworks. Fix: set "
            "base_framework to one of pytorch1.8.1, pytorch1.9.0, tensorflow2.4.1, "
            "tensorflow2.5.1",
        ),
        (
            "huggingface",
            "4.56",
            {"scope": "training", "base_framework": "pytorch2.6"},
            "the huggingface training image 4.56 has no base framework 'pytorch2.6'. Fix: use one "
            "of pytorch2.8.0",
        ),
        (
            "huggingface",
            "4.56",
            {"scope": "training", "instance_type": "ml.m5.large"},
            "the huggingface training image 4.56 on pytorch2.8.0 runs on gpu instances, and "
            "'ml.m5.large' is a cpu instance type. Fix: use an instance type such as "
            "'ml.g5.xlarge'",
        ),
        (
            "sklearn",
            "1.2-1",
            {"scope": "training", "instance_type": "ml.g5.xlarge"},
            "the sklearn training image 1.2-1 runs on cpu instances, and 'ml.g5.xlarge' is a gpu "
            "instance type. Fix: use an instance type such as 'ml.m5.large'",
        ),
        (
            "xgboost",
            "1.7-1",
            {"scope": "training", "base_framework": "pytorch2.0"},
            "base_framework applies only to huggingface images, not xgboost. Fix: remove "
            "base_framework",
        ),
        (
            "pytorch",
            "2.6",
            {"scope": "inference", "instance_type": "ml.c6g.xlarge"},
            "pytorch has no Graviton inference image for version '2.6'. Fix: use one of 2.4.0, "
            "2.3.0, 2.2.1, 2.1.0, 2.0.1, 2.0.0",
        ),
        (
            "pytorch",
            "2.3",
            {"scope": "training", "instance_type": "ml.c6g.xlarge"},
            "'ml.c6g.xlarge' is a Graviton (Arm) instance type, for which SageMaker has only "
            "pytorch inference images. Fix: train on an x86 instance type such as 'ml.m5.large'",
        ),
        (
            "huggingface",
            "4.26",
            {"scope": "inference", "instance_type": "ml.c7g.xlarge"},
            "'ml.c7g.xlarge' is a Graviton (Arm) instance type, for which SageMaker has no "
            "huggingface images. Fix: use an x86 instance type such as 'ml.m5.large'",
        ),
        (
            "pytorch",
            "2.3",
            {"scope": "inference", "instance_type": "ml.inf2.xlarge"},
            "'ml.inf2.xlarge' (AWS Inferentia/Trainium) needs an AWS Neuron image, which the "
            "standard pytorch images are not. Fix: use a CPU or GPU instance type such as "
            "'ml.m5.large', or a bring-your-own Neuron image URI",
        ),
        (
            "tensorflow",
            "2.19",
            {"scope": "training", "instance_type": "ml.p2.xlarge"},
            "the tensorflow training image 2.19 does not support p2 instances (deprecated from "
            "PyTorch 1.13 and TensorFlow 2.12). Fix: use an instance type such as 'ml.g5.xlarge'",
        ),
        (
            "xgboost",
            "1.7-1",
            {"scope": "serving"},
            "'serving' is not an image scope. Fix: use 'training' or 'inference'",
        ),
    ],
)
def test_framework_problem(framework, version, kwargs, message):
    kwargs = {"region": "us-east-1", **kwargs}
    assert framework_problem(framework, version, **kwargs) == message


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        (("pytorch", "2.8", "training"), {}, "py312"),
        (("pytorch", "2.0", "inference"), {}, "py310"),
        (("pytorch", "1.5", "training"), {}, "py36"),  # py3 and py36 listed: the newest
        (("tensorflow", "2.19", "training"), {}, "py312"),
        (("tensorflow", "2.19", "inference"), {}, None),  # TF Serving: no Python variant
        (("tensorflow", "1.13", "training"), {}, "py3"),  # nested by Python version
        (("sklearn", "1.2-1", "training"), {}, "py3"),
        (("xgboost", "1.7-1", "training"), {}, None),
        (("xgboost", "1.0-1", "training"), {}, "py3"),
        (("huggingface", "4.56", "training"), {}, "py312"),
        (("huggingface", "4.26", "inference"), {}, None),  # two base frameworks
        (("huggingface", "4.26", "inference"), {"base_framework": "tensorflow2.11"}, "py39"),
        (("pytorch", "9.9", "training"), {}, None),
        (("mxnet", "1.8", "training"), {}, None),
    ],
)
def test_default_py_version(args, kwargs, expected):
    assert default_py_version(*args, **kwargs) == expected


def test_retrieve_kwargs():
    assert retrieve_kwargs(
        "huggingface", "4.56", region="eu-west-1", scope="training", instance_type="ml.g5.xlarge"
    ) == {
        "framework": "huggingface",
        "region": "eu-west-1",
        "version": "4.56",
        "instance_type": "ml.g5.xlarge",
        "image_scope": "training",
        "py_version": "py312",
        "base_framework_version": "pytorch2.8.0",
    }
    assert retrieve_kwargs(
        "xgboost", "1.7-1", region="us-east-1", scope="inference", instance_type="ml.m5.large"
    ) == {
        "framework": "xgboost",
        "region": "us-east-1",
        "version": "1.7-1",
        "instance_type": "ml.m5.large",
        "image_scope": "inference",
    }
    with pytest.raises(ValueError, match=r"has no training image for version '0\.1'"):
        retrieve_kwargs(
            "pytorch", "0.1", region="us-east-1", scope="training", instance_type="ml.m5.large"
        )


# --- cross-check with sagemaker.image_uris.retrieve -----------------------------------------

_NAMED = {
    "xgboost training": ("xgboost", "1.7-1", "training", "ml.m5.large", {}),
    "xgboost inference": ("xgboost", "1.7-1", "inference", "ml.m5.large", {}),
    "sklearn py3": ("sklearn", "1.2-1", "training", "ml.m5.large", {"py_version": "py3"}),
    "pytorch 2.x": ("pytorch", "2.5.1", "training", "ml.m5.large", {"py_version": "py311"}),
    "pytorch alias gpu": ("pytorch", "2.8", "training", "ml.g5.xlarge", {}),
    "tensorflow 2.x": ("tensorflow", "2.16", "inference", "ml.m5.large", {}),
    "huggingface": (
        "huggingface",
        "4.28.1",
        "inference",
        "ml.g5.xlarge",
        {"base_framework": "pytorch2.0.0"},
    ),
}
_REJECTED = {  # retrieve() arguments that framework_problem rejects: retrieve must refuse too
    "version": {"framework": "xgboost", "version": "9.9"},
    "py_version": {"framework": "pytorch", "version": "2.8", "py_version": "py310"},
    "base": {
        "framework": "huggingface",
        "version": "4.56",
        "base_framework_version": "pytorch2.6",
        "instance_type": "ml.g5.xlarge",
    },
    "processor": {
        "framework": "huggingface",
        "version": "4.56",
        "base_framework_version": "pytorch2.8",
    },
    "region": {
        "framework": "huggingface",
        "version": "4.56",
        "base_framework_version": "pytorch2.8",
        "instance_type": "ml.g5.xlarge",
        "region": "eu-central-2",
    },
}


def _rejected(name: str) -> dict[str, str]:
    base = {"region": "us-east-1", "image_scope": "training", "instance_type": "ml.m5.large"}
    return {**base, **_REJECTED[name]}


def _sweep() -> Iterator[tuple[str, dict[str, str]]]:
    """Every version (and alias) of every framework and scope, on a CPU and a GPU instance,
    with the defaults framework_problem accepts (only py_version / base framework)."""
    for framework in FRAMEWORKS:
        for scope in ("training", "inference"):
            for version in framework_versions(framework, scope):
                for instance_type in ("ml.m5.large", "ml.g5.xlarge"):
                    args: dict[str, Any] = {
                        "region": "us-east-1",
                        "scope": scope,
                        "instance_type": instance_type,
                    }
                    if framework_problem(framework, version, **args) is None:
                        yield (
                            f"{framework} {version} {scope} {instance_type}",
                            retrieve_kwargs(framework, version, **args),
                        )


@pytest.fixture(scope="module")
def retrieved() -> Iterator[dict[str, str | Exception]]:
    """retrieve()'s URI (or exception) for the named, rejected and swept combinations."""
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    from sagemaker import image_uris, utils
    from sagemaker.telemetry import telemetry_logging

    cases: dict[str, dict[str, str]] = {}
    for name, (framework, version, scope, instance_type, extra) in _NAMED.items():
        cases[name] = retrieve_kwargs(
            framework,
            version,
            scope=scope,  # type: ignore[arg-type]
            instance_type=instance_type,
            **{"region": "us-east-1", **extra},
        )
    cases.update((f"rejected {name}", _rejected(name)) for name in _REJECTED)
    cases.update(_sweep())

    results: dict[str, str | Exception] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(telemetry_logging, "_send_telemetry_request", lambda *a, **k: None)
        # retrieve re-reads its JSON table and botocore's endpoints on every call: cache both
        # so the sweep takes a fraction of a second.
        for module, attr in ((image_uris, "config_for_framework"), (utils, "_botocore_resolver")):
            mp.setattr(module, attr, functools.cache(getattr(module, attr)))
        for name, kwargs in cases.items():
            try:
                results[name] = image_uris.retrieve(**kwargs)
            except Exception as err:  # recorded, asserted on per case
                results[name] = err
    yield results


@pytest.mark.parametrize("name", list(_NAMED))
def test_retrieve_accepts_named(retrieved, name):
    uri = retrieved[name]
    assert isinstance(uri, str), uri
    assert image_uri_problem(uri) is None, uri


def test_retrieve_examples(retrieved):
    assert retrieved["xgboost training"] == (
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    )
    assert retrieved["pytorch 2.x"] == (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5.1-cpu-py311"
    )
    assert str(retrieved["huggingface"]).endswith(
        "/huggingface-pytorch-inference:2.0.0-transformers4.28.1-gpu-py310-cu118-ubuntu20.04"
    )


@pytest.mark.parametrize("name", list(_REJECTED))
def test_retrieve_refuses_rejected(retrieved, name):
    kwargs = _rejected(name)
    problem = framework_problem(
        kwargs["framework"],
        kwargs["version"],
        region=kwargs["region"],
        scope=kwargs["image_scope"],  # type: ignore[arg-type]
        py_version=kwargs.get("py_version"),
        base_framework=kwargs.get("base_framework_version"),
        instance_type=kwargs["instance_type"],
    )
    assert problem is not None
    assert isinstance(retrieved[f"rejected {name}"], ValueError)


def test_retrieve_accepts_everything_framework_problem_accepts(retrieved):
    swept = {k: v for k, v in retrieved.items() if k not in _NAMED and not k.startswith("rej")}
    assert len(swept) > 300  # every version of five frameworks, CPU and GPU
    failed = {k: v for k, v in swept.items() if not isinstance(v, str) or image_uri_problem(v)}
    assert not failed


# --- ECR image URIs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-model",
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/my_model:1.0.2",
        "123456789012.dkr.ecr.us-gov-west-1.amazonaws.com/a.b/c-d:latest",
        "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/model:v1",
        "123456789012.dkr.ecr.ap-southeast-5.amazonaws.com/model@sha256:" + "a" * 64,
    ],
)
def test_image_uri_valid(uri):
    assert ECR_IMAGE_URI.match(uri)
    assert image_uri_problem(uri) is None


@pytest.mark.parametrize(
    ("uri", "hint"),
    [
        ("https://123456789012.dkr.ecr.us-east-1.amazonaws.com/m", "without a scheme"),
        ("12345678901.dkr.ecr.us-east-1.amazonaws.com/m", "12-digit registry account id"),
        ("docker.io/library/python:3.11", "12-digit registry account id"),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com.cn/m", "China regions cn-* only"),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com/m", "use '.amazonaws.com.cn'"),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/MyModel:1", "lowercase"),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/m:", ""),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/m@sha256:abc", ""),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/", ""),
        ("123456789012.dkr.ecr.useast1.amazonaws.com/m", ""),
    ],
)
def test_image_uri_invalid(uri, hint):
    msg = image_uri_problem(uri)
    assert msg is not None
    assert msg.startswith(f"{uri!r} is not an ECR image URI")
    assert hint in msg
    assert msg.endswith(
        "Fix: use <12-digit account>.dkr.ecr.<region>.amazonaws.com/<repository>[:<tag>|"
        "@sha256:<64 hex>], e.g. '123456789012.dkr.ecr.us-east-1.amazonaws.com/my-model:1.0'"
    )


# --- start-up cost --------------------------------------------------------------------------


def test_no_heavy_imports():
    """The loader calls this module before jsii starts: it must not pull in the CDK, the
    sagemaker SDK or botocore."""
    code = (
        "import sys\n"
        "from stacks import aws_facts as f\n"
        "f.instance_type_problem('ml.m5.large', 'training')\n"
        "f.framework_problem('pytorch', '2.8', region='us-east-1', scope='training')\n"
        "f.image_uri_problem('x')\n"
        "print(sorted(m for m in ('aws_cdk', 'jsii', 'sagemaker', 'botocore') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "[]"
