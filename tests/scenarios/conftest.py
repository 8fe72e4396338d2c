"""Whole-day scenarios use the doors' own server fixtures."""

from tests.mcp.conftest import mcp_server

__all__ = ["mcp_server"]
