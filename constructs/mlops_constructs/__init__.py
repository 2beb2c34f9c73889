"""mlops_constructs: reusable AWS CDK constructs of the MLOps platform.

The distribution lives in the repository's ``constructs/`` folder; the package is deliberately
not named ``constructs`` so that it never shadows the ``constructs`` library aws-cdk-lib needs.

Importing a module of the package calls nothing in jsii (no aws-cdk-lib object is made at module
level; values such as a Lambda runtime are read when a construct is built): an app may be
waiting for jsii on another thread meanwhile, as the platform's ``app.py`` does while the
built-in CloudFormation check's engine starts. ``tests/test_builtin_check.py`` holds the modules
an app imports before it builds (``stacks.app_builder``'s) to it.
"""

__version__ = "0.1.0"
