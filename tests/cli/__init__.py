"""Helpers shared by the CLI tests: how to run the real command, and what its keys look like."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

HEX32 = re.compile(r"^[0-9a-f]{32}$")
KEYS = ("applicationId", "restApiKey", "masterKey")
COMMAND = [sys.executable, "-m", "hivebase.cli.main"]  # the console script's code, with this interpreter


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without HIVEBASE_* settings, so only the test decides the configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIVEBASE_")}
    env.update(COLUMNS="200", NO_COLOR="1", PYTHONIOENCODING="utf-8", **extra)
    return env


def ok(proc: subprocess.CompletedProcess[str]) -> Any:
    """Exit code 0 and one JSON document on stdout."""
    assert proc.returncode == 0, (proc.args, proc.stdout, proc.stderr)
    return json.loads(proc.stdout)


def error(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """Exit code 1 and exactly one JSON document ``{"error": {...}}`` on stdout."""
    assert proc.returncode == 1, (proc.args, proc.stdout, proc.stderr)
    doc = json.loads(proc.stdout)
    assert list(doc) == ["error"] and {"type", "reason", "message"} <= set(doc["error"]), doc
    return dict(doc["error"])
