"""Stacks and stages of the platform: they compose constructs from ``mlops_constructs``."""
