"""Where uploaded files' bytes live: a small protocol (``base``) with a local-disk and an S3 backend.

Metadata (name, type, size, uploader) lives in each app's ``_hb_files`` table (``tables``); the backends
only store opaque keys that the core generated, never a name a caller chose.
"""
