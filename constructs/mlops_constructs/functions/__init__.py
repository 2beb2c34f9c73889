"""Where the code of the platform's Lambda functions is: the library owns its functions.

Each platform function is a folder holding ``handler.py`` (``handler.handler``), and every one
imports the modules of the shared layer (the folder ``_shared``, modules in ``_shared/python``).
:func:`function_code` finds such a folder:

1. the copy bundled in the installed package, ``mlops_constructs/functions/<name>/`` (this
   package's folder), which a wheel of the library holds: ``constructs/setup.py`` copies the
   repository's ``lambda/<name>/`` there at build time, without tests and docs; else
2. the source checkout's ``lambda/<name>/`` (``constructs/mlops_constructs/../../lambda``),
   which the repository's editable install (``pip install -e ./constructs``) runs from.

The constructs' ``code`` props default to these folders; a fork passes its own folder instead.

Standard library only: the build step reads the names from this file without aws-cdk-lib.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal, get_args

# The platform's functions: the folders of the repository's lambda/ (each with handler.py).
FunctionName = Literal[
    "batch_scoring",
    "champion",
    "deploy_router",
    "endpoint_test",
    "experiment_tracking",
    "fingerprint",
    "front_door",
    "model_card",
    "model_import",
    "monitoring_run",
    "promote",
    "release_check",
    "start_training",
]
FUNCTIONS: Final[tuple[FunctionName, ...]] = get_args(FunctionName)
# The shared layer's folder, beside the functions' (its modules in python/).
SharedLayer = Literal["_shared"]
SHARED_LAYER: Final[SharedLayer] = "_shared"
# Every folder the library ships: the functions and the shared layer.
CodeFolder = FunctionName | SharedLayer
FOLDERS: Final[tuple[CodeFolder, ...]] = (*FUNCTIONS, SHARED_LAYER)

# Where the copies are: bundled in the installed package (a wheel), else the source checkout.
BUNDLED = Path(__file__).resolve().parent
SOURCE = BUNDLED.parent.parent.parent / "lambda"


def function_code(name: CodeFolder) -> Path:
    """The folder of the platform function ``name`` (or of the shared layer, ``"_shared"``):
    the copy bundled in the installed package if there is one, else the source checkout's
    ``lambda/<name>``. Raises ValueError for an unknown name, or when neither exists."""
    if name not in FOLDERS:
        raise ValueError(f"{name!r} is not a platform function: one of {', '.join(FOLDERS)}")
    bundled, source = BUNDLED / name, SOURCE / name
    for folder in (bundled, source):
        if folder.is_dir():
            return folder
    raise ValueError(
        f"The code of the platform function {name!r} is in neither {bundled} (the copy a wheel "
        f"of mlops-constructs bundles) nor {source} (the repository's checkout): install the "
        "library from a wheel built from the repository (pip wheel ./constructs) or as an "
        "editable install of the repository's checkout (pip install -e ./constructs)."
    )


def code_in(lambda_dir: Path | None, name: FunctionName) -> Path:
    """``lambda_dir/<name>`` (a fork's own folder of function folders, taken as it is), or
    the library's own function ``name`` (:func:`function_code`) without one."""
    return lambda_dir / name if lambda_dir is not None else function_code(name)
