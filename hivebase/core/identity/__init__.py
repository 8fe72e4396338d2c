"""Identity: users, passwords, sessions, API keys and SMS codes of an app."""
