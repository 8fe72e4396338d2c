"""The OAuth 2.1 door: each app is an authorization server for MCP clients (issuer ``/api`` or
``/api/__app/<app>``), built on the SDK's ``mcp.server.auth`` handlers over the core's grants."""
