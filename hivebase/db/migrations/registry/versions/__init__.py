"""Revisions of the registry tree (read by Alembic's ScriptDirectory, never imported as modules)."""
