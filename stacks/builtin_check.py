"""aws-cdk-lib's built-in CloudFormation check, its engine started while Python imports the stacks.

An app whose built-in check is on (the default, unless ``CDK_VALIDATION=false``, which
``cdk synth --no-validation`` sets) creates the check's engine at its first synthesis: about two
seconds of one core, spent in node while Python waits. :func:`start` creates that same plugin
(``cdk.CloudFormationValidatePlugin()``, the default rules) on a second thread right after
``import aws_cdk``, so that it runs while Python imports the platform's modules, which make no
call into jsii (``tests/test_builtin_check.py`` holds them to that: jsii's channel to node
carries one request at a time). :func:`wait` must return before the next jsii call;
:func:`register` then gives the plugin to an app (the main app and the endpoint templates' apps,
through :func:`stacks.guardrails.add_rule_packs`), where aws-cdk-lib runs it instead of creating
its own: same rules, same report, one engine per process as before. Without :func:`start`
(tests, tools) nothing changes.
"""

from __future__ import annotations

import os
import threading

import aws_cdk as cdk
import cdk_nag  # noqa: F401  its jsii assembly loads here, before the engine's thread starts

__all__ = ["register", "start", "wait"]


class _Engine:
    """The plugin being created on its thread, or the error that stopped it."""

    def __init__(self) -> None:
        self.plugin: cdk.CloudFormationValidatePlugin | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._create, name="cfn-validate-engine", daemon=True)

    def _create(self) -> None:
        try:
            self.plugin = cdk.CloudFormationValidatePlugin()
        except BaseException as err:  # re-raised by wait(), on the main thread
            self.error = err


_engine: _Engine | None = None


def start() -> None:
    """Creates the built-in check's plugin on a second thread if the check is on. Until
    :func:`wait` returns, nothing else may call into jsii."""
    global _engine
    if _engine is not None or os.environ.get("CDK_VALIDATION") == "false":
        return
    _engine = _Engine()
    _engine.thread.start()


def wait() -> cdk.CloudFormationValidatePlugin | None:
    """The started plugin, once created (None if :func:`start` did not start one)."""
    if _engine is None:
        return None
    _engine.thread.join()
    if _engine.error is not None:
        raise _engine.error
    return _engine.plugin


def register(app: cdk.App) -> None:
    """Gives ``app`` the started plugin, if any: aws-cdk-lib then runs it over every stack of
    the app instead of creating its own engine."""
    plugin = wait()
    if plugin is not None:
        cdk.Validations.of(app).add_plugins(plugin)
