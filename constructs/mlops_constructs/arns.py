"""ARNs in a stack's partition, region and account, read from jsii once per stack.

Each of ``stack.partition``, ``stack.region`` and ``stack.account`` is a round trip to jsii, and
``cdk.Stack.of`` another: a construct that writes an ARN per grant, per role or per bucket made
four per ARN (about 340 of the 1,800 requests one more project adds to a synthesis). The values
never change once a stack exists; :func:`arns` keeps them per stack (weakly: a stack that is
gone takes them with it).

Every value is what the stack gives: a literal where the stack's environment and cdk.json's
partition-literals flag make one, a token otherwise. ARNs are built with f-strings, which keep a
token's text intact, never ``str.format`` on a string that may hold one.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import aws_cdk as cdk
from constructs import IConstruct

__all__ = ["Arns", "arns", "holds_token"]

# How CDK writes a string token into a ``str``: a value without it is a literal.
TOKEN_MARK = "${Token["


def holds_token(value: str) -> bool:
    """Whether ``value`` holds a string token (checked in Python, not through jsii)."""
    return TOKEN_MARK in value


@dataclass(frozen=True)
class Arns:
    """A stack's partition, region and account, and the ARNs made of them."""

    partition: str
    region: str
    account: str

    def prefix(self, service: str, *, region: str | None = None) -> str:
        """``arn:<partition>:<service>:<region>:<account>`` in this stack's region (``region``
        another one)."""
        where = self.region if region is None else region
        return f"arn:{self.partition}:{service}:{where}:{self.account}"

    def arn(self, service: str, resource: str, *, region: str | None = None) -> str:
        """``arn:<partition>:<service>:<region>:<account>:<resource>`` (see :meth:`prefix`)."""
        return f"{self.prefix(service, region=region)}:{resource}"

    def role(self, name: str) -> str:
        """The ARN of the IAM role ``name`` of this account (IAM names no region)."""
        return f"arn:{self.partition}:iam::{self.account}:role/{name}"

    def bucket(self, name: str) -> str:
        """The ARN of the S3 bucket ``name`` (S3 names neither region nor account)."""
        return f"arn:{self.partition}:s3:::{name}"


# Per stack, and per construct that asked (a construct never moves to another stack).
_known: weakref.WeakKeyDictionary[IConstruct, Arns] = weakref.WeakKeyDictionary()


def arns(scope: IConstruct) -> Arns:
    """The :class:`Arns` of ``scope``'s stack (``scope`` may be the stack). Kept for ``scope``
    too: a construct that asks again does not look its stack up again."""
    known = _known.get(scope)
    if known is None:
        stack = scope if isinstance(scope, cdk.Stack) else cdk.Stack.of(scope)
        known = _known.get(stack)
        if known is None:
            known = _known[stack] = Arns(stack.partition, stack.region, stack.account)
        _known[scope] = known
    return known
