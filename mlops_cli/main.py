"""``mlops``: deploy, operate and tear down the platform (``mlops --help``).

Each subcommand lives in a module of this package with a ``register(commands)`` function; the
parser is built from :data:`COMMAND_MODULES`. Every failure ends in one sentence on stderr and a
non-zero exit (2: bad input, 1: AWS said no), never a stack trace.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from mlops_cli.context import Context
from mlops_cli.errors import CliError
from mlops_cli.session import Aws

COMMAND_MODULES = (
    "mlops_cli.deploy",  # bootstrap, deploy, diff, destroy
    "mlops_cli.code",  # publish
    "mlops_cli.data",  # upload
    "mlops_cli.status",  # status
    "mlops_cli.release",  # approve, reject, rollback
    "mlops_cli.run",  # retrain, score
    "mlops_cli.imports",  # import-model
    "mlops_cli.endpoint",  # invoke
    "mlops_cli.scaffold",  # new-project
    "mlops_cli.upgrade",  # upgrade-project
)
"""Modules whose ``register(commands)`` adds subcommands, in the order ``--help`` lists them."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError(f"{message} (see {self.prog} --help)", code=2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mlops",
        description="Deploy, operate and tear down the MLOps platform.",
        epilog="The configuration defaults to $CONFIG, else the built-in default (one dev "
        "environment). AWS calls use your credentials (AWS_PROFILE, aws sso login, ...).",
    )
    parser.add_argument(
        "--config",
        default=os.environ.get("CONFIG") or None,
        help="the platform's configuration file, as for `make synth CONFIG=...`",
    )
    parser.add_argument("--profile", default=None, help="the AWS profile to use")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        context = Context(
            config_path=args.config,
            aws=Aws(profile=args.profile),
            dry_run=bool(getattr(args, "dry_run", False)),
        )
        return int(args.run(args, context))
    except CliError as error:
        print(f"mlops: {error.message}", file=sys.stderr)
        return error.code
    except BrokenPipeError:  # `mlops ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print("mlops: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
