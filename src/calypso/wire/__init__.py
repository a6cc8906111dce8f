"""Contracts shared by the agent, the gateway and the workspace. No I/O beyond reading package data."""
