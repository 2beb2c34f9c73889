"""The construct library's build step: its wheel carries the platform's Lambda functions.

The functions' code lives in the repository's ``lambda/`` folder, outside this project's folder,
so the build copies each folder the library names (``FOLDERS`` of
``mlops_constructs/functions``: every function and the shared layer) into the build's
``mlops_constructs/functions/<name>/``, without tests, ``conftest.py``, ``__pycache__`` and
docs; :func:`mlops_constructs.functions.function_code` finds them there. An editable install
(``pip install -e ./constructs``) copies nothing: ``function_code`` reads the checkout's
``lambda/``. Build the wheel from the checkout (``pip wheel --no-deps ./constructs``, or
``python -m build --wheel constructs``): an sdist has no ``lambda/`` beside it. Everything else
is declared in pyproject.toml.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
LAMBDA = HERE.parent / "lambda"
FUNCTIONS_MODULE = HERE / "mlops_constructs" / "functions" / "__init__.py"
LEFT_OUT = shutil.ignore_patterns("tests", "conftest.py", "__pycache__", "*.pyc", "*.md")


def shipped_folders() -> tuple[str, ...]:
    """The folders the library ships, read from its ``functions`` module by path (standard
    library only: importing the package would need aws-cdk-lib)."""
    spec = importlib.util.spec_from_file_location("_mlops_functions", FUNCTIONS_MODULE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return tuple(module.FOLDERS)


class BuildWithFunctions(build_py):
    """``build_py``, then each shipped folder of ``lambda/`` copied into the build's
    ``mlops_constructs/functions/`` (not in an editable install, which reads ``lambda/``)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "mlops_constructs" / "functions"
        for name in shipped_folders():
            source = LAMBDA / name
            if not source.is_dir():
                raise SystemExit(
                    f"{source} is missing: build the wheel from the repository's checkout "
                    "(pip wheel --no-deps ./constructs), where lambda/ is beside constructs/"
                )
            shutil.copytree(source, target / name, ignore=LEFT_OUT, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildWithFunctions})
