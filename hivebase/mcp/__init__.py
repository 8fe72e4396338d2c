"""The MCP door: tool packages served over streamable HTTP, legacy HTTP+SSE and stdio."""
