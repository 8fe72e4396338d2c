"""The registry migration tree: ``versions/`` holds its revisions, ``script.py.mako`` the template of new ones."""
