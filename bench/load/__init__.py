"""Load generators for the comparative benchmark: wrk for request/response HTTP, a separate Python process
for legacy MCP over SSE (whose answers arrive on another connection)."""
