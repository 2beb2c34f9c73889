#!/usr/bin/env python3
"""CDK entry point: validate the configuration, then build one stage per environment.

    make synth                                   # built-in default configuration
    make synth CONFIG=config/example.yaml        # a YAML file
    cdk synth -c config=config/example.yaml      # the same, in an activated .venv (the CDK
                                                 # CLI runs `python app.py`: the venv's python)
    CONFIG=config/example.yaml python app.py     # without the CLI: cdk.json's context, cdk.out

The configuration is validated before aws_cdk is imported, so a bad file fails fast with one
message that names the field and the fix, and no stack trace.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
from typing import Any


def _config_path() -> str | None:
    # The CDK CLI passes -c values to the app in CDK_CONTEXT_JSON; plain `python app.py`
    # also honours CONFIG for quick checks.
    context = json.loads(os.environ.get("CDK_CONTEXT_JSON") or "{}")
    path = context.get("config") or os.environ.get("CONFIG")
    return str(path) if path else None


def _app_settings() -> tuple[dict[str, Any] | None, str | None]:
    """The app's context and output folder: none when the CDK CLI runs it (it passes cdk.json's
    context and the folder itself), else cdk.json's context and ``cdk.out``, so that a plain
    `python app.py` synthesizes what `cdk synth` does (the stacks rely on cdk.json's feature
    flags) and leaves no temporary output folder behind."""
    if "CDK_CONTEXT_JSON" in os.environ:
        return None, None
    from stacks.context import project_context

    return project_context(), os.environ.get("CDK_OUTDIR") or "cdk.out"


def main() -> int:
    from stacks.config import ConfigError, load_config

    try:
        config = load_config(_config_path())
    except ConfigError as err:
        print(f"Configuration error: {err}", file=sys.stderr)
        return 2

    from mlops_constructs import sdk_process

    # A first synth (nothing in the synth memo) imports the sagemaker SDK: in a process of its
    # own, started now, while this one imports and builds the app (sdk_process.py).
    sdk_process.start_if_the_memo_is_empty()

    import aws_cdk as cdk

    from stacks import builtin_check

    # The built-in CloudFormation check's engine starts on a second thread, while Python imports
    # the platform (which calls nothing in jsii at import): about a second less per synth.
    builtin_check.start()
    from stacks.app_builder import build_app

    builtin_check.wait()
    context, outdir = _app_settings()
    app, _ = build_app(config, cdk.App(context=context, outdir=outdir))
    app.synth()
    return 0


# main()'s exit status, once it has returned (the last exit handler then ends the process).
_status: int | None = None


def _end_without_teardown() -> None:
    """The last exit handler (registered first). Once main() has returned and the other exit
    handlers have run (jsii's node process stopped and its files removed, the SDK's process
    ended, the scratch folder removed, after Python joined its threads), Python would spend
    0.4-0.5 s freeing the app's objects and aws-cdk-lib's modules that the process is about to
    lose anyway: it ends here instead, with main()'s status. After an exception, Python ends as
    usual."""
    if _status is None:
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: Python would not have written it either
        pass
    os._exit(_status)


if __name__ == "__main__":
    atexit.register(_end_without_teardown)
    _status = main()
    sys.exit(_status)
