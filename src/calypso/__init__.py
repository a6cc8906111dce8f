"""Calypso: a self-hosted log analytics system that speaks Azure Log Analytics and KQL."""

__version__ = "0.1.0"
