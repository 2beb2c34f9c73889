"""Resource names that code outside CDK needs too (tools, handlers): no aws_cdk import here."""

from __future__ import annotations


def bucket_name(prefix: str, purpose: str, account: str) -> str:
    """``<prefix>-<purpose>-<account>``: every platform bucket's name (globally unique)."""
    return f"{prefix}-{purpose}-{account}"


def delivery_prefix(platform_name: str) -> str:
    """The prefix of the tooling account's delivery stack resources (its buckets, key)."""
    return f"{platform_name}-delivery"


def promote_name(prefix: str) -> str:
    """A serving environment's promotion function and its role (``<prefix>-promote``)."""
    return f"{prefix}-promote"


def drift_forwarder_name(prefix: str) -> str:
    """Production's drift-forwarding rule and its role (``<prefix>-drift-forwarder``)."""
    return f"{prefix}-drift-forwarder"
