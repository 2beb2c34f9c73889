"""What every command gets: the validated configuration (read once, on first use), AWS access and
where to print."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO

from mlops_cli.errors import CliError
from mlops_cli.resources import ProjectPlace, find_environment, find_project, place
from mlops_cli.session import Aws
from stacks.config import ConfigError, EnvironmentConfig, PlatformConfig, ProjectConfig, load_config


@dataclass
class Context:
    config_path: str | None = None
    aws: Aws = field(default_factory=Aws)
    dry_run: bool = False
    out: TextIO = field(default_factory=lambda: sys.stdout)
    _config: PlatformConfig | None = field(default=None, init=False, repr=False)

    @property
    def config(self) -> PlatformConfig:
        if self._config is None:
            try:
                self._config = load_config(self.config_path)
            except ConfigError as error:
                raise CliError(f"configuration: {error}", code=2) from None
        return self._config

    def place(self, project: str, environment: str | None = None) -> ProjectPlace:
        """Project ``project`` in ``environment`` (default: where teams train), with the
        caller's account and region standing in for those the configuration leaves out."""
        return place(
            self.config,
            project,
            environment,
            account=lambda: self.aws.caller()["account"],
            region=self.aws.default_region,
        )

    def say(self, line: str = "") -> None:
        print(line, file=self.out, flush=True)

    def environment(self, name: str) -> EnvironmentConfig:
        """The configured environment ``name``, or an error listing those that exist."""
        return find_environment(self.config, name)

    def project(self, name: str) -> ProjectConfig:
        """The configured project ``name``, or an error listing those that exist."""
        return find_project(self.config, name)
