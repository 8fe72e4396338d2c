"""The systems hivebase is compared with, installed by the bench into a cache directory outside the
repository (``HIVEBASE_BENCH_CACHE``, default ``~/.cache/hivebase-bench``) and run on loopback."""
