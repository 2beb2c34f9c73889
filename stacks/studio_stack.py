"""Stateless Studio stack: the environment's SageMaker Studio domain (``studio``; ADR 0022).

``<platform>-<env>-studio``, deployed after the projects' access stacks: each user profile runs
as its project's persona role, named by its deterministic ARN (no cross-stack export), and each
persona role with profiles gets a policy here that opens its own profiles only. The roles'
trust of SageMaker and their grants on the data key are the access stacks' (the key's policy
names exactly the roles whose own policies use it).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from mlops_constructs.names import role_name
from mlops_constructs.studio import StudioDomain, StudioUser
from stacks.config import STUDIO_PERSONAS, PlatformConfig
from stacks.data_stack import DataStack


class StudioStack(cdk.Stack):
    """``<prefix>-studio``: the Studio domain ``<prefix>-studio`` in the environment's isolated
    network, its user profiles, and what each persona role may do in it."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: PlatformConfig,
        environment: str,
        data: DataStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        network = data.network
        assert network is not None, "Studio runs in the isolated network (network.vpc_mode)"
        studio = config.studio
        users = [
            StudioUser(
                name=user.name,
                execution_role_arn=self._role_arn(config, environment, user.project, user.persona),
                tags={"project": user.project, "persona": user.persona},
            )
            for user in studio.users
        ]
        self.domain = StudioDomain(
            self,
            "Studio",
            name=f"{config.prefix(environment)}-studio",
            key=data.data_key.key,
            placement=network.placement,
            endpoints=network.endpoint_security_group,
            users=users,
            idle_timeout_minutes=studio.idle_timeout_minutes,
        )
        self._grant_personas(config, environment)

    def _grant_personas(self, config: PlatformConfig, environment: str) -> None:
        """Each persona role with profiles opens those profiles, and no other."""
        for project in config.projects:
            for persona in STUDIO_PERSONAS:
                profiles = [
                    u.name
                    for u in config.studio.users
                    if (u.project, u.persona) == (project.name, persona)
                ]
                if not profiles:
                    continue
                name = role_name(config.prefix(environment, project.name), persona)
                role = iam.Role.from_role_name(self, name, name, mutable=False)
                self.domain.grant_use(role, profiles)

    def _role_arn(
        self, config: PlatformConfig, environment: str, project: str, persona: str
    ) -> str:
        """The persona role ``<prefix>-<persona>`` of ``project`` (its access stack's)."""
        name = role_name(config.prefix(environment, project), persona)
        return f"arn:{self.partition}:iam::{self.account}:role/{name}"
