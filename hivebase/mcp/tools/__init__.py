"""The tool packages hivebase ships, in one registry."""

from __future__ import annotations

from hivebase.mcp.packages import Registry


def registry() -> Registry:
    from hivebase.mcp.tools import bmob, resources

    return Registry([resources.package(), bmob.package()])
