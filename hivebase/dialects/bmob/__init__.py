"""Bmob's dialect: its error codes, its query entry points and answer shapes, shared by every door that speaks it."""
