"""The ``plugin-data-source-main`` package over real sockets with the official client: an agent builds a
collection the NocoBase way, fills and reads it with the resource tools, changes and drops it; hostile
arguments come back as precise NocoBase errors that change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import ClientSession

from tests.mcp.conftest import bearer, blocking, make_key, ok, resource_error, streamable
from tests.rest.conftest import Server

pytestmark = pytest.mark.anyio

TOOLS = {"collections_list", "collections_get", "collections_create", "collections_destroy",
         "collections_fields_list", "collections_fields_create", "collections_fields_destroy"}
PACKAGE = {"x-mcp-packages": "plugin-data-source-main"}


def ptr(table: str, oid: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": table, "objectId": oid}


async def names(session: ClientSession) -> set[str]:
    return {c["name"] for c in ok(await session.call_tool("collections_list", {}))["data"]}


async def test_package_is_selected_by_its_names_and_describes_itself(mcp_server: Server) -> None:
    key = make_key(mcp_server)
    for header in ("plugin-data-source-main", "@nocobase/plugin-data-source-main", "plugin-data-source*",
                   "@hivebase/plugin-data-source-main"):
        async with streamable(f"{mcp_server.url}/api/mcp", {**bearer(key), "x-mcp-packages": header}) as session:
            tools = {t.name: t for t in (await session.list_tools()).tools}
            assert TOOLS <= set(tools), header
    for name in TOOLS:
        tool = tools[name]
        assert tool.input_schema["additionalProperties"] is False and tool.annotations is not None
        assert tool.description and len(tool.description) <= 420, (name, len(tool.description))
        assert tool.annotations.read_only_hint is name.endswith(("_list", "_get"))
        assert tool.annotations.destructive_hint is name.endswith("_destroy")
    async with streamable(f"{mcp_server.url}/api/mcp", bearer(key)) as session:
        assert not TOOLS & {t.name for t in (await session.list_tools()).tools}  # not a default package


async def test_an_agent_builds_fills_changes_and_drops_a_collection(mcp_server: Server) -> None:
    key = make_key(mcp_server)
    async with streamable(f"{mcp_server.url}/api/mcp", {**bearer(key), **PACKAGE}) as s:
        teams = ok(await s.call_tool("collections_create", {"requestBody": {
            "name": "teams", "title": "Teams", "fields": [{"name": "name", "type": "string", "unique": True}]}}))
        assert teams == {"data": {"name": "teams", "title": "Teams", "fields": [
            {"name": "name", "type": "string", "interface": "input", "unique": True}]}}
        made = ok(await s.call_tool("collections_create", {"requestBody": {
            "name": "players", "title": "Players", "autoGenId": True, "template": "general", "fields": [
                {"name": "id", "type": "bigInt", "primaryKey": True, "autoIncrement": True, "interface": "id"},
                {"name": "nick", "interface": "input", "allowNull": False, "uiSchema": {"title": "Nickname"}},
                {"name": "score", "type": "integer", "defaultValue": 0},
                {"name": "active", "type": "boolean"},
                {"name": "joined", "interface": "datetime"},
                {"name": "stats", "type": "json"},
                {"name": "badges", "type": "array"},
                {"name": "home", "type": "point"},
                {"name": "team", "type": "belongsTo", "target": "teams", "foreignKey": "teamId"},
                {"name": "rivals", "interface": "m2m", "target": "players"}]}}))
        assert made["meta"] == {"skipped": {"id": "built in: rows are keyed by objectId"}}
        assert [(f["name"], f["type"]) for f in made["data"]["fields"]] == [
            ("nick", "string"), ("score", "double"), ("active", "boolean"), ("joined", "date"), ("stats", "json"),
            ("badges", "array"), ("home", "point"), ("team", "belongsTo"), ("rivals", "belongsToMany")]
        assert {"teams", "players", "_User"} <= await names(s)
        got = ok(await s.call_tool("collections_get", {"filterByTk": "players"}))
        assert got["data"] == made["data"]

        red = ok(await s.call_tool("resource_create", {"resource": "teams", "values": {"name": "red"}}))["data"]
        ana = ok(await s.call_tool("resource_create", {"resource": "players", "values": {
            "nick": "ana", "score": 7, "active": True, "joined": "2024-05-01T10:00:00.000Z",
            "stats": {"wins": 3}, "badges": ["gold"], "home": {"__type": "GeoPoint", "latitude": 1, "longitude": 2},
            "team": ptr("teams", red["objectId"])}}))["data"]
        ok(await s.call_tool("resource_create", {"resource": "players", "values": {
            "nick": "bo", "team": ptr("teams", red["objectId"]),
            "rivals": {"__op": "AddRelation", "objects": [ptr("players", ana["objectId"])]}}}))
        listed = ok(await s.call_tool("resource_list", {"resource": "players", "sort": ["nick"],
                                                        "appends": ["team", "rivals"]}))
        rows = listed["data"]
        assert [r["nick"] for r in rows] == ["ana", "bo"] and listed["meta"]["count"] == 2
        assert rows[0]["score"] == 7 and rows[1]["score"] == 0  # the default
        assert rows[0]["stats"] == {"wins": 3} and rows[0]["badges"] == ["gold"]
        assert rows[1]["team"]["name"] == "red" and [r["nick"] for r in rows[1]["rivals"]] == ["ana"]
        assert "nick" in resource_error(await s.call_tool("resource_create", {"resource": "players", "values": {
            "score": 1}}))  # allowNull: false is enforced

        added = ok(await s.call_tool("collections_fields_create", {"collectionName": "players", "requestBody": {
            "name": "level", "type": "double", "title": "Level", "defaultValue": 1}}))
        assert added == {"data": {"name": "level", "type": "double", "interface": "number", "title": "Level",
                                  "defaultValue": 1}}
        rows = ok(await s.call_tool("resource_list", {"resource": "players", "fields": ["nick", "level"]}))["data"]
        assert {r["level"] for r in rows} == {1}
        assert ok(await s.call_tool("collections_fields_destroy", {"collectionName": "players",
                                                                    "filterByTk": "level"})) == {
            "data": {"collectionName": "players", "name": "level"}}
        fields = ok(await s.call_tool("collections_fields_list", {"collectionName": "players"}))["data"]
        assert "level" not in [f["name"] for f in fields] and len(fields) == 9

        message = resource_error(await s.call_tool("collections_destroy", {"filterByTk": "teams"}))
        assert "players.team" in message and "teams" in await names(s)  # referenced: refused, kept
        assert ok(await s.call_tool("collections_destroy", {"filterByTk": "players"})) == {
            "data": {"name": "players", "removedFields": []}}
        assert ok(await s.call_tool("collections_destroy", {"filterByTk": "teams"}))["data"]["name"] == "teams"
        assert not {"teams", "players"} & await names(s)
        assert "does not exist" in resource_error(await s.call_tool("resource_list", {"resource": "players"}))


async def test_hostile_arguments_are_refused_precisely_and_change_nothing(mcp_server: Server) -> None:
    blocking(lambda: mcp_server.make_table("Vault", {"gold": {"type": "Number"}}, app="other"))
    key = make_key(mcp_server)
    async with streamable(f"{mcp_server.url}/api/mcp", {**bearer(key), **PACKAGE}) as s:
        ok(await s.call_tool("collections_create", {"requestBody": {"name": "orders", "fields": [
            {"name": "amount", "type": "double"}]}}))
        before = ok(await s.call_tool("collections_list", {}))
        bad: list[tuple[str, dict[str, Any], str]] = [
            ("collections_create", {"requestBody": {"name": 5}}, "must be string"),
            ("collections_create", {"requestBody": {"name": "x", "fields": "amount"}}, "must be array"),
            ("collections_create", {"requestBody": {"name": "x", "fields": ["amount"]}}, "must be object"),
            ("collections_create", {"requestBody": {"name": "x"}, "extra": 1}, "unknown argument `extra`"),
            ("collections_create", {"name": "x"}, "`requestBody` is required"),
            ("collections_create", {"requestBody": {"name": "x", "fields": [
                {"name": "a", "type": "strng"}]}}, "did you mean `string`"),
            ("collections_create", {"requestBody": {"name": "x", "fields": [
                {"name": "a", "type": "hasMany", "target": "orders"}]}}, "belongsTo"),
            ("collections_create", {"requestBody": {"name": "x", "fields": [
                {"name": "a", "type": "string"}, {"name": "a", "type": "string"}]}}, "declared twice"),
            ("collections_create", {"requestBody": {"name": "x", "fields": [
                {"name": "a", "type": "belongsTo", "target": "Vault"}]}}, "does not exist"),
            ("collections_create", {"requestBody": {"name": "x" * 10_000}}, "invalid table name"),
            ("collections_create", {"requestBody": {"name": '"; DROP TABLE orders; --'}}, "invalid table name"),
            ("collections_create", {"requestBody": {"name": "ORDERS"}}, "already exists"),
            ("collections_create", {"requestBody": {"name": "x", "inherits": "orders"}}, "unknown key `inherits`"),
            ("collections_get", {"filterByTk": "Vault"}, "does not exist"),
            ("collections_get", {"filterByTk": 5}, "must be string"),
            ("collections_get", {"filterByTk": "x" * 10_000}, "does not exist"),
            ("collections_fields_list", {"collectionName": '"; DROP TABLE orders; --'}, "does not exist"),
            ("collections_fields_create", {"collectionName": "Vault", "requestBody": {
                "name": "x", "type": "string"}}, "does not exist"),
            ("collections_fields_create", {"collectionName": "orders", "requestBody": {
                "name": "x", "type": "string", "unique": "yes"}}, "must be boolean"),
            ("collections_fields_create", {"collectionName": "orders", "requestBody": {
                "name": "x", "type": "password"}}, "password"),
            ("collections_fields_create", {"collectionName": "orders", "requestBody": {
                "name": '"; DROP TABLE orders; --', "type": "string"}}, "invalid field name"),
            ("collections_fields_create", {"collectionName": "orders", "requestBody": {
                "name": "Amount", "type": "string"}}, "already has a field"),
            ("collections_fields_destroy", {"collectionName": "orders", "filterByTk": "amout"},
             "did you mean `amount`"),
            ("collections_fields_destroy", {"collectionName": "Vault", "filterByTk": "gold"}, "does not exist"),
            ("collections_destroy", {"filterByTk": "Vault"}, "does not exist"),
            ("collections_destroy", {"filterByTk": "orders", "cascade": "yes"}, "must be boolean"),
            ("collections_destroy", {"filterByTk": "users"}, "system table"),
        ]
        for tool, args, words in bad:
            message = resource_error(await s.call_tool(tool, args))
            assert words in message and len(message) < 1200, (tool, message)
        assert ok(await s.call_tool("collections_list", {})) == before
    other = make_key(mcp_server, app="other", username="other-agent")
    async with streamable(f"{mcp_server.url}/api/__app/other/mcp", {**bearer(other), **PACKAGE}) as s:
        assert "Vault" in await names(s) and "orders" not in await names(s)
        fields = ok(await s.call_tool("collections_fields_list", {"collectionName": "Vault"}))["data"]
        assert fields == [{"name": "gold", "type": "double", "interface": "number"}]


async def test_a_member_may_read_but_not_change_the_schema(mcp_server: Server) -> None:
    blocking(lambda: mcp_server.make_table("notes", {"body": {"type": "String"}}))
    key = make_key(mcp_server, role="member", username="member-agent")
    async with streamable(f"{mcp_server.url}/api/mcp", {**bearer(key), **PACKAGE}) as s:
        assert "notes" in await names(s)
        for tool, args in (("collections_create", {"requestBody": {"name": "mine"}}),
                           ("collections_fields_create", {"collectionName": "notes",
                                                          "requestBody": {"name": "x", "type": "string"}}),
                           ("collections_fields_destroy", {"collectionName": "notes", "filterByTk": "body"}),
                           ("collections_destroy", {"filterByTk": "notes"})):
            assert "may not" in resource_error(await s.call_tool(tool, args)), tool
        assert [f["name"] for f in ok(await s.call_tool("collections_get", {"filterByTk": "notes"}))["data"][
            "fields"]] == ["body"]
