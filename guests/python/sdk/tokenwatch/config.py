"""This listener's configuration properties (read-only), readable at any time."""

from wit_world.imports import config as _config


def get(key, default=None):
    """One property, or `default`."""
    value = _config.get(key)
    return default if value is None else value


def properties():
    """All properties as a dict, in key order."""
    return dict(_config.properties())
