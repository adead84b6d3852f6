"""Switchboard: a cloud voice admin portal whose users are kept in step with Entra ID."""

__version__ = "0.1.0"
