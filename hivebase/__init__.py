"""hivebase: a self-hosted backend-as-a-service open to AI agents over MCP and to apps over REST."""

__version__ = "0.1.0"
