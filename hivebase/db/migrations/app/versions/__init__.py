"""Revisions of the app tree (read by Alembic's ScriptDirectory, never imported as modules)."""
