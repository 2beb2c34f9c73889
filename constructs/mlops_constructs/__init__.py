"""mlops_constructs: reusable AWS CDK constructs of the MLOps platform.

The distribution lives in the repository's ``constructs/`` folder; the package is deliberately
not named ``constructs`` so that it never shadows the ``constructs`` library aws-cdk-lib needs.
"""

__version__ = "0.1.0"
