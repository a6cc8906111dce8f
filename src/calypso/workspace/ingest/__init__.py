"""Turning incoming records (any API) into typed Arrow tables that fit the workspace's table schemas."""
