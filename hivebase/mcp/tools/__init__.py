"""The tool packages hivebase ships, in one registry."""

from __future__ import annotations

from hivebase.mcp.packages import Registry


def registry() -> Registry:
    from hivebase.mcp.tools import bmob, data_source_main, resources

    return Registry([resources.package(), bmob.package(), data_source_main.package()])
