"""Helpers shared by the CLI tests: how to run the real command, and what its keys look like."""

from __future__ import annotations

import os
import re
import sys

HEX32 = re.compile(r"^[0-9a-f]{32}$")
KEYS = ("applicationId", "restApiKey", "masterKey")
COMMAND = [sys.executable, "-m", "hivebase.cli.main"]  # the console script's code, with this interpreter


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without HIVEBASE_* settings, so only the test decides the configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIVEBASE_")}
    env.update(COLUMNS="200", NO_COLOR="1", PYTHONIOENCODING="utf-8", **extra)
    return env
