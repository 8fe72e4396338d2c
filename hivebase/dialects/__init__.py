"""What each dialect calls an error: shared by the doors that speak it (REST, MCP), so they never drift."""
