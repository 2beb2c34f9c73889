"""Where the platform's pipeline takes its source from, for ``make publish-source``.

Usage: ``python -m tools.delivery source-uri CONFIG``: prints ``s3://<bucket>/<key>``, the object
the delivery pipeline (issue 15, ADR 0010) starts from when it has no CodeConnections
connection. Reads the configuration only (no AWS, no CDK); a bad configuration or one without
an S3 source ends in one message and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mlops_constructs.names import bucket_name, delivery_prefix
from stacks.config import ConfigError, PlatformConfig, load_config


def source_uri(config: PlatformConfig) -> str:
    """``s3://<platform>-delivery-source-<tooling account>/<object key>``."""
    delivery = config.delivery
    if delivery is None:
        raise ConfigError(
            "delivery: not configured, so no pipeline takes a source. Fix: add a delivery "
            "section (config/example.yaml), or deploy the environments with cdk deploy"
        )
    if delivery.source.kind != "s3":
        raise ConfigError(
            f"delivery.source: the pipeline takes {delivery.source.repository} from its "
            "CodeConnections connection. Fix: push to that repository instead"
        )
    bucket = bucket_name(delivery_prefix(config.platform_name), "source", delivery.tooling.account)
    return f"s3://{bucket}/{delivery.source.object_key}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.delivery", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    uri = commands.add_parser("source-uri", help="the S3 object the pipeline starts from")
    uri.add_argument("config", help="the platform's configuration file")
    args = parser.parse_args(argv)
    try:
        print(source_uri(load_config(args.config)))
    except ConfigError as error:
        print(f"delivery: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
